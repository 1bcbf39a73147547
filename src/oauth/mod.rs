//! OAuth 2 as a credential mechanism (executor-behaviour.md §3.8): owner-scoped OAuth
//! **clients** (apps), flows that mint a **connection** from one (authorization code with PKCE
//! `S256`, client credentials), the callback page, authorization-server discovery (RFC 8414,
//! OpenID discovery, RFC 9728 protected-resource metadata), RFC 7591 dynamic client registration,
//! and the refresh of a connection's access token before a tool call uses it.
//!
//! - [`clients`]: clients CRUD and dynamic registration; a client secret is sealed into the
//!   `encrypted` provider (`oauth-client:<owner>:<slug>:secret`), the row keeps only the item id;
//! - [`flow`]: `start`, `complete`, `cancel`; the PKCE verifier and `state` live in one
//!   `oauth_session` row (15 minutes, claimed once by a conditional delete);
//! - [`token`]: the token-endpoint exchange through `guarded_fetch`;
//! - [`refresh`]: "fresh before use" with a D1 lease on the connection row so that one refresh
//!   runs at a time across isolates, rotated refresh tokens written back in the same batch as the
//!   access token, `invalid_grant` ⇒ the connection is marked and calls answer
//!   `oauth_reauth_required`;
//! - [`probe`]: discovery; [`page`]: the callback's HTML; [`pkce`]: verifier, challenge, state;
//! - [`store`]: all SQL of `oauth_client`, `oauth_session` and the OAuth columns of `connection`.
//!
//! No function here returns or logs a token or secret: values travel as
//! [`crate::crypto::SecretValue`] from the token endpoint into sealed rows, and out again only
//! into a tool call's `Authorization` header.

pub mod clients;
pub mod flow;
pub mod page;
pub mod pkce;
pub mod probe;
pub mod refresh;
pub mod store;
pub mod token;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use crate::connections::ConnectionError;
use crate::crypto::CryptoError;
use crate::providers::ProviderError;
use crate::store::StoreError;

/// Refresh when the access token expires within this many milliseconds
/// (upstream's `OAUTH2_REFRESH_SKEW_MS`).
pub const REFRESH_SKEW_MS: i64 = 60_000;
/// How long an authorization-code flow may wait for its callback.
pub const SESSION_TTL_MS: i64 = 15 * 60_000;
/// Budget of one exchange with an authorization server.
pub const HTTP_TIMEOUT_MS: u64 = 20_000;

/// Why an OAuth operation failed. Messages never include a token, code verifier or secret.
#[derive(Debug, Clone, PartialEq)]
pub enum OAuthError {
    /// The request does not fit the route's schema (400).
    Schema(String),
    /// Invalid client endpoints (upstream answers an opaque 500; we say why, with a 400).
    InvalidClient(String),
    Start(String),
    Complete {
        message: String,
        restart_required: bool,
    },
    SessionNotFound {
        state: String,
    },
    Probe(String),
    RegisterDynamic(String),
    /// Storage or cipher failure; logged under a trace id, never shown.
    Internal(String),
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::Internal(e.to_string())
    }
}

impl From<CryptoError> for OAuthError {
    fn from(e: CryptoError) -> Self {
        OAuthError::Internal(format!("encrypted provider: {e}"))
    }
}

impl From<ProviderError> for OAuthError {
    fn from(e: ProviderError) -> Self {
        OAuthError::Internal(format!("encrypted provider: {e}"))
    }
}

impl From<ConnectionError> for OAuthError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::Internal(cause) => OAuthError::Internal(cause),
            other => OAuthError::Internal(format!("connection: {other:?}")),
        }
    }
}

/// The short texts the callback page shows for each failure class.
impl OAuthError {
    pub fn page_text(&self) -> &'static str {
        match self {
            OAuthError::SessionNotFound { .. } => "OAuth session expired or not found",
            OAuthError::Start(_) => "Could not start authentication",
            OAuthError::Probe(_) => "Could not discover authentication endpoint",
            OAuthError::Complete { .. } => "Could not complete authentication",
            _ => "Authentication failed",
        }
    }

    /// A message safe to show the user (internal causes are not).
    pub fn public_message(&self) -> String {
        match self {
            OAuthError::Schema(m)
            | OAuthError::InvalidClient(m)
            | OAuthError::Start(m)
            | OAuthError::Probe(m)
            | OAuthError::RegisterDynamic(m)
            | OAuthError::Complete { message: m, .. } => m.clone(),
            OAuthError::SessionNotFound { .. } => "OAuth session expired or not found".into(),
            OAuthError::Internal(_) => "Internal error".into(),
        }
    }
}

/// Whether `url` may serve as an OAuth endpoint: `https`, or `http` on a loopback host.
pub fn valid_endpoint(url: &str) -> bool {
    let Ok(parsed) = crate::net::parse_url(url) else {
        return false;
    };
    match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => matches!(
            parsed.host(),
            Some(url::Host::Domain("localhost"))
                | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        ),
        _ => false,
    }
}

/// Shortens an authorization server's free text for messages (it is not ours to trust).
pub(crate) fn clip(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    text
}
