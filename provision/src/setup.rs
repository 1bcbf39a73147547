//! `provision setup`: installs, idempotently, what building and running the Worker needs on a
//! Debian machine that starts with rustup, Node 20 and npm (see toolchain.md).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cmd::{
    capture, cargo_bin_dir, fmt_duration, hinted, project_path_env, run_checked, which,
};

/// `worker-build` must match the `worker` crate's minor version (toolchain.md §1).
pub const WORKER_BUILD_VERSION: &str = "0.8.7";
/// The Rust target worker-build compiles for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Where `setup` records the `package-lock.json` it last installed.
const NPM_STAMP: &str = ".provision-package-lock.json";

/// What `setup` installs beyond the build's needs.
#[derive(Debug, Clone, Default)]
pub struct SetupOptions {
    /// Also install Debian `chromium` (browser tests).
    pub with_browser: bool,
    /// Print nothing unless something fails (tools' output is captured, shown on failure).
    pub quiet: bool,
}

struct Ui {
    quiet: bool,
}

impl Ui {
    fn line(&self, msg: &str) {
        if !self.quiet {
            eprintln!("setup: {msg}");
        }
    }
    fn ok(&self, what: &str, detail: &str) {
        self.line(&format!("{what} … ok ({detail})"));
    }
    fn start(&self, what: &str, detail: &str) {
        self.line(&format!("{what} … {detail}"));
    }
}

/// `apt-get`, updated at most once per run.
struct Apt {
    updated: bool,
    quiet: bool,
}

impl Apt {
    fn install(&mut self, ui: &Ui, package: &str) -> Result<()> {
        let Some(apt_get) = which("apt-get") else {
            return Err(hinted(
                format!("`{package}` is not installed and `apt-get` is not available"),
                format!("install `{package}` with your system's package manager, then re-run `provision setup`"),
            ));
        };
        if !rustix::process::geteuid().is_root() {
            return Err(hinted(
                format!("`{package}` is not installed and installing it needs root"),
                format!(
                    "run `sudo apt-get install -y {package}`, or re-run `provision setup` as root"
                ),
            ));
        }
        if !self.updated {
            ui.start("apt package lists", "updating with `apt-get update`");
            let mut cmd = Command::new(&apt_get);
            cmd.arg("update").env("DEBIAN_FRONTEND", "noninteractive");
            run_checked(&mut cmd, self.quiet)?;
            self.updated = true;
        }
        let mut cmd = Command::new(&apt_get);
        cmd.args(["install", "-y", package])
            .env("DEBIAN_FRONTEND", "noninteractive");
        run_checked(&mut cmd, self.quiet)
            .with_context(|| format!("installing `{package}` with apt-get"))
    }
}

/// Runs every setup step for the project at `root`.
pub fn run(root: &Path, opts: &SetupOptions) -> Result<()> {
    let started = Instant::now();
    let ui = Ui { quiet: opts.quiet };
    let mut apt = Apt {
        updated: false,
        quiet: opts.quiet,
    };
    ui.line(&format!("project root `{}`", root.display()));

    wasm_target(root, &ui, opts.quiet)?;
    let clang = system_tool(&ui, &mut apt, "clang")?;
    let worker_build = cargo_tool(
        root,
        &ui,
        opts.quiet,
        "worker-build",
        "worker-build",
        WORKER_BUILD_VERSION,
    )?;
    let (bindgen_version, source) = wasm_bindgen_version(root)?;
    ui.line(&format!(
        "`wasm-bindgen` version {bindgen_version} (from {source})"
    ));
    let wasm_bindgen = cargo_tool(
        root,
        &ui,
        opts.quiet,
        "wasm-bindgen-cli",
        "wasm-bindgen",
        &bindgen_version,
    )?;
    npm_packages(root, &ui, opts.quiet)?;
    let chromium = if opts.with_browser {
        Some(system_tool(&ui, &mut apt, "chromium")?)
    } else {
        None
    };

    if !opts.quiet {
        ui.line(&format!("done in {}", fmt_duration(started.elapsed())));
        let bin = root.join("node_modules").join(".bin");
        let mut rows: Vec<(&str, String)> = vec![
            (
                "wrangler",
                format!(
                    "{} ({})",
                    bin.join("wrangler").display(),
                    npm_package_version(root, "wrangler").unwrap_or_else(|| "?".into())
                ),
            ),
            (
                "node",
                format!(
                    "{} ({})",
                    bin.join("node").display(),
                    node_version(root).unwrap_or_else(|| "?".into())
                ),
            ),
            ("wasm-opt", bin.join("wasm-opt").display().to_string()),
            (
                "worker-build",
                format!("{} ({WORKER_BUILD_VERSION})", worker_build.display()),
            ),
            (
                "wasm-bindgen",
                format!("{} ({bindgen_version})", wasm_bindgen.display()),
            ),
            ("clang", clang.display().to_string()),
        ];
        if let Some(chromium) = &chromium {
            rows.push(("chromium", chromium.display().to_string()));
        }
        for (name, place) in rows {
            eprintln!("  {name:<13} {place}");
        }
    }
    Ok(())
}

