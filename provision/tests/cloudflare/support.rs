//! Test support: a temporary workspace (Worker build, assets, state directory) and running
//! the `provision` binary against a fake.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fake_api::{FakeApi, TOKEN};

pub const HOST: &str = "app.example.com";
pub const EMAIL: &str = "me@example.com";

/// A throwaway directory with a fake Worker build and assets.
pub struct Workspace {
    pub dir: PathBuf,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Workspace {
    pub fn new(label: &str) -> Workspace {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "provision-cf-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("build/worker")).expect("mkdir build");
        std::fs::create_dir_all(dir.join("assets/js")).expect("mkdir assets");
        std::fs::write(
            dir.join("build/index.js"),
            "import wasm from \"./index_bg.wasm\";\nexport default { fetch() { return new Response(\"ok\"); } };\nexport class McpSessionDO {}\n",
        )
        .expect("index.js");
        std::fs::write(dir.join("build/index_bg.wasm"), b"\0asm\x01\0\0\0").expect("wasm");
        std::fs::write(
            dir.join("build/worker/shim.mjs"),
            "export * from \"../index.js\";\n",
        )
        .expect("shim");
        std::fs::write(dir.join("build/package.json"), "{}").expect("package.json");
        std::fs::write(
            dir.join("assets/index.html"),
            "<!doctype html><p>console</p>",
        )
        .expect("html");
        std::fs::write(dir.join("assets/app.css"), "p { color: red }").expect("css");
        std::fs::write(dir.join("assets/js/app.js"), "console.log(1)").expect("js");
        Workspace { dir }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(".provision")
    }

    pub fn mcp_env(&self) -> PathBuf {
        self.dir.join(".env.mcp")
    }

    pub fn state(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.state_dir().join("state.json")).expect("state.json");
        serde_json::from_str(&text).expect("state json")
    }

    pub fn secrets(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.state_dir().join("secrets.json")).expect("secrets.json");
        serde_json::from_str(&text).expect("secrets json")
    }

    /// The arguments every deployment command of the tests gets.
    pub fn common_args(&self, api: &FakeApi) -> Vec<String> {
        vec![
            "--hostname".into(),
            HOST.into(),
            "--allowed-email".into(),
            EMAIL.into(),
            "--api-base".into(),
            api.base(),
            "--state-dir".into(),
            self.state_dir().display().to_string(),
            "--env-file".into(),
            self.dir.join("no.env").display().to_string(),
        ]
    }

    pub fn up_args(&self, api: &FakeApi) -> Vec<String> {
        let mut args = vec!["up".to_string()];
        args.extend(self.common_args(api));
        args.extend([
            "--worker-dir".into(),
            self.dir.join("build").display().to_string(),
            "--assets-dir".into(),
            self.dir.join("assets").display().to_string(),
        ]);
        args
    }
}

/// The outcome of one `provision` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "provision failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `provision ARGS` in `cwd` with a clean environment (the fake's token, fast retries).
pub async fn provision(cwd: &Path, args: &[String], extra_env: &[(&str, &str)]) -> Run {
    provision_with_stdin(cwd, args, extra_env, None).await
}

pub async fn provision_with_stdin(
    cwd: &Path,
    args: &[String],
    extra_env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"));
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("PROVISION_RETRY_BASE_MS", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn provision");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("provision finished within 60 s")
        .expect("provision output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts that none of `secrets` appears in `text`.
pub fn assert_no_secret(text: &str, secrets: &[String], what: &str) {
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !text.contains(s.as_str()),
            "a secret leaked into {what}:\n{text}"
        );
    }
}
