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

/// The body of a response read as it arrives (an SSE stream that stays open).
#[async_trait(?Send)]
pub trait BodyStream {
    /// The next bytes; `None` once the peer closed the body. Each read is bounded by the
    /// request's `timeout_ms`.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, FetchError>;
}

/// Status and headers of a response whose body is still arriving.
pub struct StreamingResponse {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn BodyStream>,
}

/// One HTTP exchange, no redirects followed (a 3xx is returned as is).
#[async_trait(?Send)]
pub trait HttpClient {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError>;

    /// Like [`HttpClient::send`], but answers once the headers arrive and hands the body over
    /// as a stream (legacy MCP HTTP+SSE). Clients without streaming refuse.
    async fn open(&self, request: OutboundRequest) -> Result<StreamingResponse, FetchError> {
        Err(FetchError::Network {
            url: ssrf::display_url(&request.url),
            message: "streamed responses are not available here".into(),
        })
    }
}

/// [`HttpClient::open`] behind the SSRF guard. Redirects are not followed for streams: a 3xx is
/// answered as it is, for the caller to treat as a failure.
pub async fn guarded_open(
    client: &dyn HttpClient,
    mut request: OutboundRequest,
    allow_local_network: bool,
) -> Result<StreamingResponse, FetchError> {
    let url = ssrf::check_url(&request.url, allow_local_network).map_err(FetchError::Blocked)?;
    request.url = url.to_string();
    client.open(request).await
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::RefCell;

    use super::*;
    use crate::net::ssrf::BlockReason;

    /// Answers from a list of `(url, status, location)`; records what it was sent.
    struct Hops {
        answers: Vec<(&'static str, u16, Option<&'static str>)>,
        seen: RefCell<Vec<OutboundRequest>>,
    }

    #[async_trait(?Send)]
    impl HttpClient for Hops {
        async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
            self.seen.borrow_mut().push(request.clone());
            let (_, status, location) = self
                .answers
                .iter()
                .find(|(u, _, _)| *u == request.url)
                .copied()
                .unwrap_or(("", 404, None));
            Ok(OutboundResponse {
                status,
                headers: location
                    .map(|l| vec![("location".to_string(), l.to_string())])
                    .unwrap_or_default(),
                body: Vec::new(),
            })
        }
    }

    fn hops(answers: Vec<(&'static str, u16, Option<&'static str>)>) -> Hops {
        Hops {
            answers,
            seen: RefCell::new(Vec::new()),
        }
    }

    fn request(method: &str, url: &str) -> OutboundRequest {
        OutboundRequest {
            method: method.into(),
            url: url.into(),
            headers: vec![
                ("x-api-key".into(), "canary-value".into()),
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: Some(b"{}".to_vec()),
            timeout_ms: 1000,
            max_body_bytes: 1024,
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn same_origin_redirect_keeps_headers_and_method() {
        let client = hops(vec![
            ("https://api.example.com/a", 307, Some("/b")),
            ("https://api.example.com/b", 200, None),
        ]);
        let out = run(guarded_fetch(
            &client,
            request("POST", "https://api.example.com/a"),
            false,
        ))
        .unwrap();
        assert_eq!(out.status, 200);
        let seen = client.seen.borrow();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].method, "POST");
        assert_eq!(seen[1].headers.len(), 3);
        assert!(seen[1].body.is_some());
    }

    #[test]
    fn cross_origin_redirect_drops_credentials_and_303_becomes_get() {
        let client = hops(vec![
            (
                "https://api.example.com/a",
                303,
                Some("https://cdn.example.net/x"),
            ),
            ("https://cdn.example.net/x", 200, None),
        ]);
        run(guarded_fetch(
            &client,
            request("POST", "https://api.example.com/a"),
            false,
        ))
        .unwrap();
        let seen = client.seen.borrow();
        assert_eq!(seen[1].method, "GET");
        assert!(seen[1].body.is_none());
        assert!(seen[1]
            .headers
            .iter()
            .all(|(n, v)| n != "x-api-key" && v != "canary-value"));
    }

    #[test]
    fn redirect_into_private_space_is_blocked() {
        let client = hops(vec![(
            "https://api.example.com/a",
            302,
            Some("http://169.254.169.254/latest/meta-data"),
        )]);
        let err = run(guarded_fetch(
            &client,
            request("GET", "https://api.example.com/a"),
            true,
        ))
        .unwrap_err();
        match err {
            FetchError::Blocked(b) => assert_eq!(b.reason, BlockReason::MetadataAddress),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(client.seen.borrow().len(), 1);
    }

    #[test]
    fn loopback_needs_the_setting() {
        let client = hops(vec![("http://127.0.0.1:9/x", 200, None)]);
        let err = run(guarded_fetch(
            &client,
            request("GET", "http://127.0.0.1:9/x"),
            false,
        ))
        .unwrap_err();
        assert_eq!(err.code(), "outbound_blocked");
        assert!(err.to_string().contains("ALLOW_LOCAL_NETWORK"));
        assert!(client.seen.borrow().is_empty());
        assert!(run(guarded_fetch(
            &client,
            request("GET", "http://127.0.0.1:9/x"),
            true
        ))
        .is_ok());
    }

    #[test]
    fn redirect_loops_stop_after_the_limit() {
        let client = hops(vec![("https://api.example.com/loop", 302, Some("/loop"))]);
        let err = run(guarded_fetch(
            &client,
            request("GET", "https://api.example.com/loop"),
            false,
        ))
        .unwrap_err();
        assert_eq!(err.code(), "too_many_redirects");
        assert_eq!(client.seen.borrow().len(), MAX_REDIRECTS + 1);
    }

    #[test]
    fn debug_output_hides_header_values_and_query() {
        let mut r = request("GET", "https://api.example.com/a?token=canary-value");
        r.headers
            .push(("authorization".into(), "Bearer canary-value".into()));
        let shown = format!("{r:?}");
        assert!(!shown.contains("canary-value"), "{shown}");
        assert!(shown.contains("authorization"));
    }

    #[test]
    fn scripted_client_answers_and_records() {
        let http = crate::http::testing::ScriptedHttp::default();
        http.serve("https://specs.example.com/a.json", "application/json", "{}");
        http.on(|r| {
            r.url.ends_with("/teapot").then(|| OutboundResponse {
                status: 418,
                headers: Vec::new(),
                body: Vec::new(),
            })
        });
        let ok = run(guarded_fetch(
            &http,
            request("GET", "https://specs.example.com/a.json"),
            false,
        ))
        .unwrap();
        assert_eq!(
            (ok.status, ok.header("Content-Type")),
            (200, Some("application/json"))
        );
        let tea = run(guarded_fetch(
            &http,
            request("GET", "https://specs.example.com/teapot"),
            false,
        ))
        .unwrap();
        assert_eq!(tea.status, 418);
        assert!(run(guarded_fetch(
            &http,
            request("GET", "https://specs.example.com/none"),
            false
        ))
        .is_err());
        assert_eq!(http.requests.borrow().len(), 3);
    }
}
