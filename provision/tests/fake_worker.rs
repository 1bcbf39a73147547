//! `provision::local` against real `wrangler dev --local` + workerd, with a tiny JavaScript
//! Worker in a temporary project (so it runs even while the Rust Worker does not build).
//! Needs the project's `node_modules` (`provision setup`); skipped without it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use provision::local::{self, LocalOptions, LocalWorker};

const WORKER_JS: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/api/account/me") {
      if (env.ENABLE_DEV_AUTH !== "true") return new Response("unauthorized", { status: 401 });
      return Response.json({ id: "dev" });
    }
    if (url.pathname === "/vars") {
      const row = await env.DB.prepare("SELECT count(*) AS n FROM seeded").first();
      return Response.json({
        secret: env.EXECUTOR_SECRET_KEY ?? null,
        devAuth: env.ENABLE_DEV_AUTH ?? null,
        allowLocal: env.ALLOW_LOCAL_NETWORK ?? null,
        extra: env.EXTRA ?? null,
        plain: env.PLAIN ?? null,
        seeded: row.n,
      });
    }
    return new Response("not found", { status: 404 });
  },
};
"#;

const WRANGLER_TOML: &str = r#"
name = "provision-fake"
main = "build/index.js"
compatibility_date = "2026-11-01"

[[d1_databases]]
binding = "DB"
database_name = "executor"
database_id = "00000000-0000-0000-0000-000000000000"
migrations_dir = "migrations"

[vars]
PLAIN = "from-wrangler-toml"
"#;

fn real_root() -> PathBuf {
    provision::root::find_root_from(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("project root")
}

/// A throwaway project: wrangler.toml, the JS Worker as build/index.js, one migration, and
/// the real project's node_modules (symlinked).
fn fake_project() -> Option<PathBuf> {
    let node_modules = real_root().join("node_modules");
    if !node_modules.join(".bin").join("wrangler").exists() {
        eprintln!("skipped: no node_modules/.bin/wrangler (run `provision setup`)");
        return None;
    }
    let dir = local::temp_state_dir("fake-project");
    std::fs::create_dir_all(dir.join("build")).expect("mkdir build");
    std::fs::create_dir_all(dir.join("migrations")).expect("mkdir migrations");
    std::fs::write(dir.join("wrangler.toml"), WRANGLER_TOML).expect("wrangler.toml");
    std::fs::write(dir.join("build/index.js"), WORKER_JS).expect("index.js");
    std::fs::write(dir.join("build/index_bg.wasm"), b"\0asm").expect("wasm placeholder");
    std::fs::write(
        dir.join("migrations/0001_init.sql"),
        "CREATE TABLE seeded (x INTEGER);\nINSERT INTO seeded VALUES (1), (2);\n",
    )
    .expect("migration");
    std::os::unix::fs::symlink(&node_modules, dir.join("node_modules")).expect("symlink");
    Some(dir)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn get_json(url: &str) -> serde_json::Value {
    let resp = client().get(url).send().await.expect("request");
    assert_eq!(resp.status(), 200, "{url}");
    resp.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_workers_env_files_migrations_and_restart() {
    let Some(project) = fake_project() else {
        return;
    };
    assert!(local::build_is_fresh(&project));

    // Two instances in parallel: dev auth (200) and "Access mode" (401 still counts as ready).
    let dev_state = local::temp_state_dir("fake-dev");
    let access_state = local::temp_state_dir("fake-access");
    let t0 = Instant::now();
    let mut dev_opts = LocalOptions::new(dev_state.clone());
    dev_opts.vars = vec![("EXTRA".into(), "a b $HOME 'q' \"d\"".into())];
    let mut access_opts = LocalOptions::new(access_state.clone());
    access_opts.vars = vec![("ENABLE_DEV_AUTH".into(), String::new())];
    let transcript =
        std::env::temp_dir().join(format!("provision-fake-access-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&transcript);
    access_opts.log_file = Some(transcript.clone());
    let (dev, access) = tokio::join!(
        LocalWorker::start(&project, dev_opts),
        LocalWorker::start(&project, access_opts)
    );
    let dev = dev.expect("dev worker");
    let access = access.expect("access worker");
    eprintln!("two workers ready in {:.2}s", t0.elapsed().as_secs_f64());
    assert_ne!(dev.port(), access.port());

    let vars = get_json(&format!("{}/vars", dev.base_url())).await;
    let secret = vars["secret"].as_str().expect("secret").to_string();
    assert_eq!(secret.len(), 64, "{vars}");
    assert_eq!(vars["devAuth"], "true");
    assert_eq!(vars["allowLocal"], "true");
    assert_eq!(vars["extra"], "a b $HOME 'q' \"d\"");
    assert_eq!(vars["plain"], "from-wrangler-toml");
    // The migration applied with `--persist-to` is what `wrangler dev --persist-to` sees.
    assert_eq!(vars["seeded"], 2);

    let avars = get_json(&format!("{}/vars", access.base_url())).await;
    assert!(avars["devAuth"].is_null(), "{avars}");
    let me = client()
        .get(format!("{}/api/account/me", access.base_url()))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 401);
    assert!(access.logs().contains("Ready on"), "{}", access.logs());

    // Restart on the same state: same secret, migrations re-applied idempotently.
    let access_port = access.port();
    access.stop().await;
    assert!(!access_state.exists(), "temp state removed on stop");
    // The complete transcript outlives the state directory.
    let text = std::fs::read_to_string(&transcript).expect("the log file");
    assert!(text.contains("Ready on"), "{text}");
    let _ = std::fs::remove_file(&transcript);
    let kept = dev.stop_keeping_state().await;
    assert_eq!(kept.canonicalize().ok(), dev_state.canonicalize().ok());
    let again = LocalWorker::start(&project, LocalOptions::new(dev_state.clone()))
        .await
        .expect("restart");
    let vars = get_json(&format!("{}/vars", again.base_url())).await;
    assert_eq!(vars["secret"], secret.as_str());
    assert_eq!(vars["seeded"], 2);
    assert!(vars["extra"].is_null());
    let again_port = again.port();
    drop(again);
    assert!(!dev_state.exists(), "temp state removed on drop");

    // Nothing answers any more: the process groups are gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for port in [access_port, again_port] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still open"
        );
    }
    std::fs::remove_dir_all(&project).expect("remove fake project");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_build_is_a_clear_error() {
    let dir = local::temp_state_dir("no-build");
    let err = match LocalWorker::start(&dir, LocalOptions::new(dir.join("state"))).await {
        Ok(_) => panic!("started without a build"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("the Worker is not built"), "{err}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
