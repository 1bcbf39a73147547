//! Access signing keys (JWKS) and the per-isolate verifier (executor-behaviour.md §10.2).
//!
//! [`JwksCache`] mirrors what upstream's jose `createRemoteJWKSet` does with its defaults: the key
//! document is fetched lazily, reused for 10 minutes, and refetched early — at most once per 30 s —
//! when a token names a key id the cached document does not have (Access rotates keys about every
//! six weeks). The two platform operations go through [`KeySource`].

use std::cell::RefCell;

use serde::Serialize;

use super::jwt::{check_claims, parse_jwt, AuthError, RS256};
use super::{principal_from_claims, Principal};
use crate::config::{AccessConfig, Config};
use crate::time::Clock;

/// How long a fetched key document is used before it is fetched again.
pub const JWKS_MAX_AGE_MS: f64 = 600_000.0;

/// Minimum time between two fetches caused by an unknown `kid`, so that tokens with made-up key
/// ids cannot hammer the certs endpoint.
pub const UNKNOWN_KID_COOLDOWN_MS: f64 = 30_000.0;

/// A JSON Web Key Set, as served at `https://<team>/cdn-cgi/access/certs`. Other members of the
/// document (`public_cert`, `public_certs`) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Jwks {
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

/// One public key. Members this host does not use are ignored; missing ones default to empty so
/// that one unusual key does not make the whole document unreadable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Jwk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default)]
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// RSA modulus, base64url without padding.
    #[serde(default)]
    pub n: String,
    /// RSA public exponent, base64url without padding.
    #[serde(default)]
    pub e: String,
}

impl Jwk {
    /// Whether this key may verify an RS256 signature: an RSA key with `n` and `e`, whose `alg`
    /// (when given) is RS256 and whose `use` (when given) is `sig`.
    pub fn usable_for_rs256(&self) -> bool {
        self.kty == "RSA"
            && !self.n.is_empty()
            && !self.e.is_empty()
            && self.alg.as_deref().is_none_or(|alg| alg == RS256)
            && self.use_.as_deref().is_none_or(|u| u == "sig")
    }
}

impl Jwks {
    /// Parses a key document: `keys` absent = no keys; a key's members absent = empty. Read
    /// with the store's non-generic JSON reader instead of derived `Deserialize` (wasm size).
    pub fn from_json_text(text: &str) -> Result<Jwks, String> {
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Jwks::from_json(&doc)
    }

    /// [`Self::from_json_text`] of a parsed document.
    pub fn from_json(doc: &serde_json::Value) -> Result<Jwks, String> {
        let doc = crate::store::RowReader::object(doc).ok_or("a key set is a JSON object")?;
        let keys = doc.array("keys").map_err(|e| e.message)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let key = crate::store::RowReader::object(key).ok_or("a key is a JSON object")?;
            let read = || -> Result<Jwk, crate::store::StoreError> {
                Ok(Jwk {
                    kid: key.opt_text("kid")?,
                    kty: key.opt_text("kty")?.unwrap_or_default(),
                    alg: key.opt_text("alg")?,
                    use_: key.opt_text("use")?,
                    n: key.opt_text("n")?.unwrap_or_default(),
                    e: key.opt_text("e")?.unwrap_or_default(),
                })
            };
            out.push(read().map_err(|e| e.message)?);
        }
        Ok(Jwks { keys: out })
    }

    /// The RS256-capable key with this id.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        if kid.is_empty() {
            return None;
        }
        self.keys
            .iter()
            .find(|key| key.kid.as_deref() == Some(kid) && key.usable_for_rs256())
    }
}

/// The platform side of verification: the edge fetches with `fetch` and verifies with WebCrypto;
/// host tests use the `rsa` crate.
#[async_trait::async_trait(?Send)]
pub trait KeySource {
    /// Fetches and parses the key document at `url`. The error is a description for the log.
    async fn fetch_jwks(&self, url: &str) -> Result<Jwks, String>;

