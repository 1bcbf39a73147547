//! RS256 signature checks with the runtime's WebCrypto (`crypto.subtle`), for Access JWTs
//! (executor-behaviour.md §10.2, toolchain.md §7). Native, so the Worker carries no RSA code.
//!
//! Imported keys are kept per isolate, keyed by their `n`/`e`, so a key is imported once rather
//! than on every request.

use std::cell::RefCell;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Crypto, CryptoKey, SubtleCrypto};

const ALGORITHM: &str = "RSASSA-PKCS1-v1_5";

/// Access publishes the current and the previous key; a few more cover a rotation in flight.
const MAX_CACHED_KEYS: usize = 8;

thread_local! {
    static IMPORTED: RefCell<Vec<(String, CryptoKey)>> = const { RefCell::new(Vec::new()) };
}

/// A readable description of a JavaScript exception.
fn describe(err: &JsValue) -> String {
    if let Some(s) = err.as_string() {
        return s;
    }
    let field = |name: &str| {
        Reflect::get(err, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    match (field("name"), field("message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        _ => format!("{err:?}"),
    }
}

fn set(target: &Object, key: &str, value: &JsValue) -> Result<(), String> {
    Reflect::set(target, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// `globalThis.crypto.subtle`. workerd's global scope is not a `Window`, so the global object is
/// read directly instead of through `web_sys::window()`.
fn subtle() -> Result<SubtleCrypto, String> {
    let crypto =
        Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).map_err(|e| describe(&e))?;
    if crypto.is_undefined() || crypto.is_null() {
        return Err("globalThis.crypto is not available".into());
    }
    Ok(crypto.unchecked_into::<Crypto>().subtle())
}

async fn import_key(
    subtle: &SubtleCrypto,
    n_b64url: &str,
    e_b64url: &str,
) -> Result<CryptoKey, String> {
    let jwk = Object::new();
    set(&jwk, "kty", &JsValue::from_str("RSA"))?;
    set(&jwk, "n", &JsValue::from_str(n_b64url))?;
    set(&jwk, "e", &JsValue::from_str(e_b64url))?;
    set(&jwk, "alg", &JsValue::from_str("RS256"))?;
    set(&jwk, "ext", &JsValue::TRUE)?;

    let algorithm = Object::new();
    set(&algorithm, "name", &JsValue::from_str(ALGORITHM))?;
    set(&algorithm, "hash", &JsValue::from_str("SHA-256"))?;

    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = subtle
        .import_key_with_object("jwk", &jwk, &algorithm, false, &usages)
        .map_err(|e| format!("importKey: {}", describe(&e)))?;
    let key = JsFuture::from(promise)
        .await
        .map_err(|e| format!("importKey: {}", describe(&e)))?;
    Ok(key.unchecked_into::<CryptoKey>())
}

async fn cached_key(
    subtle: &SubtleCrypto,
    n_b64url: &str,
    e_b64url: &str,
) -> Result<CryptoKey, String> {
    let id = format!("{n_b64url}.{e_b64url}");
    let hit = IMPORTED.with(|keys| {
        keys.borrow()
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, key)| key.clone())
    });
    if let Some(key) = hit {
        return Ok(key);
    }
    let key = import_key(subtle, n_b64url, e_b64url).await?;
    IMPORTED.with(|keys| {
        let mut keys = keys.borrow_mut();
        // Another request may have imported the same key meanwhile.
        if keys.iter().any(|(known, _)| *known == id) {
            return;
        }
        if keys.len() >= MAX_CACHED_KEYS {
            keys.remove(0);
        }
        keys.push((id, key.clone()));
    });
    Ok(key)
}

/// Checks an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature over `signing_input` with the RSA
/// public key given as JWK members `n` and `e` (base64url). `Ok(false)`: the signature does not
/// verify; `Err`: the key could not be imported or WebCrypto failed.
pub async fn verify_rs256(
    n_b64url: &str,
    e_b64url: &str,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    let subtle = subtle()?;
    let key = cached_key(&subtle, n_b64url, e_b64url).await?;
    let promise = subtle
        .verify_with_str_and_u8_array_and_u8_array(ALGORITHM, &key, signature, signing_input)
        .map_err(|e| format!("verify: {}", describe(&e)))?;
    let verdict = JsFuture::from(promise)
        .await
        .map_err(|e| format!("verify: {}", describe(&e)))?;
    verdict
        .as_bool()
        .ok_or_else(|| "verify: WebCrypto did not answer with a boolean".to_string())
}
