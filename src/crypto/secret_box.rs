//! [`SecretBox`]: scrypt-derived AES-256-GCM key sealing and opening `v1.` secret strings.

use std::fmt;

use aes_gcm::aead::{AeadInOut, Key, KeyInit, Nonce, Tag};
use aes_gcm::Aes256Gcm;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use zeroize::Zeroize;

use crate::config::Secret;

/// The scrypt salt, fixed by the stored format.
pub const KDF_SALT: &[u8] = b"executor-encrypted-secrets/v1";

/// The version prefix of every stored value this module writes.
pub const VERSION: &str = "v1";

/// Node `scryptSync` defaults: N = 2^14, r = 8, p = 1 (about 16 MiB of memory per derivation).
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Decoding accepts standard base64 with or without padding; encoding always pads (as Node does).
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a secret could not be sealed or opened. Carries no plaintext, ciphertext or key bytes, so
/// it is safe to log and to wrap in other errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not `<version>.<iv>.<tag>.<ciphertext>`, bad base64, or an IV/tag of the wrong length.
    #[error("stored secret is malformed")]
    Malformed,
    /// Well-formed, but the version prefix is not `v1`.
    #[error("stored secret has an unsupported format version")]
    UnsupportedVersion,
    /// The authentication tag did not verify: `EXECUTOR_SECRET_KEY` differs from the one that
    /// sealed the value, or the value was altered.
    #[error("stored secret could not be decrypted (wrong EXECUTOR_SECRET_KEY or corrupted value)")]
    WrongKeyOrCorrupted,
    /// The plaintext exceeds AES-GCM's per-message limit (about 64 GiB).
    #[error("secret is too long to encrypt")]
    TooLong,
    /// scrypt rejected its parameters. The parameters are constants, so this does not happen;
    /// it exists so that derivation has no panicking path.
    #[error("secret key derivation failed")]
    KeyDerivation,
}

/// A decrypted secret. `Debug` is redacted, there is no `Display`, and the bytes are wiped on drop;
/// read it with [`SecretValue::expose`] at the single place that needs the plaintext.
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The plaintext.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The `encrypted` provider's cipher: an AES-256-GCM key derived from `EXECUTOR_SECRET_KEY`.
///
/// [`SecretBox::derive`] runs scrypt (N = 16384, r = 8, p = 1: ~16 MiB and tens of milliseconds),
/// so build one per isolate and share it. The key schedule is wiped when the box is dropped.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(<redacted>)")
    }
}

impl SecretBox {
    /// Derives the key: scrypt over the UTF-8 bytes of `key` with salt [`KDF_SALT`], 32-byte
    /// output. Expensive; cache the result.
    pub fn derive(key: &Secret) -> Result<SecretBox, CryptoError> {
        let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
            .map_err(|_| CryptoError::KeyDerivation)?;
        let mut derived = Key::<Aes256Gcm>::default();
        let result = scrypt::scrypt(
            key.expose().as_bytes(),
            KDF_SALT,
            &params,
            derived.as_mut_slice(),
        );
        let cipher = result.map(|()| Aes256Gcm::new(&derived));
        derived.as_mut_slice().zeroize();
        cipher
            .map(|cipher| SecretBox { cipher })
            .map_err(|_| CryptoError::KeyDerivation)
    }

    /// Encrypts `plaintext` under a fresh random 12-byte IV into
    /// `v1.<base64 iv>.<base64 tag>.<base64 ciphertext>`.
    pub fn seal(&self, plaintext: &str) -> Result<String, CryptoError> {
        self.seal_with_iv(plaintext, crate::ids::random_bytes::<IV_LEN>())
    }

