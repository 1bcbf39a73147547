//! Running the Worker locally on workerd through `wrangler dev --local`: build once, apply the
//! D1 migrations, write the env file, spawn wrangler in its own process group, wait until the
//! Worker answers, and stop the whole group again. `provision dev`, `provision bench` and the
//! e2e tests (`executor-tests`) all start the Worker through [`LocalWorker::start`].
//!
//! Several instances can run side by side: each gets free ports (HTTP and inspector) and its
//! own persist directory (see [`temp_state_dir`]).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::cmd::{hinted, project_path_env, tail};
use crate::envfile;

/// The D1 binding whose migrations are applied (wrangler.toml `[[d1_databases]]`).
pub const D1_BINDING: &str = "DB";
/// How long the Worker may take to answer after wrangler is spawned.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The path polled for readiness; any real answer (200, 401, …) means "the Worker answers".
pub const READY_PATH: &str = "/api/account/me";
/// How long [`LocalWorker::stop`] waits after SIGINT before it SIGKILLs the process group.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long `Drop` waits after SIGINT (it blocks the thread, so it is shorter).
const DROP_GRACE: Duration = Duration::from_secs(5);
const LOG_LINES: usize = 5000;

/// How to start a local Worker.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// HTTP port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// wrangler's `--persist-to` directory (D1, R2 and Durable Object state live in `v3/`
    /// below it). Created if missing.
    pub persist_to: PathBuf,
    /// Env-file entries added to or overriding the defaults (`EXECUTOR_SECRET_KEY`,
    /// `ENABLE_DEV_AUTH=true`, `ALLOW_LOCAL_NETWORK=true`); an empty value removes the key.
    pub vars: Vec<(String, String)>,
    /// Keep wrangler's output to [`LocalWorker::logs`] only; otherwise it is also forwarded
    /// to this process's stdout/stderr.
    pub quiet: bool,
    /// Also append every line of wrangler's output (ANSI-stripped) to this file. Unlike
    /// [`LocalWorker::logs`], which keeps a bounded tail, the file is complete — tests that
    /// must scan everything the Worker printed (e.g. for leaked secrets) read it.
    pub log_file: Option<PathBuf>,
}

impl LocalOptions {
    /// Free port, no extra vars, quiet: what a test usually wants.
    pub fn new(persist_to: impl Into<PathBuf>) -> Self {
        Self {
            port: None,
            persist_to: persist_to.into(),
            vars: Vec::new(),
            quiet: true,
            log_file: None,
        }
    }
}

/// The captured tail of wrangler's stdout and stderr.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<VecDeque<String>>>);

impl Logs {
    fn lock(&self) -> MutexGuard<'_, VecDeque<String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn push(&self, line: String) {
        let mut lines = self.lock();
        if lines.len() == LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }
    fn text(&self) -> String {
        let lines = self.lock();
        let mut out = String::new();
        for line in lines.iter() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// A running `wrangler dev --local` with the Worker answering on 127.0.0.1.
///
/// Dropping it stops the process group (SIGINT, then SIGKILL after a few seconds) and removes
/// its persist directory if that came from [`temp_state_dir`]; [`LocalWorker::stop`] does the
/// same without blocking the runtime.
pub struct LocalWorker {
    child: Child,
    /// wrangler's pid, which is also its process group id; `None` once stopped.
    pgid: Option<Pid>,
    port: u16,
    persist_to: PathBuf,
    env_file: PathBuf,
    owns_state: bool,
    logs: Logs,
    /// `sh` waiting on a pipe from us: if this process dies without stopping wrangler (killed
    /// test run), the pipe closes and it stops the group. Killed first on a normal stop.
    watchdog: Option<Child>,
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);
static OWNED_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn owned_dirs() -> MutexGuard<'static, Vec<PathBuf>> {
    OWNED_DIRS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A new, empty, uniquely named directory under the system temp dir for one Worker's state.
/// A [`LocalWorker`] started on it takes it over and deletes it when stopped or dropped.
pub fn temp_state_dir(label: &str) -> PathBuf {
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let path = std::env::temp_dir().join(format!(
        "executor-{label}-{}-{}-{nanos:08x}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    // A failure here resurfaces, with context, when the Worker is started on it.
    let _ = std::fs::create_dir_all(&path);
    owned_dirs().push(path.clone());
    path
}

/// Takes `path` out of the registry of [`temp_state_dir`] directories; true if it was there.
fn claim_temp_dir(path: &Path) -> bool {
    let mut dirs = owned_dirs();
    match dirs.iter().position(|p| p == path) {
        Some(i) => {
            dirs.swap_remove(i);
            true
        }
        None => false,
    }
}

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener
        .local_addr()
        .context("reading the bound address")?
        .port())
}

fn wrangler_bin(root: &Path) -> Result<PathBuf> {
    let bin = root.join("node_modules").join(".bin").join("wrangler");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(hinted(
            format!("`{}` not found", bin.display()),
            "run `provision setup` (it runs `npm ci`)",
        ))
    }
}

