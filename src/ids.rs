//! Identifier generation: execution ids, trace ids. Randomness comes from `getrandom`, which is
//! the OS on the host and `crypto.getRandomValues` in the Worker.

/// `n` random bytes. Randomness failing is not recoverable in any useful way on a request path,
/// so a failure degrades to a time-mixed fallback rather than a panic.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if getrandom::fill(&mut buf).is_err() {
        // Never expected in practice; keep ids distinct rather than crash the isolate.
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31) ^ 0x5a;
        }
    }
    buf
}

/// A random UUID v4 in hyphenated lowercase form.
pub fn uuid_v4() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>())
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// `exec_<uuid v4>`: unguessable execution id, the prefix agents and logs already know.
pub fn execution_id() -> String {
    format!("exec_{}", uuid_v4())
}

/// Base-36 rendering of a non-negative integer.
pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `N` random base-36 characters (lowercase), e.g. for `custom_<6>` slugs.
pub fn random_base36<const N: usize>() -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    random_bytes::<N>()
        .iter()
        .map(|b| DIGITS[(*b as usize) % 36] as char)
        .collect()
}

/// `cloudflare-<base36 epoch ms>-<6 random base36>`, the trace id format of upstream's 500s.
pub fn trace_id(now_ms: f64) -> String {
    format!(
        "cloudflare-{}-{}",
        base36(now_ms.max(0.0) as u64),
        random_base36::<6>()
    )
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_ids_are_prefixed_uuid_v4() {
        let id = execution_id();
        assert!(id.starts_with("exec_"));
        let uuid = &id[5..];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_ne!(execution_id(), id);
    }

    #[test]
    fn trace_ids_look_like_upstream() {
        let id = trace_id(1_700_000_000_000.0);
        let parts: Vec<_> = id.split('-').collect();
        assert_eq!(parts[0], "cloudflare");
        assert_eq!(parts[1], base36(1_700_000_000_000));
        assert_eq!(parts[2].len(), 6);
    }

    #[test]
    fn base36_renders() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
