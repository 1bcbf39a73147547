//! Outbound HTTP made on behalf of users (spec fetch, tool calls; later introspection, MCP, OAuth).
//!
//! [`HttpClient`] is one hop and nothing else: the edge implements it with the Workers `fetch`
//! (redirects not followed), tests implement it with scripted answers. [`guarded_fetch`] is the
//! only way callers should use it: every hop's URL goes through [`ssrf::check_url`] /
//! [`ssrf::redirect_target`], redirects are followed by hand (at most [`MAX_REDIRECTS`]),
//! credentials are dropped on a cross-origin hop, and the body is capped.

use std::fmt;

use async_trait::async_trait;

use super::ssrf::{self, Blocked};

/// Redirect hops followed before giving up (executor-behaviour.md §12.1).
pub const MAX_REDIRECTS: usize = 10;

/// One outbound request. Header names are kept as given; values may carry credentials, so this
/// type has no `Debug` that prints them.
#[derive(Clone, PartialEq)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Wall-clock budget for the whole exchange (all hops), in milliseconds.
    pub timeout_ms: u64,
    /// Bodies longer than this fail with [`FetchError::TooLarge`] instead of being buffered.
    pub max_body_bytes: usize,
}

impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &ssrf::display_url(&self.url))
            .field("header_names", &names)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// One response. Header names are lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutboundResponse {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why an outbound request produced no response. Messages never contain header values or
/// query strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The SSRF guard refused a hop.
    Blocked(Blocked),
    /// More than [`MAX_REDIRECTS`] redirects.
    TooManyRedirects { url: String },
    /// The exchange exceeded its time budget.
    Timeout { url: String, timeout_ms: u64 },
    /// The body exceeded `max_body_bytes`.
    TooLarge { url: String, limit: usize },
    /// Connection refused, DNS failure, TLS error, …
    Network { url: String, message: String },
}

impl FetchError {
    /// Stable machine code for `{ok: false, error: {code}}` results.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Blocked(b) => b.code(),
            FetchError::TooManyRedirects { .. } => "too_many_redirects",
            FetchError::Timeout { .. } => "upstream_timeout",
            FetchError::TooLarge { .. } => "upstream_response_too_large",
            FetchError::Network { .. } => "upstream_unreachable",
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Blocked(b) => b.fmt(f),
            FetchError::TooManyRedirects { url } => {
                write!(
                    f,
                    "Too many redirects (more than {MAX_REDIRECTS}) from {url}"
                )
            }
            FetchError::Timeout { url, timeout_ms } => {
                write!(f, "Request to {url} timed out after {timeout_ms} ms")
            }
            FetchError::TooLarge { url, limit } => {
                write!(f, "Response from {url} is larger than {limit} bytes")
            }
            FetchError::Network { url, message } => {
                write!(f, "Request to {url} failed: {message}")
            }
        }
    }
}

impl std::error::Error for FetchError {}

/// One HTTP exchange, no redirects followed (a 3xx is returned as is).
#[async_trait(?Send)]
pub trait HttpClient {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError>;
}

/// A client that refuses everything (hosts without outbound networking, most unit tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNetwork;

#[async_trait(?Send)]
impl HttpClient for NoNetwork {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        Err(FetchError::Network {
            url: ssrf::display_url(&request.url),
            message: "outbound networking is not available here".into(),
        })
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Sends `request` through the SSRF guard, following redirects by hand. 303 (and 301/302 after
/// a POST) turn into a bodiless GET, as browsers do; cross-origin hops keep only safe headers.
pub async fn guarded_fetch(
    client: &dyn HttpClient,
    mut request: OutboundRequest,
    allow_local_network: bool,
) -> Result<OutboundResponse, FetchError> {
    let mut url =
        ssrf::check_url(&request.url, allow_local_network).map_err(FetchError::Blocked)?;
    for _ in 0..=MAX_REDIRECTS {
        request.url = url.to_string();
        let response = client.send(request.clone()).await?;
        if !is_redirect(response.status) {
            return Ok(response);
        }
        let Some(location) = response.header("location") else {
            return Ok(response);
        };
        let next = ssrf::redirect_target(&url, location, allow_local_network)
            .map_err(FetchError::Blocked)?;
        ssrf::strip_cross_origin_headers(&url, &next, &mut request.headers);
        let downgrade = response.status == 303
            || (matches!(response.status, 301 | 302) && request.method == "POST");
        if downgrade {
            request.method = "GET".into();
            request.body = None;
            request
                .headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        url = next;
    }
    Err(FetchError::TooManyRedirects {
        url: ssrf::display_url(&request.url),
    })
}
