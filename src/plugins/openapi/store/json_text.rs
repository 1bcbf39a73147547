//! Decoding one JSON string literal with a single exact-size allocation (see `SpecInput`).

/// Decodes the JSON string literal `raw` (quotes included, as `RawValue::get` gives it).
/// `None` when `raw` is not a string literal or holds an invalid escape. The output never needs
/// more bytes than the input, so it is allocated once at that size.
pub fn unescape(raw: &str) -> Option<String> {
    let inner = raw.trim().strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let mut chars = rest[at + 1..].chars();
        let escaped = chars.next()?;
        let mut consumed = 1 + escaped.len_utf8();
        match escaped {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let high = hex4(rest.get(at + 2..at + 6)?)?;
                consumed += 4;
                let code = if (0xD800..0xDC00).contains(&high) {
                    // A surrogate pair: `\uD83D\uDE00`.
                    let low_text = rest.get(at + 6..at + 12)?;
                    let low = hex4(low_text.strip_prefix("\\u")?)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    consumed += 6;
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
        rest = &rest[at + consumed..];
    }
    out.push_str(rest);
    Some(out)
}

fn hex4(text: &str) -> Option<u32> {
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn agrees_with_serde_json() {
        for value in [
            "",
            "plain",
            "{\"openapi\": \"3.0.0\"}\n\ttabs \\ slashes / é 😀 \u{1} \u{8}\u{c}\r",
            "ünïcödé and \u{10FFFF}",
        ] {
            let literal = serde_json::to_string(value).unwrap_or_default();
            assert_eq!(unescape(&literal).as_deref(), Some(value), "{literal}");
        }
        assert_eq!(
            unescape(r#""\ud83d\ude00 \u00e9 \/""#).as_deref(),
            Some("😀 é /")
        );
    }

    #[test]
    fn rejects_what_is_not_a_string() {
        for raw in [
            "123",
            "{}",
            "null",
            r#""\x""#,
            r#""\ud83d""#,
            r#""\ud83d\u0041""#,
            r#""\u12""#,
        ] {
            assert_eq!(unescape(raw), None, "{raw}");
        }
    }
}