/// A `wrangler` command run from the project root with the offline environment
/// (toolchain.md P4, P6, P9).
fn wrangler_command(root: &Path) -> Result<Command> {
    let mut cmd = Command::new(wrangler_bin(root)?);
    cmd.current_dir(root)
        .env("PATH", project_path_env(root)?)
        .env("SKIP_WORKER_BUILD", "1")
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        // wrangler's local observability streams every invocation's trace and logs into a
        // collector Worker that keeps them (workerd RSS +~10 KiB a request, and CPU on every
        // request), and the local explorer adds more workers beside ours. Neither is part of
        // what we ship; both off keeps local numbers about our Worker.
        .env("X_LOCAL_OBSERVABILITY", "false")
        .env("X_LOCAL_EXPLORER", "false")
        // The env file is the only source of secrets: no .dev.vars fallback, no process env.
        .env_remove("CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV")
        .env_remove("CLOUDFLARE_INCLUDE_PROCESS_ENV")
        .stdin(Stdio::null());
    Ok(cmd)
}

/// `migrations_dir` of the first `[[d1_databases]]` entry in wrangler.toml (default
/// `migrations`).
pub fn migrations_dir(root: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root.join("wrangler.toml")).unwrap_or_default();
    let dir = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("migrations_dir"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .next()
        .unwrap_or_else(|| "migrations".to_string());
    root.join(dir)
}

const MIGRATIONS_STAMP: &str = ".provision-migrations";

/// Names, sizes and a hash of the `.sql` files in `dir`, one line each.
pub fn migrations_fingerprint(dir: &Path) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut out = String::new();
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push_str(&format!(
            "{name} {} {:016x}\n",
            bytes.len(),
            hasher.finish()
        ));
    }
    Ok(out)
}

/// `wrangler d1 migrations apply DB --local --persist-to DIR`: the same `DIR/v3/d1` state
/// that `wrangler dev --persist-to DIR` uses. Skipped when there is no migrations directory.
///
/// Records what it applied in `DIR/.provision-migrations`; when the migration files are
/// unchanged and the D1 state still exists, a restart skips wrangler (about 2–3 s).
pub async fn apply_migrations(root: &Path, persist_to: &Path, quiet: bool) -> Result<()> {
    let dir = migrations_dir(root);
    if !dir.is_dir() {
        return Ok(());
    }
    let fingerprint = migrations_fingerprint(&dir)?;
    let stamp = persist_to.join(MIGRATIONS_STAMP);
    let d1_state = persist_to.join("v3").join("d1");
    if d1_state.is_dir() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&fingerprint) {
        if !quiet {
            println!("D1 migrations unchanged since the last run on this state; not re-applying");
        }
        return Ok(());
    }
    let mut cmd = wrangler_command(root)?;
    cmd.args([
        "d1",
        "migrations",
        "apply",
        D1_BINDING,
        "--local",
        "--persist-to",
    ])
    .arg(persist_to);
    let out = run_to_end(cmd, "wrangler d1 migrations apply").await?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        anyhow::bail!(
            "`wrangler d1 migrations apply {D1_BINDING} --local` failed ({})\n{}",
            out.status,
            tail(&text, 60)
        );
    }
    std::fs::write(&stamp, &fingerprint).with_context(|| format!("writing {}", stamp.display()))?;
    if !quiet {
        print!("{text}");
    }
    Ok(())
}

