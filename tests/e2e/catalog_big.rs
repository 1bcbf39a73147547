//! The two large OpenAPI fixtures (GitHub: 1,223 operations, 13 MB; Cloudflare: 3,207
//! operations, 12.5 MB) through the real Worker: each added once by URL (fetched from the
//! loopback stand-in) and once inline (a ~13 MB JSON request body), then connected, described
//! and called against the stand-in's catch-all. Prints greppable timings
//! (`metric catalog.<what>=<value>`) and any ingest memory line the Worker logs.

use std::io::Read;
use std::time::Instant;

use executor_tests::upstream::{fixture_path, rewrite_server, Recorded, Upstream};
use serde_json::json;

use crate::catalog::{assert_canary_absent, canary, log_path, metric, Api};
use crate::support::{enabled, start_with};

struct Big {
    /// Integration slug of the URL-added copy (the inline copy is `<slug>_inline`).
    slug: &'static str,
    file: &'static str,
    server: &'static str,
    tools: usize,
}

const BIG: [Big; 2] = [
    Big {
        slug: "github",
        file: "github-api.openapi.json.gz",
        server: "https://api.github.com",
        tools: 1223,
    },
    Big {
        slug: "cloudflare",
        file: "cloudflare-api.openapi.json.gz",
        server: "https://api.cloudflare.com/client/v4",
        tools: 3207,
    },
];

fn gunzip(name: &str) -> String {
    let path = fixture_path(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "{} (shared/ must sit beside the repository): {e}",
            path.display()
        )
    });
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("a gzip'd UTF-8 fixture");
    text
}

