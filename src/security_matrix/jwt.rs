//! The Access JWT matrix, through the real router: every broken or misplaced assertion is a 401
//! on `/api/account/me` (`{"_tag":"AccountUnauthorized"}`), on a protected `/api` route
//! (`text/plain` `Unauthorized`) and on `/mcp` (JSON-RPC `-32001` with a `WWW-Authenticate`
//! challenge); valid tokens pass on all three. No token appears in a response or a log line.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey, PublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::{AccessIdentity, App, LazyKeyring, Services, SessionRouteError, SessionRouter};
use crate::auth::{Jwk, Jwks, JwksCache, KeySource, JWKS_MAX_AGE_MS};
use crate::config::Config;
use crate::http::{router, Request, Response};
use crate::store::sqlite::SqliteStore;
use crate::store::MemoryBlobs;
use crate::time::{Clock, NoWaitTimer};

const TEAM: &str = "team.cloudflareaccess.com";
const ISS: &str = "https://team.cloudflareaccess.com";
const AUD: &str = "aud-tag";
const T0: i64 = 1_800_000_000;

/// Three RSA-2048 keys, generated once per test binary.
fn keys() -> &'static [PrivateKey; 3] {
    static KEYS: OnceLock<[PrivateKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rng();
        [
            PrivateKey::new(&mut rng, 2048).unwrap(),
            PrivateKey::new(&mut rng, 2048).unwrap(),
            PrivateKey::new(&mut rng, 2048).unwrap(),
        ]
    })
}

fn jwk(kid: &str, key: &PrivateKey) -> Jwk {
    let public = key.to_public_key();
    Jwk {
        kid: Some(kid.into()),
        kty: "RSA".into(),
        alg: Some("RS256".into()),
        use_: Some("sig".into()),
        n: URL_SAFE_NO_PAD.encode(public.n_bytes()),
        e: URL_SAFE_NO_PAD.encode(public.e_bytes()),
    }
}