/// Runs a one-shot wrangler command in its own process group and collects its output.
/// wrangler runs workerd for these too: if we are cancelled or time out, the guard kills the
/// whole group.
async fn run_to_end(mut cmd: Command, what: &str) -> Result<std::process::Output> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().with_context(|| format!("spawning `{what}`"))?;
    let _guard = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
        .map(GroupGuard);
    tokio::time::timeout(READY_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| format!("`{what}` did not finish within 120 s"))?
        .with_context(|| format!("running `{what}`"))
}

/// `wrangler d1 execute DB --local --persist-to DIR --command SQL --json`: runs `sql` against
/// the local D1 state in `persist_to` (the one a `wrangler dev` on that directory uses, even
/// while it runs). Returns wrangler's JSON output. Tests use it to write rows as another
/// isolate would.
pub async fn d1_execute_local(root: &Path, persist_to: &Path, sql: &str) -> Result<String> {
    let mut cmd = wrangler_command(root)?;
    cmd.args([
        "d1",
        "execute",
        D1_BINDING,
        "--local",
        "--json",
        "--persist-to",
    ])
    .arg(persist_to)
    .arg("--command")
    .arg(sql);
    let out = run_to_end(cmd, "wrangler d1 execute").await?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        anyhow::bail!(
            "`wrangler d1 execute {D1_BINDING} --local` failed ({})\n{}{}",
            out.status,
            tail(&text, 30),
            tail(&String::from_utf8_lossy(&out.stderr), 30)
        );
    }
    Ok(text)
}

/// SIGKILLs a process group when dropped (a no-op once the group is gone).
struct GroupGuard(Pid);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if group_alive(self.0) {
            let _ = kill_process_group(self.0, Signal::KILL);
        }
    }
}

/// Newest modification time of the files under `path` (recursively); `None` if none exist.
fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| newest_mtime(&e.path()))
        .max()
}

/// Whether `build/index.js` and `build/index_bg.wasm` exist and are newer than the Worker's
/// sources (`src/`, `Cargo.toml`, `Cargo.lock`, the build scripts).
pub fn build_is_fresh(root: &Path) -> bool {
    let outputs = ["build/index.js", "build/index_bg.wasm"]
        .iter()
        .map(|p| {
            std::fs::metadata(root.join(p))
                .and_then(|m| m.modified())
                .ok()
        })
        .collect::<Option<Vec<_>>>();
    let Some(oldest_output) = outputs.and_then(|o| o.into_iter().min()) else {
        return false;
    };
    let inputs = [
        "src",
        "Cargo.toml",
        "Cargo.lock",
        "scripts/build.sh",
        "scripts/env-shim.js",
        "scripts/esbuild-with-env-shim.sh",
    ];
    inputs
        .iter()
        .filter_map(|p| newest_mtime(&root.join(p)))
        .all(|t| t <= oldest_output)
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds the Worker (`sh scripts/build.sh`) unless [`build_is_fresh`]. Output is captured
/// and shown only on failure. Concurrent callers — threads or processes — build once.
pub fn build_worker(root: &Path) -> Result<()> {
    run_build(root, true, false)
}

/// Runs `sh scripts/build.sh`; `quiet` captures its output (shown on failure). Unless
/// `always` (as `provision dev` does), returns early when [`build_is_fresh`].
pub fn run_build(root: &Path, quiet: bool, always: bool) -> Result<()> {
    let _thread_guard = BUILD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !always && build_is_fresh(root) {
        return Ok(());
    }
    let lock_dir = root.join(".wrangler");
    std::fs::create_dir_all(&lock_dir)
        .with_context(|| format!("creating {}", lock_dir.display()))?;
    let lock_path = lock_dir.join("provision-build.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if !always && build_is_fresh(root) {
        return Ok(());
    }
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("scripts/build.sh")
        .current_dir(root)
        .env_remove("SKIP_WORKER_BUILD")
        // No anyhow backtrace from worker-build burying the compiler errors.
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null());
    crate::cmd::run_checked(&mut cmd, quiet).map_err(|e| {
        let hint = if quiet {
            "run `sh scripts/build.sh` to see the full output; `provision setup` installs missing tools"
        } else {
            "fix the errors above; `provision setup` installs missing tools"
        };
        hinted(format!("building the Worker failed: {e:#}"), hint)
    })
}

/// The complete transcript file of [`LocalOptions::log_file`], shared by both pipe readers.
type Transcript = Arc<Mutex<std::fs::File>>;

