//! Peak heap of ingesting the large OpenAPI fixtures (executor-behaviour.md §15.2).
//!
//! The Worker has 128 MB per isolate; we budget 64 MiB of wasm heap for adding a spec. This
//! binary counts every allocation (a global allocator that tracks the high-water mark) while it
//! runs what `POST /openapi/specs` does with a spec's text: parse, preview, default auth
//! templates, every tool definition serialised as a row (and dropped), the `defs` blob, and a
//! few `$defs` closures read back from the blob. The spec text itself counts against the budget.
//!
//! Run: `cargo test -p executor-tests --test ingest_memory -- --nocapture`.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use executor::plugins::openapi::{
    defs_blob, derive_auth_templates, derive_tools, parse, preview, DefsIndex,
};
use peak_alloc::PeakAlloc;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const BUDGET: usize = 64 * 1024 * 1024;
const MB: f64 = 1024.0 * 1024.0;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/openapi")
        .join(name)
}

/// Decompresses into a string of exactly the text's size (a first pass measures it), so the
/// input costs what a fetched body would.
fn load(name: &str) -> String {
    let path = fixture(name);
    let open = || {
        std::fs::File::open(&path).unwrap_or_else(|e| {
            panic!(
                "{} (shared/ must sit beside the repository): {e}",
                path.display()
            )
        })
    };
    let size = std::io::copy(
        &mut flate2::read::GzDecoder::new(open()),
        &mut std::io::sink(),
    )
    .unwrap();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap());
    flate2::read::GzDecoder::new(open())
        .read_to_end(&mut bytes)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

struct Measured {
    tools: usize,
    peak: usize,
    input: usize,
    millis: u128,
}

fn ingest(name: &str) -> Measured {
    let text = load(name);
    let input = text.len();
    HEAP.reset_peak_usage();
    let start = Instant::now();

    let doc = parse(text).unwrap();
    let preview = serde_json::to_string(&preview(&doc)).unwrap();
    let templates = serde_json::to_string(&derive_auth_templates(&doc)).unwrap();
    let mut tools = 0;
    let mut row_bytes = 0;
    let mut sample = Vec::new();
    derive_tools(&doc, |tool| {
        tools += 1;
        // What a tool row would hold; written and dropped, as the Worker does in chunks.
        let row = serde_json::to_string(&tool).unwrap();
        row_bytes += row.len();
        if tools % 97 == 0 {
            sample.extend(tool.output_schema);
        }
    });
    let defs = defs_blob(&doc);
    drop(doc);
    let index = DefsIndex::new(&defs).unwrap();
    let closures: usize = sample
        .iter()
        .map(|schema| index.closure(&[schema]).len())
        .sum();

    let millis = start.elapsed().as_millis();
    let peak = HEAP.peak_usage();
    assert!(!preview.is_empty() && !templates.is_empty() && row_bytes > 0 && closures > 0);
    Measured {
        tools,
        peak,
        input,
        millis,
    }
}

#[test]
fn large_specs_ingest_within_the_heap_budget() {
    for (name, expected_tools) in [
        ("github-api.openapi.json.gz", 1223),
        ("cloudflare-api.openapi.json.gz", 3207),
    ] {
        let m = ingest(name);
        eprintln!(
            "ingest {name}: {} ms, peak {:.1} MB ({:.1} MB input + {:.1} MB working), tools {}",
            m.millis,
            m.peak as f64 / MB,
            m.input as f64 / MB,
            m.peak.saturating_sub(m.input) as f64 / MB,
            m.tools
        );
        assert_eq!(m.tools, expected_tools, "{name}");
        assert!(
            m.peak <= BUDGET,
            "{name}: peak heap {:.1} MB exceeds the {} MB budget",
            m.peak as f64 / MB,
            BUDGET / (1024 * 1024)
        );
    }
}
