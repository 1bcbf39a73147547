//! Load, soak and restart on real workerd: the short variant of `provision soak`
//! (`provision::soak`, issue #8 item 4). Ten MCP sessions mix `tools/list`, `execute` with
//! plain code, `execute` calling a petstore tool on the loopback stand-in, and the floor route
//! for 10 s with no error; then four sessions for 32 s during which integrations, connections,
//! `require_approval` policies and paused executions are committed, the server's process group
//! is stopped (a quarter of the way in) and started again on the same port and state, every row is read back, and every
//! pause resumes once (one upstream call). Errors are allowed only while the server is down.
//! The long run (50 sessions for 60 s, a 10-minute soak) is `SOAK=1 scripts/test` or
//! `provision soak`.

use provision::soak::{self, SoakOptions};

use crate::support::{enabled, root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_load_soak_and_restart() {
    if !enabled("short_load_soak_and_restart") {
        return;
    }
    let report = soak::measure(&root(), &SoakOptions::short(), &|m| eprintln!("soak: {m}"))
        .await
        .expect("the soak runs");
    let text = soak::render_report(&report);
    eprintln!("{text}");
    assert!(report.problems.is_empty(), "{text}");

    let load = report.load.as_ref().expect("a load phase");
    assert_eq!(load.errors(), 0, "{text}");
    for op in &load.ops {
        assert!(op.count > 0 && op.latency.is_some(), "{text}");
    }
    assert!(
        load.rss_before_kib.is_some() && load.rss_after_kib.is_some(),
        "{text}"
    );

    let soaked = report.soak.as_ref().expect("a soak phase");
    assert_eq!(
        soaked.errors(),
        0,
        "errors outside the restart window\n{text}"
    );
    let restart = report.restart.as_ref().expect("a restart");
    assert!(restart.missing.is_empty(), "{text}");
    assert_eq!(restart.paused.len(), SoakOptions::short().pauses, "{text}");
    assert_eq!(restart.resumed_ok, restart.paused.len(), "{text}");
    assert!(
        soaked.ok_after_restart > 0,
        "no traffic ran on the restarted server\n{text}"
    );
    // RSS was sampled from both workerd lifetimes.
    for segment in 0..2 {
        assert!(
            report
                .rss_series
                .iter()
                .any(|s| s.segment == segment && s.rss_kib.is_some()),
            "no RSS sample of workerd lifetime {segment}\n{text}"
        );
    }
}
