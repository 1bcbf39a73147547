//! A small client for Cloudflare's REST API v4: the `{success, errors, result, result_info}`
//! envelope, paging, retries (429 with `Retry-After`, 502/503/504 on idempotent calls), and
//! typed errors that show the HTTP status and each `errors[].code: message` — never the
//! token, a request body or a response body.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::multipart::Form;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::secret::{redact, Secret};

/// Per-call timeout; uploads get [`UPLOAD_TIMEOUT`].
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts per call (the first try included).
pub const MAX_TRIES: u32 = 5;
/// Environment variable overriding the first retry delay in milliseconds (tests use 1).
pub const RETRY_BASE_ENV: &str = "PROVISION_RETRY_BASE_MS";
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// One entry of the envelope's `errors[]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CfMessage {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

/// A failed API call: which operation, the HTTP status (0 when no response arrived), and
/// Cloudflare's error list.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub operation: String,
    pub status: u16,
    pub errors: Vec<CfMessage>,
    /// Transport failure or an unreadable response, described without its body.
    pub detail: Option<String>,
}

impl ApiError {
    pub fn has_code(&self, code: i64) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// HTTP 404, or one of the "does not exist" codes (D1 7404, R2 10006, Workers 10007).
    pub fn is_not_found(&self) -> bool {
        self.status == 404 || [7404, 10006, 10007].iter().any(|c| self.has_code(*c))
    }

    /// Whether any error message mentions `needle` (case-insensitive).
    pub fn mentions(&self, needle: &str) -> bool {
        let needle = needle.to_ascii_lowercase();
        self.errors
            .iter()
            .any(|e| e.message.to_ascii_lowercase().contains(&needle))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.operation)?;
        if self.status != 0 {
            write!(f, ": HTTP {}", self.status)?;
        }
        if !self.errors.is_empty() {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.code, e.message))
                .collect();
            write!(f, " ({})", list.join("; "))?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A decoded successful response.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub status: u16,
    pub result: Value,
    pub result_info: Option<Value>,
}

impl Envelope {
    /// `result` as `T`.
    pub fn parse<T: DeserializeOwned>(&self, operation: &str) -> Result<T, ApiError> {
        serde_json::from_value(self.result.clone()).map_err(|e| ApiError {
            operation: operation.to_string(),
            status: self.status,
            errors: Vec::new(),
            detail: Some(format!("unexpected result shape: {e}")),
        })
    }
}

/// A request body. Multipart bodies are rebuilt for each attempt.
pub enum Body {
    Empty,
    Json(Value),
    Form(Box<dyn Fn() -> Form + Send + Sync>),
}

/// Which credential the call carries.
pub enum Auth<'a> {
    /// The API token.
    Token,
    /// Another bearer token (the assets upload JWT).
    Bearer(&'a Secret),
}

/// One API call.
pub struct Call<'a> {
    /// For messages: `create D1 database `executor``.
    pub operation: String,
    pub method: Method,
    /// Below the API base, starting with `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
    pub auth: Auth<'a>,
    /// Extra request headers.
    pub headers: Vec<(&'static str, String)>,
}

impl<'a> Call<'a> {
    pub fn new(operation: impl Into<String>, method: Method, path: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::Empty,
            auth: Auth::Token,
            headers: Vec::new(),
        }
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn form(mut self, build: impl Fn() -> Form + Send + Sync + 'static) -> Self {
        self.body = Body::Form(Box::new(build));
        self
    }

    pub fn bearer(mut self, token: &'a Secret) -> Self {
        self.auth = Auth::Bearer(token);
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The API client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Secret,
    verbose: bool,
    retry_base: Duration,
    /// Secrets learnt during the run (created client secrets, …), redacted from messages.
    secrets: Arc<Mutex<Vec<Secret>>>,
}

impl Client {
    pub fn new(base: &str, token: Secret, verbose: bool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("provision/", env!("CARGO_PKG_VERSION")))
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        let retry_base = std::env::var(RETRY_BASE_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_millis(1000));
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.clone(),
            verbose,
            retry_base,
            secrets: Arc::new(Mutex::new(vec![token])),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Adds a secret to redact from every message this client builds.
    pub fn remember_secret(&self, secret: &Secret) {
        let mut list = self
            .secrets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !list.contains(secret) {
            list.push(secret.clone());
        }
    }

