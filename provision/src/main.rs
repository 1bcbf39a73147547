//! `provision`: set up, run and benchmark the Executor Worker locally, and deploy it to a
//! Cloudflare account behind Access.

use std::io::Write;
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio::signal::unix::{signal, SignalKind};

use provision::bench::{self, BenchOptions};
use provision::cli::{
    BridgeArgs, DestroyArgs, McpArgs, SelfEditArgs, SliceArgs, TokenArgs, UpArgs, VerifyArgs,
};
use provision::cmd::{exit_code_of, fmt_duration, hint_of};
use provision::local::{self, LocalOptions, LocalWorker};
use provision::setup::{self, SetupOptions};
use provision::soak::{self, SoakOptions};

#[derive(Parser)]
#[command(
    name = "provision",
    version,
    about = "Set up, run, benchmark and deploy the Executor Worker",
    long_about = "Set up, run, benchmark and deploy the Executor Worker.\n\nWithout a command, runs `up`."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create or update the deployment in a Cloudflare account, private behind Access
    Up(UpArgs),
    /// Show what `up` would create or change, making no change (GET requests only)
    Plan(UpArgs),
    /// Take the deployment down (custom domain, Worker, Access); data only with --delete-data
    Destroy(DestroyArgs),
    /// Check that anonymous requests to the hostname are turned away by Access
    Verify(VerifyArgs),
    /// Check that MCP `initialize` works through Access with the service token
    VerifyMcp(McpArgs),
    /// Print the agent's connection details and an `mcp.json` snippet
    Token(TokenArgs),
    /// Bridge stdio MCP clients to the Worker's /mcp, adding the service-token headers
    Bridge(BridgeArgs),
    /// Generate the read-only Cloudflare OpenAPI integration from the full document
    OpenapiSlice(SliceArgs),
    /// Serve the local `self_edit` MCP tool on stdio (edit this repository, redeploy)
    SelfEditMcp(SelfEditArgs),
    /// Install what building and running the Worker needs (idempotent)
    Setup {
        /// Also install Debian `chromium` for the browser tests
        #[arg(long)]
        with_browser: bool,
    },
    /// Build the Worker and serve it on 127.0.0.1 with `wrangler dev --local`
    Dev {
        /// HTTP port on 127.0.0.1
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// State directory for D1, R2 and Durable Objects [default: <root>/.wrangler/state]
        #[arg(long, value_name = "DIR")]
        persist_to: Option<PathBuf>,
        /// Do not run `provision setup` first
        #[arg(long)]
        skip_setup: bool,
    },
    /// Measure latency and throughput of a local Worker, and the build's size
    Bench {
        /// Sequential requests per scenario
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        requests: u32,
        /// Concurrent clients per scenario
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
        concurrency: u32,
        /// Duration of each concurrent run, in seconds
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
        /// Do not run `provision setup` first
        #[arg(long)]
        skip_setup: bool,
        /// Also write the results as JSON to FILE
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Load and soak a local Worker (MCP sessions, workerd memory, a restart mid-soak)
    Soak {
        /// Concurrent MCP sessions of the load phase (0 skips it)
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=500))]
        sessions: u32,
        /// Length of the load phase, in seconds
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
        load_seconds: u64,
        /// Concurrent MCP sessions of the soak phase (0 skips it and the restart)
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=500))]
        soak_sessions: u32,
        /// Length of the soak phase, in seconds
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(4..=86_400))]
        soak_seconds: u64,
        /// workerd RSS sampling interval during the soak, in seconds
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        sample_seconds: u64,
        /// Do not restart the server in the middle of the soak
        #[arg(long)]
        no_restart: bool,
        /// Approval-paused executions to carry across the restart
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=50))]
        pauses: u32,
        /// Fail when the Worker's own memory (V8 heap after GC + wasm, read over workerd's
        /// inspector) grows faster than this, MB/min over the second half of a workerd lifetime
        /// [default: 1 for the full run; the short run only reports]
        #[arg(long, value_name = "MB_PER_MIN")]
        max_growth: Option<f64>,
        /// Operations each session cycles through, comma-separated: list, execute, tool, floor
        #[arg(long, default_value = "list,execute,tool,floor")]
        ops: String,
        /// The short variant the test suite runs (10 sessions for 10 s, a 32 s soak with a restart)
        #[arg(long)]
        short: bool,
        /// Do not run `provision setup` first
        #[arg(long)]
        skip_setup: bool,
        /// Also write the results as JSON to FILE
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(command) => command,
        None => Command::Up(UpArgs::default_from_cli()),
    };
    match run(command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if let Some(hint) = hint_of(&err) {
                eprintln!("\nhint: {hint}");
            }
            ExitCode::from(exit_code_of(&err))
        }
    }
}

