//! Local files of a deployment, all in the state directory (default `.provision/`) except
//! `.env.mcp`:
//!
//! - `state.json`: ids of everything `up` created or adopted, no secrets; rewritten
//!   atomically after every change so an interrupted run loses nothing;
//! - `secrets.json` (0600): the Worker's encryption key and the service token's client secret;
//!   a file with wider permissions is refused;
//! - `lock`: held (flock) for the whole run, so two runs cannot interleave;
//! - `.env.mcp` (0600, next to the state directory): what `bridge`, `verify-mcp` and MCP
//!   clients need to reach `/mcp` through Access.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::cmd::{exit, failure};
use crate::envfile::write_private;
use crate::secret::Secret;

pub const STATE_FILE: &str = "state.json";
pub const SECRETS_FILE: &str = "secrets.json";
pub const LOCK_FILE: &str = "lock";
pub const MCP_ENV_FILE: &str = ".env.mcp";
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct D1Ref {
    pub uuid: String,
    pub name: String,
    /// Migration files known to be applied remotely (a re-run skips the remote check).
    #[serde(default)]
    pub migrations_applied: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct R2Ref {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkerRef {
    pub name: String,
    #[serde(default)]
    pub migration_tag: Option<String>,
    #[serde(default)]
    pub content_hash: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub last_deployed_at: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DomainRef {
    pub id: String,
    pub hostname: String,
    pub zone_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessRefs {
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub aud: Option<String>,
    #[serde(default)]
    pub email_policy_id: Option<String>,
    #[serde(default)]
    pub token_policy_id: Option<String>,
    #[serde(default)]
    pub service_token_id: Option<String>,
    #[serde(default)]
    pub service_token_client_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outputs {
    pub url: String,
    pub mcp_url: String,
}

/// `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub version: u32,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub zone: Option<ZoneRef>,
    #[serde(default)]
    pub team_domain: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub allowed_emails: Vec<String>,
    #[serde(default)]
    pub d1: Option<D1Ref>,
    #[serde(default)]
    pub r2: Option<R2Ref>,
    #[serde(default)]
    pub worker: Option<WorkerRef>,
    #[serde(default)]
    pub custom_domain: Option<DomainRef>,
    #[serde(default)]
    pub access: AccessRefs,
    #[serde(default)]
    pub outputs: Option<Outputs>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            account_id: None,
            zone: None,
            team_domain: None,
            hostname: None,
            allowed_emails: Vec::new(),
            d1: None,
            r2: None,
            worker: None,
            custom_domain: None,
            access: AccessRefs::default(),
            outputs: None,
        }
    }
}

impl State {
    /// True when no remote resource is recorded any more.
    pub fn is_empty(&self) -> bool {
        self.d1.is_none()
            && self.r2.is_none()
            && self.worker.is_none()
            && self.custom_domain.is_none()
            && self.access == AccessRefs::default()
    }
}

/// `secrets.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_token_client_secret: Option<Secret>,
    /// The service token the client secret belongs to (not secret; binds the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_token_id: Option<String>,
}

impl Secrets {
    pub fn is_empty(&self) -> bool {
        self.encryption_key.is_none() && self.service_token_client_secret.is_none()
    }
}

/// The state directory and the files in and next to it.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    /// `.env.mcp`; by default next to the state directory.
    pub mcp_env: PathBuf,
}

