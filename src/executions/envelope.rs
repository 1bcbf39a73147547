//! The result envelope of a run, shared by `/api/executions` and the MCP `execute` and `resume`
//! tools: a human/agent-readable `text`, a `structured` JSON value, an error flag, and MCP
//! content blocks (which also render `emit()` output). A run is either finished
//! ([`from_run`]), paused at an approval gate ([`paused`]) or its id is unknown
//! ([`execution_not_found`], MCP only).
//!
//! Lengths ("characters") are counted in Unicode scalar values.

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::sandbox::{PauseRequest, RunResult};

/// Longest result (or error) text before it is cut.
pub const MAX_TEXT_CHARS: usize = 30_000;
/// Longest decoded text file rendered into a content block.
pub const MAX_FILE_TEXT_CHARS: usize = 64_000;

/// A formatted run outcome (also what a settled execution row keeps, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The text shown to the caller (`Error: …`, the result, `(no result)`, plus logs).
    pub text: String,
    /// `{status, result|error, emitted?, logs}`, or the paused shape.
    pub structured: Value,
    /// The run failed (exception, syntax error, timeout, out of memory).
    pub is_error: bool,
    /// MCP content blocks: the text alone, or the emitted items followed by an error/logs block.
    pub content: Vec<Value>,
    /// The run is waiting for a decision (`structured.status` is `waiting_for_interaction`).
    #[serde(default)]
    pub paused: bool,
}

impl Envelope {
    /// Reads what the `Serialize` impl wrote (a settled row's `outcome`); hand-written for wasm
    /// size, like the store's row readers.
    pub fn from_json(value: &Value) -> Result<Envelope, crate::store::StoreError> {
        let r = crate::store::RowReader::object(value).ok_or_else(|| {
            crate::store::StoreError::new("decode execution", "outcome: not an object")
        })?;
        Ok(Envelope {
            text: r.text("text")?,
            structured: r.0.get("structured").cloned().ok_or_else(|| {
                crate::store::StoreError::new("decode execution", "outcome: no structured")
            })?,
            is_error: r.bool("isError")?,
            content: r.array("content")?.to_vec(),
            paused: r.opt_bool("paused")?.unwrap_or(false),
        })
    }
}

/// What an approval gate asks for: nothing but the decision.
fn approval_schema() -> Value {
    json!({ "type": "object", "properties": {} })
}

/// What the agent should do with a paused result.
const PAUSE_INSTRUCTIONS: &str = "A person has to decide before this execution can go on. Show them the message (it says which tool call is waiting and with which arguments) and ask whether to go ahead. Then resume the execution with its executionId — the MCP `resume` tool, or POST /api/executions/<executionId>/resume — using action \"accept\" and content matching requestedSchema (`{}` for an approval) to let the call run, or \"decline\" / \"cancel\" if they refuse, in which case the call fails inside the script. Do not accept on their behalf.";

/// The envelope of an execution paused at a call that needs approval (§7.5).
pub fn paused(execution_id: &str, request: &PauseRequest, args: Option<&Value>) -> Envelope {
    let schema = approval_schema();
    let text = format!(
        "Execution paused: {message}\n\n\
         Nothing after this call has run yet. Ask the user for a response matching the schema \
         below (for an approval, only whether they approve), then resume the execution.\n\
         Requested schema:\n{schema}\n\n\
         executionId: {execution_id}\n\
         instructions: {PAUSE_INSTRUCTIONS}",
        message = request.message,
        schema = pretty(&schema),
    );
    let structured = json!({
        "status": "waiting_for_interaction",
        "executionId": execution_id,
        "interaction": {
            "kind": "form",
            "message": request.message,
            "instructions": PAUSE_INSTRUCTIONS,
            "address": request.address,
            "args": args.cloned().unwrap_or_else(|| json!({})),
            "requestedSchema": schema,
        },
    });
    Envelope {
        content: vec![text_block(&text)],
        text,
        structured,
        is_error: false,
        paused: true,
    }
}

/// A run that ended in `error` without a script outcome (it could not pause, its replay
/// diverged): rendered like a script error.
pub fn failed(error: &str) -> Envelope {
    let text = truncate(&format!("Error: {error}"), MAX_TEXT_CHARS);
    Envelope {
        content: vec![text_block(&text)],
        text,
        structured: json!({ "status": "error", "error": error, "logs": [] }),
        is_error: true,
        paused: false,
    }
}

/// The MCP `resume` answer for an id with no paused execution behind it (unknown, expired,
/// someone else's): what to do next (§6.6).
pub fn execution_not_found(execution_id: &str) -> Envelope {
    let text = format!(
        "There is no paused execution {execution_id} for you. Paused executions stay resumable \
         for a limited time and each can be resumed by the person who started it. To continue, \
         run the execute tool again with the original code; it will pause again with a fresh \
         executionId if it still needs approval."
    );
    Envelope {
        content: vec![text_block(&text)],
        text,
        structured: json!({
            "status": "execution_not_found",
            "executionId": execution_id,
            "recovery": "re_execute",
        }),
        is_error: true,
        paused: false,
    }
}

