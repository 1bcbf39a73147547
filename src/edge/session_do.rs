//! The MCP session Durable Object: one instance per `Mcp-Session-Id` (the id is the object id).
//! It adapts platform storage and requests to [`crate::mcp::session::SessionObject`].

use std::cell::RefCell;

use worker::{durable_object, DurableObject, Env, State};

use super::{storage, write_response, IsolateKeyring, Platform, WorkerClock};
use crate::app::Services;
use crate::mcp::session::{SessionMeta, SessionObject};

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
        let Platform {
            request,
            config,
            sql,
            blobs,
        } = match Platform::load(req, &self.env).await? {
            Ok(p) => p,
            Err(answer) => return Ok(answer),
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
                blobs: blobs.as_ref(),
                clock: &WorkerClock,
                keyring: &keyring,
                http: &super::fetch::EdgeHttp,
                timer: &super::WorkerTimer,
            },
            cached_meta: &self.meta,
        };
        write_response(object.handle(request).await)
    }
}