    fn scrub(&self, text: &str) -> String {
        let list = self
            .secrets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let refs: Vec<&Secret> = list.iter().collect();
        redact(text, &refs)
    }

    fn error(
        &self,
        operation: &str,
        status: u16,
        errors: Vec<CfMessage>,
        detail: Option<String>,
    ) -> ApiError {
        ApiError {
            operation: self.scrub(operation),
            status,
            errors: errors
                .into_iter()
                .map(|e| CfMessage {
                    code: e.code,
                    message: self.scrub(&e.message),
                })
                .collect(),
            detail: detail.map(|d| self.scrub(&d)),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry_base.saturating_mul(1 << attempt.min(6));
        // A little jitter from the clock, so parallel runs do not retry in lockstep.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = base.mul_f64(f64::from(nanos % 250) / 1000.0);
        (base + jitter).min(Duration::from_secs(30))
    }

    /// Sends `call`, retrying what is safe to retry, and decodes the envelope.
    pub async fn send(&self, call: Call<'_>) -> Result<Envelope, ApiError> {
        let mut url =
            reqwest::Url::parse(&format!("{}{}", self.base, call.path)).map_err(|_| {
                self.error(
                    &call.operation,
                    0,
                    Vec::new(),
                    Some(format!("invalid API URL `{}{}`", self.base, call.path)),
                )
            })?;
        if !call.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &call.query {
                pairs.append_pair(k, v);
            }
        }
        let idempotent = call.method != Method::POST && call.method != Method::PATCH;
        let is_upload = matches!(call.body, Body::Form(_));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(call.method.clone(), url.clone())
                .bearer_auth(match &call.auth {
                    Auth::Token => self.token.expose(),
                    Auth::Bearer(jwt) => jwt.expose(),
                });
            if is_upload {
                req = req.timeout(UPLOAD_TIMEOUT);
            }
            for (name, value) in &call.headers {
                req = req.header(*name, value);
            }
            req = match &call.body {
                Body::Empty => req,
                Body::Json(v) => req.json(v),
                Body::Form(build) => req.multipart(build()),
            };
            let started = Instant::now();
            let response = req.send().await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    let retry = attempt < MAX_TRIES && (idempotent || e.is_connect());
                    if self.verbose {
                        eprintln!(
                            "http: {} {} -> transport error{}",
                            call.method,
                            call.path,
                            if retry { ", retrying" } else { "" }
                        );
                    }
                    if retry {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        continue;
                    }
                    let kind = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "could not connect"
                    } else {
                        "the request failed"
                    };
                    return Err(self.error(
                        &call.operation,
                        0,
                        Vec::new(),
                        Some(format!("{kind} ({})", self.base)),
                    ));
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
            let bytes = response.bytes().await.unwrap_or_default();
            if self.verbose {
                eprintln!(
                    "http: {} {} -> {} ({} ms)",
                    call.method,
                    call.path,
                    status,
                    started.elapsed().as_millis()
                );
            }
            let retryable = status == 429 || (idempotent && matches!(status, 502..=504));
            if retryable && attempt < MAX_TRIES {
                let wait = match retry_after {
                    Some(d) if status == 429 => d,
                    _ => self.backoff(attempt),
                };
                tokio::time::sleep(wait).await;
                continue;
            }
            return self.decode(&call.operation, status, &bytes);
        }
    }

    fn decode(&self, operation: &str, status: u16, bytes: &[u8]) -> Result<Envelope, ApiError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            success: Option<bool>,
            #[serde(default)]
            errors: Vec<CfMessage>,
            #[serde(default)]
            result: Value,
            #[serde(default)]
            result_info: Option<Value>,
        }
        let ok_status = (200..300).contains(&status);
        let raw: Raw = match serde_json::from_slice(bytes) {
            Ok(raw) => raw,
            Err(_) if ok_status && bytes.is_empty() => Raw {
                success: Some(true),
                errors: Vec::new(),
                result: Value::Null,
                result_info: None,
            },
            Err(_) => {
                return Err(self.error(
                    operation,
                    status,
                    Vec::new(),
                    Some("the response is not a Cloudflare API envelope".into()),
                ));
            }
        };
        if !ok_status || raw.success == Some(false) {
            return Err(self.error(operation, status, raw.errors, None));
        }
        Ok(Envelope {
            status,
            result: raw.result,
            result_info: raw.result_info,
        })
    }

    /// GETs every page of a page-numbered list (`page`/`per_page`, `result_info`).
    pub async fn list_all(
        &self,
        operation: &str,
        path: &str,
        query: &[(&str, &str)],
        per_page: Option<u32>,
    ) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut page: u32 = 1;
        loop {
            let mut call = Call::new(operation, Method::GET, path);
            for (k, v) in query {
                call = call.query(k, *v);
            }
            if let Some(per_page) = per_page {
                call = call
                    .query("page", page.to_string())
                    .query("per_page", per_page.to_string());
            }
            let env = self.send(call).await?;
            let batch = match env.result {
                Value::Array(list) => list,
                Value::Null => Vec::new(),
                _ => {
                    return Err(self.error(
                        operation,
                        env.status,
                        Vec::new(),
                        Some("expected a list result".into()),
                    ))
                }
            };
            let got = batch.len();
            items.extend(batch);
            let Some(per_page) = per_page else {
                return Ok(items);
            };
            let info = env.result_info.unwrap_or(Value::Null);
            let num = |k: &str| info.get(k).and_then(Value::as_u64);
            let more = match (num("total_pages"), num("total_count")) {
                (Some(pages), _) => u64::from(page) < pages,
                (None, Some(total)) => (items.len() as u64) < total,
                (None, None) => got >= num("per_page").unwrap_or(u64::from(per_page)) as usize,
            };
            if !more || got == 0 || page >= 1000 {
                return Ok(items);
            }
            page += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_show_status_and_codes() {
        let err = ApiError {
            operation: "create D1 database `executor`".into(),
            status: 400,
            errors: vec![
                CfMessage {
                    code: 7502,
                    message: "A database with that name already exists".into(),
                },
                CfMessage {
                    code: 1000,
                    message: "second".into(),
                },
            ],
            detail: None,
        };
        assert_eq!(
            err.to_string(),
            "create D1 database `executor` failed: HTTP 400 (7502: A database with that name already exists; 1000: second)"
        );
        assert!(err.has_code(7502));
        assert!(!err.is_not_found());
        assert!(err.mentions("ALREADY exists"));
    }

    #[test]
    fn messages_are_scrubbed_of_known_secrets() {
        let client = Client::new(
            "http://127.0.0.1:9/client/v4",
            Secret::new("the-api-token-value"),
            false,
        )
        .expect("client");
        client.remember_secret(&Secret::new("a-client-secret-value"));
        let err = client.error(
            "op",
            403,
            vec![CfMessage {
                code: 1,
                message: "bad the-api-token-value and a-client-secret-value".into(),
            }],
            None,
        );
        let text = err.to_string();
        assert!(!text.contains("the-api-token-value"), "{text}");
        assert!(!text.contains("a-client-secret-value"), "{text}");
    }

    #[test]
    fn envelopes_with_success_false_are_errors() {
        let client =
            Client::new("http://127.0.0.1:9", Secret::new("tokentoken"), false).expect("client");
        let err = client
            .decode(
                "op",
                200,
                br#"{"success":false,"errors":[{"code":10007,"message":"gone"}],"result":null}"#,
            )
            .expect_err("failure");
        assert!(err.is_not_found());
        let err = client
            .decode("op", 502, b"<html>secret page</html>")
            .expect_err("failure");
        assert!(!err.to_string().contains("secret page"));
        let ok = client
            .decode(
                "op",
                200,
                br#"{"success":true,"errors":[],"result":{"id":"x"}}"#,
            )
            .expect("ok");
        assert_eq!(ok.result["id"], "x");
    }
}
