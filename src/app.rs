//! What a request handler can reach: configuration, storage, the clock, identity and the MCP
//! session router — all as traits, so the same handlers run in the Worker and in host tests.

use std::cell::OnceCell;
use std::rc::Rc;

use async_trait::async_trait;

use crate::auth::{AuthError, Principal};
use crate::config::{AuthMode, Config, Secret};
use crate::crypto::{CryptoError, SecretBox};
use crate::http::{Request, Response};
use crate::store::{Blobs, Sql};
use crate::time::Clock;

/// Services shared by `/api` handlers, the MCP session object and `execute`.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub config: &'a Config,
    pub sql: &'a dyn Sql,
    pub blobs: &'a dyn Blobs,
    pub clock: &'a dyn Clock,
    /// The `encrypted` provider's key, derived on first use (scrypt costs ~140 ms in wasm, so
    /// only routes that seal or open secrets pay for it).
    pub keyring: &'a dyn Keyring,
    /// Outbound HTTP for users' upstream calls; always used through
    /// [`crate::net::http::guarded_fetch`].
    pub http: &'a dyn crate::net::http::HttpClient,
    /// Waiting (see [`crate::time::Timer`]).
    pub timer: &'a dyn crate::time::Timer,
}

/// Hands out the [`SecretBox`] derived from `EXECUTOR_SECRET_KEY`, deriving it lazily.
pub trait Keyring {
    fn secret_box(&self) -> Result<Rc<SecretBox>, CryptoError>;
}

/// A [`Keyring`] that derives on first use and keeps the key for its own lifetime. The Worker
/// keeps one per isolate instead (`src/edge`); this one serves host tests and native tools.
pub struct LazyKeyring {
    key: Secret,
    derived: OnceCell<Rc<SecretBox>>,
}

impl LazyKeyring {
    pub fn new(key: Secret) -> LazyKeyring {
        LazyKeyring {
            key,
            derived: OnceCell::new(),
        }
    }
}

impl Keyring for LazyKeyring {
    fn secret_box(&self) -> Result<Rc<SecretBox>, CryptoError> {
        if let Some(derived) = self.derived.get() {
            return Ok(derived.clone());
        }
        let derived = Rc::new(SecretBox::derive(&self.key)?);
        Ok(self.derived.get_or_init(|| derived).clone())
    }
}

/// Resolves the caller of a request.
#[async_trait(?Send)]
pub trait Identify {
    async fn identify(&self, request: &Request) -> Result<Principal, AuthError>;
}

/// The Access header that carries the identity assertion.
pub const ACCESS_JWT_HEADER: &str = "cf-access-jwt-assertion";

/// Identity from configuration: the dev principal, or a verified Access JWT.
pub struct AccessIdentity<'a> {
    pub config: &'a Config,
    pub cache: &'a crate::auth::JwksCache,
    pub keys: &'a dyn crate::auth::KeySource,
    pub clock: &'a dyn Clock,
}

#[async_trait(?Send)]
impl Identify for AccessIdentity<'_> {
    async fn identify(&self, request: &Request) -> Result<Principal, AuthError> {
        match &self.config.auth {
            AuthMode::Dev => Ok(crate::auth::dev_principal(self.config)),
            AuthMode::Access(access) => {
                let token = request
                    .header(ACCESS_JWT_HEADER)
                    .ok_or(AuthError::Missing)?;
                self.cache
                    .authenticate(token, self.config, access, self.keys, self.clock)
                    .await
            }
        }
    }
}

/// Why a request could not reach an MCP session object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRouteError {
    /// The id is not one this namespace could have minted.
    UnknownSession,
    /// Platform failure talking to the object (logged; answered as an internal error).
    Unavailable(String),
}

/// Reaches MCP session objects (Durable Objects in the Worker).
#[async_trait(?Send)]
pub trait SessionRouter {
    /// Mints the id of a new session object (64 lowercase hex characters).
    fn new_session_id(&self) -> Result<String, SessionRouteError>;
    /// Delivers a request to the session object with that id.
    async fn forward(
        &self,
        session_id: &str,
        request: Request,
    ) -> Result<Response, SessionRouteError>;
}

/// Everything the `/api` + `/mcp` router needs.
pub struct App<'a> {
    pub services: Services<'a>,
    pub identity: &'a dyn Identify,
    pub sessions: &'a dyn SessionRouter,
}
