//! The Worker's size budget: `build/index_bg.wasm` must stay at or under 1,000,000 bytes of
//! gzip (level 9), QuickJS included (ARCHITECTURE.md, "Worker size"). Cloudflare's own limit
//! is on the compressed upload; the margin under it is for the features still to come.

use std::io::Write;

use crate::support::{build_once, enabled, root};

/// Bytes of `gzip -9` the Worker may take.
const BUDGET: usize = 1_000_000;

#[test]
fn the_worker_fits_its_gzip_budget() {
    if !enabled("the_worker_fits_its_gzip_budget") {
        return;
    }
    build_once();
    let wasm = std::fs::read(root().join("build/index_bg.wasm")).expect("build/index_bg.wasm");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&wasm).expect("gzip in memory");
    let gzipped = gzip.finish().expect("gzip in memory").len();
    eprintln!(
        "worker bundle: {} B raw, {gzipped} B gzip -9 (budget {BUDGET} B, {} B left)",
        wasm.len(),
        BUDGET as i64 - gzipped as i64
    );
    assert!(
        gzipped <= BUDGET,
        "the Worker is {gzipped} B gzip, over its {BUDGET} B budget"
    );
}
