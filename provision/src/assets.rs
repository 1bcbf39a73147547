//! Static assets for Workers Static Assets: the manifest (path → content hash and size) and
//! the direct-upload flow (upload session, one multipart POST per requested bucket with the
//! session's upload JWT, completion JWT).
//!
//! Hashes follow wrangler (first 32 hex characters of BLAKE3 over the base64 of the bytes
//! followed by the file extension), so the same files dedupe across `provision` and wrangler
//! deploys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Map, Value};

use crate::api;
use crate::cf::Client;
use crate::secret::Secret;

/// Largest single asset Workers accepts.
pub const MAX_ASSET_BYTES: u64 = 25 * 1024 * 1024;
/// Most files in one manifest.
pub const MAX_ASSETS: usize = 20_000;

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFile {
    pub path: PathBuf,
    pub hash: String,
    pub size: u64,
    pub content_type: String,
}

/// The assets directory, read.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// Key `/relative/path`.
    pub files: BTreeMap<String, AssetFile>,
    /// `_headers` file text, for the assets config.
    pub headers: Option<String>,
    /// `_redirects` file text, for the assets config.
    pub redirects: Option<String>,
}

/// wrangler's content hash of a file.
pub fn content_hash(bytes: &[u8], path: &Path) -> String {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    hasher.update(
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes(),
    );
    hasher.update(ext.as_bytes());
    hasher.finalize().to_hex()[..32].to_string()
}

