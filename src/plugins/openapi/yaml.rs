//! YAML documents become JSON text, which then goes through the same lazy JSON path.
//!
//! The conversion streams parser events straight into the output text, so the only extra memory
//! is the JSON text itself (plus the text of anchored nodes, for aliases). Scalars resolve with
//! YAML 1.2's JSON-compatible rules: `null`/`~`/empty, `true`/`false`, integers and floats;
//! everything else (and anything quoted, block-styled or tagged `!!str`) is a string. Mapping keys
//! are always strings (`200:` is the key `"200"`). Only the first document of a stream is read.
//! Alias expansion is bounded by `limit` bytes of output, so "billion laughs" inputs fail cleanly.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Sequence,
    Mapping,
}

#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    /// Nodes written so far (keys and values both count in a mapping).
    count: usize,
    /// Anchor id and the output offset where the node began.
    anchor: Option<(usize, usize)>,
}

struct Writer {
    out: String,
    stack: Vec<Frame>,
    anchors: HashMap<usize, String>,
    /// Total length of the texts in `anchors`.
    anchored_bytes: usize,
    limit: usize,
    done: bool,
}

/// Converts the first YAML document of `text` into JSON text of at most `limit` bytes.
pub(crate) fn to_json(text: &str, limit: usize) -> Result<String, String> {
    let mut parser = Parser::new_from_str(text);
    let mut writer = Writer {
        out: String::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        anchored_bytes: 0,
        limit,
        done: false,
    };
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("invalid YAML: {e}"))?;
        match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {}
            other => writer.event(other, mark)?,
        }
        if writer.done {
            break;
        }
    }
    if !writer.done {
        return Err("the YAML text holds no document".to_owned());
    }
    Ok(writer.out)
}

fn at(mark: Marker) -> String {
    format!("at line {} column {}", mark.line(), mark.col() + 1)
}

