//! The Workers platform adapter: the only module that names `worker`, `wasm_bindgen`, `js_sys`
//! or `web_sys`. It turns `worker::Request` into [`crate::http::Request`], builds the
//! [`crate::app::App`] from bindings, runs [`crate::http::router::handle`] and converts the answer
//! back. Per-isolate state (parsed configuration, the schema check, the JWKS cache) lives here.

mod bindings;
mod fetch;
mod session_do;
mod storage;
mod webcrypto;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_trait::async_trait;
use worker::{event, Context, Env, Fetch, Headers, Method, RequestInit};

use crate::app::{AccessIdentity, App, Keyring, Services, SessionRouteError, SessionRouter};
use crate::auth::{Jwk, Jwks, JwksCache, KeySource};
use crate::config::{Config, ConfigError, Secret};
use crate::crypto::{CryptoError, SecretBox};
use crate::http::{self, router};
use crate::logging::{self, Level};
use crate::store::{schema, MemoryBlobs};
use crate::time::Clock;

/// `setTimeout`, through `worker::Delay`.
pub struct WorkerTimer;

#[async_trait(?Send)]
impl crate::time::Timer for WorkerTimer {
    async fn sleep(&self, ms: u64) {
        worker::Delay::from(std::time::Duration::from_millis(ms)).await;
    }
}

/// `Date.now()`.
pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}

fn console_sink(level: Level, message: &str) {
    match level {
        Level::Error => worker::console_error!("{}", message),
        Level::Warn => worker::console_warn!("{}", message),
        Level::Debug => worker::console_debug!("{}", message),
        Level::Info => worker::console_log!("{}", message),
    }
}

thread_local! {
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
    static SCHEMA_CHECKED: Cell<bool> = const { Cell::new(false) };
    static JWKS: Rc<JwksCache> = Rc::new(JwksCache::new());
    /// The `encrypted` provider's key and the secret it was derived from (so a changed
    /// `EXECUTOR_SECRET_KEY` is noticed).
    static SECRET_BOX: RefCell<Option<(Secret, Rc<SecretBox>)>> = const { RefCell::new(None) };
}

/// The per-isolate [`Keyring`]: derives the key on first use only (scrypt costs ~140 ms in
/// wasm), then reuses it for every request of this isolate.
pub(crate) struct IsolateKeyring<'a> {
    pub key: &'a Secret,
}

impl Keyring for IsolateKeyring<'_> {
    fn secret_box(&self) -> Result<Rc<SecretBox>, CryptoError> {
        let cached = SECRET_BOX.with(|cell| {
            cell.borrow()
                .as_ref()
                .filter(|(key, _)| key == self.key)
                .map(|(_, derived)| derived.clone())
        });
        if let Some(derived) = cached {
            return Ok(derived);
        }
        let derived = Rc::new(SecretBox::derive(self.key)?);
        SECRET_BOX.with(|cell| cell.replace(Some((self.key.clone(), derived.clone()))));
        Ok(derived)
    }
}

/// Reads and validates configuration once per isolate (a failure is re-read on the next request,
/// so fixing a secret does not need a redeploy of code).
pub(crate) fn config(env: &Env) -> Result<Rc<Config>, ConfigError> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let lookup = |name: &str| {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    };
    let config = Rc::new(Config::from_env(lookup)?);
    CONFIG.with(|c| c.replace(Some(config.clone())));
    Ok(config)
}

/// Checks the D1 schema version once per isolate.
async fn ensure_schema(sql: &storage::D1Sql) -> Result<(), String> {
    if SCHEMA_CHECKED.with(Cell::get) {
        return Ok(());
    }
    let state = schema::check(sql).await.map_err(|e| e.to_string())?;
    if let Some(problem) = state.problem() {
        return Err(problem);
    }
    SCHEMA_CHECKED.with(|c| c.set(true));
    Ok(())
}

