//! The Worker's own memory, read through workerd's V8 inspector (Chrome DevTools Protocol).
//!
//! workerd's RSS under `wrangler dev` mixes our isolate with wrangler's proxy, miniflare's entry,
//! asset and storage workers and workerd's native per-request state; a trivial JS Worker under
//! the same stack grows it by ~20 KiB a request (README, "Load and soak"). To judge whether *our*
//! Worker leaks, the soak reads the two things it owns: the isolate's V8 heap after a forced full
//! GC and the size of its wasm linear memory (which never shrinks, so any leak in Rust or QuickJS
//! shows there for good).
//!
//! workerd serves the inspector on a port miniflare picks and does not print; wrangler's own
//! `--inspector-port` is a proxy that drops `HeapProfiler` commands. So we find workerd's
//! listening sockets through `/proc` and ask each one's `/json` for the `core:user:<name>` target.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// One reading of the Worker isolate's memory.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct IsolateMemory {
    /// V8 heap in use after a full GC, bytes.
    pub heap_used: u64,
    /// Sum of the isolate's wasm linear memories, bytes.
    pub wasm: u64,
}

/// Ports a process listens on at 127.0.0.1, from `/proc/PID/net/tcp` and the process's socket
/// descriptors (the net table is per network namespace, so it is filtered by inode).
pub fn listening_ports(pid: i32) -> Vec<u16> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: Vec<String> = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            link.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    listening_in_table(&table, &inodes)
}

/// Loopback LISTEN sockets (state `0A`) of a `/proc/net/tcp` table whose inode is in `inodes`.
fn listening_in_table(table: &str, inodes: &[String]) -> Vec<u16> {
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (cols.get(1)?, cols.get(3)?, cols.get(9)?);
            if *state != "0A" || !inodes.iter().any(|i| i == inode) {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            // 127.0.0.1 as the kernel prints it (little-endian hex).
            (addr == "0100007F")
                .then(|| u16::from_str_radix(port, 16).ok())
                .flatten()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The inspector port among `pids`' listening ports that offers the user Worker `name`.
pub async fn find_worker_inspector(pids: &[i32], name: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let wanted = format!("core:user:{name}");
    for pid in pids {
        for port in listening_ports(*pid) {
            let Ok(resp) = client
                .get(format!("http://127.0.0.1:{port}/json"))
                .send()
                .await
            else {
                continue;
            };
            let Ok(targets) = resp.json::<Value>().await else {
                continue;
            };
            let offers = targets
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["id"] == wanted.as_str()));
            if offers {
                return Some(port);
            }
        }
    }
    None
}

/// A CDP session with one target.
struct Session {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    /// Events seen while waiting for answers.
    events: Vec<Value>,
}

impl Session {
    async fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(request)).await?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .with_context(|| format!("no answer to {method} within 20 s"))?
                .with_context(|| format!("inspector closed before answering {method}"))??;
            let Message::Text(text) = frame else {
                continue;
            };
            let message: Value = serde_json::from_str(text.as_str())?;
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    bail!("{method}: {error}");
                }
                return Ok(message["result"].clone());
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }
}

/// Forces a full GC in the Worker's isolate and reads its heap and wasm memory.
pub async fn isolate_memory(port: u16, name: &str) -> Result<IsolateMemory> {
    let url = format!("ws://127.0.0.1:{port}/core:user:{name}");
    let (socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .context("connecting to the inspector timed out")??;
    let mut session = Session {
        socket,
        next_id: 0,
        events: Vec::new(),
    };
    // The execution context arrives as an event right after Runtime.enable; evaluating needs
    // its id (workerd has no "default" context between requests).
    session.call("Runtime.enable", json!({})).await?;
    session
        .call("HeapProfiler.collectGarbage", json!({}))
        .await?;
    let usage = session.call("Runtime.getHeapUsage", json!({})).await?;
    let context = session
        .events
        .iter()
        .find(|e| e["method"] == "Runtime.executionContextCreated")
        .and_then(|e| e["params"]["context"]["id"].as_i64())
        .context("the Worker's isolate announced no execution context")?;
    let group = json!("soak-memory");
    let prototype = session
        .call(
            "Runtime.evaluate",
            json!({"expression": "WebAssembly.Memory.prototype", "contextId": context, "objectGroup": group}),
        )
        .await?;
    let prototype = prototype["result"]["objectId"]
        .as_str()
        .context("no WebAssembly.Memory prototype")?
        .to_owned();
    let memories = session
        .call(
            "Runtime.queryObjects",
            json!({"prototypeObjectId": prototype, "objectGroup": group}),
        )
        .await?;
    let memories = memories["objects"]["objectId"]
        .as_str()
        .context("queryObjects returned no array")?
        .to_owned();
    let sum = session
        .call(
            "Runtime.callFunctionOn",
            json!({
                "objectId": memories,
                "functionDeclaration": "function () { return this.reduce((n, m) => n + m.buffer.byteLength, 0); }",
                "returnByValue": true,
            }),
        )
        .await?;
    let _ = session
        .call("Runtime.releaseObjectGroup", json!({"objectGroup": group}))
        .await;
    let _ = session.call("Runtime.disable", json!({})).await;
    let _ = session.socket.close(None).await;
    Ok(IsolateMemory {
        heap_used: usage["usedSize"].as_f64().context("no usedSize")? as u64,
        wasm: sum["result"]["value"].as_f64().context("no wasm size")? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_listeners_are_picked_by_inode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:8F6B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0\n\
   2: 0100007F:1F91 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0\n\
   3: 00000000:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_in_table(table, &["111".into()]), vec![0x8F6B]);
        assert_eq!(
            listening_in_table(table, &["111".into(), "222".into()]),
            vec![0x1F90, 0x8F6B]
        );
        assert!(listening_in_table(table, &[]).is_empty());
    }
}
