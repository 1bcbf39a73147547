//! Peak heap of ingesting the large OpenAPI fixtures (executor-behaviour.md §15.2).
//!
//! The Worker has 128 MB per isolate; we budget 64 MiB of wasm heap for adding a spec. This
//! binary counts every allocation (a global allocator that tracks the high-water mark) while it
//! runs what `POST /openapi/specs` does with a spec's text: parse, preview, default auth
//! templates, every tool definition serialised as a row (and dropped), the `defs` blob, and a
//! few `$defs` closures read back from the blob. The spec text itself counts against the budget.
//! A second measurement runs the real add path (`plugins::openapi::store::add`: generation rows
//! in chunked batches, blobs, integration row) over storage that discards what it is given, so
//! only the ingest's own working set counts.
//!
//! Run: `cargo test -p executor-tests --test ingest_memory -- --nocapture`.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;

use executor::app::{LazyKeyring, Services};
use executor::config::Config;
use executor::net::http::NoNetwork;
use executor::plugins::openapi::store::{self, AddRequest, SpecInput};
use executor::plugins::openapi::{
    defs_blob, derive_auth_templates, derive_tools, parse, preview, DefsIndex,
};
use executor::store::{Blobs, Row, Sql, Statement, StoreError};
use executor::time::FixedClock;
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

/// One test only: the peak counter is process-wide, so the measurements must not overlap.
#[test]
fn large_specs_ingest_within_the_heap_budget() {
    plugin_ingest_measurements();
    store_add_measurements();
}

fn plugin_ingest_measurements() {
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

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + 'a>>;

/// D1 stand-in that keeps nothing: queries find no rows, every write "changes" one row. It
/// records the largest bound text value it was handed.
#[derive(Default)]
struct DiscardingSql {
    statements: Cell<usize>,
    largest_value: Cell<usize>,
}

impl DiscardingSql {
    fn observe(&self, statement: &Statement) {
        self.statements.set(self.statements.get() + 1);
        for p in &statement.params {
            if let executor::store::SqlValue::Text(t) = p {
                self.largest_value
                    .set(self.largest_value.get().max(t.len()));
            }
        }
    }
}

// `Sql` is an `async_trait(?Send)` trait; this crate implements the desugared form by hand.
impl Sql for DiscardingSql {
    fn query<'life0, 'async_trait>(
        &'life0 self,
        statement: Statement,
    ) -> Answer<'async_trait, Vec<Row>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.observe(&statement);
        Box::pin(async { Ok(Vec::new()) })
    }
    fn execute<'life0, 'async_trait>(
        &'life0 self,
        statement: Statement,
    ) -> Answer<'async_trait, u64>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.observe(&statement);
        Box::pin(async { Ok(1) })
    }
    fn batch<'life0, 'async_trait>(
        &'life0 self,
        statements: Vec<Statement>,
    ) -> Answer<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        statements.iter().for_each(|s| self.observe(s));
        Box::pin(async { Ok(()) })
    }
}

/// R2 stand-in that drops what it is given (the Worker hands blobs to R2 outside its heap).
struct DiscardingBlobs;

impl Blobs for DiscardingBlobs {
    fn get<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _key: &'life1 str,
    ) -> Answer<'async_trait, Option<Vec<u8>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async { Ok(None) })
    }
    fn put<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _key: &'life1 str,
        value: Vec<u8>,
    ) -> Answer<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        drop(value);
        Box::pin(async { Ok(()) })
    }
    fn delete<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _key: &'life1 str,
    ) -> Answer<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async { Ok(()) })
    }
}

fn store_add_measurements() {
    let config = Config::for_tests();
    let keyring = LazyKeyring::new(config.secret_key.clone());
    let clock = FixedClock(1_795_000_000_000.0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (name, expected_tools) in [
        ("github-api.openapi.json.gz", 1223),
        ("cloudflare-api.openapi.json.gz", 3207),
    ] {
        let sql = DiscardingSql::default();
        let services = Services {
            config: &config,
            sql: &sql,
            blobs: &DiscardingBlobs,
            clock: &clock,
            keyring: &keyring,
            http: &NoNetwork,
            timer: &executor::time::NoWaitTimer,
        };
        let text = load(name);
        let input = text.len();
        let request = AddRequest {
            spec: SpecInput::Blob { value: text },
            slug: "big".into(),
            name: None,
            description: None,
            base_url: None,
            headers: None,
            query_params: None,
            authentication_template: None,
        };
        HEAP.reset_peak_usage();
        let start = Instant::now();
        let added = runtime
            .block_on(store::add(services, "default", request))
            .unwrap();
        let millis = start.elapsed().as_millis();
        let peak = HEAP.peak_usage();
        eprintln!(
            "store add {name}: {millis} ms, peak {:.1} MB ({:.1} MB input + {:.1} MB working), \
             {} statements, largest value {} KB, tools {}",
            peak as f64 / MB,
            input as f64 / MB,
            peak.saturating_sub(input) as f64 / MB,
            sql.statements.get(),
            sql.largest_value.get() / 1024,
            added.tool_count
        );
        assert_eq!(added.tool_count, expected_tools, "{name}");
        assert!(sql.largest_value.get() < 1_000_000, "{name}");
        assert!(
            peak <= BUDGET,
            "{name}: peak heap {:.1} MB exceeds the {} MB budget",
            peak as f64 / MB,
            BUDGET / (1024 * 1024)
        );
    }
}
