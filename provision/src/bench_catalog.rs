//! The catalog part of `provision bench`: a loopback stand-in API, seeding the local Worker with
//! the petstore (added by URL) and the GitHub REST catalog (added inline, 13 MB), and the code
//! the catalog scenarios run through `POST /api/executions`.
//!
//! The stand-in speaks just enough HTTP/1.1 for the Worker's outbound fetch: one request at a
//! time per connection, `content-length` bodies, keep-alive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head the stand-in reads.
const MAX_HEAD: usize = 64 * 1024;

/// A running stand-in API; stops when dropped.
pub struct StandIn {
    pub base: String,
    /// Requests served per path (without the query): `provision soak` checks that a resumed
    /// pause reached the upstream exactly once.
    hits: Arc<Mutex<BTreeMap<String, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Binds a free loopback port and serves the petstore spec (servers pointing here) at
    /// `/petstore.json`, pets at `/pets` and `/pets/<id>`, and `{"ok":true}` for anything else.
    pub async fn start(fixtures: &Path) -> Result<StandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let spec_path = fixtures.join("petstore.openapi.json");
        let mut spec: Value = serde_json::from_slice(
            &std::fs::read(&spec_path)
                .with_context(|| format!("reading {}", spec_path.display()))?,
        )?;
        spec["servers"] = json!([{ "url": base }]);
        let spec: Arc<str> = Arc::from(spec.to_string());
        let hits: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let counted = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let spec = spec.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, spec, counted).await;
                });
            }
        });
        Ok(StandIn { base, hits, task })
    }

    /// How many requests for `path` (e.g. `/pets/7`) the stand-in has served.
    pub fn hits(&self, path: &str) -> u64 {
        let hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        hits.get(path).copied().unwrap_or(0)
    }
}

async fn serve(
    mut stream: TcpStream,
    spec: Arc<str>,
    hits: Arc<Mutex<BTreeMap<String, u64>>>,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                bail!("request head too large");
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let content_length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < head_end + content_length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.drain(..head_end + content_length);
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or("/");
        *hits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path.to_string())
            .or_default() += 1;
        let body = if path == "/petstore.json" {
            spec.to_string()
        } else if path == "/pets" {
            json!([{"id": 1, "name": "Rex", "tag": "dog"}, {"id": 2, "name": "Tom", "tag": "cat"}])
                .to_string()
        } else if let Some(id) = path.strip_prefix("/pets/") {
            let id: i64 = id.parse().unwrap_or(0);
            json!({"id": id, "name": "Rex", "tag": "dog"}).to_string()
        } else {
            json!({"ok": true}).to_string()
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: keep-alive\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await?;
    }
}

/// What seeding measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Seeded {
    pub petstore_ingest_ms: f64,
    pub github_ingest_ms: f64,
    pub github_tool_count: u64,
}

/// The GitHub tool the describe scenario asks for.
pub const GITHUB_DESCRIBE_PATH: &str = "github.org.main.issues.listForRepo";
/// Code of the catalog scenarios (run through `POST /api/executions`).
pub const SEARCH_CODE: &str =
    "const r = await tools.search({ query: 'list issues for a repository', limit: 5 }); \
     if (!r.items.length) throw new Error('no hits'); return r.total";
pub const SEARCH_TEN_CODE: &str =
    "let n = 0; for (const q of ['repos', 'issues', 'pull requests', \
     'gists', 'actions secrets', 'teams', 'webhooks', 'releases', 'branches', 'commits']) \
     { n += (await tools.search({ query: q, limit: 5 })).items.length } return n";
pub fn describe_code() -> String {
    format!(
        "const d = await tools.describe.tool({{ path: '{GITHUB_DESCRIBE_PATH}' }}); \
         if (d.error) throw new Error(d.error.message); return d.name"
    )
}
pub const PETSTORE_CALL_CODE: &str =
    "const r = await tools.petstore.org.main.pets.getPet({ petId: 1 }); \
     if (!r.ok) throw new Error(JSON.stringify(r.error)); return r.data.name";

async fn post(client: &reqwest::Client, url: String, body: Vec<u8>) -> Result<Value> {
    let resp = client
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!(
            "POST {url}: HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Adds the stand-in's petstore by URL as integration `slug` with an org connection `main`;
/// returns how long the ingest took (ms) and the connection's answer. Used by the bench and by
/// `provision soak`.
pub async fn add_petstore(base: &str, stand_in: &StandIn, slug: &str) -> Result<(f64, Value)> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    post(
        &client,
        format!("{base}/api/openapi/specs"),
        serde_json::to_vec(&json!({
            "spec": {"kind": "url", "url": format!("{}/petstore.json", stand_in.base)},
            "slug": slug,
        }))?,
    )
    .await?;
    let ingest_ms = started.elapsed().as_secs_f64() * 1000.0;
    let connection = post(
        &client,
        format!("{base}/api/connections"),
        serde_json::to_vec(&json!({"owner": "org", "name": "main", "integration": slug,
            "template": "apikey-0", "value": "bench-key"}))?,
    )
    .await?;
    Ok((ingest_ms, connection))
}

/// Adds the petstore (by URL from the stand-in) and the GitHub catalog (inline) with an org
/// connection `main` each.
pub async fn seed(base: &str, fixtures: &Path, stand_in: &StandIn) -> Result<Seeded> {
    let client = reqwest::Client::new();
    let (petstore_ingest_ms, _) = add_petstore(base, stand_in, "petstore").await?;

    let github_path: PathBuf = fixtures.join("github-api.openapi.json.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(&github_path)
            .with_context(|| format!("opening {}", github_path.display()))?,
    )
    .read_to_string_sync(&mut text)?;
    // Point the catalog at the stand-in so calls stay on loopback.
    let body = json!({"spec": {"kind": "blob", "value": text}, "slug": "github",
        "baseUrl": stand_in.base});
    let body = serde_json::to_vec(&body)?;
    let started = Instant::now();
    let added = post(&client, format!("{base}/api/openapi/specs"), body).await?;
    let github_ingest_ms = started.elapsed().as_secs_f64() * 1000.0;
    post(
        &client,
        format!("{base}/api/connections"),
        serde_json::to_vec(
            &json!({"owner": "org", "name": "main", "integration": "github",
            "template": "apikey-0", "value": "bench-token"}),
        )?,
    )
    .await?;
    Ok(Seeded {
        petstore_ingest_ms,
        github_ingest_ms,
        github_tool_count: added["toolCount"].as_u64().unwrap_or(0),
    })
}

/// `std::io::Read::read_to_string` under a name that does not clash with tokio's trait.
trait ReadToStringSync {
    fn read_to_string_sync(&mut self, out: &mut String) -> std::io::Result<usize>;
}

impl<R: std::io::Read> ReadToStringSync for R {
    fn read_to_string_sync(&mut self, out: &mut String) -> std::io::Result<usize> {
        std::io::Read::read_to_string(self, out)
    }
}
