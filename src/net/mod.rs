//! Outbound networking policy shared by every upstream call made on behalf of users (spec fetch,
//! introspection, MCP dialling, OAuth discovery and token calls, tool invocations).
//!
//! [`ssrf`] has the pure predicates; [`http`] the client trait the edge implements and the guarded
//! fetch every caller goes through (`executor-behaviour.md` §12).

pub mod http;
pub mod ssrf;

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
