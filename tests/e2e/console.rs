//! The web console in headless Chromium against the Worker on real workerd: every page renders
//! without console errors, the operator flows work through the UI, and the first page stays within
//! its size budget. The browser side is `tests/js/console.mjs` (playwright-core driving Debian's
//! `chromium`); this test starts the Worker, runs the script with the pinned Node and checks the
//! JSON report it prints. Screenshots go to a fresh directory under the system temp dir.
//!
//! Flows that need API groups a server does not offer yet (their routes answer 404 with an empty
//! body) are reported as skipped with the reason, not failed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::{enabled, root, start};

/// Uncompressed bytes of everything the first page loads (HTML, CSS, JS modules).
const FIRST_PAGE_BUDGET: u64 = 300 * 1024;
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_and_flows_in_chromium() {
    if !enabled("console_pages_and_flows_in_chromium") {
        return;
    }
    let worker = start("console", &[]).await;
    let root = root();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let artifacts =
        std::env::temp_dir().join(format!("executor-console-{}-{stamp}", std::process::id()));
    let run = tokio::process::Command::new(root.join("node_modules/.bin/node"))
        .arg(root.join("tests/js/console.mjs"))
        .arg(worker.base_url())
        .arg(&artifacts)
        .current_dir(&root)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("the console script ran longer than {SCRIPT_TIMEOUT:?}"))
        .expect("node runs (npm ci installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "the console script printed no report (status {}):\n{stderr}\n{stdout}\n{}",
                output.status,
                worker.logs()
            )
        });

    eprintln!("console screenshots: {}", artifacts.display());
    let first = &report["firstPage"];
    eprintln!(
        "console first page: {} bytes uncompressed, {} bytes transferred, {} files",
        first["bytes"],
        first["transferred"],
        first["files"].as_array().map_or(0, Vec::len)
    );
    for step in report["steps"].as_array().into_iter().flatten() {
        eprintln!(
            "  ran     {} ({} ms)",
            step["name"].as_str().unwrap_or("?"),
            step["ms"]
        );
    }
    for skipped in report["skipped"].as_array().into_iter().flatten() {
        eprintln!(
            "  SKIPPED {} — {}",
            skipped["name"].as_str().unwrap_or("?"),
            skipped["reason"].as_str().unwrap_or("?")
        );
    }

    assert_eq!(
        report["ok"],
        true,
        "console flow failed: {}\n--- script log ---\n{stderr}\n--- worker log ---\n{}",
        report["error"].as_str().unwrap_or("(no error text)"),
        worker.logs()
    );
    assert!(output.status.success(), "{stderr}");
    let bytes = first["bytes"].as_u64().expect("first page size reported");
    assert!(
        bytes > 0 && bytes <= FIRST_PAGE_BUDGET,
        "first page is {bytes} bytes (budget {FIRST_PAGE_BUDGET})"
    );
    assert_eq!(report["consoleErrors"], serde_json::json!([]));
    assert!(
        report["screenshots"].as_array().map_or(0, Vec::len) >= 8,
        "screenshots: {}",
        report["screenshots"]
    );
    worker.stop().await;
}
