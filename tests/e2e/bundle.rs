//! The Worker's size budget: `build/index_bg.wasm` should stay at or under 1,000,000 bytes of
//! gzip (level 9), QuickJS included (ARCHITECTURE.md, "Size"). Cloudflare's own limit is on the
//! compressed upload.
//!
//! The Worker is over that budget since remote MCP sources, Google Discovery and OAuth landed
//! (1,116,440 B on 2026-11-27). Until it is back under, this test is a ratchet: it fails above
//! [`CEILING`], which may only go down as size work lands, and prints how far over budget we are.

use crate::support::{build_once, enabled, root};

/// Bytes of `gzip -9` the Worker should take.
const BUDGET: usize = 1_000_000;
/// Bytes of `gzip -9` above which the test fails: the measured size plus ~1% for toolchain noise.
/// Lower it whenever the Worker shrinks; set it to [`BUDGET`] once under.
const CEILING: usize = 1_053_000;

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
    if gzipped > BUDGET {
        eprintln!("worker bundle is OVER its budget by {} B", gzipped - BUDGET);
    }
    assert!(
        gzipped <= CEILING,
        "the Worker is {gzipped} B gzip, over the ratchet ceiling {CEILING} B (budget {BUDGET} B)"
    );
}
