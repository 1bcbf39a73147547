//! Finding the project root: the directory whose `Cargo.toml` declares `[workspace]` and
//! which holds `wrangler.toml`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cmd::hinted;

/// Whether `dir` is the project root.
pub fn is_root(dir: &Path) -> bool {
    if !dir.join("wrangler.toml").is_file() {
        return false;
    }
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .map(|text| text.lines().any(|l| l.trim() == "[workspace]"))
        .unwrap_or(false)
}

/// Walks up from `start` to the project root.
pub fn find_root_from(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| is_root(d))
        .map(Path::to_path_buf)
}

/// The project root: found from the current directory, else the parent of this crate's
/// manifest directory (the checkout `provision` was built from).
pub fn project_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    if let Some(root) = find_root_from(&cwd) {
        return Ok(root);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if is_root(&built_from) {
        return built_from
            .canonicalize()
            .with_context(|| format!("resolving {}", built_from.display()));
    }
    Err(hinted(
        format!(
            "no project root above `{}` (a directory with `wrangler.toml` and a `[workspace]` Cargo.toml)",
            cwd.display()
        ),
        "run `provision` from inside the executor checkout",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_checkout_is_found_from_the_crate_dir() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = find_root_from(here).expect("root above provision/");
        assert!(root.join("wrangler.toml").is_file());
        assert!(!is_root(here));
    }
}
