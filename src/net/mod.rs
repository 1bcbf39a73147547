//! Outbound networking policy shared by every upstream call made on behalf of users (spec fetch,
//! introspection, MCP dialling, OAuth discovery and token calls, tool invocations).
//!
//! [`ssrf`] has the pure predicates; [`http`] the client trait the edge implements and the guarded
//! fetch every caller goes through (`executor-behaviour.md` §12).

pub mod http;
pub mod ssrf;

use std::sync::OnceLock;

/// The platform's WHATWG URL serialiser, installed by the edge (`new URL(raw).href`): it maps
/// international host names to Punycode with the runtime's own Unicode data.
static IDNA: OnceLock<fn(&str) -> Option<String>> = OnceLock::new();

/// Installs the platform URL serialiser used by [`parse_url`] for non-ASCII input.
pub fn install_idna(serialise: fn(&str) -> Option<String>) {
    let _ = IDNA.set(serialise);
}

/// Parses a URL as WHATWG does. Every user-supplied URL goes through here.
///
/// The `url` crate's IDNA back end is pinned to its no-Unicode stub (`idna_adapter` 1.0.x in
/// Cargo.lock): ICU4X's tables cost ~51 KB of the Worker's 1.0 MB gzip budget. A non-ASCII URL
/// is first serialised by the platform (the Worker's `URL`, which punycodes hosts and maps
/// `ＬＯＣＡＬＨＯＳＴ` to `localhost`), so the SSRF guard still judges the canonical host.
/// Without a platform serialiser (host tests) a non-ASCII host is refused as invalid: fail closed.
pub fn parse_url(raw: &str) -> Result<url::Url, url::ParseError> {
    if !raw.is_ascii() {
        if let Some(ascii) = IDNA
            .get()
            .and_then(|serialise| serialise(raw))
            .filter(|href| href.is_ascii())
        {
            return url::Url::parse(&ascii);
        }
    }
    url::Url::parse(raw)
}

/// Decodes `%XX` escapes; anything that is not a valid escape stays as it is (lenient, like
/// `decodeURIComponent` without the exception). Callers choose how to treat invalid UTF-8.
pub fn percent_decode_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let decoded = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_urls_parse_as_before_and_non_ascii_hosts_fail_closed_without_a_platform() {
        let parsed = parse_url("https://API.example.com/v1/ä?q=ü");
        assert_eq!(
            parsed.map(|u| u.to_string()).ok().as_deref(),
            Some("https://api.example.com/v1/%C3%A4?q=%C3%BC")
        );
        assert!(parse_url("https://xn--bcher-kva.example/").is_ok());
        // No platform serialiser is installed in host tests and the IDNA stub has no tables:
        // an international or full-width host is invalid, so the SSRF guard refuses it.
        assert!(parse_url("https://bücher.example/").is_err());
        assert_eq!(
            ssrf::check_url("http://ＬＯＣＡＬＨＯＳＴ/", false)
                .map_err(|b| b.reason)
                .err(),
            Some(ssrf::BlockReason::InvalidUrl)
        );
    }
}
