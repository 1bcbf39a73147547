//! Browser-mode approvals (`?elicitation_mode=browser`, §6.5–6.6): a paused `execute` answers
//! an approval link to the console instead of the question, and `resume` takes only the
//! executionId and waits until the person decides on that page.
//!
//! The decision travels through D1, not through the session: the console's
//! `POST /api/mcp-sessions/<sid>/executions/<id>/resume` runs [`executions::resume`] itself, so
//! the row settles there, and a waiting `resume` here just polls the row
//! ([`executions::waiting::progress`]) with `services.timer` — 250 ms growing to 2 s, a bounded
//! number of sleeps adding up to `MCP_BROWSER_APPROVAL_WAIT_SECONDS` (default 10 minutes).
//! A settled row answers its outcome (the finished run, or the next pause as a new link);
//! no decision in time answers the link again; an unknown id answers `execution_not_found`.

use serde_json::{json, Map, Value};

use super::jsonrpc::INVALID_PARAMS;
use super::server::{call_result, internal_result, tool_error, tool_value, Dispatch};
use crate::executions::waiting::{self, Progress};
use crate::executions::{self, Envelope, ExecuteError};

/// Where approval links point when neither the session nor the configuration knows the
/// console's origin (§6.6); logged when used.
pub const UNCONFIGURED_ORIGIN: &str = "https://unconfigured-origin.invalid";

/// Polling delays in milliseconds whose sum is at least `max_wait_ms` (at least one).
pub fn wait_schedule(max_wait_ms: u64) -> Vec<u64> {
    let mut delays = Vec::new();
    let (mut total, mut next) = (0u64, 250u64);
    while total < max_wait_ms {
        let delay = next.min(max_wait_ms - total);
        delays.push(delay);
        total += delay;
        next = (next * 2).min(2_000);
    }
    if delays.is_empty() {
        delays.push(0);
    }
    delays
}

/// The browser variant of `resume`, as a `tools/list` item.
pub fn resume_tool() -> Value {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "executionId": {
                "type": "string",
                "description": "The executionId of the \"User approval required\" result."
            }
        },
        "required": ["executionId"],
        "additionalProperties": false
    });
    tool_value(
        "resume",
        "Wait for the user's decision on a paused execution and continue it. The user decides in \
         the browser, on the approval URL from the paused result: show them that URL first. If \
         they have not decided yet when this returns, ask them to open it and call resume again. \
         You cannot approve or decline here."
            .to_owned(),
        schema,
    )
}

/// `tools/list` in browser mode: `execute` and the browser `resume`.
pub fn tools() -> Vec<Value> {
    let mut tools = super::server::tools();
    tools.retain(|t| t["name"] != "resume");
    tools.push(resume_tool());
    tools
}

/// Answers `execute` and `resume` for a browser-mode session; `None` for other tools.
pub async fn call_tool(
    dispatch: &Dispatch<'_>,
    name: &str,
    arguments: &Map<String, Value>,
) -> Option<Value> {
    match name {
        "execute" => Some(execute(dispatch, arguments).await),
        "resume" => Some(resume(dispatch, arguments).await),
        _ => None,
    }
}

fn origin(dispatch: &Dispatch<'_>) -> String {
    if let Some(origin) = dispatch.web_origin.filter(|o| !o.is_empty()) {
        return origin.trim_end_matches('/').to_owned();
    }
    if let Some(url) = dispatch.services.config.public_site_url.as_deref() {
        return url.to_owned();
    }
    crate::logging::warn("mcp: no web origin for an approval link; using the placeholder");
    UNCONFIGURED_ORIGIN.to_owned()
}

/// `<origin>/resume/<id>?mcp_session_id=<sid>` (§6.6).
pub fn approval_url(origin: &str, execution_id: &str, session_id: &str) -> String {
    format!(
        "{origin}/resume/{}?mcp_session_id={}",
        crate::http::percent_encode(execution_id),
        crate::http::percent_encode(session_id)
    )
}