    /// Checks an RSASSA-PKCS1-v1_5 / SHA-256 signature over `signing_input` with `key`.
    /// `Ok(false)` is a signature that does not verify; `Err` is a key that cannot be used.
    async fn verify_rs256(
        &self,
        key: &Jwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool, String>;
}

#[derive(Debug)]
struct Cached {
    url: String,
    jwks: Jwks,
    fetched_at_ms: f64,
}

#[derive(Debug, Default)]
struct State {
    cached: Option<Cached>,
    /// When the last fetch was started (successful or not), for the unknown-`kid` cooldown.
    last_attempt_ms: Option<f64>,
}

/// Per-isolate JWKS cache and token verifier. Single-threaded by design (the Worker is): the state
/// sits in a `RefCell` that is never borrowed across an `await`.
#[derive(Debug, Default)]
pub struct JwksCache {
    state: RefCell<State>,
}

enum Lookup {
    Found(Jwk),
    /// The cached document is fresh but has no such key.
    Unknown,
    /// Nothing cached for this URL, or it is older than [`JWKS_MAX_AGE_MS`].
    Stale,
}

impl JwksCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Verifies an Access assertion and maps its claims to a [`Principal`]: parse (RS256 only) →
    /// `kid` → key from the cache (fetching or refetching as needed) → signature → claims.
    pub async fn authenticate(
        &self,
        token: &str,
        config: &Config,
        access: &AccessConfig,
        keys: &dyn KeySource,
        clock: &dyn Clock,
    ) -> Result<Principal, AuthError> {
        let parts = parse_jwt(token)?;
        if parts.header.alg != RS256 {
            return Err(AuthError::UnsupportedAlgorithm(parts.header.alg));
        }
        let kid = parts
            .header
            .kid
            .as_deref()
            .filter(|kid| !kid.is_empty())
            .ok_or(AuthError::MissingKeyId)?;

        let key = self.key_for(kid, &access.certs_url, keys, clock).await?;
        match keys
            .verify_rs256(&key, parts.signing_input.as_bytes(), &parts.signature)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(AuthError::BadSignature),
            Err(reason) => return Err(AuthError::InvalidKey(reason)),
        }