/// Reads lines from a child pipe into `logs` (and `transcript`), optionally echoing them.
fn forward<R>(pipe: R, logs: Logs, echo: Option<bool>, transcript: Option<Transcript>)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    // Ignore write errors (a closed stdout must not stop the capture).
                    match echo {
                        Some(true) => {
                            let _ = writeln!(std::io::stdout().lock(), "{line}");
                        }
                        Some(false) => {
                            let _ = writeln!(std::io::stderr().lock(), "{line}");
                        }
                        None => {}
                    }
                    let line = strip_ansi(&line);
                    if let Some(file) = &transcript {
                        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                        // A full disk must not stop the capture into `logs`.
                        let _ = writeln!(file, "{line}");
                    }
                    logs.push(line);
                }
            }
        }
    });
}

/// `text` without ANSI escape sequences (wrangler colours its errors even into a pipe).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// Starts the orphan watchdog for process group `pgid` (see [`LocalWorker`]); `None` if `sh`
/// cannot be started, which only loses the protection against being killed hard.
fn spawn_watchdog(pgid: Pid) -> Option<Child> {
    let pg = pgid.as_raw_pid();
    let script = format!(
        "read _eof; kill -INT -{pg} 2>/dev/null || exit 0; i=0; \
         while [ $i -lt 50 ] && kill -0 -{pg} 2>/dev/null; do sleep 0.1; i=$((i+1)); done; \
         kill -KILL -{pg} 2>/dev/null"
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group: a Ctrl-C that kills us must not kill it first.
        .process_group(0)
        .spawn()
        .ok()
}

fn group_alive(pgid: Pid) -> bool {
    test_kill_process_group(pgid).is_ok()
}

impl LocalWorker {
    /// Applies the D1 migrations, writes the env file, spawns `wrangler dev --local` on
    /// 127.0.0.1 and waits (up to 120 s) until `GET /api/account/me` gets an answer from the
    /// Worker — any status but 502/503/504, so Access-mode instances (401) count as ready.
    ///
    /// Expects `build/` to exist: call [`build_worker`] first.
    pub async fn start(root: &Path, opts: LocalOptions) -> Result<LocalWorker> {
        for out in ["build/index.js", "build/index_bg.wasm"] {
            if !root.join(out).is_file() {
                return Err(hinted(
                    format!("`{}` is missing: the Worker is not built", root.join(out).display()),
                    "call `provision::local::build_worker(root)` first, or run `sh scripts/build.sh`",
                ));
            }
        }
        let owns_state = claim_temp_dir(&opts.persist_to);
        let result = Self::start_inner(root, &opts, owns_state).await;
        if result.is_err() && owns_state {
            let _ = std::fs::remove_dir_all(&opts.persist_to);
        }
        result
    }

    async fn start_inner(
        root: &Path,
        opts: &LocalOptions,
        owns_state: bool,
    ) -> Result<LocalWorker> {
        if let Some(port) = opts.port {
            // Fail before the migrations if the port is taken.
            if let Err(err) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                return Err(hinted(
                    format!("cannot use 127.0.0.1:{port}: {err}"),
                    "is another `provision dev` or `wrangler dev` running? pick another port with `--port`",
                ));
            }
        }
        std::fs::create_dir_all(&opts.persist_to)
            .with_context(|| format!("creating {}", opts.persist_to.display()))?;
        let persist_to = opts
            .persist_to
            .canonicalize()
            .with_context(|| format!("resolving {}", opts.persist_to.display()))?;
        apply_migrations(root, &persist_to, opts.quiet).await?;
        let env_file = envfile::write_env_file(&persist_to, &opts.vars)?;

        // A free port can be taken between probing and wrangler binding it: retry then.
        let attempts = if opts.port.is_some() { 1 } else { 3 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = match opts.port {
                Some(p) => p,
                None => free_port()?,
            };
            let mut inspector = free_port()?;
            while inspector == port {
                inspector = free_port()?;
            }
            let mut worker = Self::spawn(
                root,
                port,
                inspector,
                &persist_to,
                &env_file,
                opts.quiet,
                opts.log_file.as_deref(),
            )?;
            worker.owns_state = false;
            match worker.wait_ready(READY_TIMEOUT).await {
                Ok(()) => {
                    worker.owns_state = owns_state;
                    return Ok(worker);
                }
                Err(err) => {
                    worker.shutdown().await;
                    let logs = worker.logs();
                    let port_taken =
                        logs.contains("EADDRINUSE") || logs.contains("Address already in use");
                    if port_taken && attempt < attempts {
                        continue;
                    }
                    if port_taken && opts.port.is_some() {
                        return Err(hinted(
                            format!("{err:#}"),
                            format!("port {port} is in use; pick another with `--port`"),
                        ));
                    }
                    return Err(err);
                }
            }
        }
    }

    fn spawn(
        root: &Path,
        port: u16,
        inspector: u16,
        persist_to: &Path,
        env_file: &Path,
        quiet: bool,
        log_file: Option<&Path>,
    ) -> Result<LocalWorker> {
        // Appending: a retried start (port taken) keeps the earlier attempt's lines.
        let transcript = match log_file {
            Some(path) => Some(Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening the log file {}", path.display()))?,
            ))),
            None => None,
        };
        let mut cmd = wrangler_command(root)?;
        cmd.args(["dev", "--local", "--ip", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--inspector-port")
            .arg(inspector.to_string())
            .arg("--persist-to")
            .arg(persist_to)
            .arg("--show-interactive-dev-session=false")
            .arg("--env-file")
            .arg(env_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so Ctrl-C in a terminal reaches only us and we can signal
            // wrangler and workerd together (toolchain.md P8).
            .process_group(0);
        let mut child = cmd.spawn().context("spawning `wrangler dev`")?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)
            .context("wrangler exited immediately")?;
        let watchdog = spawn_watchdog(pid);
        let logs = Logs::default();
        if let Some(out) = child.stdout.take() {
            forward(
                out,
                logs.clone(),
                (!quiet).then_some(true),
                transcript.clone(),
            );
        }
        if let Some(err) = child.stderr.take() {
            forward(err, logs.clone(), (!quiet).then_some(false), transcript);
        }
        Ok(LocalWorker {
            child,
            pgid: Some(pid),
            port,
            persist_to: persist_to.to_path_buf(),
            env_file: env_file.to_path_buf(),
            owns_state: false,
            logs,
            watchdog,
        })
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(3))
            .build()
            .context("building the readiness HTTP client")?;
        let url = format!("{}{READY_PATH}", self.base_url());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("checking on wrangler")? {
                // Let the readers drain the pipes.
                tokio::time::sleep(Duration::from_millis(100)).await;
                anyhow::bail!(
                    "`wrangler dev` exited ({status}) before the Worker answered\n--- wrangler output ---\n{}",
                    tail(&self.logs(), 80)
                );
            }
            // Only trust an answer once wrangler says it listens on *our* port: a port probed
            // free can be taken by another process (another wrangler's inspector answers 403),
            // and an answer from it must not count as this Worker being ready.
            let announced = self
                .logs()
                .contains(&format!("Ready on http://127.0.0.1:{}", self.port));
            let last = match client.get(&url).send().await {
                Ok(resp) if announced && !matches!(resp.status().as_u16(), 502..=504) => {
                    return Ok(())
                }
                Ok(resp) if !announced => {
                    format!("HTTP {} before wrangler announced the port", resp.status())
                }
                Ok(resp) => format!("last answer: HTTP {}", resp.status()),
                Err(err) => format!("last error: {err}"),
            };
            if started.elapsed() > timeout {
                anyhow::bail!(
                    "the Worker did not answer `GET {url}` within {} s ({last})\n--- wrangler output ---\n{}",
                    timeout.as_secs(),
                    tail(&self.logs(), 80)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// wrangler's process group id (workerd runs in it too); `None` once stopped.
    pub fn process_group(&self) -> Option<i32> {
        self.pgid.map(Pid::as_raw_pid)
    }

    /// The `--persist-to` directory (absolute).
    pub fn persist_to(&self) -> &Path {
        &self.persist_to
    }

    /// The env file handed to `wrangler dev --env-file`.
    pub fn env_file(&self) -> &Path {
        &self.env_file
    }

    /// The most recent lines of wrangler's stdout and stderr (for failure messages).
    pub fn logs(&self) -> String {
        self.logs.text()
    }

    /// Waits until wrangler exits by itself (cancel-safe, for `select!`).
    pub async fn wait(&mut self) -> Result<ExitStatus> {
        self.child.wait().await.context("waiting for wrangler")
    }

    /// SIGINT to the process group, up to [`STOP_GRACE`] for it to go away, then SIGKILL.
    async fn shutdown(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), watchdog.wait()).await;
        }
        let Some(pgid) = self.pgid.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_GRACE;
        let _ = kill_process_group(pgid, Signal::INT);
        let _ = tokio::time::timeout(STOP_GRACE, self.child.wait()).await;
        while group_alive(pgid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if group_alive(pgid) {
            let _ = kill_process_group(pgid, Signal::KILL);
            let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        }
    }

    /// Stops wrangler and workerd and removes the persist directory if it came from
    /// [`temp_state_dir`].
    pub async fn stop(mut self) {
        self.shutdown().await;
        self.remove_owned_state();
    }

    /// Stops wrangler and workerd but keeps the state, e.g. to start again on it. A
    /// [`temp_state_dir`] stays registered, so the next Worker started on it takes it over.
    pub async fn stop_keeping_state(mut self) -> PathBuf {
        self.shutdown().await;
        if self.owns_state {
            self.owns_state = false;
            owned_dirs().push(self.persist_to.clone());
        }
        self.persist_to.clone()
    }

    fn remove_owned_state(&mut self) {
        if self.owns_state {
            self.owns_state = false;
            let _ = std::fs::remove_dir_all(&self.persist_to);
        }
    }
}

