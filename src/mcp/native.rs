//! `execute` in native elicitation mode (executor-behaviour.md §6.6): when a run pauses for
//! approval, the session asks the client itself with an MCP `elicitation/create` request over
//! its GET stream, waits for the answer, resumes the durable execution with it (accept runs the
//! gated call once; decline/cancel make it fail inside the script) and repeats while the run
//! pauses again; the `execute` call then answers the final result.
//!
//! When the client cannot be asked (it did not declare the `elicitation` capability, or no GET
//! stream is open) the model-mode pause result is answered instead, with a note saying why, so
//! a run is never stuck: `resume` stays callable even though native mode does not list it.

use serde_json::{json, Value};

use super::live::LiveSession;
use super::server::{Answer, Dispatch};
use crate::executions::ResumeAction;
use crate::logging;

/// A run that keeps pausing is answered to the model after this many questions.
const MAX_QUESTIONS: usize = 32;

/// What the client declared under `capabilities.elicitation` at `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientElicitation {
    /// Form-mode requests (`{}` or `{form: {}}`).
    pub form: bool,
    /// URL-mode requests (`{url: {}}`).
    pub url: bool,
}

impl ClientElicitation {
    /// Reads the stored `capabilities.elicitation` value (absent or `null`: nothing).
    pub fn from_capability(capability: Option<&Value>) -> ClientElicitation {
        match capability {
            Some(Value::Object(m)) => ClientElicitation {
                // An empty object means form mode (the 2025-06-18 shape).
                form: m.is_empty() || m.contains_key("form"),
                url: m.contains_key("url"),
            },
            _ => ClientElicitation::default(),
        }
    }
}

/// The `elicitation/create` params for a paused run's `interaction` (§6.6).
pub fn elicitation_params(interaction: &Value, client: ClientElicitation) -> Value {
    let mut message = interaction
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("A tool call needs your approval.")
        .to_owned();
    let url = interaction.get("url").and_then(Value::as_str);
    if let (Some("url"), Some(url)) = (interaction.get("kind").and_then(Value::as_str), url) {
        if client.url {
            let id = interaction
                .get("elicitationId")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(crate::ids::uuid_v4);
            return json!({ "mode": "url", "message": message, "url": url, "elicitationId": id });
        }
        message = format!("{message}\n\nOpen this URL to continue: {url}");
    }
    // Approval messages already quote the arguments; other questions get them appended.
    let quoted = message.contains("Arguments");
    if let Some(args) = interaction.get("args").filter(|a| {
        !quoted
            && match a {
                Value::Object(m) => !m.is_empty(),
                Value::Null => false,
                _ => true,
            }
    }) {
        message = format!("{message}\n\nArguments: {args}");
    }
    let schema = match interaction.get("requestedSchema") {
        Some(Value::Object(m)) if m.contains_key("properties") => Value::Object(m.clone()),
        _ => json!({ "type": "object", "properties": {} }),
    };
    json!({ "message": message, "requestedSchema": schema })
}

/// The decision in a client's response to `elicitation/create`; errors and anything
/// unreadable are `cancel`.
pub fn decision(response: &Value) -> ResumeAction {
    response
        .pointer("/result/action")
        .and_then(Value::as_str)
        .and_then(ResumeAction::parse)
        .unwrap_or(ResumeAction::Cancel)
}

fn action_name(action: ResumeAction) -> &'static str {
    match action {
        ResumeAction::Accept => "accept",
        ResumeAction::Decline => "decline",
        ResumeAction::Cancel => "cancel",
    }
}

/// The paused execution a reply carries, if any: `(executionId, interaction)`.
fn paused(reply: &Value) -> Option<(String, Value)> {
    let structured = reply.pointer("/result/structuredContent")?;
    if structured.get("status").and_then(Value::as_str) != Some("waiting_for_interaction") {
        return None;
    }
    let id = structured.get("executionId")?.as_str()?.to_owned();
    Some((
        id,
        structured
            .get("interaction")
            .cloned()
            .unwrap_or(Value::Null),
    ))
}

/// Prefixes the first text block of a paused reply with why the client was not asked.
fn with_fallback_note(mut reply: Value, reason: &str) -> Value {
    let note = format!(
        "This client could not be asked for approval directly ({reason}), so the execution is \
         paused instead. Ask the user, then call the `resume` tool with the executionId below \
         (it works in this session even though it is not listed).\n\n"
    );
    if let Some(Value::String(text)) = reply.pointer_mut("/result/content/0/text") {
        text.insert_str(0, &note);
    }
    reply
}