/// Converts a platform request into the crate's request value. A body over the route's cap
/// (`http::limits`) is refused by its `Content-Length` before anything is read, or as soon as
/// the bytes read pass the cap (chunked uploads): then the answer is the typed 413.
pub(crate) async fn read_request(
    mut req: worker::Request,
    now_ms: f64,
) -> worker::Result<Result<http::Request, http::Response>> {
    use futures_util::StreamExt;
    let url = req.url()?.to_string();
    let mut request = http::Request::new(req.method().as_ref(), &url);
    request.headers = req
        .headers()
        .entries()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    if matches!(req.method(), Method::Get | Method::Head) {
        return Ok(Ok(request));
    }
    let limit = http::limits::body_limit(&request.method, &request.path);
    let too_large = |request: &http::Request| http::limits::too_large(&request.path, limit, now_ms);
    if http::limits::declared_too_large(&request, limit) {
        return Ok(Err(too_large(&request)));
    }
    // No body at all (`stream` refuses then) reads as empty.
    let Ok(mut stream) = req.stream() else {
        return Ok(Ok(request));
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(Err(too_large(&request)));
        }
        body.extend_from_slice(&chunk);
    }
    request.body = body;
    Ok(Ok(request))
}

pub(crate) fn write_response(response: http::Response) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    let out = if response.body.is_empty() {
        worker::Response::empty()?
    } else {
        worker::Response::from_bytes(response.body)?
    };
    Ok(out.with_status(response.status).with_headers(headers))
}

const JWKS_FETCH_TIMEOUT_SECS: u64 = 5;

/// JWKS over `fetch`, RS256 through WebCrypto.
struct EdgeKeys;

#[async_trait(?Send)]
impl KeySource for EdgeKeys {
    async fn fetch_jwks(&self, url: &str) -> Result<Jwks, String> {
        use futures_util::future::{select, Either};
        let url = worker::Url::parse(url).map_err(|e| format!("bad certs URL: {e}"))?;
        // A hung certs endpoint must not hold every request: give up after 5 s and answer 401.
        let controller = worker::AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Url(url);
        let send = std::pin::pin!(fetch.send_with_signal(&signal));
        let timer = worker::Delay::from(std::time::Duration::from_secs(JWKS_FETCH_TIMEOUT_SECS));
        let mut response = match select(send, timer).await {
            Either::Left((result, _)) => result.map_err(|e| e.to_string())?,
            Either::Right(_) => {
                controller.abort();
                return Err(format!(
                    "certs endpoint did not answer within {JWKS_FETCH_TIMEOUT_SECS} s"
                ));
            }
        };
        if response.status_code() != 200 {
            return Err(format!(
                "certs endpoint answered {}",
                response.status_code()
            ));
        }
        let text = response.text().await.map_err(|e| e.to_string())?;
        Jwks::from_json_text(&text)
    }

    async fn verify_rs256(
        &self,
        key: &Jwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        webcrypto::verify_rs256(&key.n, &key.e, signing_input, signature).await
    }
}

/// Routes `/mcp` requests to session Durable Objects.
struct DurableSessions<'a> {
    env: &'a Env,
    /// The body of a session's event stream (GET), passed through unread: the router sees only
    /// its status and headers, and [`fetch`] attaches the body to the final response.
    stream: RefCell<Option<worker::ResponseBody>>,
}

#[async_trait(?Send)]
impl SessionRouter for DurableSessions<'_> {
    fn new_session_id(&self) -> Result<String, SessionRouteError> {
        let namespace = self
            .env
            .durable_object(bindings::MCP_SESSION_BINDING)
            .map_err(|e| SessionRouteError::Unavailable(e.to_string()))?;
        let id = namespace
            .unique_id()
            .map_err(|e| SessionRouteError::Unavailable(e.to_string()))?;
        Ok(id.to_string())
    }

    async fn forward(
        &self,
        session_id: &str,
        request: http::Request,
    ) -> Result<http::Response, SessionRouteError> {
        let unavailable = |e: worker::Error| SessionRouteError::Unavailable(e.to_string());
        let namespace = self
            .env
            .durable_object(bindings::MCP_SESSION_BINDING)
            .map_err(unavailable)?;
        // `idFromString` throws for ids this namespace never minted: that is an unknown session.
        let id = namespace
            .id_from_string(session_id)
            .map_err(|_| SessionRouteError::UnknownSession)?;
        let stub = id.get_stub().map_err(unavailable)?;
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.append(name, value).map_err(unavailable)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.clone()))
            .with_headers(headers);
        if !request.body.is_empty() {
            init.with_body(Some(
                js_sys::Uint8Array::from(request.body.as_slice()).into(),
            ));
        }
        let inner = worker::Request::new_with_init(&request.url, &init).map_err(unavailable)?;
        let mut response = stub.fetch_with_request(inner).await.map_err(unavailable)?;
        let mut out = http::Response::empty(response.status_code());
        out.headers = response.headers().entries().collect();
        if out.status == 200 && out.header("content-type") == Some("text/event-stream") {
            let (_, body) = response.into_parts();
            self.stream.replace(Some(body));
            return Ok(out);
        }
        out.body = response.bytes().await.map_err(unavailable)?;
        Ok(out)
    }
}

