//! The Worker's deployment description, read from the project's `wrangler.toml`: its name,
//! entry module, compatibility date and flags, assets settings, D1/R2/Durable Object
//! bindings, Durable Object migrations and plain vars. `provision up` deploys exactly what
//! `wrangler dev --local` runs, so the two cannot drift.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// What `wrangler.toml` says about the Worker.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub name: String,
    /// The entry module, relative to the project root (e.g. `build/index.js`).
    pub main: PathBuf,
    pub compatibility_date: String,
    pub compatibility_flags: Vec<String>,
    pub assets: Option<AssetsSpec>,
    pub d1: D1Spec,
    pub r2: R2Spec,
    pub durable_objects: Vec<DurableObjectSpec>,
    pub migrations: Vec<MigrationSpec>,
    /// `[vars]`: plain-text bindings deployed as they are.
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct AssetsSpec {
    /// Relative to the project root.
    pub directory: PathBuf,
    pub not_found_handling: Option<String>,
    pub html_handling: Option<String>,
    /// `run_worker_first` as written (a list of patterns or a boolean).
    pub run_worker_first: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct D1Spec {
    pub binding: String,
    pub database_name: String,
    /// Relative to the project root.
    pub migrations_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct R2Spec {
    pub binding: String,
    pub bucket_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableObjectSpec {
    pub name: String,
    pub class_name: String,
}

/// One `[[migrations]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationSpec {
    pub tag: String,
    pub new_classes: Vec<String>,
    pub new_sqlite_classes: Vec<String>,
    pub deleted_classes: Vec<String>,
}

#[derive(Deserialize)]
struct RawToml {
    name: String,
    main: String,
    compatibility_date: String,
    #[serde(default)]
    compatibility_flags: Vec<String>,
    assets: Option<RawAssets>,
    #[serde(default)]
    d1_databases: Vec<RawD1>,
    #[serde(default)]
    r2_buckets: Vec<RawR2>,
    durable_objects: Option<RawDurableObjects>,
    #[serde(default)]
    migrations: Vec<RawMigration>,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct RawAssets {
    directory: String,
    not_found_handling: Option<String>,
    html_handling: Option<String>,
    run_worker_first: Option<toml::Value>,
}

#[derive(Deserialize)]
struct RawD1 {
    binding: String,
    database_name: String,
    migrations_dir: Option<String>,
}

#[derive(Deserialize)]
struct RawR2 {
    binding: String,
    bucket_name: String,
}

#[derive(Deserialize)]
struct RawDurableObjects {
    #[serde(default)]
    bindings: Vec<RawDoBinding>,
}

#[derive(Deserialize)]
struct RawDoBinding {
    name: String,
    class_name: String,
}

#[derive(Deserialize)]
struct RawMigration {
    tag: String,
    #[serde(default)]
    new_classes: Vec<String>,
    #[serde(default)]
    new_sqlite_classes: Vec<String>,
    #[serde(default)]
    deleted_classes: Vec<String>,
}

fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_json(v)))
                .collect(),
        ),
    }
}

impl WorkerSpec {
    /// Parses the text of a `wrangler.toml`.
    pub fn parse(text: &str) -> Result<Self> {
        let raw: RawToml = toml::from_str(text).context("parsing wrangler.toml")?;
        let d1 = raw
            .d1_databases
            .into_iter()
            .next()
            .context("wrangler.toml has no `[[d1_databases]]` entry")?;
        let r2 = raw
            .r2_buckets
            .into_iter()
            .next()
            .context("wrangler.toml has no `[[r2_buckets]]` entry")?;
        let mut vars = BTreeMap::new();
        for (key, value) in raw.vars {
            let text = match value {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            vars.insert(key, text);
        }
        anyhow::ensure!(
            !vars.contains_key("ENABLE_DEV_AUTH"),
            "wrangler.toml `[vars]` sets `ENABLE_DEV_AUTH`, which turns Access checks off; remove it"
        );
        Ok(Self {
            name: raw.name,
            main: PathBuf::from(raw.main),
            compatibility_date: raw.compatibility_date,
            compatibility_flags: raw.compatibility_flags,
            assets: raw.assets.map(|a| AssetsSpec {
                directory: PathBuf::from(a.directory),
                not_found_handling: a.not_found_handling,
                html_handling: a.html_handling,
                run_worker_first: a.run_worker_first.map(toml_to_json),
            }),
            d1: D1Spec {
                binding: d1.binding,
                database_name: d1.database_name,
                migrations_dir: d1.migrations_dir.map(PathBuf::from),
            },
            r2: R2Spec {
                binding: r2.binding,
                bucket_name: r2.bucket_name,
            },
            durable_objects: raw
                .durable_objects
                .map(|d| d.bindings)
                .unwrap_or_default()
                .into_iter()
                .map(|b| DurableObjectSpec {
                    name: b.name,
                    class_name: b.class_name,
                })
                .collect(),
            migrations: raw
                .migrations
                .into_iter()
                .map(|m| MigrationSpec {
                    tag: m.tag,
                    new_classes: m.new_classes,
                    new_sqlite_classes: m.new_sqlite_classes,
                    deleted_classes: m.deleted_classes,
                })
                .collect(),
            vars,
        })
    }

    /// Reads `<root>/wrangler.toml`.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join("wrangler.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// The tag of the last `[[migrations]]` entry: what the deployed script must carry.
    pub fn latest_migration_tag(&self) -> Option<&str> {
        self.migrations.last().map(|m| m.tag.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_wrangler_toml_is_what_provision_deploys() {
        let root = crate::root::find_root_from(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("project root");
        let spec = WorkerSpec::load(&root).expect("wrangler.toml");
        assert_eq!(spec.name, "executor");
        assert_eq!(spec.main, PathBuf::from("build/index.js"));
        assert_eq!(spec.d1.binding, "DB");
        assert_eq!(spec.r2.binding, "BLOBS");
        assert_eq!(
            spec.durable_objects,
            vec![DurableObjectSpec {
                name: "MCP_SESSION".into(),
                class_name: "McpSessionDO".into()
            }]
        );
        assert_eq!(spec.latest_migration_tag(), Some("v1"));
        assert_eq!(spec.migrations[0].new_sqlite_classes, vec!["McpSessionDO"]);
        let assets = spec.assets.expect("assets");
        assert_eq!(
            assets.not_found_handling.as_deref(),
            Some("single-page-application")
        );
        assert_eq!(
            assets.run_worker_first,
            Some(serde_json::json!(["/api/*", "/mcp", "/mcp/*"]))
        );
        assert!(!spec.vars.contains_key("ENABLE_DEV_AUTH"));
    }

    #[test]
    fn dev_auth_in_vars_is_refused() {
        let text = r#"
name = "x"
main = "build/index.js"
compatibility_date = "2026-01-01"
[[d1_databases]]
binding = "DB"
database_name = "x"
[[r2_buckets]]
binding = "BLOBS"
bucket_name = "b"
[vars]
ENABLE_DEV_AUTH = "true"
"#;
        let err = WorkerSpec::parse(text).expect_err("refused");
        assert!(format!("{err:#}").contains("ENABLE_DEV_AUTH"));
    }
}
