//! The MCP session Durable Object: one instance per `Mcp-Session-Id` (the id is the object id).
//! It adapts platform storage and requests to [`crate::mcp::session::SessionObject`].

use std::cell::RefCell;

use worker::{durable_object, DurableObject, Env, State};

use super::{bindings, config, read_request, storage, write_response, IsolateKeyring, WorkerClock};
use crate::app::Services;
use crate::http::router;
use crate::mcp::session::{SessionMeta, SessionObject};
use crate::store::MemoryBlobs;
use crate::time::Clock;

#[durable_object]
pub struct McpSessionDO {
    state: State,
    env: Env,
    meta: RefCell<Option<SessionMeta>>,
}

impl DurableObject for McpSessionDO {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            meta: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: worker::Request) -> worker::Result<worker::Response> {
        let clock = WorkerClock;
        let request = read_request(req).await?;
        let config = match config(&self.env) {
            Ok(c) => c,
            Err(e) => {
                return write_response(router::startup_failure(
                    &request,
                    &e.to_string(),
                    clock.now_ms(),
                ))
            }
        };
        let sql = storage::D1Sql(self.env.d1(bindings::D1_BINDING)?);
        let r2 = self
            .env
            .bucket(bindings::R2_BINDING)
            .ok()
            .map(storage::R2Blobs);
        let memory_blobs = MemoryBlobs::default();
        let blobs: &dyn crate::store::Blobs = match &r2 {
            Some(b) => b,
            None => &memory_blobs,
        };
        let kv = storage::DoStorage(self.state.storage());
        let keyring = IsolateKeyring {
            key: &config.secret_key,
        };
        let object = SessionObject {
            storage: &kv,
            services: Services {
                config: &config,
                sql: &sql,
                blobs,
                clock: &clock,
                keyring: &keyring,
            },
            cached_meta: &self.meta,
        };
        write_response(object.handle(request).await)
    }
}
