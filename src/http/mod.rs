//! The `/api` surface: plain request/response values, the router, and the one place that turns
//! errors into HTTP responses ([`error`]). Nothing here knows about Workers types; the edge
//! converts `worker::Request` into [`Request`] and [`Response`] back.

mod approvals;
mod audit;
mod connections;
pub mod error;
mod google;
mod graphql;
pub mod limits;
mod mcp_sources;
mod oauth;
mod openapi;
mod policies;
pub mod router;
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod testing;
mod tools;

use serde::Serialize;

/// An incoming request, already fully read. Header names are lowercase.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Full URL as received (scheme, host, path, query).
    pub url: String,
    pub path: String,
    /// Raw query string without the leading `?` (may be empty).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Request {
        let (without_fragment, _) = url.split_once('#').unwrap_or((url, ""));
        let (base, query) = without_fragment
            .split_once('?')
            .unwrap_or((without_fragment, ""));
        let path = match base.find("://") {
            Some(i) => {
                let rest = &base[i + 3..];
                rest.find('/').map(|p| &rest[p..]).unwrap_or("/")
            }
            None => base,
        };
        Request {
            method: method.to_ascii_uppercase(),
            url: url.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// First value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// First value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k).as_deref() == Some(name))
                .then(|| percent_decode(v).unwrap_or_default())
        })
    }

    /// `scheme://host[:port]` of the request URL.
    pub fn origin(&self) -> String {
        match self.url.find("://") {
            Some(i) => {
                let rest = &self.url[i + 3..];
                let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                format!("{}{}", &self.url[..i + 3], &rest[..end])
            }
            None => String::new(),
        }
    }
}

/// A response value; the edge turns it into a `worker::Response`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        // Serialising our own wire types cannot fail (no maps with non-string keys).
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.set_header(name, value);
        self
    }

    /// Sets (replaces) a header.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_string()));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Percent-decodes a URL component (`+` is kept literally, as in paths). `None` when the result
/// is not UTF-8.
pub fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_url_parts() {
        let r = Request::new(
            "get",
            "http://127.0.0.1:8787/api/tools?query=a%20b&x=1#frag",
        );
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/api/tools");
        assert_eq!(r.query, "query=a%20b&x=1");
        assert_eq!(r.query_param("query").as_deref(), Some("a b"));
        assert_eq!(r.query_param("nope"), None);
        assert_eq!(r.origin(), "http://127.0.0.1:8787");
    }

    #[test]
    fn percent_round_trip() {
        assert_eq!(percent_decode("exec_%41b%2F").as_deref(), Some("exec_Ab/"));
        assert_eq!(percent_decode("50%").as_deref(), Some("50%"));
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }
}
