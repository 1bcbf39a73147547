//! Test identities for the Access path: an RSA-2048 signing key with a JWKS document, RS256 token
//! minting (plus deliberately broken tokens), and a loopback HTTP server that serves the JWKS the
//! way `https://<team>/cdn-cgi/access/certs` does.
//!
//! The Worker under test is configured with `ACCESS_TEAM_DOMAIN=http://127.0.0.1:PORT` (see
//! [`JwksServer::team_domain`]): it then fetches keys from
//! `http://127.0.0.1:PORT/cdn-cgi/access/certs` and expects `iss = https://127.0.0.1:PORT`
//! ([`JwksServer::issuer`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey, PublicKey};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Where Access serves its signing keys, relative to the team domain.
pub const CERTS_PATH: &str = "/cdn-cgi/access/certs";

/// Seconds since the Unix epoch, for `iat`/`nbf`/`exp`.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(value: &Value) -> String {
    b64(&serde_json::to_vec(value).expect("JSON values serialize"))
}

/// The `sub` claim that [`TestKeys::token`] puts in a token for `email` (the principal's
/// `accountId`).
pub fn subject_for(email: &str) -> String {
    format!("test-sub-{email}")
}

/// An RSA-2048 signing key and its key id, standing in for Cloudflare Access.
pub struct TestKeys {
    kid: String,
    private: PrivateKey,
}

impl std::fmt::Debug for TestKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestKeys {
    /// A fresh key pair with a random key id.
    pub fn generate() -> TestKeys {
        let suffix: u64 = rand::random();
        TestKeys::new(&format!("test-{suffix:016x}"))
    }

