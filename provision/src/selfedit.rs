//! `provision self-edit-mcp`: a local stdio MCP server with one tool, `self_edit`, that
//! replaces a unique string in a file of this repository and optionally rebuilds and
//! redeploys. It runs on the operator's machine (which holds the repository and the
//! Cloudflare credentials) and speaks only stdio: nothing in the Worker can reach it.
//!
//! Confinement: the path must be relative, without `..`; the file must exist; its canonical
//! path must lie inside the canonical repository root (so symlinks cannot lead out); `.git`,
//! the state directory and dotenv files (which hold or redirect credentials) are refused.
//! The edit needs exactly one match of a non-empty `find`. A failed deploy is reported as a
//! tool error, never as success.

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::cmd::tail;

pub const TOOL: &str = "self_edit";
pub const SERVER_NAME: &str = "executor-self-edit";
const PROTOCOLS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// Lines of deploy output returned to the client.
const OUTPUT_LINES: usize = 8;

/// Options of the server.
#[derive(Debug, Clone)]
pub struct SelfEditOptions {
    /// The repository root edits are confined to.
    pub root: PathBuf,
    /// Shell command run in the root after an edit with `deploy: true`.
    pub deploy_command: String,
}

/// The tool's description for `tools/list`.
pub fn tool_definition() -> Value {
    json!({
        "name": TOOL,
        "title": "Edit and redeploy Executor",
        "description": "Replace one exact, unique occurrence of `find` with `replace` in a file of the Executor repository (path relative to the repository root), then rebuild and redeploy the Worker unless `deploy` is false.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "path": { "type": "string", "description": "File path relative to the repository root" },
                "find": { "type": "string", "description": "Exact text to replace; must occur exactly once" },
                "replace": { "type": "string", "description": "Replacement text" },
                "deploy": { "type": "boolean", "description": "Rebuild and redeploy after the edit (default true)", "default": true },
            },
            "required": ["path", "find", "replace"],
            "additionalProperties": false,
        },
        "annotations": {
            "title": "Edit and redeploy Executor",
            "readOnlyHint": false,
            "destructiveHint": true,
            "idempotentHint": false,
            "openWorldHint": false,
        },
    })
}

/// Resolves `raw` inside `root`, or says why not.
pub fn confine(root: &Path, raw: &str) -> std::result::Result<PathBuf, String> {
    let outside = || format!("Refusing to edit outside the repo: {raw}");
    let rel = Path::new(raw);
    if raw.is_empty() || rel.is_absolute() {
        return Err(outside());
    }
    for part in rel.components() {
        match part {
            Component::Normal(name) => {
                let name = name.to_string_lossy();
                if name == ".git" || name == ".provision" {
                    return Err(format!("Refusing to edit `{raw}`: `{name}` is off limits"));
                }
            }
            Component::CurDir => {}
            _ => return Err(outside()),
        }
    }
    let file_name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file_name == ".env"
        || file_name.starts_with(".env.")
        || file_name.ends_with(".env")
        || file_name == ".dev.vars"
    {
        return Err(format!(
            "Refusing to edit `{raw}`: environment files hold or redirect credentials"
        ));
    }
    let root = root
        .canonicalize()
        .map_err(|e| format!("the repository root is unusable: {e}"))?;
    let joined = root.join(rel);
    if !joined.exists() && joined.symlink_metadata().is_err() {
        return Err(format!("No such file: {raw}"));
    }
    let target = joined.canonicalize().map_err(|_| {
        // A dangling symlink: it points nowhere we could check.
        outside()
    })?;
    if !target.starts_with(&root) {
        return Err(outside());
    }
    if !target.is_file() {
        return Err(format!("No such file: {raw}"));
    }
    Ok(target)
}

/// Replaces the single occurrence of `find` in `text`.
pub fn replace_unique(
    text: &str,
    find: &str,
    replace: &str,
    raw: &str,
) -> std::result::Result<String, String> {
    if find.is_empty() {
        return Err("find text must not be empty".into());
    }
    match text.matches(find).count() {
        0 => Err(format!("find text not present in {raw}")),
        1 => Ok(text.replacen(find, replace, 1)),
        n => Err(format!("find text is not unique in {raw} ({n} matches)")),
    }
}

