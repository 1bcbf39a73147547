//! A router-level test harness: an [`App`] over the SQLite fake, in-memory blobs, a fixed clock,
//! a host keyring, a fake identity and a session router that refuses everything. Requests go
//! through [`crate::http::router::handle`] exactly as the edge sends them.
//!
//! Identity: the header [`TEST_USER_HEADER`] names the caller's subject (same tenant as the dev
//! configuration); a request without it is unauthenticated.

#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::rc::Rc;

use async_trait::async_trait;
use serde_json::Value;

use crate::app::{App, Identify, Keyring, LazyKeyring, Services, SessionRouteError, SessionRouter};
use crate::auth::{AuthError, Principal};
use crate::config::Config;
use crate::crypto::{CryptoError, SecretBox};
use crate::http::{router, Request, Response};
use crate::net::http::{FetchError, HttpClient, OutboundRequest, OutboundResponse};
use crate::store::sqlite::SqliteStore;
use crate::store::{MemoryBlobs, Sql, Statement};
use crate::time::FixedClock;

/// The request header the fake identity reads the caller's subject from.
pub const TEST_USER_HEADER: &str = "x-test-user";

/// Instant every test request happens at.
pub const NOW_MS: f64 = 1_795_000_000_000.0;

struct HeaderIdentity<'a> {
    config: &'a Config,
}

#[async_trait(?Send)]
impl Identify for HeaderIdentity<'_> {
    async fn identify(&self, request: &Request) -> Result<Principal, AuthError> {
        let user = request.header(TEST_USER_HEADER).ok_or(AuthError::Missing)?;
        let mut principal = crate::auth::dev_principal(self.config);
        principal.account_id = user.to_string();
        principal.email = format!("{user}@example.test");
        principal.name = Some(user.to_string());
        Ok(principal)
    }
}

struct NoSessions;

#[async_trait(?Send)]
impl SessionRouter for NoSessions {
    fn new_session_id(&self) -> Result<String, SessionRouteError> {
        Err(SessionRouteError::Unavailable(
            "no sessions in tests".into(),
        ))
    }
    async fn forward(&self, _: &str, _: Request) -> Result<Response, SessionRouteError> {
        Err(SessionRouteError::UnknownSession)
    }
}

/// A [`LazyKeyring`] that counts how often the key was asked for, so tests can check that
/// routes which do not seal or open secrets never pay for the derivation.
pub struct CountingKeyring {
    inner: LazyKeyring,
    pub uses: Cell<usize>,
}

impl Keyring for CountingKeyring {
    fn secret_box(&self) -> Result<Rc<SecretBox>, CryptoError> {
        self.uses.set(self.uses.get() + 1);
        self.inner.secret_box()
    }
}

/// Everything an [`App`] borrows, owned by the test.
pub struct TestWorld {
    pub config: Config,
    pub sql: SqliteStore,
    pub blobs: MemoryBlobs,
    pub clock: FixedClock,
    pub keyring: CountingKeyring,
    /// Outbound HTTP: refuses everything unless a test installs routes.
    pub http: ScriptedHttp,
}

impl Default for TestWorld {
    fn default() -> Self {
        TestWorld::new()
    }
}

impl TestWorld {
    /// A migrated, empty database and the dev test configuration.
    pub fn new() -> TestWorld {
        let config = Config::for_tests();
        TestWorld {
            keyring: CountingKeyring {
                inner: LazyKeyring::new(config.secret_key.clone()),
                uses: Cell::new(0),
            },
            config,
            sql: SqliteStore::migrated().unwrap(),
            blobs: MemoryBlobs::default(),
            clock: FixedClock(NOW_MS),
            http: ScriptedHttp::default(),
        }
    }