fn wasm_target(root: &Path, ui: &Ui, quiet: bool) -> Result<()> {
    let what = format!("`{WASM_TARGET}` target");
    let rustup = which("rustup").ok_or_else(|| {
        hinted(
            "`rustup` not found on PATH",
            "install Rust with rustup (https://rustup.rs) and re-run `provision setup`",
        )
    })?;
    let out = capture(
        Command::new(&rustup)
            .args(["target", "list", "--installed"])
            .current_dir(root),
    )?;
    if !out.status.success() {
        anyhow::bail!(
            "`rustup target list --installed` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        ui.ok(&what, "already installed");
        return Ok(());
    }
    let started = Instant::now();
    ui.start(
        &what,
        &format!("installing with `rustup target add {WASM_TARGET}`"),
    );
    run_checked(
        Command::new(&rustup)
            .args(["target", "add", WASM_TARGET])
            .current_dir(root),
        quiet,
    )?;
    ui.ok(
        &what,
        &format!("installed in {}", fmt_duration(started.elapsed())),
    );
    Ok(())
}

/// A Debian package whose binary has the package's name (`clang`, `chromium`).
fn system_tool(ui: &Ui, apt: &mut Apt, name: &str) -> Result<PathBuf> {
    let what = format!("`{name}`");
    if let Some(path) = which(name) {
        ui.ok(&what, &format!("already installed, `{}`", path.display()));
        return Ok(path);
    }
    let started = Instant::now();
    ui.start(
        &what,
        &format!("installing with `apt-get install -y {name}`"),
    );
    apt.install(ui, name)?;
    let path = which(name).ok_or_else(|| {
        hinted(
            format!("`{name}` is still not on PATH after `apt-get install -y {name}`"),
            "check the apt output above",
        )
    })?;
    ui.ok(
        &what,
        &format!("installed in {}", fmt_duration(started.elapsed())),
    );
    Ok(path)
}

/// Finds a cargo-installed tool the way `scripts/build.sh` does: the cargo bin directory
/// first, then `PATH`.
pub fn find_cargo_tool(bin: &str) -> Option<PathBuf> {
    cargo_bin_dir()
        .map(|d| d.join(bin))
        .filter(|p| p.is_file())
        .or_else(|| which(bin))
}

/// The version a tool reports with `--version`: its last word (`0.8.7`,
/// `wasm-bindgen 0.2.129`).
pub fn parse_version_output(output: &str) -> Option<&str> {
    output.lines().next()?.split_whitespace().last()
}

fn tool_version(path: &Path) -> Option<String> {
    let out = Command::new(path).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version_output(&String::from_utf8_lossy(&out.stdout)).map(str::to_owned)
}

/// Ensures `bin` (from crate `krate`) reports exactly `version`, else `cargo install`s it.
fn cargo_tool(
    root: &Path,
    ui: &Ui,
    quiet: bool,
    krate: &str,
    bin: &str,
    version: &str,
) -> Result<PathBuf> {
    let what = format!("`{krate}` {version}");
    let found = find_cargo_tool(bin);
    let found_version = found.as_deref().and_then(tool_version);
    if let (Some(path), Some(v)) = (&found, &found_version) {
        if v == version {
            ui.ok(&what, &format!("already installed, `{}`", path.display()));
            return Ok(path.clone());
        }
    }
    let cargo = which("cargo").ok_or_else(|| {
        hinted(
            "`cargo` not found on PATH",
            "install Rust with rustup (https://rustup.rs)",
        )
    })?;
    let spec = format!("{krate}@{version}");
    let why = match found_version {
        Some(v) => format!("found {v}; "),
        None => String::new(),
    };
    ui.start(
        &what,
        &format!("{why}installing with `cargo install --locked {spec}` (takes a few minutes)"),
    );
    let started = Instant::now();
    run_checked(
        Command::new(cargo)
            .args(["install", "--locked", &spec])
            .current_dir(root),
        quiet,
    )
    .map_err(|e| {
        let hint = format!("check network access to crates.io, then re-run; or run `cargo install --locked {spec}` yourself");
        hinted(format!("{e:#}"), hint)
    })?;
    let path = find_cargo_tool(bin)
        .with_context(|| format!("`{bin}` not found after `cargo install {spec}`"))?;
    match tool_version(&path) {
        Some(v) if v == version => {}
        other => {
            return Err(hinted(
                format!(
                    "`{}` reports version {} after installing {spec}",
                    path.display(),
                    other.unwrap_or_else(|| "(none)".into())
                ),
                "another copy may shadow the cargo-installed one; check `which -a` and PATH",
            ))
        }
    }
    ui.ok(
        &what,
        &format!("installed in {}", fmt_duration(started.elapsed())),
    );
    Ok(path)
}

/// Every version of `package` recorded in a `Cargo.lock`.
pub fn locked_versions(lock: &str, package: &str) -> Vec<String> {
    let mut versions = Vec::new();
    let mut name: Option<&str> = None;
    for line in lock.lines().map(str::trim) {
        if line == "[[package]]" {
            name = None;
        } else if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim_matches('"'));
        } else if let Some(v) = line.strip_prefix("version = ") {
            if name == Some(package) {
                versions.push(v.trim_matches('"').to_string());
            }
        }
    }
    versions
}