impl Drop for LocalWorker {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.start_kill();
            let _ = watchdog.try_wait();
        }
        if let Some(pgid) = self.pgid.take() {
            let _ = kill_process_group(pgid, Signal::INT);
            let deadline = Instant::now() + DROP_GRACE;
            loop {
                let _ = self.child.try_wait();
                if !group_alive(pgid) || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if group_alive(pgid) {
                let _ = kill_process_group(pgid, Signal::KILL);
                for _ in 0..40 {
                    if matches!(self.child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        self.remove_owned_state();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dirs_are_unique_and_claimed_once() {
        let a = temp_state_dir("unit test/a");
        let b = temp_state_dir("unit test/a");
        assert_ne!(a, b);
        assert!(a.is_dir());
        assert!(a
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("executor-unit-test-a-")));
        assert!(claim_temp_dir(&a));
        assert!(!claim_temp_dir(&a));
        assert!(claim_temp_dir(&b));
        std::fs::remove_dir_all(&a).expect("rm a");
        std::fs::remove_dir_all(&b).expect("rm b");
    }

    #[test]
    fn logs_keep_the_tail() {
        let logs = Logs::default();
        for i in 0..(LOG_LINES + 3) {
            logs.push(i.to_string());
        }
        let text = logs.text();
        assert!(text.starts_with("3\n"));
        assert!(text.ends_with(&format!("{}\n", LOG_LINES + 2)));
    }

    #[test]
    fn migrations_dir_comes_from_wrangler_toml() {
        let root = crate::root::find_root_from(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("project root");
        assert_eq!(migrations_dir(&root), root.join("src/store/migrations"));
    }

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(
            strip_ansi("\u{1b}[31m✘ \u{1b}[41;31m[\u{1b}[41;97mERROR\u{1b}[41;31m]\u{1b}[0m \u{1b}[1mAddress in use\u{1b}[0m"),
            "✘ [ERROR] Address in use"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn migration_fingerprint_follows_the_sql_files() {
        let dir = temp_state_dir("fingerprint");
        std::fs::write(dir.join("0001_init.sql"), "CREATE TABLE a (x);").expect("write");
        std::fs::write(dir.join("notes.txt"), "ignored").expect("write");
        let first = migrations_fingerprint(&dir).expect("fingerprint");
        assert!(first.starts_with("0001_init.sql 19 "), "{first}");
        assert_eq!(first.lines().count(), 1);
        std::fs::write(dir.join("0001_init.sql"), "CREATE TABLE b (x);").expect("write");
        assert_ne!(migrations_fingerprint(&dir).expect("fingerprint"), first);
        assert!(claim_temp_dir(&dir));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn free_ports_are_nonzero() {
        assert_ne!(free_port().expect("port"), 0);
    }
}