trait DefaultFromCli {
    fn default_from_cli() -> Self;
}

impl DefaultFromCli for UpArgs {
    /// The arguments of a bare `provision up`, with clap's defaults.
    fn default_from_cli() -> Self {
        match Cli::parse_from(["provision", "up"]).command {
            Some(Command::Up(args)) => args,
            _ => UpArgs::default(),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Up(args) => {
            runtime()?.block_on(provision::deploy::up(&args.options(), false))?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Plan(args) => {
            runtime()?.block_on(provision::deploy::up(&args.options(), true))?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Destroy(args) => {
            runtime()?.block_on(provision::destroy::destroy(&args.options()))?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Verify(args) => {
            runtime()?.block_on(provision::verify::verify(&args.options()))?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::VerifyMcp(args) => {
            runtime()?.block_on(provision::verify::verify_mcp(&args.options()))?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Token(args) => {
            provision::verify::token(&provision::verify::TokenOptions {
                mcp: args.mcp.options(),
                show_secret: args.show_secret,
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::SelfEditMcp(args) => {
            let root = match args.root {
                Some(root) => root,
                None => provision::project_root()?,
            };
            provision::selfedit::serve(&provision::selfedit::SelfEditOptions {
                root,
                deploy_command: args.deploy_command,
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::OpenapiSlice(args) => {
            provision::slice::run(&args.from, &args.out)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Bridge(args) => {
            runtime()?.block_on(provision::bridge::bridge(
                &provision::bridge::BridgeOptions {
                    mcp: args.mcp.options(),
                    url: args.url.clone(),
                },
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let root = provision::project_root()?;
    match command {
        Command::Up(_)
        | Command::Plan(_)
        | Command::Destroy(_)
        | Command::Verify(_)
        | Command::VerifyMcp(_)
        | Command::Token(_)
        | Command::Bridge(_)
        | Command::OpenapiSlice(_)
        | Command::SelfEditMcp(_) => Ok(ExitCode::SUCCESS),
        Command::Setup { with_browser } => {
            setup::run(
                &root,
                &SetupOptions {
                    with_browser,
                    quiet: false,
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dev {
            port,
            persist_to,
            skip_setup,
        } => {
            if !skip_setup {
                setup::run(&root, &SetupOptions::default())?;
            }
            let started = Instant::now();
            eprintln!("dev: building the Worker with `sh scripts/build.sh`");
            local::run_build(&root, false, true)?;
            eprintln!("dev: built in {}", fmt_duration(started.elapsed()));
            let persist_to = persist_to.unwrap_or_else(|| root.join(".wrangler").join("state"));
            runtime()?.block_on(dev(root, port, persist_to))
        }
        Command::Bench {
            requests,
            concurrency,
            seconds,
            skip_setup,
            json,
        } => {
            if !skip_setup {
                setup::run(&root, &SetupOptions::default())?;
            }
            let opts = BenchOptions {
                requests: requests as usize,
                concurrency: concurrency as usize,
                seconds,
            };
            runtime()?.block_on(async {
                let mut sigint =
                    signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
                let mut sigterm =
                    signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
                // Dropping the bench future on a signal drops the LocalWorker, which stops
                // wrangler's process group.
                let report = tokio::select! {
                    report = bench::run(&root, &opts, json.as_ref()) => report?,
                    _ = sigint.recv() => anyhow::bail!("interrupted"),
                    _ = sigterm.recv() => anyhow::bail!("terminated"),
                };
                let failures: usize = report
                    .scenarios
                    .iter()
                    .map(|s| s.sequential_failures + s.concurrent_failures)
                    .sum();
                if failures > 0 {
                    anyhow::bail!("{failures} requests failed (see `failures:` above)");
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Soak {
            sessions,
            load_seconds,
            soak_seconds,
            soak_sessions,
            sample_seconds,
            no_restart,
            pauses,
            max_growth,
            ops,
            short,
            skip_setup,
            json,
        } => {
            if !skip_setup {
                setup::run(&root, &SetupOptions::default())?;
            }
            let opts = if short {
                SoakOptions::short()
            } else {
                SoakOptions {
                    load_sessions: sessions as usize,
                    load_seconds,
                    soak_sessions: soak_sessions as usize,
                    soak_seconds,
                    sample_seconds,
                    restart: !no_restart,
                    pauses: pauses as usize,
                    max_growth_mb_per_min: max_growth.or(SoakOptions::full().max_growth_mb_per_min),
                    ops: soak::Op::parse_list(&ops)?,
                    ..SoakOptions::full()
                }
            };
            runtime()?.block_on(async {
                let mut sigint =
                    signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
                let mut sigterm =
                    signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
                // Dropping the future on a signal drops the LocalWorker (stops its group).
                let report = tokio::select! {
                    report = soak::run(&root, &opts, json.as_ref()) => report?,
                    _ = sigint.recv() => anyhow::bail!("interrupted"),
                    _ = sigterm.recv() => anyhow::bail!("terminated"),
                };
                if !report.problems.is_empty() {
                    anyhow::bail!("the soak found problems (see `result:` above)");
                }
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

/// Exit code that mirrors a child's status (128 + signal when killed); never 0.
fn failure_code(status: ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(c), _) if c != 0 => c,
        (_, Some(sig)) => 128 + sig,
        _ => 1,
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn dev(root: PathBuf, port: u16, persist_to: PathBuf) -> Result<ExitCode> {
    let mut sigint = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let started = Instant::now();
    eprintln!(
        "dev: applying D1 migrations and starting `wrangler dev --local` on 127.0.0.1:{port} (state in `{}`)",
        persist_to.display()
    );
    let opts = LocalOptions {
        port: Some(port),
        persist_to: persist_to.clone(),
        vars: Vec::new(),
        quiet: false,
        log_file: None,
    };
    // On a signal during startup the start future is dropped, and with it the LocalWorker,
    // whose Drop stops wrangler's process group.
    let mut worker = tokio::select! {
        worker = LocalWorker::start(&root, opts) => worker?,
        _ = sigint.recv() => return Ok(ExitCode::SUCCESS),
        _ = sigterm.recv() => return Ok(ExitCode::SUCCESS),
    };
    let base = worker.base_url();
    let me = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building an HTTP client")?
        .get(format!("{base}/api/account/me"))
        .send()
        .await
        .map(|r| r.status());
    match me {
        Ok(status) if status.is_success() => {}
        Ok(status) => eprintln!(
            "warning: `GET /api/account/me` answers HTTP {status} (dev auth should give 200)"
        ),
        Err(err) => eprintln!("warning: `GET /api/account/me` failed: {err}"),
    }
    println!("ready: {base} (in {})", fmt_duration(started.elapsed()));
    println!("  console: {base}/");
    println!("  mcp:     {base}/mcp");
    println!("  state:   {}", worker.persist_to().display());
    println!("press Ctrl-C to stop");
    let _ = std::io::stdout().flush();

    tokio::select! {
        status = worker.wait() => {
            let status = status?;
            eprintln!("error: `wrangler dev` exited by itself ({status})");
            worker.stop().await;
            Ok(failure_code(status))
        }
        _ = sigint.recv() => {
            eprintln!("dev: stopping wrangler");
            worker.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        _ = sigterm.recv() => {
            eprintln!("dev: stopping wrangler");
            worker.stop().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}