/// The part content type Workers Assets serves the file with (`application/null` = none).
pub fn content_type(path: &Path) -> String {
    match mime_guess::from_path(path).first() {
        Some(mime) if mime.type_() == mime_guess::mime::TEXT => {
            format!("{}; charset=utf-8", mime.essence_str())
        }
        Some(mime) => mime.essence_str().to_string(),
        None => "application/null".to_string(),
    }
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], text)
                || (!text.is_empty() && text[0] != b'/' && glob_match(pattern, &text[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob_match(&pattern[1..], &text[1..]),
        (Some(p), Some(c)) if p == c => glob_match(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// Whether `rel` (forward slashes, no leading `/`) is matched by a `.assetsignore` pattern:
/// a pattern with a `/` matches from the root, one without matches any path component;
/// a trailing `/` matches a directory and everything below it.
pub fn ignored(patterns: &[String], rel: &str) -> bool {
    patterns.iter().any(|raw| {
        let dir_only = raw.ends_with('/');
        let pattern = raw.trim_end_matches('/').trim_start_matches('/');
        if pattern.is_empty() {
            return false;
        }
        let components: Vec<&str> = rel.split('/').collect();
        let prefixes: Vec<String> = (1..=components.len())
            .map(|n| components[..n].join("/"))
            .collect();
        let anchored = raw.trim_end_matches('/').contains('/');
        let candidates: Vec<&str> = if anchored {
            prefixes.iter().map(String::as_str).collect()
        } else {
            components.clone()
        };
        candidates.iter().enumerate().any(|(i, c)| {
            // A directory pattern must match a component that has something below it.
            let is_dir = i + 1 < candidates.len();
            glob_match(pattern.as_bytes(), c.as_bytes()) && (!dir_only || is_dir)
        })
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

impl Assets {
    /// Reads `dir` into a manifest. Fails (before any API call) on oversized files, too many
    /// files, or a top-level `_worker.js`.
    pub fn read(dir: &Path) -> Result<Self> {
        anyhow::ensure!(
            dir.is_dir(),
            "the assets directory {} does not exist",
            dir.display()
        );
        let patterns: Vec<String> = std::fs::read_to_string(dir.join(".assetsignore"))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        let mut paths = Vec::new();
        walk(dir, &mut paths)?;
        let mut assets = Assets::default();
        for path in paths {
            let rel = path
                .strip_prefix(dir)
                .context("asset outside its directory")?
                .to_string_lossy()
                .replace('\\', "/");
            match rel.as_str() {
                ".assetsignore" => continue,
                "_headers" => {
                    assets.headers = Some(std::fs::read_to_string(&path).with_context(|| {
                        format!("reading {}", path.display())
                    })?);
                    continue;
                }
                "_redirects" => {
                    assets.redirects = Some(std::fs::read_to_string(&path).with_context(|| {
                        format!("reading {}", path.display())
                    })?);
                    continue;
                }
                "_worker.js" => anyhow::bail!(
                    "{} would publish server code as a static asset; remove it or list it in `.assetsignore`",
                    path.display()
                ),
                _ => {}
            }
            if ignored(&patterns, &rel) {
                continue;
            }
            let size = std::fs::metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .len();
            anyhow::ensure!(
                size <= MAX_ASSET_BYTES,
                "{} is {size} bytes; Workers assets must be at most 25 MiB each",
                path.display()
            );
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            assets.files.insert(
                format!("/{rel}"),
                AssetFile {
                    hash: content_hash(&bytes, &path),
                    size,
                    content_type: content_type(&path),
                    path,
                },
            );
        }
        anyhow::ensure!(
            assets.files.len() <= MAX_ASSETS,
            "{} has {} files; Workers assets allow at most {MAX_ASSETS}",
            dir.display(),
            assets.files.len()
        );
        Ok(assets)
    }

    /// The manifest sent to the upload session.
    pub fn manifest(&self) -> Value {
        let map: Map<String, Value> = self
            .files
            .iter()
            .map(|(k, f)| (k.clone(), json!({ "hash": f.hash, "size": f.size })))
            .collect();
        Value::Object(map)
    }

    fn by_hash(&self, hash: &str) -> Option<&AssetFile> {
        self.files.values().find(|f| f.hash == hash)
    }
}

/// What the upload did.
#[derive(Debug)]
pub struct Uploaded {
    pub completion_jwt: Secret,
    pub files_uploaded: usize,
}

/// Runs the upload session for `script` and uploads the buckets Cloudflare asks for.
pub async fn upload(
    client: &Client,
    account: &str,
    script: &str,
    assets: &Assets,
) -> Result<Uploaded> {
    let session = api::assets_session(client, account, script, &assets.manifest()).await?;
    let upload_jwt = session
        .jwt
        .clone()
        .context("the assets upload session returned no token")?;
    if session.buckets.iter().all(Vec::is_empty) {
        return Ok(Uploaded {
            completion_jwt: upload_jwt,
            files_uploaded: 0,
        });
    }
    let mut completion = None;
    let mut count = 0;
    for bucket in session.buckets.iter().filter(|b| !b.is_empty()) {
        let mut parts: Vec<(String, String, String)> = Vec::new();
        for hash in bucket {
            let file = assets
                .by_hash(hash)
                .with_context(|| format!("the upload session asked for unknown hash `{hash}`"))?;
            let bytes = std::fs::read(&file.path)
                .with_context(|| format!("reading {}", file.path.display()))?;
            parts.push((
                hash.clone(),
                base64::engine::general_purpose::STANDARD.encode(bytes),
                file.content_type.clone(),
            ));
        }
        count += parts.len();
        let parts = Arc::new(parts);
        let form = move || {
            let mut form = Form::new().percent_encode_noop();
            for (hash, body, ctype) in parts.iter() {
                let part = Part::text(body.clone()).file_name(hash.clone());
                let part = match part.mime_str(ctype) {
                    Ok(p) => p,
                    Err(_) => Part::text(body.clone()).file_name(hash.clone()),
                };
                form = form.part(hash.clone(), part);
            }
            form
        };
        if let Some(jwt) = api::assets_upload(client, account, &upload_jwt, form).await? {
            completion = Some(jwt);
        }
    }
    let completion_jwt = completion.context(
        "the assets upload finished without a completion token; run `provision up` again",
    )?;
    Ok(Uploaded {
        completion_jwt,
        files_uploaded: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_types() {
        let h = content_hash(b"hello", Path::new("a.txt"));
        assert_eq!(h.len(), 32);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(h, content_hash(b"hello", Path::new("a.html")));
        assert_eq!(
            content_type(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(content_type(Path::new("noext")), "application/null");
    }

    #[test]
    fn ignore_patterns() {
        let pats = vec![
            "*.map".to_string(),
            "drafts/".to_string(),
            "/top.txt".to_string(),
        ];
        assert!(ignored(&pats, "js/app.js.map"));
        assert!(ignored(&pats, "drafts/a.html"));
        assert!(!ignored(&pats, "drafts"));
        assert!(ignored(&pats, "top.txt"));
        assert!(!ignored(&pats, "js/app.js"));
    }

    #[test]
    fn reads_a_directory() {
        let dir = std::env::temp_dir().join(format!("provision-assets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        std::fs::write(dir.join("index.html"), "<p>hi</p>").expect("write");
        std::fs::write(dir.join("sub/app.js"), "1").expect("write");
        std::fs::write(dir.join("sub/app.js.map"), "{}").expect("write");
        std::fs::write(dir.join("_headers"), "/*\n  X-A: b\n").expect("write");
        std::fs::write(dir.join(".assetsignore"), "*.map\n").expect("write");
        let assets = Assets::read(&dir).expect("read");
        let keys: Vec<&str> = assets.files.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["/index.html", "/sub/app.js"]);
        assert_eq!(assets.headers.as_deref(), Some("/*\n  X-A: b\n"));
        assert_eq!(assets.manifest()["/index.html"]["size"], 9);
        std::fs::write(dir.join("_worker.js"), "x").expect("write");
        assert!(Assets::read(&dir).is_err());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