    /// A fresh key pair with the given key id.
    pub fn new(kid: &str) -> TestKeys {
        let mut rng = rand::rng();
        let private = PrivateKey::new(&mut rng, 2048).expect("RSA-2048 key generation");
        TestKeys {
            kid: kid.to_string(),
            private,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn public(&self) -> PublicKey {
        self.private.to_public_key()
    }

    /// The public key as a JWK: `{kid, kty: "RSA", alg: "RS256", use: "sig", n, e}`.
    pub fn jwk(&self) -> Value {
        let public = self.public();
        json!({
            "kid": self.kid,
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "n": b64(&public.n_bytes()),
            "e": b64(&public.e_bytes()),
        })
    }

    /// A certs document with just this key, shaped like Access's (`keys`, `public_cert`,
    /// `public_certs`; the PEM members are placeholders the Worker ignores).
    pub fn jwks_json(&self) -> Value {
        jwks_json_for(&[self])
    }

    /// The default header for this key: `{"alg":"RS256","kid":…,"typ":"JWT"}`.
    pub fn header(&self) -> Value {
        json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"})
    }

    /// Signs `header` and `claims` exactly as given (RS256: RSASSA-PKCS1-v1_5 with SHA-256), in
    /// compact form with base64url without padding.
    pub fn sign(&self, header: Value, claims: Value) -> String {
        let signing_input = format!("{}.{}", b64_json(&header), b64_json(&claims));
        let signature = self
            .private
            .pkcs1v15_sign::<Sha256>(signing_input.as_bytes())
            .expect("RS256 signing");
        format!("{signing_input}.{}", b64(&signature))
    }

    /// Claims of an Access identity token for `email`, valid from now for `exp_offset_secs`
    /// (negative: already expired). `sub` is [`subject_for`]`(email)`.
    pub fn identity_claims(iss: &str, aud: &str, email: &str, exp_offset_secs: i64) -> Value {
        let now = now_secs();
        json!({
            "aud": [aud],
            "email": email,
            "exp": now + exp_offset_secs,
            "iat": now.min(now + exp_offset_secs),
            "nbf": now.min(now + exp_offset_secs),
            "iss": iss,
            "type": "app",
            "identity_nonce": "test-nonce",
            "sub": subject_for(email),
            "country": "XX",
        })
    }

    /// A signed Access identity token (see [`TestKeys::identity_claims`]).
    pub fn token(&self, iss: &str, aud: &str, email: &str, exp_offset_secs: i64) -> String {
        self.sign(
            self.header(),
            TestKeys::identity_claims(iss, aud, email, exp_offset_secs),
        )
    }

    /// A signed service-token assertion: `common_name` = the client id, empty `sub`, no email.
    pub fn service_token(
        &self,
        iss: &str,
        aud: &str,
        common_name: &str,
        exp_offset_secs: i64,
    ) -> String {
        let now = now_secs();
        self.sign(
            self.header(),
            json!({
                "aud": [aud],
                "exp": now + exp_offset_secs,
                "iat": now,
                "nbf": now,
                "iss": iss,
                "type": "app",
                "common_name": common_name,
                "sub": "",
            }),
        )
    }

    /// [`alg_none_token`], reachable as an associated function.
    pub fn alg_none_token(claims: Value) -> String {
        alg_none_token(claims)
    }

    /// [`tamper_signature`], reachable as an associated function.
    pub fn tamper_signature(token: &str) -> String {
        tamper_signature(token)
    }

    /// Checks a token's RS256 signature with this key (the claims are not checked).
    pub fn verify(&self, token: &str) -> bool {
        let Some((signing_input, signature)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let public = self.public();
        // Rebuild the key from its JWK members, as a verifier would.
        let rebuilt = PublicKey::new(
            BoxedUint::from_be_slice_vartime(&public.n_bytes()),
            BoxedUint::from_be_slice_vartime(&public.e_bytes()),
        );
        match rebuilt {
            Ok(key) => key
                .pkcs1v15_verify::<Sha256>(signing_input.as_bytes(), &signature)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// A certs document holding several keys (e.g. current and previous during a rotation).
pub fn jwks_json_for(keys: &[&TestKeys]) -> Value {
    let placeholder =
        "-----BEGIN CERTIFICATE-----\ntest fixture, not a certificate\n-----END CERTIFICATE-----\n";
    let certs: Vec<Value> = keys
        .iter()
        .map(|k| json!({"kid": k.kid, "cert": placeholder}))
        .collect();
    json!({
        "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>(),
        "public_cert": certs.first().cloned().unwrap_or(Value::Null),
        "public_certs": certs,
    })
}

/// An unsigned token: header `{"alg":"none","typ":"JWT"}` and an empty signature part.
pub fn alg_none_token(claims: Value) -> String {
    format!(
        "{}.{}.",
        b64_json(&json!({"alg": "none", "typ": "JWT"})),
        b64_json(&claims)
    )
}

/// The same token with one bit of its signature flipped (still well-formed base64url).
pub fn tamper_signature(token: &str) -> String {
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return format!("{token}.AAAA");
    };
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    let middle = bytes.len() / 2;
    match bytes.get_mut(middle) {
        Some(byte) => *byte ^= 0x01,
        None => bytes.push(0),
    }
    format!("{signing_input}.{}", b64(&bytes))
}

struct ServerState {
    jwks: Mutex<Value>,
    status: AtomicU16,
    hits: AtomicUsize,
    paths: Mutex<Vec<String>>,
}

/// A loopback HTTP/1.1 server answering every request with the JWKS document
/// (`Connection: close`). Stops when dropped.
pub struct JwksServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    task: JoinHandle<()>,
}

/// Starts a [`JwksServer`] on `127.0.0.1` with a free port. Must be called inside a tokio runtime.
pub async fn serve_jwks(jwks: Value) -> JwksServer {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind a loopback port for the JWKS server");
    let addr = listener
        .local_addr()
        .expect("local address of the JWKS server");
    let state = Arc::new(ServerState {
        jwks: Mutex::new(jwks),
        status: AtomicU16::new(200),
        hits: AtomicUsize::new(0),
        paths: Mutex::new(Vec::new()),
    });
    let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
    JwksServer { addr, state, task }
}

async fn accept_loop(listener: TcpListener, state: Arc<ServerState>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Transient accept errors (e.g. too many open files): back off briefly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(answer(stream, Arc::clone(&state)));
    }
}

async fn answer(mut stream: TcpStream, state: Arc<ServerState>) {
    // Read the request head (the body of a GET is empty); give up on slow or huge requests.
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), read_head)
        .await
        .is_err()
    {
        return;
    }
    let request_line = String::from_utf8_lossy(&head);
    let path = request_line
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    state
        .paths
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(path);
    state.hits.fetch_add(1, Ordering::SeqCst);

    let status = state.status.load(Ordering::SeqCst);
    let body = if status == 200 {
        state
            .jwks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .to_string()
    } else {
        "{\"error\":\"unavailable\"}".to_string()
    };
    let reason = if status == 200 { "OK" } else { "Error" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

impl JwksServer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value for `ACCESS_TEAM_DOMAIN`: the explicit `http://` loopback origin.
    pub fn team_domain(&self) -> String {
        self.base_url()
    }

    /// `http://127.0.0.1:PORT/cdn-cgi/access/certs`, where the Worker fetches the keys.
    pub fn certs_url(&self) -> String {
        format!("{}{CERTS_PATH}", self.base_url())
    }

    /// The `iss` the Worker expects: `https://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Number of requests answered so far.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Request paths seen so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.state
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the served document (key rotation).
    pub fn set_jwks(&self, jwks: Value) {
        *self
            .state
            .jwks
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = jwks;
    }

    /// Answers with this status from now on (200 serves the JWKS; anything else an error body),
    /// to simulate an unreachable certs endpoint.
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_tokens_that_verify_and_broken_ones_that_do_not() {
        let keys = TestKeys::new("k1");
        let token = keys.token("https://127.0.0.1:1", "aud-tag", "a@example.com", 300);
        assert_eq!(token.split('.').count(), 3);
        assert!(!token.contains('='), "base64url without padding");
        assert!(keys.verify(&token));

        let tampered = TestKeys::tamper_signature(&token);
        assert_eq!(tampered, tamper_signature(&token));
        assert_ne!(tampered, token);
        assert!(!keys.verify(&tampered));
        assert!(
            !TestKeys::new("k2").verify(&token),
            "another key does not verify"
        );

        let (header, payload) = {
            let mut parts = token.split('.');
            let mut decode = || -> Value {
                let bytes = URL_SAFE_NO_PAD
                    .decode(parts.next().expect("part"))
                    .expect("base64url");
                serde_json::from_slice(&bytes).expect("JSON")
            };
            (decode(), decode())
        };
        assert_eq!(header, json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}));
        assert_eq!(payload["aud"], json!(["aud-tag"]));
        assert_eq!(payload["iss"], "https://127.0.0.1:1");
        assert_eq!(payload["email"], "a@example.com");
        assert_eq!(payload["sub"], subject_for("a@example.com"));
        let exp = payload["exp"].as_i64().expect("exp");
        assert!((exp - now_secs() - 300).abs() <= 2);

        let none = TestKeys::alg_none_token(json!({"sub": "x"}));
        assert!(none.ends_with('.'));
        assert!(!keys.verify(&none));

        let jwks = keys.jwks_json();
        assert_eq!(jwks["keys"][0]["kid"], "k1");
        assert_eq!(jwks["keys"][0]["kty"], "RSA");
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
        assert_eq!(jwks["public_cert"]["kid"], "k1");
    }

