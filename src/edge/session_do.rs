//! The MCP session Durable Object: one instance per `Mcp-Session-Id` (the id is the object id).
//! It adapts platform storage, requests, the alarm and streaming responses to
//! [`crate::mcp::session::SessionObject`].

use std::cell::RefCell;

use async_trait::async_trait;
use futures_util::StreamExt;
use worker::{durable_object, DurableObject, Env, Headers, State};

use super::{storage, write_response, IsolateKeyring, Platform, WorkerClock};
use crate::app::Services;
use crate::mcp::live::{Alarms, LiveSession, LiveSettings};
use crate::mcp::session::{SessionMeta, SessionObject};
use crate::store::StoreError;
use crate::time::Clock;

#[durable_object]
pub struct McpSessionDO {
    state: State,
    env: Env,
    meta: RefCell<Option<SessionMeta>>,
    live: LiveSession,
}

/// The object's alarm (`setAlarm` takes an offset from now).
struct DoAlarms<'a>(&'a State);

#[async_trait(?Send)]
impl Alarms for DoAlarms<'_> {
    async fn set_alarm(&self, at_ms: f64) -> Result<(), StoreError> {
        let offset = (at_ms - WorkerClock.now_ms()).max(1.0) as i64;
        self.0
            .storage()
            .set_alarm(offset)
            .await
            .map_err(|e| StoreError::new("set_alarm", e.to_string()))
    }
}

/// Waiting bounds; `MCP_ELICITATION_TIMEOUT_MS` shortens the native elicitation wait (tests).
fn settings(env: &Env) -> LiveSettings {
    let mut settings = LiveSettings::default();
    if let Some(ms) = env
        .var("MCP_ELICITATION_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.to_string().trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
    {
        settings.elicitation_timeout_ms = ms.min(settings.elicitation_timeout_ms);
    }
    settings
}

impl McpSessionDO {
    async fn run<T>(
        &self,
        req: worker::Request,
        then: impl AsyncFnOnce(&SessionObject<'_>, crate::http::Request) -> T,
    ) -> worker::Result<Result<T, worker::Response>> {
        let Platform {
            request,
            config,
            sql,
            blobs,
        } = match Platform::load(req, &self.env).await? {
            Ok(p) => p,
            Err(answer) => return Ok(Err(answer)),
        };
        let kv = storage::DoStorage(self.state.storage());
        let keyring = IsolateKeyring {
            key: &config.secret_key,
        };
        let alarms = DoAlarms(&self.state);
        let object = SessionObject {
            storage: &kv,
            services: Services {
                config: &config,
                sql: &sql,
                blobs: blobs.as_ref(),
                clock: &WorkerClock,
                keyring: &keyring,
                http: &super::fetch::EdgeHttp,
                timer: &super::WorkerTimer,
            },
            cached_meta: &self.meta,
            live: &self.live,
            alarms: &alarms,
        };
        Ok(Ok(then(&object, request).await))
    }
}

impl DurableObject for McpSessionDO {
    fn new(state: State, env: Env) -> Self {
        let live = LiveSession::new(settings(&env));
        Self {
            state,
            env,
            meta: RefCell::new(None),
            live,
        }
    }

    async fn fetch(&self, req: worker::Request) -> worker::Result<worker::Response> {
        let answered = self
            .run(req, async |object, request| {
                object.handle_streaming(request).await
            })
            .await?;
        let (response, stream) = match answered {
            Ok(answer) => answer,
            Err(response) => return Ok(response),
        };
        let Some(stream) = stream else {
            return write_response(response);
        };
        let ping = self.live.settings.ping_interval_ms;
        let frames = stream
            .frames(ping, |ms| {
                worker::Delay::from(std::time::Duration::from_millis(ms))
            })
            .map(Ok::<Vec<u8>, worker::Error>);
        let headers = Headers::new();
        for (name, value) in &response.headers {
            headers.append(name, value)?;
        }
        Ok(worker::Response::from_stream(frames)?
            .with_status(response.status)
            .with_headers(headers))
    }

    async fn alarm(&self) -> worker::Result<worker::Response> {
        // The alarm has no request; `Platform::load` only needs one for its URL.
        let req = worker::Request::new("https://session.internal/alarm", worker::Method::Get)?;
        let _ = self
            .run(req, async |object, _| object.alarm().await)
            .await?;
        worker::Response::empty()
    }
}