        check_claims(&parts.claims, access, clock.now_secs())?;
        Ok(principal_from_claims(&parts.claims, config))
    }

    fn lookup(&self, kid: &str, url: &str, now_ms: f64) -> Lookup {
        let state = self.state.borrow();
        match &state.cached {
            Some(cached) if cached.url == url => {
                let age = now_ms - cached.fetched_at_ms;
                if !(0.0..JWKS_MAX_AGE_MS).contains(&age) {
                    return Lookup::Stale;
                }
                match cached.jwks.find(kid) {
                    Some(key) => Lookup::Found(key.clone()),
                    None => Lookup::Unknown,
                }
            }
            _ => Lookup::Stale,
        }
    }

    fn cooling_down(&self, now_ms: f64) -> bool {
        match self.state.borrow().last_attempt_ms {
            // A clock that went backwards does not block refetching forever.
            Some(last) => now_ms >= last && now_ms - last < UNKNOWN_KID_COOLDOWN_MS,
            None => false,
        }
    }

    async fn key_for(
        &self,
        kid: &str,
        url: &str,
        keys: &dyn KeySource,
        clock: &dyn Clock,
    ) -> Result<Jwk, AuthError> {
        let now_ms = clock.now_ms();
        match self.lookup(kid, url, now_ms) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Unknown if self.cooling_down(now_ms) => return Err(AuthError::UnknownKey),
            Lookup::Unknown | Lookup::Stale => {}
        }
        let jwks = self.fetch(url, keys, clock).await?;
        jwks.find(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    async fn fetch(
        &self,
        url: &str,
        keys: &dyn KeySource,
        clock: &dyn Clock,
    ) -> Result<Jwks, AuthError> {
        self.state.borrow_mut().last_attempt_ms = Some(clock.now_ms());
        let jwks = keys
            .fetch_jwks(url)
            .await
            .map_err(AuthError::KeysUnavailable)?;
        self.state.borrow_mut().cached = Some(Cached {
            url: url.to_string(),
            jwks: jwks.clone(),
            fetched_at_ms: clock.now_ms(),
        });
        Ok(jwks)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;
    use std::sync::OnceLock;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use rsa::traits::PublicKeyParts;
    use rsa::{BoxedUint, PrivateKey, PublicKey};
    use serde_json::{json, Value};
    use sha2::Sha256;

    use super::*;
    use crate::config::AuthMode;

    /// Two RSA-2048 keys, generated once per test binary (slow in debug builds).
    fn test_keys() -> &'static [PrivateKey; 2] {
        static KEYS: OnceLock<[PrivateKey; 2]> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = rand::rng();
            [
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

    fn sign(kid: &str, key: &PrivateKey, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
        );
        let signature = key.pkcs1v15_sign::<Sha256>(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A key source over an in-memory JWKS, verifying with the `rsa` crate.
    #[derive(Default)]
    struct FakeKeys {
        jwks: RefCell<Jwks>,
        fetches: Cell<usize>,
        fail: Cell<bool>,
        urls: RefCell<Vec<String>>,
    }

    impl FakeKeys {
        fn with(keys: Vec<Jwk>) -> Self {
            let fake = FakeKeys::default();
            fake.jwks.borrow_mut().keys = keys;
            fake
        }
    }

    #[async_trait::async_trait(?Send)]
    impl KeySource for FakeKeys {
        async fn fetch_jwks(&self, url: &str) -> Result<Jwks, String> {
            self.fetches.set(self.fetches.get() + 1);
            self.urls.borrow_mut().push(url.to_string());
            if self.fail.get() {
                return Err("connection refused".into());
            }
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
            let public =
                PublicKey::new(decode(&key.n)?, decode(&key.e)?).map_err(|e| e.to_string())?;
            Ok(public
                .pkcs1v15_verify::<Sha256>(signing_input, signature)
                .is_ok())
        }
    }

    struct TestClock(Cell<f64>);

    impl TestClock {
        fn at_secs(secs: f64) -> Self {
            TestClock(Cell::new(secs * 1000.0))
        }
        fn advance_secs(&self, secs: f64) {
            self.0.set(self.0.get() + secs * 1000.0);
        }
    }

    impl Clock for TestClock {
        fn now_ms(&self) -> f64 {
            self.0.get()
        }
    }

    const T0: f64 = 1_700_000_000.0;

    fn config() -> (Config, AccessConfig) {
        let config = Config::from_env(|k| match k {
            "EXECUTOR_SECRET_KEY" => Some("test-secret-key-0123456789".into()),
            "ACCESS_TEAM_DOMAIN" => Some("team.cloudflareaccess.com".into()),
            "ACCESS_AUD" => Some("aud-tag".into()),
            "ADMIN_EMAILS" => Some("boss@example.com".into()),
            _ => None,
        })
        .unwrap();
        let AuthMode::Access(access) = config.auth.clone() else {
            panic!("access mode expected")
        };
        (config, access)
    }

    fn claims(email: &str, now_secs: f64) -> Value {
        json!({
            "iss": "https://team.cloudflareaccess.com",
            "aud": ["aud-tag"],
            "email": email,
            "sub": format!("sub-{email}"),
            "iat": now_secs as i64,
            "nbf": now_secs as i64,
            "exp": now_secs as i64 + 3600,
            "type": "app",
        })
    }

    #[tokio::test]
    async fn verifies_and_caches_the_key_document() {
        let (config, access) = config();
        let [k1, _] = test_keys();
        let keys = FakeKeys::with(vec![jwk("k1", k1)]);
        let clock = TestClock::at_secs(T0);
        let cache = JwksCache::new();

        let token = sign("k1", k1, &claims("boss@example.com", T0));
        let p = cache
            .authenticate(&token, &config, &access, &keys, &clock)
            .await
            .unwrap();
        assert_eq!(p.account_id, "sub-boss@example.com");
        assert_eq!(p.roles, vec!["admin"]);

        clock.advance_secs(5.0);
        let token = sign("k1", k1, &claims("someone@example.com", T0));
        let p = cache
            .authenticate(&token, &config, &access, &keys, &clock)
            .await
            .unwrap();
        assert_eq!(p.roles, vec!["member"]);
        assert_eq!(
            keys.fetches.get(),
            1,
            "the second token reuses the cached keys"
        );
        assert_eq!(
            *keys.urls.borrow(),
            vec!["https://team.cloudflareaccess.com/cdn-cgi/access/certs"]
        );

        // Older than 10 minutes: fetched again.
        clock.advance_secs(600.0);
        cache
            .authenticate(&token, &config, &access, &keys, &clock)
            .await
            .unwrap();
        assert_eq!(keys.fetches.get(), 2);
    }

    #[tokio::test]
    async fn rejects_bad_signatures_and_claims() {
        let (config, access) = config();
        let [k1, k2] = test_keys();
        let keys = FakeKeys::with(vec![jwk("k1", k1)]);
        let clock = TestClock::at_secs(T0);
        let cache = JwksCache::new();
        let auth = |token: String| {
            let (cache, config, access, keys, clock) = (&cache, &config, &access, &keys, &clock);
            async move {
                cache
                    .authenticate(&token, config, access, keys, clock)
                    .await
            }
        };

        // Signed by another key under the known kid.
        let forged = sign("k1", k2, &claims("a@b.c", T0));
        assert_eq!(auth(forged).await, Err(AuthError::BadSignature));

        // A flipped signature byte.
        let good = sign("k1", k1, &claims("a@b.c", T0));
        let (input, sig) = good.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[10] ^= 0x01;
        let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
        assert_eq!(auth(tampered).await, Err(AuthError::BadSignature));

        // A modified payload under the original signature.
        let (header, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let mut evil = claims("a@b.c", T0);
        evil["email"] = json!("boss@example.com");
        let swapped = format!(
            "{header}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).unwrap())
        );
        assert_eq!(auth(swapped).await, Err(AuthError::BadSignature));

        // Valid signature, bad claims.
        let mut expired = claims("a@b.c", T0 - 7200.0);
        expired["nbf"] = json!(T0 as i64 - 7200);
        assert_eq!(
            auth(sign("k1", k1, &expired)).await,
            Err(AuthError::Expired)
        );
        let mut wrong_aud = claims("a@b.c", T0);
        wrong_aud["aud"] = json!(["someone-else"]);
        assert_eq!(
            auth(sign("k1", k1, &wrong_aud)).await,
            Err(AuthError::WrongAudience)
        );
        let mut wrong_iss = claims("a@b.c", T0);
        wrong_iss["iss"] = json!("https://other.cloudflareaccess.com");
        assert_eq!(
            auth(sign("k1", k1, &wrong_iss)).await,
            Err(AuthError::WrongIssuer)
        );

        // Header problems never reach the key source.
        let before = keys.fetches.get();
        let garbage = auth("abc.def.ghi".into()).await.unwrap_err();
        assert!(matches!(garbage, AuthError::Malformed(_)), "{garbage:?}");
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("a@b.c", T0)).unwrap());
        let no_kid = format!("{header}.{body}.c2ln");
        assert_eq!(auth(no_kid).await, Err(AuthError::MissingKeyId));
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
        assert_eq!(
            auth(format!("{none_header}.{body}.")).await,
            Err(AuthError::UnsupportedAlgorithm("none".into()))
        );
        assert_eq!(keys.fetches.get(), before);
    }

    #[tokio::test]
    async fn unknown_kid_refetches_once_then_cools_down() {
        let (config, access) = config();
        let [k1, k2] = test_keys();
        let keys = FakeKeys::with(vec![jwk("k1", k1)]);
        let clock = TestClock::at_secs(T0);
        let cache = JwksCache::new();
        let auth = |token: String| {
            let (cache, config, access, keys, clock) = (&cache, &config, &access, &keys, &clock);
            async move {
                cache
                    .authenticate(&token, config, access, keys, clock)
                    .await
            }
        };
        let now = || clock.now_ms() / 1000.0;

        auth(sign("k1", k1, &claims("a@b.c", now()))).await.unwrap();
        assert_eq!(keys.fetches.get(), 1);

        // An unknown kid right after a fetch: within the cooldown, no refetch.
        assert_eq!(
            auth(sign("k2", k2, &claims("a@b.c", now()))).await,
            Err(AuthError::UnknownKey)
        );
        assert_eq!(keys.fetches.get(), 1);

        // Access rotates: the document now has k2 as well. After the cooldown, one refetch.
        keys.jwks.borrow_mut().keys.push(jwk("k2", k2));
        clock.advance_secs(31.0);
        auth(sign("k2", k2, &claims("a@b.c", now()))).await.unwrap();
        assert_eq!(keys.fetches.get(), 2);
        // Both keys now verify from the cache.
        auth(sign("k1", k1, &claims("a@b.c", now()))).await.unwrap();
        auth(sign("k2", k2, &claims("a@b.c", now()))).await.unwrap();
        assert_eq!(keys.fetches.get(), 2);

        // Garbage kids: at most one refetch per 30 s.
        clock.advance_secs(31.0);
        for i in 0..5 {
            let result = auth(sign(&format!("junk-{i}"), k1, &claims("a@b.c", now()))).await;
            assert_eq!(result, Err(AuthError::UnknownKey));
            clock.advance_secs(1.0);
        }
        assert_eq!(keys.fetches.get(), 3, "one refetch for five unknown kids");
        clock.advance_secs(30.0);
        let result = auth(sign("junk-again", k1, &claims("a@b.c", now()))).await;
        assert_eq!(result, Err(AuthError::UnknownKey));
        assert_eq!(keys.fetches.get(), 4);
    }

    #[tokio::test]
    async fn fetch_failure_is_keys_unavailable() {
        let (config, access) = config();
        let [k1, _] = test_keys();
        let keys = FakeKeys::with(vec![jwk("k1", k1)]);
        keys.fail.set(true);
        let clock = TestClock::at_secs(T0);
        let cache = JwksCache::new();
        let token = sign("k1", k1, &claims("a@b.c", T0));

        let err = cache
            .authenticate(&token, &config, &access, &keys, &clock)
            .await
            .unwrap_err();
        assert_eq!(err, AuthError::KeysUnavailable("connection refused".into()));
        assert!(!err.to_string().contains(&token));

        // Recovery: the next request fetches again and succeeds.
        keys.fail.set(false);
        cache
            .authenticate(&token, &config, &access, &keys, &clock)
            .await
            .unwrap();
        assert_eq!(keys.fetches.get(), 2);

        // A failed refresh of a stale document fails closed.
        clock.advance_secs(601.0);
        keys.fail.set(true);
        let token = sign("k1", k1, &claims("a@b.c", T0 + 601.0));
        assert!(matches!(
            cache
                .authenticate(&token, &config, &access, &keys, &clock)
                .await,
            Err(AuthError::KeysUnavailable(_))
        ));
    }

    #[test]
    fn jwks_document_parsing_and_key_selection() {
        let doc = json!({
            "keys": [
                {"kid": "a", "kty": "RSA", "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"},
                {"kid": "b", "kty": "RSA", "n": "AQAB", "e": "AQAB"},
                {"kid": "c", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
                {"kid": "d", "kty": "RSA", "alg": "RS512", "n": "AQAB", "e": "AQAB"},
                {"kid": "e", "kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
                {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
            ],
            "public_cert": {"kid": "a", "cert": "-----BEGIN CERTIFICATE-----"},
            "public_certs": [{"kid": "a", "cert": "-----BEGIN CERTIFICATE-----"}]
        });
        let jwks = Jwks::from_json(&doc).unwrap();
        assert_eq!(jwks.keys.len(), 6);
        assert!(jwks.find("a").is_some());
        assert!(jwks.find("b").is_some(), "alg and use are optional");
        assert!(jwks.find("c").is_none(), "not RSA");
        assert!(jwks.find("d").is_none(), "another algorithm");
        assert!(jwks.find("e").is_none(), "not a signing key");
        assert!(jwks.find("").is_none());
        assert!(jwks.find("zzz").is_none());
    }
}