/// Formats a finished run.
pub fn from_run(run: &RunResult) -> Envelope {
    let emitted = run.emitted.len();
    let logs_block = (!run.logs.is_empty()).then(|| format!("Logs:\n{}", run.logs.join("\n")));

    let mut structured = Map::new();
    let (text, is_error) = match &run.error {
        Some(error) => {
            let mut text = format!("Error: {error}");
            if let Some(logs) = &logs_block {
                text.push('\n');
                text.push_str(logs);
            }
            structured.insert("status".into(), json!("error"));
            structured.insert("error".into(), json!(error));
            (truncate(&text, MAX_TEXT_CHARS), true)
        }
        None => {
            let mut text = match &run.result {
                None | Some(Value::Null) if emitted > 0 => {
                    format!("(no return value; {emitted} item(s) emitted to the user)")
                }
                None | Some(Value::Null) => "(no result)".to_owned(),
                Some(Value::String(s)) => truncate(s, MAX_TEXT_CHARS),
                Some(value) => truncate(&pretty(value), MAX_TEXT_CHARS),
            };
            if let Some(logs) = &logs_block {
                text.push('\n');
                text.push_str(logs);
            }
            structured.insert("status".into(), json!("completed"));
            structured.insert("result".into(), run.result.clone().unwrap_or(Value::Null));
            (text, false)
        }
    };
    if emitted > 0 {
        structured.insert("emitted".into(), json!(emitted));
    }
    structured.insert("logs".into(), json!(run.logs));

    let content = if emitted == 0 {
        vec![text_block(&text)]
    } else {
        let mut blocks: Vec<Value> = run.emitted.iter().flat_map(emitted_blocks).collect();
        if is_error {
            blocks.push(text_block(&text));
        } else if let Some(logs) = &logs_block {
            blocks.push(text_block(logs));
        }
        blocks
    };

    Envelope {
        text,
        structured: Value::Object(structured),
        is_error,
        content,
        paused: false,
    }
}

/// `text` cut to `max` characters, with a note saying how many were dropped.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let dropped = text[cut..].chars().count();
            format!("{}\n... [truncated {dropped} chars]", &text[..cut])
        }
    }
}

/// Two-space-indented JSON.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn text_block(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

/// The MCP blocks for one emitted value.
fn emitted_blocks(value: &Value) -> Vec<Value> {
    if let Value::String(s) = value {
        return vec![text_block(s)];
    }
    if is_content_block(value) {
        return vec![value.clone()];
    }
    if let Some(file) = ToolFile::parse(value) {
        return file.blocks();
    }
    vec![text_block(&value.to_string())]
}

/// An MCP content block with its required fields.
fn is_content_block(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    let has_str = |key: &str| object.get(key).is_some_and(Value::is_string);
    match object.get("type").and_then(Value::as_str) {
        Some("text") => has_str("text"),
        Some("image") | Some("audio") => has_str("data") && has_str("mimeType"),
        Some("resource") => object.get("resource").is_some_and(Value::is_object),
        Some("resource_link") => has_str("uri") && has_str("name"),
        _ => false,
    }
}

/// A `ToolFile` value (`{_tag: "ToolFile", name?, mimeType, encoding: "base64", data, byteLength}`).
struct ToolFile<'a> {
    name: Option<&'a str>,
    mime_type: &'a str,
    data: &'a str,
    byte_length: u64,
}

impl<'a> ToolFile<'a> {
    fn parse(value: &'a Value) -> Option<Self> {
        let object = value.as_object()?;
        if object.get("_tag").and_then(Value::as_str) != Some("ToolFile")
            || object.get("encoding").and_then(Value::as_str) != Some("base64")
        {
            return None;
        }
        Some(ToolFile {
            name: object.get("name").and_then(Value::as_str),
            mime_type: object.get("mimeType").and_then(Value::as_str)?,
            data: object.get("data").and_then(Value::as_str)?,
            byte_length: object.get("byteLength").and_then(Value::as_u64)?,
        })
    }

    fn blocks(&self) -> Vec<Value> {
        let label = format!(
            "File output: {} ({}, {} bytes)",
            self.name.unwrap_or("tool-output"),
            self.mime_type,
            self.byte_length
        );
        let essence = self
            .mime_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let body = if essence.starts_with("image/") {
            json!({ "type": "image", "data": self.data, "mimeType": self.mime_type })
        } else if essence.starts_with("audio/") {
            json!({ "type": "audio", "data": self.data, "mimeType": self.mime_type })
        } else if is_text_like(&essence) {
            match base64::engine::general_purpose::STANDARD.decode(self.data) {
                Ok(bytes) => {
                    let decoded = String::from_utf8_lossy(&bytes);
                    text_block(&truncate_file_text(&decoded))
                }
                Err(_) => self.resource_block(),
            }
        } else {
            self.resource_block()
        };
        vec![text_block(&label), body]
    }

