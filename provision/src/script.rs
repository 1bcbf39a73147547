//! The Worker script upload: the module files of the build directory, the multipart
//! metadata (bindings, vars, secret, assets, Durable Object migrations, compatibility
//! settings) and a content hash that lets a re-run skip an unchanged upload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::secret::Secret;
use crate::wrangler::{MigrationSpec, WorkerSpec};

/// The Worker secret holding the encryption key of stored credentials.
pub const SECRET_KEY_NAME: &str = "EXECUTOR_SECRET_KEY";

/// One module part of the upload.
#[derive(Debug, Clone)]
pub struct Module {
    /// Part name = file name = path relative to the build directory (`index_bg.wasm`).
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

fn module_type(name: &str) -> Option<&'static str> {
    if name.ends_with(".d.ts") {
        return None;
    }
    let ext = Path::new(name).extension()?.to_str()?;
    match ext {
        "js" | "mjs" => Some("application/javascript+module"),
        "wasm" => Some("application/wasm"),
        "map" => Some("application/source-map"),
        _ => None,
    }
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if kind.is_dir() {
            walk(&path, base, out)?;
        } else if kind.is_file() {
            out.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// The modules of `worker_dir` (`*.js`, `*.mjs`, `*.wasm`, `*.map`; not `package.json` or
/// `*.d.ts`). `main_module` must be among them.
pub fn read_modules(worker_dir: &Path, main_module: &str) -> Result<Vec<Module>> {
    anyhow::ensure!(
        worker_dir.is_dir(),
        "the Worker build directory {} does not exist; build the Worker first (`sh scripts/build.sh`)",
        worker_dir.display()
    );
    let mut files = Vec::new();
    walk(worker_dir, worker_dir, &mut files)?;
    files.sort();
    let mut modules = Vec::new();
    for rel in files {
        let name = rel.to_string_lossy().replace('\\', "/");
        let Some(content_type) = module_type(&name) else {
            continue;
        };
        let path = worker_dir.join(&rel);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        modules.push(Module {
            name,
            content_type,
            bytes,
        });
    }
    anyhow::ensure!(
        modules.iter().any(|m| m.name == main_module),
        "the entry module `{main_module}` is not in {}",
        worker_dir.display()
    );
    Ok(modules)
}

/// How the encryption key reaches the Worker.
#[derive(Debug, Clone)]
pub enum KeyBinding {
    /// Sent as a `secret_text` binding.
    Text(Secret),
    /// Kept from the deployed version (`inherit` + `bindings_inherit=strict`).
    Inherit,
}

/// The Durable Object migration to send, given the tag the deployed script carries.
/// `Ok(None)`: the script is up to date. `Err`: the remote tag is not in wrangler.toml.
pub fn migration_for(
    migrations: &[MigrationSpec],
    remote_tag: Option<&str>,
) -> std::result::Result<Option<Value>, String> {
    let Some(last) = migrations.last() else {
        return Ok(None);
    };
    let remote_tag = remote_tag.filter(|t| !t.is_empty());
    let pending: &[MigrationSpec] = match remote_tag {
        None => migrations,
        Some(tag) if tag == last.tag => return Ok(None),
        Some(tag) => match migrations.iter().position(|m| m.tag == tag) {
            Some(i) => &migrations[i + 1..],
            None => {
                return Err(format!(
                    "the deployed Worker carries Durable Object migration tag `{tag}`, which wrangler.toml does not list ({})",
                    migrations
                        .iter()
                        .map(|m| format!("`{}`", m.tag))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        },
    };
    let steps: Vec<Value> = pending
        .iter()
        .map(|m| {
            let mut step = serde_json::Map::new();
            for (key, list) in [
                ("new_classes", &m.new_classes),
                ("new_sqlite_classes", &m.new_sqlite_classes),
                ("deleted_classes", &m.deleted_classes),
            ] {
                if !list.is_empty() {
                    step.insert(key.to_string(), json!(list));
                }
            }
            Value::Object(step)
        })
        .collect();
    let mut out = json!({ "new_tag": last.tag, "steps": steps });
    if let Some(tag) = remote_tag {
        out["old_tag"] = json!(tag);
    }
    Ok(Some(out))
}

/// Everything the upload needs besides the assets completion token.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub main_module: String,
    pub modules: Vec<Module>,
    /// Metadata without `assets.jwt`; the secret appears as [`KeyBinding`].
    pub metadata: Value,
    pub key: KeyBinding,
    /// Hash of the metadata (without the asset token and the secret value), the modules and
    /// the asset manifest.
    pub content_hash: String,
}

/// Inputs of the metadata.
pub struct Settings<'a> {
    pub spec: &'a WorkerSpec,
    pub hostname: &'a str,
    pub team_domain: &'a str,
    pub aud: &'a str,
    pub admin_emails: &'a [String],
    pub d1_uuid: &'a str,
    /// `None` when the Worker has no static assets.
    pub assets_config: Option<Value>,
    pub migration: Option<Value>,
}

/// The plain-text vars of the deployment: wrangler.toml `[vars]`, then the Access settings.
pub fn vars(s: &Settings<'_>) -> BTreeMap<String, String> {
    let mut vars = s.spec.vars.clone();
    vars.entry("ACCESS_NAME_CLAIM".into())
        .or_insert_with(|| "name".into());
    vars.entry("ACCESS_GROUPS_CLAIM".into())
        .or_insert_with(|| "groups".into());
    vars.insert(
        "VITE_PUBLIC_SITE_URL".into(),
        format!("https://{}", s.hostname),
    );
    vars.insert("ACCESS_AUD".into(), s.aud.to_string());
    vars.insert("ACCESS_TEAM_DOMAIN".into(), s.team_domain.to_string());
    vars.insert("ADMIN_EMAILS".into(), s.admin_emails.join(","));
    vars.remove("ENABLE_DEV_AUTH");
    vars
}

fn key_binding_json(key: &KeyBinding, reveal: bool) -> Value {
    match key {
        KeyBinding::Text(secret) => json!({
            "type": "secret_text",
            "name": SECRET_KEY_NAME,
            "text": if reveal { secret.expose() } else { "[secret]" },
        }),
        KeyBinding::Inherit => json!({ "type": "inherit", "name": SECRET_KEY_NAME }),
    }
}

/// Builds the upload description.
pub fn prepare(
    s: &Settings<'_>,
    modules: Vec<Module>,
    main_module: &str,
    key: KeyBinding,
    manifest: &Value,
) -> Upload {
    let spec = s.spec;
    let mut bindings = vec![
        json!({ "type": "d1", "name": spec.d1.binding, "database_id": s.d1_uuid }),
        json!({ "type": "r2_bucket", "name": spec.r2.binding, "bucket_name": spec.r2.bucket_name }),
    ];
    for d in &spec.durable_objects {
        bindings.push(json!({
            "type": "durable_object_namespace",
            "name": d.name,
            "class_name": d.class_name,
        }));
    }
    for (name, text) in vars(s) {
        bindings.push(json!({ "type": "plain_text", "name": name, "text": text }));
    }
    let mut metadata = json!({
        "main_module": main_module,
        "compatibility_date": spec.compatibility_date,
        "bindings": bindings,
        "observability": { "enabled": true },
    });
    if let Some(config) = &s.assets_config {
        metadata["assets"] = json!({ "config": config });
    }
    if !spec.compatibility_flags.is_empty() {
        metadata["compatibility_flags"] = json!(spec.compatibility_flags);
    }
    if let Some(migration) = &s.migration {
        metadata["migrations"] = migration.clone();
    }
    let mut hasher = Sha256::new();
    let mut hashed = metadata.clone();
    // The migration depends on the deployed tag, which the skip check compares separately.
    if let Some(obj) = hashed.as_object_mut() {
        obj.remove("migrations");
    }
    if let Some(list) = hashed["bindings"].as_array_mut() {
        list.push(key_binding_json(&key, false));
    }
    hasher.update(hashed.to_string().as_bytes());
    for m in &modules {
        hasher.update(m.name.as_bytes());
        hasher.update((m.bytes.len() as u64).to_le_bytes());
        hasher.update(&m.bytes);
    }
    hasher.update(manifest.to_string().as_bytes());
    let content_hash = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Upload {
        name: spec.name.clone(),
        main_module: main_module.to_string(),
        modules,
        metadata,
        key,
        content_hash,
    }
}

impl Upload {
    /// Whether the upload needs `bindings_inherit=strict`.
    pub fn inherits(&self) -> bool {
        matches!(self.key, KeyBinding::Inherit)
    }

    /// Whether the Worker has static assets (and so needs an upload session).
    pub fn has_assets(&self) -> bool {
        self.metadata.get("assets").is_some()
    }

    /// The metadata as sent: with the secret and the assets completion token.
    pub fn final_metadata(&self, assets_jwt: Option<&Secret>) -> Value {
        let mut metadata = self.metadata.clone();
        if let Some(list) = metadata["bindings"].as_array_mut() {
            list.push(key_binding_json(&self.key, true));
        }
        if let (Some(jwt), Some(assets)) = (assets_jwt, metadata.get_mut("assets")) {
            assets["jwt"] = json!(jwt.expose());
        }
        metadata
    }

    /// A builder of the multipart body (one `metadata` part, one part per module).
    pub fn form_builder(
        &self,
        assets_jwt: Option<&Secret>,
    ) -> impl Fn() -> Form + Send + Sync + 'static {
        let metadata = self.final_metadata(assets_jwt).to_string();
        let modules = Arc::new(self.modules.clone());
        move || {
            let mut form = Form::new().percent_encode_noop().part(
                "metadata",
                Part::text(metadata.clone())
                    .mime_str("application/json")
                    .unwrap_or_else(|_| Part::text(metadata.clone())),
            );
            for m in modules.iter() {
                let part = Part::bytes(m.bytes.clone())
                    .file_name(m.name.clone())
                    .mime_str(m.content_type)
                    .unwrap_or_else(|_| Part::bytes(m.bytes.clone()).file_name(m.name.clone()));
                form = form.part(m.name.clone(), part);
            }
            form
        }
    }

    /// The bindings for display/tests: names and types, the secret shown as a marker.
    pub fn binding_summary(&self) -> Vec<(String, String)> {
        self.metadata["bindings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or_default().to_string(),
                    b["type"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mig(tag: &str, sqlite: &[&str]) -> MigrationSpec {
        MigrationSpec {
            tag: tag.into(),
            new_sqlite_classes: sqlite.iter().map(|s| s.to_string()).collect(),
            ..MigrationSpec::default()
        }
    }

    #[test]
    fn migrations_are_sent_only_when_the_tag_is_behind() {
        let list = vec![mig("v1", &["McpSessionDO"]), mig("v2", &["Other"])];
        let fresh = migration_for(&list, None).expect("ok").expect("some");
        assert_eq!(
            fresh,
            json!({"new_tag": "v2", "steps": [{"new_sqlite_classes": ["McpSessionDO"]}, {"new_sqlite_classes": ["Other"]}]})
        );
        let behind = migration_for(&list, Some("v1")).expect("ok").expect("some");
        assert_eq!(
            behind,
            json!({"old_tag": "v1", "new_tag": "v2", "steps": [{"new_sqlite_classes": ["Other"]}]})
        );
        assert_eq!(migration_for(&list, Some("v2")).expect("ok"), None);
        assert!(migration_for(&list, Some("v9"))
            .expect_err("unknown")
            .contains("`v9`"));
        assert_eq!(migration_for(&[], Some("v1")).expect("ok"), None);
    }

    #[test]
    fn module_types() {
        assert_eq!(
            module_type("index.js"),
            Some("application/javascript+module")
        );
        assert_eq!(
            module_type("worker/shim.mjs"),
            Some("application/javascript+module")
        );
        assert_eq!(module_type("index_bg.wasm"), Some("application/wasm"));
        assert_eq!(module_type("index.d.ts"), None);
        assert_eq!(module_type("package.json"), None);
    }
}