impl Writer {
    fn event(&mut self, event: Event, mark: Marker) -> Result<(), String> {
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let in_key = self.in_key_position();
                let start = self.begin_node(mark)?;
                if in_key {
                    push_json_string(&mut self.out, &value);
                } else {
                    write_scalar(&mut self.out, &value, style, tag.as_ref());
                }
                self.finish_leaf(start, anchor)?;
            }
            Event::Alias(id) => {
                let in_key = self.in_key_position();
                let Some(anchored) = self.anchors.get(&id) else {
                    return Err(format!("unknown YAML alias {}", at(mark)));
                };
                let text = if in_key {
                    if anchored.starts_with('"') {
                        anchored.clone()
                    } else if anchored.starts_with(['{', '[']) {
                        return Err(format!("a YAML mapping key must be a scalar {}", at(mark)));
                    } else {
                        let mut quoted = String::new();
                        push_json_string(&mut quoted, anchored);
                        quoted
                    }
                } else {
                    anchored.clone()
                };
                let start = self.begin_node(mark)?;
                self.out.push_str(&text);
                self.finish_leaf(start, 0)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.in_key_position() {
                    return Err(format!("a YAML mapping key must be a scalar {}", at(mark)));
                }
                let start = self.begin_node(mark)?;
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    self.out.push('[');
                    FrameKind::Sequence
                } else {
                    self.out.push('{');
                    FrameKind::Mapping
                };
                self.stack.push(Frame {
                    kind,
                    count: 0,
                    anchor: (anchor > 0).then_some((anchor, start)),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(format!("unbalanced YAML structure {}", at(mark)));
                };
                if frame.kind == FrameKind::Mapping && frame.count % 2 == 1 {
                    // A key without a value cannot come from the parser, but stay valid JSON.
                    self.out.push_str("null");
                }
                self.out.push(if frame.kind == FrameKind::Mapping {
                    '}'
                } else {
                    ']'
                });
                if let Some((id, start)) = frame.anchor {
                    self.remember(id, start);
                }
                self.check_limit()?;
                if self.stack.is_empty() {
                    self.done = true;
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn in_key_position(&self) -> bool {
        self.stack
            .last()
            .is_some_and(|f| f.kind == FrameKind::Mapping && f.count % 2 == 0)
    }

    /// Writes the separator before a node and returns the offset where the node starts.
    fn begin_node(&mut self, mark: Marker) -> Result<usize, String> {
        if self.done {
            return Err(format!("unexpected YAML content {}", at(mark)));
        }
        if let Some(frame) = self.stack.last_mut() {
            match frame.kind {
                FrameKind::Sequence if frame.count > 0 => self.out.push(','),
                FrameKind::Mapping if frame.count % 2 == 1 => self.out.push(':'),
                FrameKind::Mapping if frame.count > 0 => self.out.push(','),
                _ => {}
            }
            frame.count += 1;
        }
        Ok(self.out.len())
    }

    fn remember(&mut self, id: usize, start: usize) {
        let text = self.out.get(start..).unwrap_or_default().to_owned();
        self.anchored_bytes = self.anchored_bytes.saturating_add(text.len());
        if let Some(old) = self.anchors.insert(id, text) {
            self.anchored_bytes = self.anchored_bytes.saturating_sub(old.len());
        }
    }

    fn finish_leaf(&mut self, start: usize, anchor: usize) -> Result<(), String> {
        if anchor > 0 {
            self.remember(anchor, start);
        }
        self.check_limit()?;
        if self.stack.is_empty() {
            self.done = true;
        }
        Ok(())
    }

    fn check_limit(&self) -> Result<(), String> {
        if self.out.len().saturating_add(self.anchored_bytes) > self.limit {
            return Err(format!(
                "the YAML document expands to more than {} MB of JSON (too many aliases?)",
                self.limit / (1024 * 1024)
            ));
        }
        Ok(())
    }
}

fn is_core_tag(tag: Option<&Tag>, suffix: &str) -> bool {
    tag.is_some_and(|t| {
        (t.handle == "tag:yaml.org,2002:" || t.handle == "!!") && t.suffix == suffix
    })
}

fn write_scalar(out: &mut String, value: &str, style: TScalarStyle, tag: Option<&Tag>) {
    let plain = matches!(style, TScalarStyle::Plain);
    if !plain || is_core_tag(tag, "str") {
        push_json_string(out, value);
        return;
    }
    match resolve_plain(value) {
        Some(json) => out.push_str(&json),
        None => push_json_string(out, value),
    }
}

/// The JSON text of a plain scalar that is not a string, per YAML 1.2's core schema.
fn resolve_plain(value: &str) -> Option<String> {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Some("null".to_owned()),
        "true" | "True" | "TRUE" => return Some("true".to_owned()),
        "false" | "False" | "FALSE" => return Some("false".to_owned()),
        _ => {}
    }
    if let Some(hex) = value.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(|n| n.to_string());
    }
    if let Some(octal) = value.strip_prefix("0o") {
        return u64::from_str_radix(octal, 8).ok().map(|n| n.to_string());
    }
    let body = value.strip_prefix(['-', '+']).unwrap_or(value);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = value.parse::<i64>() {
            return Some(n.to_string());
        }
        if let Ok(n) = value.trim_start_matches('+').parse::<u64>() {
            return Some(n.to_string());
        }
    }
    if looks_like_float(body) {
        let number = value.parse::<f64>().ok()?;
        return serde_json::Number::from_f64(number).map(|n| n.to_string());
    }
    None
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` — infinities and NaN stay strings (JSON
/// cannot hold them).
fn looks_like_float(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i).unwrap_or_default(), body.get(i + 1..)),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(frac) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// Appends `value` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{json, Value};

    fn convert(text: &str) -> Value {
        serde_json::from_str(&to_json(text, 1 << 20).unwrap()).unwrap()
    }

    #[test]
    fn scalars_resolve_like_json() {
        let value = convert(
            "a: 1\nb: 1.5\nc: true\nd: ~\ne: 3.0.3\nf: '1'\ng: !!str 2\nh: 0x1f\ni: .inf\nj: -2e3\nk:\n",
        );
        assert_eq!(
            value,
            json!({"a": 1, "b": 1.5, "c": true, "d": null, "e": "3.0.3", "f": "1", "g": "2",
                   "h": 31, "i": ".inf", "j": -2000.0, "k": null})
        );
    }

    #[test]
    fn keys_are_strings_and_order_is_kept() {
        let json = to_json("responses:\n  200: ok\n  default: d\n  100: x\n", 1 << 20).unwrap();
        assert_eq!(
            json,
            r#"{"responses":{"200":"ok","default":"d","100":"x"}}"#
        );
    }

    #[test]
    fn nested_structures_and_aliases() {
        let value = convert(
            "base: &b\n  type: object\n  list: [1, 2]\nuse: *b\nitems:\n  - *b\n  - text: |\n      two\n      lines\n",
        );
        assert_eq!(value["use"], json!({"type": "object", "list": [1, 2]}));
        assert_eq!(value["items"][0], value["use"]);
        assert_eq!(value["items"][1]["text"], "two\nlines\n");
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let error = to_json(&text, 1 << 20).unwrap_err();
        assert!(error.contains("expands"), "{error}");
    }

    #[test]
    fn errors_name_a_position() {
        let error = to_json("a: [1, 2\nb: 3", 1 << 20).unwrap_err();
        assert!(error.contains("line"), "{error}");
        assert!(to_json("", 1 << 20).is_err());
        assert!(to_json("? [a]\n: b\n", 1 << 20).is_err());
    }

    #[test]
    fn only_the_first_document_counts() {
        assert_eq!(convert("a: 1\n---\nb: 2\n"), json!({"a": 1}));
        assert_eq!(convert("just text"), json!("just text"));
    }

    #[test]
    fn strings_escape() {
        let mut out = String::new();
        push_json_string(&mut out, "q\"\\\n\u{1}é");
        assert_eq!(out, "\"q\\\"\\\\\\n\\u0001é\"");
    }
}
