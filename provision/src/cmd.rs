//! Process and path helpers shared by the subcommands: `which`, running a command with its
//! output streamed or captured, errors that carry a `hint:` line, duration formatting.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result};

/// An error with a follow-up `hint:` line. `main` prints the message as `error: …` and the
/// hint on its own line.
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Builds an error that `main` prints with a `hint:` line.
pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.into(),
        hint: hint.into(),
    })
}

/// The hint of the first [`Hinted`] or [`Failure`] error in the chain, if any.
pub fn hint_of(err: &anyhow::Error) -> Option<&str> {
    err.chain().find_map(|e| {
        if let Some(h) = e.downcast_ref::<Hinted>() {
            Some(h.hint.as_str())
        } else {
            e.downcast_ref::<Failure>().and_then(|f| f.hint.as_deref())
        }
    })
}

/// Process exit codes of the deployment commands (`up`, `plan`, `destroy`, `verify`, …).
pub mod exit {
    /// Usage or input validation error (also the code of any unclassified error).
    pub const USAGE: u8 = 1;
    /// The Cloudflare API refused or failed a call.
    pub const API: u8 = 2;
    /// A precondition does not hold: no zone, Access not set up, hostname owned by another
    /// Worker, a secret that would have to be regenerated, …
    pub const PRECONDITION: u8 = 3;
    /// `verify` found the deployment reachable without Access, or the MCP check failed.
    pub const VERIFY: u8 = 4;
}

/// An error with an exit code (see [`exit`]) and an optional `hint:` line.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Builds an error that makes the process exit with `code`.
pub fn failure(code: u8, message: impl Into<String>, hint: Option<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code,
        message: message.into(),
        hint,
    })
}

/// The exit code for `err`: the first [`Failure`]'s code, [`exit::API`] for a Cloudflare API
/// error, else [`exit::USAGE`].
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if cause.downcast_ref::<crate::cf::ApiError>().is_some() {
            return exit::API;
        }
    }
    exit::USAGE
}

/// `$CARGO_HOME/bin`, or `~/.cargo/bin`.
pub fn cargo_bin_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(home).join("bin"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".cargo").join("bin"))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Looks `name` up on `PATH`, then in the cargo bin directory (where `cargo install` puts
/// tools, which is not always on `PATH`).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(cargo_bin_dir())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// `PATH` for commands run inside the project: `<root>/node_modules/.bin` first (Node 22,
/// wrangler, wasm-opt), then the cargo bin directory, then the inherited `PATH`.
pub fn project_path_env(root: &Path) -> Result<OsString> {
    let mut dirs = vec![root.join("node_modules").join(".bin")];
    dirs.extend(cargo_bin_dir());
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).context("building PATH for the project's tools")
}

/// `program arg1 arg2` for messages.
pub fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs `cmd` and captures its output (whatever the exit status).
pub fn capture(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .with_context(|| format!("running `{}`", describe(cmd)))
}

/// Runs `cmd` to completion. When `quiet`, its output is captured and shown only on failure;
/// otherwise it goes straight to the terminal.
pub fn run_checked(cmd: &mut Command, quiet: bool) -> Result<()> {
    let shown = describe(cmd);
    if quiet {
        let out = capture(cmd)?;
        if !out.status.success() {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            anyhow::bail!("`{shown}` failed ({})\n{}", out.status, tail(&text, 60));
        }
    } else {
        let status = cmd.status().with_context(|| format!("running `{shown}`"))?;
        if !status.success() {
            anyhow::bail!("`{shown}` failed ({status})");
        }
    }
    Ok(())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// `0.4s`, `12.3s`, `3m54s`.
pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(420)), "0.4s");
        assert_eq!(fmt_duration(Duration::from_secs(234)), "3m54s");
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn hints_are_found_through_context() {
        let err = hinted("`clang` not found", "install it").context("setup failed");
        assert_eq!(hint_of(&err), Some("install it"));
        assert_eq!(format!("{err:#}"), "setup failed: `clang` not found");
    }

    #[test]
    fn failures_carry_exit_codes_through_context() {
        let err = failure(exit::PRECONDITION, "no zone", Some("add the zone".into()))
            .context("provision up");
        assert_eq!(exit_code_of(&err), exit::PRECONDITION);
        assert_eq!(hint_of(&err), Some("add the zone"));
        assert_eq!(exit_code_of(&anyhow::anyhow!("plain")), exit::USAGE);
    }
}