    /// [`SecretBox::seal`] with a caller-chosen IV. Reusing an IV under one key breaks AES-GCM,
    /// so only known-answer tests may call this.
    pub(crate) fn seal_with_iv(
        &self,
        plaintext: &str,
        iv: [u8; IV_LEN],
    ) -> Result<String, CryptoError> {
        // Encrypted in place: once sealed, the buffer holds only ciphertext.
        let mut buffer = plaintext.as_bytes().to_vec();
        let nonce = Nonce::<Aes256Gcm>::from(iv);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, &[], buffer.as_mut_slice().into())
            .map_err(|_| {
                buffer.zeroize();
                CryptoError::TooLong
            })?;
        Ok(format!(
            "{VERSION}.{}.{}.{}",
            STANDARD.encode(iv),
            STANDARD.encode(tag.as_slice()),
            STANDARD.encode(&buffer)
        ))
    }

    /// Decrypts a stored `v1.` string.
    pub fn open(&self, stored: &str) -> Result<SecretValue, CryptoError> {
        let mut parts = stored.split('.');
        let (Some(version), Some(iv), Some(tag), Some(ciphertext), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CryptoError::Malformed);
        };
        let iv = decode_exact::<IV_LEN>(iv)?;
        let tag = decode_exact::<TAG_LEN>(tag)?;
        let mut buffer = LENIENT_STANDARD
            .decode(ciphertext)
            .map_err(|_| CryptoError::Malformed)?;
        if version != VERSION {
            return Err(CryptoError::UnsupportedVersion);
        }

        let nonce = Nonce::<Aes256Gcm>::from(iv);
        let tag = Tag::<Aes256Gcm>::from(tag);
        self.cipher
            .decrypt_inout_detached(&nonce, &[], buffer.as_mut_slice().into(), &tag)
            .map_err(|_| CryptoError::WrongKeyOrCorrupted)?;

        // Node decodes the plaintext as UTF-8 with replacement characters; do the same rather
        // than fail on a value the TypeScript build would have read.
        let text = match String::from_utf8(buffer) {
            Ok(text) => text,
            Err(err) => {
                let mut bytes = err.into_bytes();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                bytes.zeroize();
                text
            }
        };
        Ok(SecretValue(text))
    }
}