/// The "User approval required" result for a paused execution.
pub fn approval_required(approval_url: &str, execution_id: &str) -> Value {
    let resume_prompt = format!(
        "Show the user this approval URL and ask them to open it while signed in to the console: \
         {approval_url} . Only after that, call the `resume` tool with executionId \
         \"{execution_id}\"; it waits for their decision and then returns the outcome."
    );
    let text = format!(
        "User approval required. A tool call in this execution needs a person's decision, made \
         in the browser: the user opens the approval URL while signed in and approves or \
         declines there.\n\n\
         Approval URL: {approval_url}\n\n\
         Required next steps:\n{resume_prompt}\n\n\
         executionId: {execution_id}"
    );
    json!({
        "content": [{ "type": "text", "text": text }],
        "structuredContent": {
            "status": "user_approval_required",
            "executionId": execution_id,
            "approvalUrl": approval_url,
            "resumePrompt": resume_prompt,
        },
    })
}

/// An envelope for the agent: a pause becomes its approval link.
fn render(dispatch: &Dispatch<'_>, envelope: &Envelope) -> Value {
    match (waiting::next_pause(envelope), dispatch.session_id) {
        (Some(next), Some(sid)) => {
            approval_required(&approval_url(&origin(dispatch), next, sid), next)
        }
        _ => call_result(envelope),
    }
}

async fn execute(dispatch: &Dispatch<'_>, arguments: &Map<String, Value>) -> Value {
    let Some(code) = arguments.get("code").and_then(Value::as_str) else {
        return tool_error(format!(
            "MCP error {INVALID_PARAMS}: Input validation error: Invalid arguments for tool \
             execute: `code` is required and must be a string"
        ));
    };
    let outcome = executions::execute_in_session(
        dispatch.services,
        dispatch.principal,
        code,
        dispatch.web_origin,
        dispatch.session_id,
    )
    .await;
    match outcome {
        Ok(envelope) => render(dispatch, &envelope),
        Err(ExecuteError::EmptyCode) => tool_error(format!(
            "MCP error {INVALID_PARAMS}: Input validation error: Invalid arguments for tool \
             execute: `code` must be a non-empty string"
        )),
        Err(e) => internal_result("execute", &e),
    }
}

async fn resume(dispatch: &Dispatch<'_>, arguments: &Map<String, Value>) -> Value {
    let Some(id) = arguments.get("executionId").and_then(Value::as_str) else {
        return tool_error(format!(
            "MCP error {INVALID_PARAMS}: Input validation error: Invalid arguments for tool \
             resume: `executionId` is required and must be a string"
        ));
    };
    let (services, principal) = (dispatch.services, dispatch.principal);
    let schedule = wait_schedule(services.config.browser_approval_wait_ms);
    let mut delays = schedule.iter();
    loop {
        match waiting::progress(services, principal, id).await {
            Ok(Progress::Settled(envelope)) => return render(dispatch, &envelope),
            Ok(Progress::Waiting) => {}
            Err(ExecuteError::NotFound) => {
                return call_result(&executions::envelope::execution_not_found(id))
            }
            Err(e) => return internal_result("resume", &e),
        }
        match delays.next() {
            Some(ms) => services.timer.sleep(*ms).await,
            None => break,
        }
    }
    // Nobody decided in time: hand out the link again.
    match dispatch.session_id {
        Some(sid) => approval_required(&approval_url(&origin(dispatch), id, sid), id),
        None => call_result(&executions::envelope::execution_not_found(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_grows_to_two_seconds_and_sums_to_the_wait() {
        let s = wait_schedule(600_000);
        assert_eq!(&s[..5], &[250, 500, 1_000, 2_000, 2_000]);
        assert_eq!(s.iter().sum::<u64>(), 600_000);
        assert!(s.len() < 310, "{}", s.len());
        assert_eq!(wait_schedule(1_000), vec![250, 500, 250]);
        assert_eq!(wait_schedule(0), vec![0]);
    }

    #[test]
    fn approval_urls_encode_the_id() {
        assert_eq!(
            approval_url("https://x.test", "exec_a b", "ab12"),
            "https://x.test/resume/exec_a%20b?mcp_session_id=ab12"
        );
        let r = approval_required("https://x.test/resume/exec_1?mcp_session_id=s", "exec_1");
        let text = r["content"][0]["text"].as_str().unwrap_or_default();
        assert!(text.starts_with("User approval required."), "{text}");
        assert!(text.contains("https://x.test/resume/exec_1?mcp_session_id=s"));
        assert_eq!(r["structuredContent"]["status"], "user_approval_required");
        assert!(r.get("isError").is_none());
    }
}