/// The exact (`=x.y.z`) requirement for `package` in a Cargo.toml, in either
/// `pkg = "=x"` or `pkg = { version = "=x", … }` form.
pub fn pinned_version(manifest: &str, package: &str) -> Option<String> {
    for line in manifest.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix(package) else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim();
        let req = if rest.starts_with('{') {
            let after = rest.split("version").nth(1)?;
            after.trim_start().strip_prefix('=')?.trim_start()
        } else {
            rest
        };
        let req = req.strip_prefix('"')?;
        let req = &req[..req.find('"')?];
        if let Some(exact) = req.strip_prefix('=') {
            return Some(exact.trim().to_string());
        }
    }
    None
}

/// The wasm-bindgen version the Worker links against: from Cargo.lock, else the exact pin in
/// Cargo.toml. Returns the version and where it came from.
pub fn wasm_bindgen_version(root: &Path) -> Result<(String, &'static str)> {
    let lock_path = root.join("Cargo.lock");
    if lock_path.is_file() {
        let lock = std::fs::read_to_string(&lock_path)
            .with_context(|| format!("reading {}", lock_path.display()))?;
        let versions = locked_versions(&lock, "wasm-bindgen");
        match versions.as_slice() {
            [one] => return Ok((one.clone(), "Cargo.lock")),
            [] => {}
            many => {
                return Err(hinted(
                    format!(
                        "Cargo.lock holds several `wasm-bindgen` versions: {}",
                        many.join(", ")
                    ),
                    "pin one with `wasm-bindgen = \"=x.y.z\"` in Cargo.toml and run `cargo update -p wasm-bindgen`",
                ))
            }
        }
    }
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    pinned_version(&manifest, "wasm-bindgen")
        .map(|v| (v, "the `=` pin in Cargo.toml"))
        .ok_or_else(|| {
            hinted(
                "cannot tell which `wasm-bindgen` version the Worker uses",
                "pin it in Cargo.toml (`wasm-bindgen = \"=0.2.129\"`) or run `cargo generate-lockfile`",
            )
        })
}

/// Whether npm's hidden lockfile (`node_modules/.package-lock.json`) shows that
/// `node_modules` holds exactly what `package-lock.json` asks for. Optional packages in the
/// lock may be absent (platform-specific binaries).
pub fn node_modules_match(lock: &serde_json::Value, hidden: &serde_json::Value) -> bool {
    let (Some(want), Some(have)) = (
        lock.get("packages").and_then(|p| p.as_object()),
        hidden.get("packages").and_then(|p| p.as_object()),
    ) else {
        return false;
    };
    let version =
        |v: &serde_json::Value| v.get("version").and_then(|s| s.as_str()).map(str::to_owned);
    for (key, entry) in want {
        if key.is_empty() {
            continue;
        }
        match have.get(key) {
            Some(installed) => {
                if version(installed) != version(entry) {
                    return false;
                }
            }
            None => {
                let optional = entry.get("optional").and_then(|o| o.as_bool()) == Some(true);
                if !optional {
                    return false;
                }
            }
        }
    }
    have.keys().all(|k| want.contains_key(k))
}