fn b64json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn sign_with_header(header: &Value, key: &PrivateKey, claims: &Value) -> String {
    let input = format!("{}.{}", b64json(header), b64json(claims));
    let signature = key.pkcs1v15_sign::<Sha256>(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn sign(kid: &str, key: &PrivateKey, claims: &Value) -> String {
    sign_with_header(
        &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
        key,
        claims,
    )
}

/// HMAC-SHA256 (RFC 2104), for the key-confusion case: an attacker who knows the public key
/// signs with it as an HS256 secret.
fn hmac_sha256(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn hs256(kid: &str, secret: &[u8], claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64json(&json!({"alg": "HS256", "kid": kid, "typ": "JWT"})),
        b64json(claims)
    );
    let mac = hmac_sha256(secret, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

fn claims(now: i64) -> Value {
    json!({
        "iss": ISS, "aud": [AUD], "email": "person@example.com", "sub": "user-123",
        "name": "Person", "iat": now - 10, "nbf": now - 10, "exp": now + 600, "type": "app",
    })
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

/// An in-memory JWKS endpoint that can rotate, verifying with the `rsa` crate.
struct RotatingKeys {
    jwks: RefCell<Jwks>,
    fetches: Cell<usize>,
}

#[async_trait(?Send)]
impl KeySource for RotatingKeys {
    async fn fetch_jwks(&self, _url: &str) -> Result<Jwks, String> {
        self.fetches.set(self.fetches.get() + 1);
        Ok(self.jwks.borrow().clone())
    }

    async fn verify_rs256(
        &self,
        key: &Jwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        let decode = |b64: &str| {
            URL_SAFE_NO_PAD
                .decode(b64)
                .map(|bytes| BoxedUint::from_be_slice_vartime(&bytes))
                .map_err(|e| e.to_string())
        };
        let public = PublicKey::new(decode(&key.n)?, decode(&key.e)?).map_err(|e| e.to_string())?;
        Ok(public
            .pkcs1v15_verify::<Sha256>(signing_input, signature)
            .is_ok())
    }
}

struct MovableClock(Cell<f64>);

impl Clock for MovableClock {
    fn now_ms(&self) -> f64 {
        self.0.get()
    }
}

/// Session objects that accept everything: a request that gets past the envelope is "through".
struct OpenSessions;

#[async_trait(?Send)]
impl SessionRouter for OpenSessions {
    fn new_session_id(&self) -> Result<String, SessionRouteError> {
        Ok("b".repeat(64))
    }
    async fn forward(&self, _: &str, _: Request) -> Result<Response, SessionRouteError> {
        Ok(Response::json(200, &json!({"forwarded": true})))
    }
}

struct World {
    config: Config,
    sql: SqliteStore,
    blobs: MemoryBlobs,
    clock: MovableClock,
    keyring: LazyKeyring,
    cache: JwksCache,
    keys: RotatingKeys,
}

impl World {
    fn new() -> World {
        let config = Config::from_env(|name| match name {
            "EXECUTOR_SECRET_KEY" => Some("test-secret-key-0123456789".into()),
            "ACCESS_TEAM_DOMAIN" => Some(TEAM.into()),
            "ACCESS_AUD" => Some(AUD.into()),
            _ => None,
        })
        .unwrap();
        let [k1, k2, _] = keys();
        World {
            keyring: LazyKeyring::new(config.secret_key.clone()),
            config,
            sql: SqliteStore::migrated().unwrap(),
            blobs: MemoryBlobs::default(),
            clock: MovableClock(Cell::new(T0 as f64 * 1000.0)),
            cache: JwksCache::new(),
            keys: RotatingKeys {
                jwks: RefCell::new(Jwks {
                    keys: vec![jwk("k1", k1), jwk("k2", k2)],
                }),
                fetches: Cell::new(0),
            },
        }
    }

    fn now(&self) -> i64 {
        (self.clock.0.get() / 1000.0) as i64
    }

    async fn send(&self, request: Request) -> Response {
        let identity = AccessIdentity {
            config: &self.config,
            cache: &self.cache,
            keys: &self.keys,
            clock: &self.clock,
        };
        let app = App {
            services: Services {
                config: &self.config,
                sql: &self.sql,
                blobs: &self.blobs,
                clock: &self.clock,
                keyring: &self.keyring,
                http: &crate::net::http::NoNetwork,
                timer: &NoWaitTimer,
            },
            identity: &identity,
            sessions: &OpenSessions,
        };
        router::handle(&app, request).await
    }
}

/// Where the credential travels.
#[derive(Clone, Copy)]
enum Carrier {
    None,
    AccessHeader,
    CookieOnly,
    BearerOnly,
}

const BASE: &str = "https://executor.example.com";

fn requests(carrier: Carrier, token: &str) -> [(&'static str, Request); 3] {
    let place = |r: Request| match carrier {
        Carrier::None => r,
        Carrier::AccessHeader => r.with_header("cf-access-jwt-assertion", token),
        Carrier::CookieOnly => r.with_header("cookie", &format!("CF_Authorization={token}")),
        Carrier::BearerOnly => r.with_header("authorization", &format!("Bearer {token}")),
    };
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"m","version":"1"}}});
    [
        (
            "me",
            place(Request::new("GET", &format!("{BASE}/api/account/me"))),
        ),
        (
            "api",
            place(Request::new("GET", &format!("{BASE}/api/integrations"))),
        ),
        (
            "mcp",
            place(
                Request::new("POST", &format!("{BASE}/mcp"))
                    .with_header("content-type", "application/json")
                    .with_header("accept", "application/json, text/event-stream")
                    .with_body(serde_json::to_vec(&init).unwrap()),
            ),
        ),
    ]
}

fn assert_unauthorized(case: &str, surface: &str, response: &Response, token: &str) {
    assert_eq!(response.status, 401, "{case} on {surface}");
    let body = String::from_utf8_lossy(&response.body);
    match surface {
        "me" => assert_eq!(body, r#"{"_tag":"AccountUnauthorized"}"#, "{case}"),
        "api" => assert_eq!(body, "Unauthorized", "{case}"),
        _ => {
            let reply: Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(reply["error"]["code"], -32001, "{case}");
            assert!(response
                .header("www-authenticate")
                .unwrap_or_default()
                .contains("/.well-known/oauth-protected-resource"));
        }
    }
    if token.len() > 8 {
        assert!(!body.contains(token), "{case}: the token is echoed");
        for (_, value) in &response.headers {
            assert!(!value.contains(token), "{case}: the token is in a header");
        }
    }
}

async fn assert_accepted(world: &World, case: &str, token: &str) -> usize {
    for (surface, request) in requests(Carrier::AccessHeader, token) {
        let response = world.send(request).await;
        assert_eq!(
            response.status,
            200,
            "{case} on {surface}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
    3
}

/// Runs one rejected case on the three surfaces; returns the number of requests checked.
async fn reject(world: &World, case: &str, carrier: Carrier, token: &str) -> usize {
    let mut n = 0;
    for (surface, request) in requests(carrier, token) {
        let response = world.send(request).await;
        assert_unauthorized(case, surface, &response, token);
        n += 1;
    }
    n
}

#[tokio::test]
async fn access_jwt_matrix() {
    super::capture_logs();
    let world = World::new();
    let [k1, k2, k3] = keys();
    let now = world.now();
    let good = claims(now);
    let mut checked = 0;
    let mut cases = 0;
    let mut accepted = 0;

    accepted += 1;
    checked += assert_accepted(&world, "valid k1", &sign("k1", k1, &good)).await;
    accepted += 1;
    checked += assert_accepted(&world, "valid k2", &sign("k2", k2, &good)).await;
    // `aud` may be a plain string too.
    accepted += 1;
    checked += assert_accepted(
        &world,
        "aud as a string",
        &sign("k1", k1, &with(good.clone(), "aud", json!(AUD))),
    )
    .await;

    let valid = sign("k1", k1, &good);
    let (input, signature) = valid.rsplit_once('.').unwrap();
    let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
    flipped[17] ^= 0x40;
    let header_b64 = input.split('.').next().unwrap();
    let escalated = format!(
        "{header_b64}.{}.{signature}",
        b64json(&with(good.clone(), "email", json!("boss@example.com")))
    );
    let public_jwk = serde_json::to_vec(&jwk("k1", k1)).unwrap();
    let public_n = k1.to_public_key().n_bytes().to_vec();
    let oversized = format!(
        "{}.{}.{}",
        b64json(&json!({"alg":"RS256","kid":"k1"})),
        "A".repeat(70 * 1024),
        "c2ln"
    );
    let matrix: Vec<(&str, Carrier, String)> = vec![
        ("missing header", Carrier::None, String::new()),
        ("empty header", Carrier::AccessHeader, String::new()),
        ("whitespace header", Carrier::AccessHeader, "   ".into()),
        (
            "alg none, no signature",
            Carrier::AccessHeader,
            format!(
                "{}.{}.",
                b64json(&json!({"alg":"none","kid":"k1"})),
                b64json(&good)
            ),
        ),
        (
            "alg none with a valid RS256 signature",
            Carrier::AccessHeader,
            sign_with_header(&json!({"alg":"none","kid":"k1"}), k1, &good),
        ),
        (
            "alg NONE",
            Carrier::AccessHeader,
            sign_with_header(&json!({"alg":"NONE","kid":"k1"}), k1, &good),
        ),
        (
            "HS256 keyed with the public JWK",
            Carrier::AccessHeader,
            hs256("k1", &public_jwk, &good),
        ),
        (
            "HS256 keyed with the public modulus",
            Carrier::AccessHeader,
            hs256("k1", &public_n, &good),
        ),
        (
            "RS512 header over an RS256 signature",
            Carrier::AccessHeader,
            sign_with_header(&json!({"alg":"RS512","kid":"k1"}), k1, &good),
        ),
        (
            "PS256 header",
            Carrier::AccessHeader,
            sign_with_header(&json!({"alg":"PS256","kid":"k1"}), k1, &good),
        ),
        (
            "ES256 header",
            Carrier::AccessHeader,
            sign_with_header(&json!({"alg":"ES256","kid":"k1"}), k1, &good),
        ),
        (
            "unknown crit extension",
            Carrier::AccessHeader,
            sign_with_header(&json!({"alg":"RS256","kid":"k1","crit":["x"]}), k1, &good),
        ),
        (
            "wrong aud",
            Carrier::AccessHeader,
            sign(
                "k1",
                k1,
                &with(good.clone(), "aud", json!(["someone-else"])),
            ),
        ),
        (
            "empty aud list",
            Carrier::AccessHeader,
            sign("k1", k1, &with(good.clone(), "aud", json!([]))),
        ),
        (
            "aud missing",
            Carrier::AccessHeader,
            sign("k1", k1, &without(good.clone(), "aud")),
        ),
        (
            "wrong iss",
            Carrier::AccessHeader,
            sign(
                "k1",
                k1,
                &with(
                    good.clone(),
                    "iss",
                    json!("https://evil.cloudflareaccess.com"),
                ),
            ),
        ),
        (
            "iss without scheme",
            Carrier::AccessHeader,
            sign("k1", k1, &with(good.clone(), "iss", json!(TEAM))),
        ),
        (
            "iss missing",
            Carrier::AccessHeader,
            sign("k1", k1, &without(good.clone(), "iss")),
        ),
        (
            "expired",
            Carrier::AccessHeader,
            sign("k1", k1, &with(good.clone(), "exp", json!(now - 1))),
        ),
        (
            "exp equal to now",
            Carrier::AccessHeader,
            sign("k1", k1, &with(good.clone(), "exp", json!(now))),
        ),
        (
            "exp missing",
            Carrier::AccessHeader,
            sign("k1", k1, &without(good.clone(), "exp")),
        ),
        (
            "exp as a string",
            Carrier::AccessHeader,
            sign(
                "k1",
                k1,
                &with(good.clone(), "exp", json!((now + 600).to_string())),
            ),
        ),
        (
            "nbf in the future",
            Carrier::AccessHeader,
            sign("k1", k1, &with(good.clone(), "nbf", json!(now + 60))),
        ),
        (
            "nbf one second ahead",
            Carrier::AccessHeader,
            sign("k1", k1, &with(good.clone(), "nbf", json!(now + 1))),
        ),
        (
            "unknown kid",
            Carrier::AccessHeader,
            sign("k-unknown", k1, &good),
        ),
        (
            "kid missing",
            Carrier::AccessHeader,
            sign_with_header(&json!({"alg":"RS256"}), k1, &good),
        ),
        ("kid empty", Carrier::AccessHeader, sign("", k1, &good)),
        (
            "kid of another key",
            Carrier::AccessHeader,
            sign("k2", k1, &good),
        ),
        (
            "bad signature (flipped bit)",
            Carrier::AccessHeader,
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(&flipped)),
        ),
        (
            "signed by a key not in the JWKS",
            Carrier::AccessHeader,
            sign("k1", k3, &good),
        ),
        (
            "payload swapped under a valid signature",
            Carrier::AccessHeader,
            escalated,
        ),
        (
            "signature stripped",
            Carrier::AccessHeader,
            format!("{input}."),
        ),
        ("two segments", Carrier::AccessHeader, input.to_string()),
        (
            "four segments",
            Carrier::AccessHeader,
            format!("{valid}.{signature}"),
        ),
        ("padded base64", Carrier::AccessHeader, format!("{valid}==")),
        ("garbage", Carrier::AccessHeader, "abc.def.ghi".into()),
        ("oversized token", Carrier::AccessHeader, oversized),
        (
            "valid token in a cookie only",
            Carrier::CookieOnly,
            valid.clone(),
        ),
        (
            "valid token as a bearer only",
            Carrier::BearerOnly,
            valid.clone(),
        ),
    ];
    for (case, carrier, token) in &matrix {
        checked += reject(&world, case, *carrier, token).await;
        cases += 1;
    }
    let fetches_after_matrix = world.keys.fetches.get();
    assert!(
        fetches_after_matrix <= 2,
        "unknown kids refetch at most once per cooldown ({fetches_after_matrix})"
    );

    // JWKS rotation: k3 is published and k1 withdrawn. A k3 token makes the Worker refetch once
    // the unknown-kid cooldown has passed; a k1 token fails once the cached document is stale.
    world.keys.jwks.replace(Jwks {
        keys: vec![jwk("k2", k2), jwk("k3", k3)],
    });
    world
        .clock
        .0
        .set(world.clock.0.get() + crate::auth::UNKNOWN_KID_COOLDOWN_MS + 1.0);
    let later = claims(world.now());
    accepted += 1;
    checked += assert_accepted(&world, "rotated-in key k3", &sign("k3", k3, &later)).await;
    checked += reject(
        &world,
        "rotated-out key k1",
        Carrier::AccessHeader,
        &sign("k1", k1, &later),
    )
    .await;
    cases += 2;
    world
        .clock
        .0
        .set(world.clock.0.get() + JWKS_MAX_AGE_MS + 1.0);
    let stale = claims(world.now());
    checked += reject(
        &world,
        "rotated-out key after the cache expired",
        Carrier::AccessHeader,
        &sign("k1", k1, &stale),
    )
    .await;
    accepted += 1;
    checked += assert_accepted(&world, "k2 still valid", &sign("k2", k2, &stale)).await;
    cases += 2;

    // Log lines: the capture sees every line this binary wrote; none carries a token.
    for (_, _, token) in &matrix {
        if token.len() > 8 {
            super::assert_not_logged(token);
        }
    }
    super::assert_not_logged(&valid);

    println!(
        "security matrix: access JWT: {cases} rejected cases (rotation included) + {accepted} \
         accepted, {checked} requests on /api/account/me, /api/integrations and /mcp"
    );
}
