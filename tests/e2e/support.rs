//! Starting the Worker for a test, and small HTTP helpers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use provision::local::{LocalOptions, LocalWorker};

/// The repository root (this crate lives in `tests/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// `true` when e2e tests should run; otherwise prints why they are skipped.
pub fn enabled(test: &str) -> bool {
    if std::env::var("E2E").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipping {test}: set E2E=1 to run end-to-end tests against wrangler dev");
    false
}

static BUILT: Mutex<bool> = Mutex::new(false);

/// Builds the Worker once per test process.
pub fn build_once() {
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !*built {
        provision::local::build_worker(&root()).expect("the Worker builds");
        *built = true;
    }
}

/// Starts a Worker with dev auth plus `vars` (an empty value removes a default).
pub async fn start(label: &str, vars: &[(&str, &str)]) -> LocalWorker {
    start_with(label, vars, None).await
}

/// [`start`], also appending every line wrangler prints to `log_file` (see
/// [`provision::local::LocalOptions::log_file`]).
pub async fn start_with(
    label: &str,
    vars: &[(&str, &str)],
    log_file: Option<PathBuf>,
) -> LocalWorker {
    build_once();
    let opts = LocalOptions {
        port: None,
        persist_to: provision::local::temp_state_dir(label),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        quiet: true,
        log_file,
    };
    LocalWorker::start(&root(), opts)
        .await
        .expect("the Worker starts")
}

/// [`start_with`] on a given state directory: a Worker started again on the state another one
/// left behind (see [`provision::local::LocalWorker::stop_keeping_state`]) sees the same D1, R2
/// and Durable Objects.
pub async fn start_on(
    persist_to: PathBuf,
    vars: &[(&str, &str)],
    log_file: Option<PathBuf>,
) -> LocalWorker {
    build_once();
    let opts = LocalOptions {
        port: None,
        persist_to,
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        quiet: true,
        log_file,
    };
    LocalWorker::start(&root(), opts)
        .await
        .expect("the Worker starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client")
}

/// Status, lowercase headers and body of a response.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub async fn from(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Answer::from(req.send().await.expect("request sent")).await
}

pub async fn post_json(url: &str, body: &serde_json::Value) -> Answer {
    let req = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    Answer::from(req.send().await.expect("request sent")).await
}