/// Answers a `tools/call` of `execute` (a JSON-RPC request with `id`) in native mode.
pub async fn execute(
    dispatch: &Dispatch<'_>,
    live: &LiveSession,
    client: ClientElicitation,
    message: &Value,
) -> Answer {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let mut reply = match dispatch.answer(message).await {
        Answer::Reply(reply) => reply,
        Answer::Nothing => return Answer::Nothing,
    };
    for _ in 0..MAX_QUESTIONS {
        let Some((execution_id, interaction)) = paused(&reply) else {
            return Answer::Reply(reply);
        };
        if !client.form && !client.url {
            return Answer::Reply(with_fallback_note(
                reply,
                "it did not declare the elicitation capability",
            ));
        }
        let params = elicitation_params(&interaction, client);
        let action = match live
            .request(dispatch.services.timer, "elicitation/create", params)
            .await
        {
            Ok(response) => decision(&response),
            Err(false) => {
                return Answer::Reply(with_fallback_note(
                    reply,
                    "it has no open GET event stream on this session",
                ))
            }
            Err(true) => {
                logging::info(&format!(
                    "mcp native: no answer for {execution_id}; cancelling the gated call"
                ));
                ResumeAction::Cancel
            }
        };
        let resume = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "tools/call",
            "params": { "name": "resume", "arguments": {
                "executionId": execution_id, "action": action_name(action) } },
        });
        reply = match dispatch.answer(&resume).await {
            Answer::Reply(reply) => reply,
            Answer::Nothing => return Answer::Nothing,
        };
    }
    Answer::Reply(with_fallback_note(
        reply,
        "the execution asked too many questions in one call",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn capabilities() {
        let read = |v: Value| ClientElicitation::from_capability(Some(&v));
        assert_eq!(
            read(json!({})),
            ClientElicitation {
                form: true,
                url: false
            }
        );
        assert_eq!(
            read(json!({"url": {}})),
            ClientElicitation {
                form: false,
                url: true
            }
        );
        assert_eq!(
            read(json!({"form": {}, "url": {}})),
            ClientElicitation {
                form: true,
                url: true
            }
        );
        assert_eq!(read(Value::Null), ClientElicitation::default());
        assert_eq!(
            ClientElicitation::from_capability(None),
            ClientElicitation::default()
        );
    }

    #[test]
    fn params_for_forms_and_urls() {
        let form = ClientElicitation {
            form: true,
            url: false,
        };
        let p = elicitation_params(
            &json!({"kind": "form", "message": "Approve x?", "args": {"petId": 1},
                    "requestedSchema": {"type": "object", "properties": {}}}),
            form,
        );
        assert_eq!(
            p,
            json!({"message": "Approve x?\n\nArguments: {\"petId\":1}",
                   "requestedSchema": {"type": "object", "properties": {}}})
        );
        let p = elicitation_params(&json!({"message": "m", "requestedSchema": {}}), form);
        assert_eq!(
            p["requestedSchema"],
            json!({"type": "object", "properties": {}})
        );

        let url = json!({"kind": "url", "message": "Sign in", "url": "https://x.test/a"});
        let p = elicitation_params(&url, form);
        assert_eq!(
            p["message"],
            "Sign in\n\nOpen this URL to continue: https://x.test/a"
        );
        let p = elicitation_params(
            &url,
            ClientElicitation {
                form: true,
                url: true,
            },
        );
        assert_eq!(p["mode"], "url");
        assert_eq!(p["url"], "https://x.test/a");
        assert!(p["elicitationId"].as_str().is_some());
    }

    #[test]
    fn decisions() {
        let r = |v: Value| decision(&json!({"jsonrpc": "2.0", "id": "a", "result": v}));
        assert_eq!(
            r(json!({"action": "accept", "content": {}})),
            ResumeAction::Accept
        );
        assert_eq!(r(json!({"action": "decline"})), ResumeAction::Decline);
        assert_eq!(r(json!({"action": "cancel"})), ResumeAction::Cancel);
        assert_eq!(r(json!({"action": "maybe"})), ResumeAction::Cancel);
        assert_eq!(
            decision(&json!({"jsonrpc": "2.0", "id": "a", "error": {"code": -1, "message": "no"}})),
            ResumeAction::Cancel
        );
    }
}