fn npm_packages(root: &Path, ui: &Ui, quiet: bool) -> Result<()> {
    let what = "npm packages";
    let lock_path = root.join("package-lock.json");
    let lock_bytes = std::fs::read(&lock_path).map_err(|e| {
        hinted(
            format!("cannot read `{}`: {e}", lock_path.display()),
            "run `npm install` once to create package-lock.json",
        )
    })?;
    let node_modules = root.join("node_modules");
    let stamp = node_modules.join(NPM_STAMP);
    if std::fs::read(&stamp).ok().as_deref() == Some(lock_bytes.as_slice()) {
        ui.ok(what, "up to date with package-lock.json");
        return Ok(());
    }
    let hidden = std::fs::read(node_modules.join(".package-lock.json")).ok();
    let matches = match (serde_json::from_slice(&lock_bytes), hidden) {
        (Ok(lock), Some(hidden)) => serde_json::from_slice(&hidden)
            .map(|hidden| node_modules_match(&lock, &hidden))
            .unwrap_or(false),
        _ => false,
    };
    if matches && node_modules.join(".bin").join("wrangler").exists() {
        std::fs::write(&stamp, &lock_bytes)
            .with_context(|| format!("writing {}", stamp.display()))?;
        ui.ok(what, "node_modules matches package-lock.json");
        return Ok(());
    }
    let npm = which("npm").ok_or_else(|| {
        hinted(
            "`npm` not found on PATH",
            "install Node.js 20 or newer with npm (Debian: `apt-get install -y nodejs npm`)",
        )
    })?;
    let started = Instant::now();
    ui.start(what, "installing with `npm ci --no-audit --no-fund`");
    run_checked(
        Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(root)
            .env("NPM_CONFIG_UPDATE_NOTIFIER", "false"),
        quiet,
    )
    .map_err(|e| {
        hinted(
            format!("{e:#}"),
            "check access to the npm registry; `npm ci` needs package.json and package-lock.json to agree",
        )
    })?;
    std::fs::write(&stamp, &lock_bytes).with_context(|| format!("writing {}", stamp.display()))?;
    ui.ok(
        what,
        &format!("installed in {}", fmt_duration(started.elapsed())),
    );
    Ok(())
}

/// `version` from `node_modules/<name>/package.json`.
pub fn npm_package_version(root: &Path, name: &str) -> Option<String> {
    let text = std::fs::read(root.join("node_modules").join(name).join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

fn node_version(root: &Path) -> Option<String> {
    let out = Command::new("node")
        .arg("--version")
        .env("PATH", project_path_env(root).ok()?)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "wasm-bindgen"
version = "0.2.129"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
]

[[package]]
name = "wasm-bindgen-backend"
version = "0.2.130"
"#;

    #[test]
    fn lock_versions_match_the_exact_name() {
        assert_eq!(locked_versions(LOCK, "wasm-bindgen"), vec!["0.2.129"]);
        assert_eq!(
            locked_versions(LOCK, "wasm-bindgen-backend"),
            vec!["0.2.130"]
        );
        assert!(locked_versions(LOCK, "worker").is_empty());
    }

    #[test]
    fn exact_pins_in_both_forms() {
        assert_eq!(
            pinned_version("wasm-bindgen = \"=0.2.129\"\n", "wasm-bindgen").as_deref(),
            Some("0.2.129")
        );
        assert_eq!(
            pinned_version(
                "wasm-bindgen-futures = \"0.4\"\nwasm-bindgen = { version = \"=0.2.128\", default-features = false }\n",
                "wasm-bindgen"
            )
            .as_deref(),
            Some("0.2.128")
        );
        assert_eq!(
            pinned_version("wasm-bindgen = \"0.2\"\n", "wasm-bindgen"),
            None
        );
    }

    #[test]
    fn version_output_formats() {
        assert_eq!(parse_version_output("0.8.7\n"), Some("0.8.7"));
        assert_eq!(
            parse_version_output("wasm-bindgen 0.2.129\n"),
            Some("0.2.129")
        );
        assert_eq!(parse_version_output(""), None);
    }

    #[test]
    fn hidden_lockfile_comparison() {
        let lock = serde_json::json!({"packages": {
            "": {"name": "x"},
            "node_modules/wrangler": {"version": "4.164.0"},
            "node_modules/@esbuild/darwin-arm64": {"version": "0.28.2", "optional": true},
        }});
        let good = serde_json::json!({"packages": {
            "node_modules/wrangler": {"version": "4.164.0"},
        }});
        let old = serde_json::json!({"packages": {
            "node_modules/wrangler": {"version": "4.100.0"},
        }});
        let extra = serde_json::json!({"packages": {
            "node_modules/wrangler": {"version": "4.164.0"},
            "node_modules/left-pad": {"version": "1.0.0"},
        }});
        assert!(node_modules_match(&lock, &good));
        assert!(!node_modules_match(&lock, &old));
        assert!(!node_modules_match(&lock, &extra));
        assert!(!node_modules_match(&lock, &serde_json::json!({})));
    }
}