impl Paths {
    pub fn new(dir: PathBuf, mcp_env: Option<PathBuf>) -> Self {
        let mcp_env = mcp_env.unwrap_or_else(|| {
            dir.parent()
                .map(|p| p.join(MCP_ENV_FILE))
                .unwrap_or_else(|| PathBuf::from(MCP_ENV_FILE))
        });
        Self { dir, mcp_env }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    pub fn secrets(&self) -> PathBuf {
        self.dir.join(SECRETS_FILE)
    }

    /// Creates the state directory, with a `.gitignore` that keeps it out of git.
    pub fn ensure_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n")
                .with_context(|| format!("writing {}", ignore.display()))?;
        }
        Ok(())
    }

    /// The recorded state, or an empty one.
    pub fn load_state(&self) -> Result<State> {
        let path = self.state();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let state: State = serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", path.display()))?;
                anyhow::ensure!(
                    state.version == STATE_VERSION,
                    "{} has version {}, this `provision` reads version {STATE_VERSION}",
                    path.display(),
                    state.version
                );
                Ok(state)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `state.json` atomically (temporary file + rename).
    pub fn save_state(&self, state: &State) -> Result<()> {
        self.ensure_dir()?;
        let path = self.state();
        let tmp = self.dir.join(format!(".{STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(state).context("serialising the state")?;
        std::fs::write(&tmp, format!("{text}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))
    }

    pub fn remove_state(&self) -> Result<()> {
        remove_if_present(&self.state())
    }

    /// The secrets file, refusing one that others can read.
    pub fn load_secrets(&self) -> Result<Secrets> {
        let path = self.secrets();
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Secrets::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(failure(
                exit::PRECONDITION,
                format!("{} is readable by others (mode {mode:o})", path.display()),
                Some(format!("run `chmod 600 {}`", path.display())),
            ));
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes the secrets file with mode 0600 (removes it when empty).
    pub fn save_secrets(&self, secrets: &Secrets) -> Result<()> {
        if secrets.is_empty() {
            return remove_if_present(&self.secrets());
        }
        self.ensure_dir()?;
        let text = serde_json::to_string_pretty(secrets).context("serialising the secrets")?;
        write_private(&self.secrets(), &format!("{text}\n"))
    }

    /// Takes the run lock; fails at once if another run holds it.
    pub fn lock(&self) -> Result<RunLock> {
        self.ensure_dir()?;
        let path = self.dir.join(LOCK_FILE);
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                failure(
                    exit::PRECONDITION,
                    format!("another `provision` run holds {}", path.display()),
                    Some("wait for it to finish".into()),
                )
            },
        )?;
        Ok(RunLock { _file: file })
    }
}

/// The held run lock (released when dropped).
pub struct RunLock {
    _file: File,
}

pub fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// The connection details an MCP client needs.
#[derive(Debug, Clone)]
pub struct McpCredentials {
    pub url: String,
    pub client_id: String,
    pub client_secret: Secret,
}

pub const ENV_MCP_URL: &str = "EXECUTOR_MCP_URL";
pub const ENV_CLIENT_ID: &str = "CF_ACCESS_CLIENT_ID";
pub const ENV_CLIENT_SECRET: &str = "CF_ACCESS_CLIENT_SECRET";

/// Writes `.env.mcp` (0600).
pub fn write_mcp_env(path: &Path, creds: &McpCredentials) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = format!(
        "# Written by `provision up`: how MCP clients reach the Worker through Cloudflare Access.\n\
         # Keep it private; `provision up --rotate-service-token` replaces the secret.\n\
         {ENV_MCP_URL}={}\n{ENV_CLIENT_ID}={}\n{ENV_CLIENT_SECRET}={}\n",
        creds.url,
        creds.client_id,
        creds.client_secret.expose()
    );
    write_private(path, &text)
}

/// Reads `.env.mcp`, letting the environment override each value.
pub fn read_mcp_env(path: &Path) -> Result<McpCredentials> {
    let file_vars: Vec<(String, String)> = match std::fs::read_to_string(path) {
        Ok(text) => crate::config::parse_dotenv(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let get = |key: &str| {
        std::env::var(key)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| {
                file_vars
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            })
            .filter(|v| !v.trim().is_empty())
    };
    let missing: Vec<&str> = [ENV_MCP_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET]
        .into_iter()
        .filter(|k| get(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(failure(
            exit::USAGE,
            format!(
                "missing {} (looked in the environment and {})",
                missing.join(", "),
                path.display()
            ),
            Some("run `provision up` (it writes `.env.mcp`), or `provision up --rotate-service-token` if the secret was lost".into()),
        ));
    }
    Ok(McpCredentials {
        url: get(ENV_MCP_URL).unwrap_or_default(),
        client_id: get(ENV_CLIENT_ID).unwrap_or_default(),
        client_secret: Secret::new(get(ENV_CLIENT_SECRET).unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("provision-state-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn state_round_trips_and_secrets_are_private() {
        let root = temp("roundtrip");
        let paths = Paths::new(root.join(".provision"), None);
        assert_eq!(paths.mcp_env, root.join(".env.mcp"));
        assert_eq!(paths.load_state().expect("empty"), State::default());
        let state = State {
            hostname: Some("a.example.com".into()),
            d1: Some(D1Ref {
                uuid: "u".into(),
                name: "executor".into(),
                migrations_applied: vec!["0001_init.sql".into()],
            }),
            ..State::default()
        };
        paths.save_state(&state).expect("save");
        assert_eq!(paths.load_state().expect("load"), state);
        assert!(paths.dir.join(".gitignore").is_file());

        let secrets = Secrets {
            encryption_key: Some(Secret::new("k".repeat(64))),
            service_token_client_secret: None,
            service_token_id: None,
        };
        paths.save_secrets(&secrets).expect("save secrets");
        let mode = std::fs::metadata(paths.secrets())
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(paths.load_secrets().expect("load"), secrets);
        std::fs::set_permissions(paths.secrets(), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let err = paths.load_secrets().expect_err("refused");
        assert!(format!("{err:#}").contains("readable by others"));
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn the_lock_is_exclusive() {
        let root = temp("lock");
        let paths = Paths::new(root.join("s"), None);
        let held = paths.lock().expect("first");
        assert!(paths.lock().is_err());
        drop(held);
        paths.lock().expect("again");
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn mcp_env_round_trips() {
        let root = temp("mcpenv");
        let path = root.join(".env.mcp");
        let creds = McpCredentials {
            url: "https://a.example.com/mcp".into(),
            client_id: "abc.access".into(),
            client_secret: Secret::new("s3cr3t-value"),
        };
        write_mcp_env(&path, &creds).expect("write");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = read_mcp_env(&path).expect("read");
        assert_eq!(back.url, creds.url);
        assert_eq!(back.client_id, creds.client_id);
        assert_eq!(back.client_secret, creds.client_secret);
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