/// Decodes one base64 field that must be exactly `N` bytes long.
fn decode_exact<const N: usize>(field: &str) -> Result<[u8; N], CryptoError> {
    let bytes = LENIENT_STANDARD
        .decode(field)
        .map_err(|_| CryptoError::Malformed)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::Malformed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const KEY: &str = "correct horse battery staple";

    /// Known answers computed independently with Node (the reference runtime) and cross-checked
    /// with Python's `hashlib.scrypt` + `cryptography`'s `AESGCM`; both agree byte for byte:
    ///
    /// ```text
    /// const c = require("crypto");
    /// const key = c.scryptSync(KEY, "executor-encrypted-secrets/v1", 32);
    /// const ci = c.createCipheriv("aes-256-gcm", key, Buffer.from(IV_HEX, "hex"));
    /// const ct = Buffer.concat([ci.update(PLAINTEXT, "utf8"), ci.final()]);
    /// `v1.${iv.toString("base64")}.${ci.getAuthTag().toString("base64")}.${ct.toString("base64")}`
    /// ```
    const VECTORS: &[(&str, [u8; 12], &str)] = &[
        (
            "ghp_exampleToken123",
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            "v1.AAECAwQFBgcICQoL.HMYyUBqupNQMVRDzwLWnSQ==.kIxNg8T2N19HU3rKk2YBb2P1Ug==",
        ),
        (
            "",
            [0xff; 12],
            "v1.////////////////.ajdARFjNQnAdL2iQHwKJBg==.",
        ),
        (
            "pâte 🔑 ünïcode",
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            "v1.AQIDBAUGBwgJCgsM.kkkiwoN/HpguJwdvRgbQqg==.si+3xvYiVFZ2FiaAdWB2UcslOMs=",
        ),
    ];

    fn secret_box() -> SecretBox {
        // One derivation per test binary: scrypt is slow in debug builds.
        static BOX: std::sync::OnceLock<SecretBox> = std::sync::OnceLock::new();
        BOX.get_or_init(|| SecretBox::derive(&Secret::new(KEY)).unwrap())
            .clone()
    }

    #[test]
    fn derived_key_matches_node_scrypt_sync() {
        // Node: scryptSync(KEY, "executor-encrypted-secrets/v1", 32).toString("hex")
        let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P).unwrap();
        let mut key = [0u8; 32];
        scrypt::scrypt(KEY.as_bytes(), KDF_SALT, &params, &mut key).unwrap();
        assert_eq!(
            crate::ids::hex(&key),
            "6d68bd649df2e8f52ad511cbd67c7b4561a93305befe25a5140ba677e747ed81"
        );
    }

    #[test]
    fn known_answers_seal_and_open() {
        let sb = secret_box();
        for (plaintext, iv, stored) in VECTORS {
            assert_eq!(&sb.seal_with_iv(plaintext, *iv).unwrap(), stored);
            assert_eq!(sb.open(stored).unwrap().expose(), *plaintext);
        }
    }

    #[test]
    fn round_trip_uses_fresh_ivs() {
        let sb = secret_box();
        let a = sb.seal("sk-live-123").unwrap();
        let b = sb.seal("sk-live-123").unwrap();
        assert_ne!(a, b, "two seals of one value must differ (random IV)");
        for stored in [&a, &b] {
            assert!(stored.starts_with("v1."));
            assert_eq!(stored.split('.').count(), 4);
            assert_eq!(sb.open(stored).unwrap().expose(), "sk-live-123");
        }
        let long = "x".repeat(100_000);
        assert_eq!(
            sb.open(&sb.seal(&long).unwrap()).unwrap().expose(),
            long.as_str()
        );
    }

    #[test]
    fn wrong_key_fails() {
        let other = SecretBox::derive(&Secret::new("a different secret key")).unwrap();
        assert_eq!(
            other.open(VECTORS[0].2).unwrap_err(),
            CryptoError::WrongKeyOrCorrupted
        );
    }

    #[test]
    fn tampering_fails() {
        let sb = secret_box();
        let stored = VECTORS[0].2;
        let parts: Vec<&str> = stored.split('.').collect();
        let flip = |field: &str| {
            let mut bytes = STANDARD.decode(field).unwrap();
            bytes[0] ^= 1;
            STANDARD.encode(bytes)
        };
        let bad_tag = format!("v1.{}.{}.{}", parts[1], flip(parts[2]), parts[3]);
        let bad_iv = format!("v1.{}.{}.{}", flip(parts[1]), parts[2], parts[3]);
        let bad_ct = format!("v1.{}.{}.{}", parts[1], parts[2], flip(parts[3]));
        let truncated_ct = format!("v1.{}.{}.{}", parts[1], parts[2], "");
        for bad in [bad_tag, bad_iv, bad_ct, truncated_ct] {
            assert_eq!(
                sb.open(&bad).unwrap_err(),
                CryptoError::WrongKeyOrCorrupted,
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_values_fail_without_panicking() {
        let sb = secret_box();
        let cases = [
            "",
            ".",
            "...",
            "....",
            "v1",
            "v1.AAECAwQFBgcICQoL",
            "v1.AAECAwQFBgcICQoL.HMYyUBqupNQMVRDzwLWnSQ==",
            // five parts
            "v1.AAECAwQFBgcICQoL.HMYyUBqupNQMVRDzwLWnSQ==.kIxNg8T2N19HU3rKk2YBb2P1Ug==.x",
            // bad base64
            "v1.AAECAwQFBgcICQo*.HMYyUBqupNQMVRDzwLWnSQ==.kIxNg8T2N19HU3rKk2YBb2P1Ug==",
            "v1.AAECAwQFBgcICQoL.HMYyUBqupNQMVRDzwLWnSQ==.kIxN g8T2",
            "v1.AAECAwQFBgcICQoL.HMYyUBqupNQMVRDzwLWnSQ==.%%%%",
            // IV of 11 and 16 bytes
            "v1.AAECAwQFBgcICQo=.HMYyUBqupNQMVRDzwLWnSQ==.kIxNg8T2N19HU3rKk2YBb2P1Ug==",
            "v1.AAECAwQFBgcICQoLDA0ODw==.HMYyUBqupNQMVRDzwLWnSQ==.kIxNg8T2N19HU3rKk2YBb2P1Ug==",
            // tag of 12 bytes
            "v1.AAECAwQFBgcICQoL.HMYyUBqupNQMVRDz.kIxNg8T2N19HU3rKk2YBb2P1Ug==",
            // URL-safe alphabet is not the stored format
            "v1.AAECAwQFBgcICQoL.HMYyUBqupNQMVRDzwLWnSQ==.si-3xvYiVFZ2FiaAdWB2UcslOMs=",
            "plain text secret",
            "v1.🔑.🔑.🔑",
        ];
        for case in cases {
            assert_eq!(
                sb.open(case).unwrap_err(),
                CryptoError::Malformed,
                "{case:?}"
            );
        }
        let v2 = VECTORS[0].2.replacen("v1.", "v2.", 1);
        assert_eq!(sb.open(&v2).unwrap_err(), CryptoError::UnsupportedVersion);
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        let sb = secret_box();
        let unpadded = VECTORS[0].2.replace('=', "");
        assert_eq!(sb.open(&unpadded).unwrap().expose(), VECTORS[0].0);
    }

    #[test]
    fn nothing_secret_is_printable() {
        let sb = secret_box();
        let value = sb.open(VECTORS[0].2).unwrap();
        let debug = format!("{sb:?} {value:?}");
        assert!(!debug.contains(KEY));
        assert!(!debug.contains(VECTORS[0].0));
        assert_eq!(debug, "SecretBox(<redacted>) SecretValue(<redacted>)");

        for err in [
            CryptoError::Malformed,
            CryptoError::UnsupportedVersion,
            CryptoError::WrongKeyOrCorrupted,
            CryptoError::TooLong,
            CryptoError::KeyDerivation,
        ] {
            let text = format!("{err} {err:?}");
            assert!(
                !text.contains(KEY) && !text.contains(VECTORS[0].0),
                "{text}"
            );
        }
    }
}