    pub fn services(&self) -> Services<'_> {
        Services {
            config: &self.config,
            sql: &self.sql,
            blobs: &self.blobs,
            clock: &self.clock,
            keyring: &self.keyring,
            http: &self.http,
            timer: &crate::time::NoWaitTimer,
        }
    }

    /// The tenant every test caller belongs to.
    pub fn tenant(&self) -> &str {
        &self.config.organization.id
    }

    /// Sends a request through the router. `user: None` sends no identity.
    pub async fn send(
        &self,
        user: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        self.send_raw(user, method, path, body.as_deref()).await
    }

    /// [`TestWorld::send`] with a raw body.
    pub async fn send_raw(
        &self,
        user: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Response {
        let mut request = Request::new(method, &format!("http://127.0.0.1:8787{path}"));
        if let Some(user) = user {
            request = request.with_header(TEST_USER_HEADER, user);
        }
        if let Some(body) = body {
            request = request
                .with_header("content-type", "application/json")
                .with_body(body.to_vec());
        }
        let identity = HeaderIdentity {
            config: &self.config,
        };
        let app = App {
            services: self.services(),
            identity: &identity,
            sessions: &NoSessions,
        };
        router::handle(&app, request).await
    }

    /// Sends a fully built request through the router (identity from [`TEST_USER_HEADER`]).
    pub async fn send_request(&self, request: Request) -> Response {
        let identity = HeaderIdentity {
            config: &self.config,
        };
        let app = App {
            services: self.services(),
            identity: &identity,
            sessions: &NoSessions,
        };
        router::handle(&app, request).await
    }

    /// [`TestWorld::send`] as the user `dev`.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        self.send(Some("dev"), method, path, body).await
    }

    /// Runs one statement against the test database (fixtures).
    pub async fn exec(&self, sql: &'static str, params: Vec<crate::store::SqlValue>) {
        self.sql.execute(Statement::new(sql, params)).await.unwrap();
    }

    /// Inserts an integration row for this tenant, as the OpenAPI add route would.
    pub async fn add_integration(&self, slug: &str, plugin_id: &str, config: Option<&Value>) {
        self.exec(
            "INSERT INTO integration (row_id, tenant, slug, plugin_id, name, config, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?3, ?5, 1, 1)",
            vec![
                crate::ids::uuid_v4().into(),
                self.tenant().into(),
                slug.into(),
                plugin_id.into(),
                config.map(Value::to_string).into(),
            ],
        )
        .await;
    }
}

type HttpHandler = Box<dyn Fn(&OutboundRequest) -> Option<OutboundResponse>>;

/// An [`HttpClient`] answering from handlers the test installs; every request is recorded.
/// Unanswered requests fail as a network error.
#[derive(Default)]
pub struct ScriptedHttp {
    handlers: std::cell::RefCell<Vec<HttpHandler>>,
    pub requests: std::cell::RefCell<Vec<OutboundRequest>>,
}

impl ScriptedHttp {
    /// Adds a handler; the first handler that answers `Some` wins.
    pub fn on(&self, handler: impl Fn(&OutboundRequest) -> Option<OutboundResponse> + 'static) {
        self.handlers.borrow_mut().push(Box::new(handler));
    }

    /// Answers `GET url` (exact match) with a 200 and `body`.
    pub fn serve(&self, url: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        let (url, content_type, body) = (url.to_string(), content_type.to_string(), body.into());
        self.on(move |r| {
            (r.url == url).then(|| OutboundResponse {
                status: 200,
                headers: vec![("content-type".into(), content_type.clone())],
                body: body.clone(),
            })
        });
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for ScriptedHttp {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        self.requests.borrow_mut().push(request.clone());
        let handlers = self.handlers.borrow();
        let response =
            handlers
                .iter()
                .find_map(|h| h(&request))
                .ok_or_else(|| FetchError::Network {
                    url: request.url.clone(),
                    message: "no scripted answer".into(),
                })?;
        // The body cap, as the edge client applies it.
        if response.body.len() > request.max_body_bytes {
            return Err(FetchError::TooLarge {
                url: request.url.clone(),
                limit: request.max_body_bytes,
            });
        }
        Ok(response)
    }
}