fn millis(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_specs_ingest_by_url_and_inline() {
    if !enabled("big_specs_ingest_by_url_and_inline") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let base = upstream.base_url();
    let mut texts = Vec::new();
    for big in &BIG {
        let text = gunzip(big.file);
        let rewritten = rewrite_server(&text, big.server, &format!("{base}/big/{}", big.slug));
        assert_ne!(
            text.len(),
            rewritten.len(),
            "{}: server rewritten",
            big.slug
        );
        upstream.serve_document(
            &format!("/big/{}.json", big.slug),
            "application/json",
            rewritten.clone().into_bytes(),
        );
        texts.push(rewritten);
    }
    let canary = canary();
    let log = log_path("catalog-big");
    let worker = start_with(
        "catalog-big",
        &[("ALLOW_LOCAL_NETWORK", "true")],
        Some(log.clone()),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());

    for (big, text) in BIG.iter().zip(&texts) {
        // GitHub declares no security schemes: give it a bearer template explicitly
        // (request-shaped apiKey dialect, §3.4.1). Cloudflare's are derived (apikey-1 = bearer).
        let mut by_url = json!({"spec": {"kind": "url", "url": format!("{base}/big/{}.json", big.slug)},
                                "slug": big.slug});
        if big.slug == "github" {
            by_url["authenticationTemplate"] = json!([{"slug": "token", "type": "apiKey",
                "headers": {"Authorization": ["Bearer ", {"type": "variable", "name": "token"}]}}]);
        }
        let started = Instant::now();
        let added = api.post("/api/openapi/specs", &by_url).await;
        let url_ms = millis(started);
        assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
        assert_eq!(
            added.json(),
            json!({"slug": big.slug, "toolCount": big.tools})
        );
        metric(&format!("ingest.{}.url_ms", big.slug), url_ms);

        let inline_slug = format!("{}_inline", big.slug);
        let body = serde_json::to_vec(
            &json!({"spec": {"kind": "blob", "value": text}, "slug": inline_slug}),
        )
        .expect("serialisable");
        let bytes = body.len();
        let started = Instant::now();
        let added = api.post_raw("/api/openapi/specs", body).await;
        let blob_ms = millis(started);
        assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
        assert_eq!(
            added.json(),
            json!({"slug": inline_slug, "toolCount": big.tools})
        );
        metric(&format!("ingest.{}.blob_ms", big.slug), blob_ms);
        metric(&format!("ingest.{}.blob_bytes", big.slug), bytes);
    }

    // One org connection each: tool production writes every tool row.
    for (big, template) in BIG.iter().zip(["token", "apikey-1"]) {
        let started = Instant::now();
        let connection = api
            .post(
                "/api/connections",
                &json!({"owner":"org","name":"main","integration":big.slug,"template":template,
                        "value":canary}),
            )
            .await;
        let connect_ms = millis(started);
        assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
        metric(&format!("connection.{}.ms", big.slug), connect_ms);

        let started = Instant::now();
        let tools = api
            .get(&format!("/api/tools?integration={}", big.slug))
            .await;
        let list_ms = millis(started);
        assert_eq!(tools.status, 200, "{}\n{}", tools.text(), logs());
        let count = tools.json().as_array().map(Vec::len);
        assert_eq!(count, Some(big.tools), "{} tools listed", big.slug);
        metric(&format!("tools_list.{}.ms", big.slug), list_ms);
    }

    // Describe and call one tool of each against the stand-in's catch-all.
    let mark = upstream.mark();
    let started = Instant::now();
    let envelope = api
        .execute(
            r#"const gh = await tools.describe.tool({ path: "github.org.main.repos.get" });
const cf = await tools.describe.tool({ path: "cloudflare.org.main.zone.zones0Get" });
const repo = await tools.github.org.main.repos.get({ owner: "octo", repo: "hello" });
const zone = await tools.cloudflare.org.main.zone.zones0Get({ zone_id: "023e105f4ecef8ad9ca31a8372d0c353" });
return { gh, cf, repo, zone };"#,
            &logs,
        )
        .await;
    metric("big.execute_ms", millis(started));
    assert_eq!(envelope["status"], "completed", "{envelope}\n{}", logs());
    assert_eq!(envelope["isError"], false, "{envelope}\n{}", logs());
    let result = &envelope["structured"]["result"];

    let gh = &result["gh"];
    assert!(gh.get("error").is_none(), "{gh}");
    assert_eq!(gh["name"], "repos.get");
    assert_eq!(gh["inputTypeScript"], "{ owner: string; repo: string; }");
    let gh_out = gh["outputTypeScript"].as_str().unwrap_or("");
    assert!(gh_out.starts_with("{ ok: true; data: "), "{gh}");
    assert!(
        gh["typeScriptDefinitions"]
            .as_object()
            .is_some_and(|d| d.len() > 4 && d.contains_key("ToolError")),
        "the repository's definitions come along: {gh}"
    );
    let cf = &result["cf"];
    assert!(cf.get("error").is_none(), "{cf}");
    assert_eq!(cf["name"], "zone.zones0Get");
    assert!(
        cf["inputTypeScript"]
            .as_str()
            .is_some_and(|t| t.contains("zone_id")),
        "{cf}"
    );

    for (key, api_slug, path) in [
        ("repo", "github", "/big/github/repos/octo/hello"),
        (
            "zone",
            "cloudflare",
            "/big/cloudflare/zones/023e105f4ecef8ad9ca31a8372d0c353",
        ),
    ] {
        let call = &result[key];
        assert_eq!(call["ok"], true, "{call}");
        assert_eq!(call["http"]["status"], 200, "{call}");
        assert_eq!(
            call["data"],
            json!({"standIn": api_slug, "method": "GET", "path": path, "ok": true})
        );
    }
    let calls: Vec<Recorded> = upstream.requests_since(mark);
    assert_eq!(
        calls.iter().map(Recorded::line).collect::<Vec<_>>(),
        [
            "GET /big/github/repos/octo/hello",
            "GET /big/cloudflare/zones/023e105f4ecef8ad9ca31a8372d0c353"
        ]
    );
    let bearer = format!("Bearer {canary}");
    for call in &calls {
        assert_eq!(
            call.header("authorization"),
            Some(bearer.as_str()),
            "{}",
            call.line()
        );
    }

    worker.stop().await;
    let text = assert_canary_absent(&canary, &api, &log).await;
    // The Worker reports its wasm memory during ingest (if that logging is in place).
    let memory: Vec<&str> = text
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("ingest") && l.contains("memory")
        })
        .collect();
    if memory.is_empty() {
        metric(
            "ingest.memory",
            "unreported (no `ingest … memory` line in the Worker log)",
        );
    }
    for line in memory {
        metric("ingest.memory_log", line.trim());
    }
}