    #[tokio::test]
    async fn jwks_server_answers_counts_and_stops() {
        let keys = TestKeys::new("k1");
        let server = serve_jwks(keys.jwks_json()).await;
        assert!(server.base_url().starts_with("http://127.0.0.1:"));
        assert_eq!(
            server.issuer(),
            format!("https://127.0.0.1:{}", server.port())
        );

        let client = reqwest::Client::new();
        let body: Value = client
            .get(server.certs_url())
            .send()
            .await
            .expect("GET certs")
            .json()
            .await
            .expect("JSON body");
        assert_eq!(body, keys.jwks_json());
        assert_eq!(server.hits(), 1);
        assert_eq!(server.paths(), vec![CERTS_PATH.to_string()]);

        let other = TestKeys::new("k2");
        server.set_jwks(jwks_json_for(&[&keys, &other]));
        let body: Value = client
            .get(server.certs_url())
            .send()
            .await
            .expect("GET certs")
            .json()
            .await
            .expect("JSON body");
        assert_eq!(body["keys"].as_array().map(Vec::len), Some(2));

        server.set_status(503);
        let status = client
            .get(server.certs_url())
            .send()
            .await
            .expect("GET certs")
            .status();
        assert_eq!(status.as_u16(), 503);
        assert_eq!(server.hits(), 3);

        let addr = server.addr;
        drop(server);
        let mut stopped = false;
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_err() {
                stopped = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(stopped, "the server stops listening when dropped");
    }
}
