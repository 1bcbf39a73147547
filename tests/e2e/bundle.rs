//! The Worker's size budget: `build/index_bg.wasm` must stay at or under 1,000,000 bytes of
//! gzip (level 9), QuickJS included (ARCHITECTURE.md, "Worker size"). Cloudflare's own limit
//! is on the compressed upload; the margin under it is for the features still to come.

use crate::support::{build_once, enabled, root};

/// Bytes of `gzip -9` the Worker may take.
const BUDGET: usize = 1_000_000;

#[test]
fn the_worker_fits_its_gzip_budget() {
    if !enabled("the_worker_fits_its_gzip_budget") {
        return;
    }
    build_once();
    let path = root().join("build/index_bg.wasm");
    let raw = std::fs::metadata(&path).expect("build/index_bg.wasm").len();
    // The system gzip, as scripts/test reports it (unoptimised flate2 takes minutes here).
    let gzip = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(&path)
        .output()
        .expect("gzip runs");
    assert!(gzip.status.success(), "gzip failed");
    let gzipped = gzip.stdout.len();
    eprintln!(
        "worker bundle: {} B raw, {gzipped} B gzip -9 (budget {BUDGET} B, {} B left)",
        raw,
        BUDGET as i64 - gzipped as i64
    );
    assert!(
        gzipped <= BUDGET,
        "the Worker is {gzipped} B gzip, over its {BUDGET} B budget"
    );
}
