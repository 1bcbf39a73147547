//! PKCE (RFC 7636, method `S256`) and the `state` parameter: random values, base64url without
//! padding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A fresh code verifier: 32 random bytes as 43 base64url characters (RFC 7636 §4.1 asks for
/// 43–128 characters of `[A-Za-z0-9-._~]`).
pub fn verifier() -> String {
    URL_SAFE_NO_PAD.encode(crate::ids::random_bytes::<32>())
}

/// The `S256` challenge of a verifier: `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A fresh `state`: 32 random bytes, unguessable and URL-safe.
pub fn state() -> String {
    URL_SAFE_NO_PAD.encode(crate::ids::random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        // RFC 7636 Appendix B: the verifier from those 32 octets and its S256 challenge.
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = URL_SAFE_NO_PAD.encode(octets);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn fresh_values_are_long_distinct_and_url_safe() {
        let (a, b) = (verifier(), verifier());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(state(), state());
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
