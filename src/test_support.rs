//! Helpers shared by host unit tests: reading the fixtures and recorded wire examples in
//! `../shared/` (beside the repository; CI lays it there too).

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::PathBuf;

/// A path under `../shared/`.
pub fn shared(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(relative)
}

/// A text file under `../shared/`; panics with a hint when `shared/` is missing.
pub fn read_shared(relative: &str) -> String {
    let path = shared(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} (shared/ must sit beside the repository): {e}",
            path.display()
        )
    })
}

/// A gzipped text file under `../shared/`, decompressed.
pub fn gunzip_shared(relative: &str) -> String {
    let path = shared(relative);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "{} (shared/ must sit beside the repository): {e}",
            path.display()
        )
    });
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// A recorded exchange from `reference/wire-examples/`.
pub fn wire(name: &str) -> serde_json::Value {
    serde_json::from_str(&read_shared(&format!("reference/wire-examples/{name}"))).unwrap()
}
