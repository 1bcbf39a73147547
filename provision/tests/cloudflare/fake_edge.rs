//! A fake of the Cloudflare edge in front of the Worker: Access turns requests without valid
//! service-token headers away with a redirect to the team's login page; with them, `/mcp`
//! answers like a streamable-HTTP MCP server (session ids, JSON or SSE answers).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Access in front: anonymous requests are redirected.
    Protected,
    /// No Access: anonymous requests reach the app.
    Open,
    /// Access works, but `/mcp` answers without `serverInfo`.
    BrokenMcp,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub session: Option<String>,
    pub protocol: Option<String>,
    pub client_id: Option<String>,
    pub body: Option<Value>,
}

#[derive(Debug)]
pub struct EdgeState {
    pub mode: Mode,
    pub team: String,
    pub client_id: String,
    pub client_secret: String,
    pub seen: Vec<Seen>,
    pub sessions_issued: usize,
    pub deleted: Vec<String>,
}

pub struct FakeEdge {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<EdgeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEdge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeEdge {
    pub async fn start(mode: Mode, team: &str, client_id: &str, client_secret: &str) -> FakeEdge {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(EdgeState {
            mode,
            team: team.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            seen: Vec::new(),
            sessions_issued: 0,
            deleted: Vec::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeEdge { addr, state, task }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn lock(&self) -> MutexGuard<'_, EdgeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn reply(status: u16, headers: &[(&str, &str)], body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::builder().status(status);
    for (k, v) in headers {
        resp = resp.header(*k, *v);
    }
    resp.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn handle(shared: Arc<Mutex<EdgeState>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (client_id, client_secret) = (
        header("cf-access-client-id"),
        header("cf-access-client-secret"),
    );
    let session = header("mcp-session-id");
    let protocol = header("mcp-protocol-version");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&body).ok();

    let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
    st.seen.push(Seen {
        method: method.clone(),
        path: path.clone(),
        session: session.clone(),
        protocol,
        client_id: client_id.clone(),
        body: body.clone(),
    });
    let authorised = client_id.as_deref() == Some(st.client_id.as_str())
        && client_secret.as_deref() == Some(st.client_secret.as_str());
    if !authorised && st.mode != Mode::Open {
        let login = format!(
            "https://{}/cdn-cgi/access/login/app.example.com?kid=x&redirect_url={path}",
            st.team
        );
        return reply(302, &[("location", login.as_str())], String::new());
    }
    if path != "/mcp" {
        return reply(
            200,
            &[("content-type", "text/html")],
            "<p>console</p>".into(),
        );
    }
    if method == "DELETE" {
        if let Some(s) = session {
            st.deleted.push(s);
        }
        return reply(200, &[], String::new());
    }
    if method != "POST" {
        return reply(405, &[], String::new());
    }
    let Some(msg) = body else {
        return reply(400, &[], "{}".into());
    };
    let rpc_method = msg["method"].as_str().unwrap_or_default().to_string();
    let id = msg.get("id").cloned();
    if rpc_method == "initialize" {
        if st.mode == Mode::BrokenMcp {
            return reply(
                200,
                &[("content-type", "application/json")],
                json!({"jsonrpc": "2.0", "id": id, "result": {}}).to_string(),
            );
        }
        st.sessions_issued += 1;
        let sid = format!("session-{}", st.sessions_issued);
        let result = json!({"jsonrpc": "2.0", "id": id, "result": {
            "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
            "serverInfo": {"name": "executor", "version": "0"}}});
        // Answer as SSE, as the Worker may.
        return reply(
            200,
            &[
                ("content-type", "text/event-stream"),
                ("mcp-session-id", sid.as_str()),
            ],
            format!("event: message\ndata: {result}\n\n"),
        );
    }
    if session.as_deref() != Some(format!("session-{}", st.sessions_issued).as_str()) {
        return reply(400, &[("content-type", "application/json")], json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32600, "message": "missing session"}}).to_string());
    }
    let Some(id) = id else {
        return reply(202, &[], String::new());
    };
    let seq = st.seen.len();
    match rpc_method.as_str() {
        "explode" => reply(500, &[], "internal".into()),
        "tools/call" => {
            // A progress notification, then the result, in one SSE stream.
            let note = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}});
            let result = json!({"jsonrpc": "2.0", "id": id, "result": {"seq": seq, "content": []}});
            reply(
                200,
                &[("content-type", "text/event-stream")],
                format!("data: {note}\n\ndata: {result}\n\n"),
            )
        }
        _ => reply(
            200,
            &[("content-type", "application/json")],
            json!({"jsonrpc": "2.0", "id": id, "result": {"seq": seq, "method": rpc_method}})
                .to_string(),
        ),
    }
}