    fn resource_block(&self) -> Value {
        let uri = format!(
            "executor-file:///{}",
            percent_encode(self.name.unwrap_or("tool-output"))
        );
        json!({
            "type": "resource",
            "resource": { "uri": uri, "mimeType": self.mime_type, "blob": self.data },
        })
    }
}

fn is_text_like(essence: &str) -> bool {
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/yaml"
                | "application/x-yaml"
        )
}

fn truncate_file_text(text: &str) -> String {
    match text.char_indices().nth(MAX_FILE_TEXT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let dropped = text[cut..].chars().count();
            format!("{}\n[truncated {dropped} characters]", &text[..cut])
        }
    }
}

/// Percent-encodes everything except unreserved characters (like `encodeURIComponent`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(
        result: Option<Value>,
        error: Option<&str>,
        logs: &[&str],
        emitted: Vec<Value>,
    ) -> RunResult {
        RunResult {
            result,
            error: error.map(str::to_owned),
            logs: logs.iter().map(|s| (*s).to_owned()).collect(),
            emitted,
            paused: None,
            journal: None,
        }
    }

    #[test]
    fn paused_shape_matches_wire_65() {
        let wire = crate::test_support::wire("65-executions-execute-paused.json");
        let recorded = &wire["response"]["body"]["structured"];
        let id = recorded["executionId"].as_str().unwrap();
        let request = PauseRequest {
            address: recorded["interaction"]["address"].as_str().unwrap().into(),
            message: recorded["interaction"]["message"].as_str().unwrap().into(),
        };
        let e = paused(id, &request, Some(&json!({ "petId": 3 })));
        let mut ours = e.structured.clone();
        ours["interaction"]["instructions"] = recorded["interaction"]["instructions"].clone();
        assert_eq!(&ours, recorded);
        assert!(e.paused && !e.is_error);
        assert!(e
            .text
            .starts_with("Execution paused: Approve tools.petstore"));
        assert!(e.text.contains(&format!("executionId: {id}")));
        assert!(e.text.contains("Requested schema:"));
        assert_eq!(e.content, vec![text_block(&e.text)]);
        // Absent arguments show as an empty object.
        assert_eq!(
            paused(id, &request, None).structured["interaction"]["args"],
            json!({})
        );
        // Kept as a row's outcome and read back unchanged.
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            Envelope::from_json(&serde_json::from_str(&text).unwrap()).unwrap(),
            e
        );
    }

    #[test]
    fn not_found_says_to_run_again() {
        let e = execution_not_found("exec_x");
        assert!(e.is_error);
        assert!(e.text.contains("run the execute tool again"));
        assert_eq!(
            e.structured,
            json!({"status": "execution_not_found", "executionId": "exec_x", "recovery": "re_execute"})
        );
        let f = failed("boom");
        assert_eq!(f.text, "Error: boom");
        assert_eq!(f.structured["status"], "error");
    }

    #[test]
    fn completed_number() {
        let e = from_run(&run(Some(json!(42)), None, &[], vec![]));
        assert_eq!(e.text, "42");
        assert_eq!(
            e.structured,
            json!({ "status": "completed", "result": 42, "logs": [] })
        );
        assert!(e.structured.get("emitted").is_none());
        assert!(!e.is_error);
        assert_eq!(e.content, vec![json!({ "type": "text", "text": "42" })]);
    }

    #[test]
    fn completed_string_object_and_logs() {
        let e = from_run(&run(
            Some(json!("plain text")),
            None,
            &["[log] a", "[warn] b"],
            vec![],
        ));
        assert_eq!(e.text, "plain text\nLogs:\n[log] a\n[warn] b");
        assert_eq!(e.structured["logs"], json!(["[log] a", "[warn] b"]));

        let e = from_run(&run(Some(json!({ "a": [1, 2] })), None, &[], vec![]));
        assert_eq!(e.text, "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
    }

    #[test]
    fn no_result() {
        let e = from_run(&run(None, None, &[], vec![]));
        assert_eq!(e.text, "(no result)");
        assert_eq!(
            e.structured,
            json!({ "status": "completed", "result": null, "logs": [] })
        );

        let e = from_run(&run(Some(Value::Null), None, &[], vec![]));
        assert_eq!(e.text, "(no result)");
    }

    #[test]
    fn error_with_logs() {
        let e = from_run(&run(None, Some("boom"), &["[log] before"], vec![]));
        assert_eq!(e.text, "Error: boom\nLogs:\n[log] before");
        assert_eq!(
            e.structured,
            json!({ "status": "error", "error": "boom", "logs": ["[log] before"] })
        );
        assert!(e.is_error);
        assert_eq!(e.content, vec![json!({ "type": "text", "text": e.text })]);
    }

    #[test]
    fn long_results_are_truncated() {
        let long = "é".repeat(MAX_TEXT_CHARS + 5);
        let e = from_run(&run(Some(json!(long)), None, &["[log] x"], vec![]));
        let expected = format!(
            "{}\n... [truncated 5 chars]\nLogs:\n[log] x",
            "é".repeat(MAX_TEXT_CHARS)
        );
        assert_eq!(e.text, expected);
        // The structured result is never cut.
        assert_eq!(e.structured["result"], json!(long));

        let exact = "x".repeat(MAX_TEXT_CHARS);
        assert_eq!(
            from_run(&run(Some(json!(exact)), None, &[], vec![])).text,
            exact
        );

        let e = from_run(&run(None, Some(&"y".repeat(MAX_TEXT_CHARS)), &[], vec![]));
        assert!(
            e.text.ends_with("\n... [truncated 7 chars]"),
            "{}",
            &e.text[e.text.len() - 40..]
        );
    }

    #[test]
    fn emitted_items_become_content() {
        let emitted = vec![
            json!("hello"),
            json!({ "type": "image", "data": "AAAA", "mimeType": "image/png" }),
            json!({ "type": "text", "text": "block" }),
            json!({ "n": 1 }),
            json!(null),
        ];
        let e = from_run(&run(None, None, &["[log] hi"], emitted));
        assert_eq!(
            e.text,
            "(no return value; 5 item(s) emitted to the user)\nLogs:\n[log] hi"
        );
        assert_eq!(
            e.structured,
            json!({ "status": "completed", "result": null, "emitted": 5, "logs": ["[log] hi"] })
        );
        assert_eq!(
            e.content,
            vec![
                json!({ "type": "text", "text": "hello" }),
                json!({ "type": "image", "data": "AAAA", "mimeType": "image/png" }),
                json!({ "type": "text", "text": "block" }),
                json!({ "type": "text", "text": "{\"n\":1}" }),
                json!({ "type": "text", "text": "null" }),
                json!({ "type": "text", "text": "Logs:\n[log] hi" }),
            ]
        );

        // Without logs there is no trailing block; with an error the error text is appended.
        let e = from_run(&run(Some(json!(1)), None, &[], vec![json!("a")]));
        assert_eq!(e.content, vec![json!({ "type": "text", "text": "a" })]);
        assert_eq!(e.structured["emitted"], json!(1));
        let e = from_run(&run(None, Some("bad"), &[], vec![json!("a")]));
        assert_eq!(
            e.content,
            vec![
                json!({ "type": "text", "text": "a" }),
                json!({ "type": "text", "text": "Error: bad" })
            ]
        );
        assert_eq!(
            e.structured,
            json!({ "status": "error", "error": "bad", "emitted": 1, "logs": [] })
        );
    }

    #[test]
    fn tool_files_are_rendered() {
        let file = |name: Option<&str>, mime: &str, data: &str| {
            let mut v = json!({ "_tag": "ToolFile", "mimeType": mime, "encoding": "base64", "data": data, "byteLength": 5 });
            if let Some(name) = name {
                v["name"] = json!(name);
            }
            v
        };
        let blocks = emitted_blocks(&file(
            Some("a.json"),
            "application/json; charset=utf-8",
            "eyJhIjoxfQ==",
        ));
        assert_eq!(
            blocks,
            vec![
                json!({ "type": "text", "text": "File output: a.json (application/json; charset=utf-8, 5 bytes)" }),
                json!({ "type": "text", "text": "{\"a\":1}" }),
            ]
        );
        let blocks = emitted_blocks(&file(None, "image/png", "AAAA"));
        assert_eq!(
            blocks[1],
            json!({ "type": "image", "data": "AAAA", "mimeType": "image/png" })
        );
        let blocks = emitted_blocks(&file(
            Some("my file.bin"),
            "application/octet-stream",
            "AAAA",
        ));
        assert_eq!(
            blocks[1],
            json!({ "type": "resource", "resource": { "uri": "executor-file:///my%20file.bin", "mimeType": "application/octet-stream", "blob": "AAAA" } })
        );
        // Missing fields: not a ToolFile, rendered as JSON text.
        let partial = json!({ "_tag": "ToolFile", "encoding": "base64" });
        assert_eq!(
            emitted_blocks(&partial),
            vec![text_block(&partial.to_string())]
        );
        assert_eq!(
            truncate_file_text(&"z".repeat(MAX_FILE_TEXT_CHARS + 2)).len(),
            MAX_FILE_TEXT_CHARS + 25
        );
    }
}