/// Runs the tool; `Ok` text for a successful call, `Err` text for a tool error.
pub fn run_tool(opts: &SelfEditOptions, args: &Value) -> std::result::Result<String, String> {
    let field = |k: &str| args.get(k).and_then(Value::as_str);
    let (Some(raw), Some(find), Some(replace)) = (field("path"), field("find"), field("replace"))
    else {
        return Err("`path`, `find` and `replace` are required strings".into());
    };
    let deploy = args.get("deploy").and_then(Value::as_bool).unwrap_or(true);
    let target = confine(&opts.root, raw)?;
    let text = std::fs::read_to_string(&target).map_err(|e| format!("cannot read {raw}: {e}"))?;
    let edited = replace_unique(&text, find, replace, raw)?;
    // Write through a temporary file in the same directory, keeping the permissions.
    let perms = std::fs::metadata(&target)
        .map_err(|e| format!("cannot stat {raw}: {e}"))?
        .permissions();
    let tmp = target.with_extension("self-edit.tmp");
    std::fs::write(&tmp, edited).map_err(|e| format!("cannot write {raw}: {e}"))?;
    let _ = std::fs::set_permissions(&tmp, perms);
    std::fs::rename(&tmp, &target).map_err(|e| format!("cannot replace {raw}: {e}"))?;
    if !deploy {
        return Ok(format!("Edited {raw}. Not redeployed (deploy=false)."));
    }
    let output = Command::new("sh")
        .arg("-c")
        .arg(&opts.deploy_command)
        .current_dir(&opts.root)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .map_err(|e| format!("Edited {raw}, but the deploy command could not start: {e}"))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let last = tail(text.trim_end(), OUTPUT_LINES);
    if output.status.success() {
        Ok(format!("Edited {raw}; rebuilt and redeployed.\n{last}"))
    } else {
        Err(format!(
            "Edited {raw}, but the deploy FAILED ({}); the edit is in place and not live:\n{last}",
            output.status
        ))
    }
}

/// Answers one JSON-RPC message (`None` for notifications).
pub fn handle(opts: &SelfEditOptions, msg: &Value) -> Option<Value> {
    let id = msg.get("id").cloned()?;
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => {
            let asked = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let version = PROTOCOLS
                .iter()
                .find(|v| **v == asked)
                .copied()
                .unwrap_or("2025-06-18");
            json!({
                "protocolVersion": version,
                "capabilities": { "tools": {} },
                "serverInfo": { "name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION") },
            })
        }
        "ping" => json!({}),
        "tools/list" => json!({ "tools": [tool_definition()] }),
        "tools/call" => {
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name != TOOL {
                return Some(json!({ "jsonrpc": "2.0", "id": id,
                    "error": { "code": -32601, "message": format!("Unknown tool: {name}") } }));
            }
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            match run_tool(opts, &args) {
                Ok(text) => {
                    json!({ "content": [{ "type": "text", "text": text }], "isError": false })
                }
                Err(text) => {
                    json!({ "content": [{ "type": "text", "text": format!("error: {text}") }], "isError": true })
                }
            }
        }
        other => {
            return Some(json!({ "jsonrpc": "2.0", "id": id,
                "error": { "code": -32601, "message": format!("Method not found: {other}") } }));
        }
    };
    Some(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
}

/// `provision self-edit-mcp`: serves stdin/stdout until end of input.
pub fn serve(opts: &SelfEditOptions) -> Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Ok(msg) => handle(opts, &msg),
            Err(_) => Some(json!({ "jsonrpc": "2.0", "id": null,
                "error": { "code": -32700, "message": "Parse error" } })),
        };
        if let Some(reply) = reply {
            writeln!(out, "{reply}").context("writing stdout")?;
            out.flush().context("writing stdout")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_replacement() {
        assert_eq!(replace_unique("a b c", "b", "x", "f").expect("ok"), "a x c");
        assert!(replace_unique("a b b", "b", "x", "f")
            .expect_err("twice")
            .contains("not unique in f (2 matches)"));
        assert!(replace_unique("a", "b", "x", "f")
            .expect_err("none")
            .contains("not present"));
        assert!(replace_unique("a", "", "x", "f").is_err());
    }

    #[test]
    fn the_tool_is_destructive() {
        let tool = tool_definition();
        assert_eq!(tool["annotations"]["destructiveHint"], true);
        assert_eq!(tool["annotations"]["readOnlyHint"], false);
        assert_eq!(
            tool["inputSchema"]["required"],
            json!(["path", "find", "replace"])
        );
    }
}
