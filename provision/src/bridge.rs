//! `provision bridge`: a stdio ↔ streamable-HTTP MCP bridge for local clients that only speak
//! stdio. Each newline-delimited JSON-RPC message from stdin is POSTed to the Worker's `/mcp`
//! with the Access service-token headers, strictly one after the other (message order is
//! kept), carrying the `mcp-session-id` the server issued and the negotiated
//! `mcp-protocol-version`. Every JSON-RPC message of the answer — a JSON body, or each event of
//! an SSE stream as it arrives — is written to stdout as one line. HTTP and network failures
//! of a request become JSON-RPC errors with the request's id (the client is never left
//! waiting); an unparsable line gets a parse error. On end of input the session is deleted.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::secret::redact;
use crate::state::McpCredentials;
use crate::verify::{credentials, McpOptions};

/// Options of `bridge`.
#[derive(Debug, Clone, Default)]
pub struct BridgeOptions {
    pub mcp: McpOptions,
    /// Use this MCP URL instead of `.env.mcp`'s.
    pub url: Option<String>,
}

/// A JSON-RPC error response.
pub fn rpc_error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// Splits complete SSE events off the front of `buf`; returns their `data` payloads.
pub fn take_sse_events(buf: &mut String) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let normalized = buf.replace("\r\n", "\n");
        if normalized.len() != buf.len() {
            *buf = normalized;
        }
        let Some(end) = buf.find("\n\n") else {
            return out;
        };
        let event: String = buf.drain(..end + 2).collect();
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if !data.is_empty() {
            out.push(data.join("\n"));
        }
    }
}

/// One line of output for a JSON-RPC payload (compacted when it parses).
fn one_line(payload: &str) -> Option<String> {
    let trimmed = payload.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => v.to_string(),
        Err(_) => trimmed.replace('\n', " "),
    })
}

struct Bridge {
    http: reqwest::Client,
    creds: McpCredentials,
    session: Option<String>,
    protocol: Option<String>,
}

impl Bridge {
    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, &self.creds.url)
            .header("CF-Access-Client-Id", &self.creds.client_id)
            .header("CF-Access-Client-Secret", self.creds.client_secret.expose())
            .header("accept", "application/json, text/event-stream");
        if let Some(session) = &self.session {
            req = req.header("mcp-session-id", session);
        }
        if let Some(protocol) = &self.protocol {
            req = req.header("mcp-protocol-version", protocol);
        }
        req
    }

    /// Remembers the protocol version from an `initialize` result.
    fn observe(&mut self, line: &str) {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            if let Some(p) = v
                .get("result")
                .and_then(|r| r.get("protocolVersion"))
                .and_then(Value::as_str)
            {
                self.protocol = Some(p.to_string());
            }
        }
    }

    async fn forward<W: AsyncWrite + Unpin>(&mut self, message: &Value, out: &mut W) -> Result<()> {
        let id = message.get("id").cloned();
        let is_request = id.is_some() && message.get("method").is_some();
        let sent = self
            .request(reqwest::Method::POST)
            .header("content-type", "application/json")
            .body(message.to_string())
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => {
                if is_request {
                    let what = if e.is_timeout() {
                        "timed out"
                    } else {
                        "failed"
                    };
                    let line = rpc_error(
                        id.unwrap_or(Value::Null),
                        -32000,
                        &format!("the request to {} {what}", self.creds.url),
                    );
                    write_line(out, &line.to_string()).await?;
                }
                return Ok(());
            }
        };
        if let Some(session) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            self.session = Some(session.to_string());
        }
        let status = response.status();
        if !status.is_success() {
            if is_request {
                let hint = match status.as_u16() {
                    301..=303 | 307 | 308 | 401 | 403 => {
                        " (Access refused the service token; run `provision verify-mcp`)"
                    }
                    404 if self.session.is_some() => " (the session expired; restart the client)",
                    _ => "",
                };
                let line = rpc_error(
                    id.unwrap_or(Value::Null),
                    -32000,
                    &format!("HTTP {} from {}{hint}", status.as_u16(), self.creds.url),
                );
                write_line(out, &line.to_string()).await?;
            }
            return Ok(());
        }
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if is_sse {
            let mut buf = String::new();
            while let Some(chunk) = response.chunk().await.unwrap_or(None) {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                for data in take_sse_events(&mut buf) {
                    if let Some(line) = one_line(&data) {
                        self.observe(&line);
                        write_line(out, &line).await?;
                    }
                }
            }
            buf.push_str("\n\n");
            for data in take_sse_events(&mut buf) {
                if let Some(line) = one_line(&data) {
                    write_line(out, &line).await?;
                }
            }
        } else {
            let body = response.text().await.unwrap_or_default();
            if let Some(line) = one_line(&body) {
                self.observe(&line);
                write_line(out, &line).await?;
            }
        }
        Ok(())
    }
}

async fn write_line<W: AsyncWrite + Unpin>(out: &mut W, line: &str) -> Result<()> {
    out.write_all(line.as_bytes())
        .await
        .context("writing to stdout")?;
    out.write_all(b"\n").await.context("writing to stdout")?;
    out.flush().await.context("writing to stdout")
}

/// `provision bridge`.
pub async fn bridge(opts: &BridgeOptions) -> Result<()> {
    let mut creds = credentials(&opts.mcp)?;
    if let Some(url) = &opts.url {
        creds.url = url.clone();
    }
    let secret = creds.client_secret.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .user_agent(concat!("provision-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    let mut bridge = Bridge {
        http,
        creds,
        session: None,
        protocol: None,
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    while let Some(line) = lines.next_line().await.context("reading stdin")? {
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => {
                write_line(
                    &mut out,
                    &rpc_error(Value::Null, -32700, "Parse error").to_string(),
                )
                .await?;
                continue;
            }
        };
        if let Err(e) = bridge.forward(&message, &mut out).await {
            eprintln!("bridge: {}", redact(&format!("{e:#}"), &[&secret]));
            return Err(e);
        }
    }
    if bridge.session.is_some() {
        // Best effort: tell the server the session is over.
        let _ = bridge
            .request(reqwest::Method::DELETE)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_as_they_complete() {
        let mut buf = String::from(
            "event: message\r\ndata: {\"a\":1}\r\n\r\ndata: {\"b\":\ndata: 2}\n\ndata: {\"c\"",
        );
        let events = take_sse_events(&mut buf);
        assert_eq!(
            events,
            vec!["{\"a\":1}".to_string(), "{\"b\":\n2}".to_string()]
        );
        assert_eq!(buf, "data: {\"c\"");
        assert_eq!(one_line("{\"b\":\n2}").as_deref(), Some("{\"b\":2}"));
        assert_eq!(one_line("  "), None);
    }
}