#[event(start)]
fn start() {
    logging::install(console_sink);
    crate::net::install_idna(whatwg_href);
}

/// `new URL(raw).href` with the runtime's URL parser (see [`crate::net::parse_url`]: the wasm
/// carries no IDNA tables of its own). `None` when the constructor throws.
fn whatwg_href(raw: &str) -> Option<String> {
    use wasm_bindgen::{JsCast, JsValue};
    let constructor: js_sys::Function = js_sys::Reflect::get(&js_sys::global(), &"URL".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let url =
        js_sys::Reflect::construct(&constructor, &js_sys::Array::of1(&JsValue::from_str(raw)))
            .ok()?;
    js_sys::Reflect::get(&url, &"href".into()).ok()?.as_string()
}

/// What every entry point (the Worker and the session object) sets up before routing.
pub(crate) struct Platform {
    pub request: http::Request,
    pub config: Rc<Config>,
    pub sql: storage::D1Sql,
    pub blobs: Box<dyn crate::store::Blobs>,
}

impl Platform {
    /// Reads the request and the bindings. A configuration problem is answered right away, in
    /// the shape of the surface that was asked.
    pub(crate) async fn load(
        req: worker::Request,
        env: &Env,
    ) -> worker::Result<Result<Platform, worker::Response>> {
        let request = match read_request(req, WorkerClock.now_ms()).await? {
            Ok(request) => request,
            Err(answer) => return Ok(Err(write_response(answer)?)),
        };
        let config = match config(env) {
            Ok(c) => c,
            Err(e) => {
                let answer =
                    router::startup_failure(&request, &e.to_string(), WorkerClock.now_ms());
                return Ok(Err(write_response(answer)?));
            }
        };
        let sql = storage::D1Sql(env.d1(bindings::D1_BINDING)?);
        // Without an R2 binding blobs live only for the request (nothing stores blobs yet).
        let blobs: Box<dyn crate::store::Blobs> = match env.bucket(bindings::R2_BINDING) {
            Ok(bucket) => Box::new(storage::R2Blobs(bucket)),
            Err(_) => Box::new(MemoryBlobs::default()),
        };
        Ok(Ok(Platform {
            request,
            config,
            sql,
            blobs,
        }))
    }
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<worker::Response> {
    let clock = WorkerClock;
    let Platform {
        request,
        config,
        sql,
        blobs,
    } = match Platform::load(req, &env).await? {
        Ok(p) => p,
        Err(answer) => return Ok(answer),
    };
    if let Err(problem) = ensure_schema(&sql).await {
        return write_response(router::startup_failure(&request, &problem, clock.now_ms()));
    }
    let config = &config;
    let jwks = JWKS.with(Rc::clone);
    let keys = EdgeKeys;
    let identity = AccessIdentity {
        config,
        cache: &jwks,
        keys: &keys,
        clock: &clock,
    };
    let sessions = DurableSessions {
        env: &env,
        stream: RefCell::new(None),
    };
    let keyring = IsolateKeyring {
        key: &config.secret_key,
    };
    let app = App {
        services: Services {
            config,
            sql: &sql,
            blobs: blobs.as_ref(),
            clock: &clock,
            keyring: &keyring,
            http: &fetch::EdgeHttp,
            timer: &WorkerTimer,
        },
        identity: &identity,
        sessions: &sessions,
    };
    let response = router::handle(&app, request).await;
    match sessions.stream.take() {
        Some(body) if response.status == 200 => {
            let headers = Headers::new();
            for (name, value) in &response.headers {
                headers.append(name, value)?;
            }
            Ok(worker::Response::from_body(body)?
                .with_status(response.status)
                .with_headers(headers))
        }
        _ => write_response(response),
    }
}
