//! `provision up` and `provision plan`: stand the Worker up in a Cloudflare account, private
//! behind Cloudflare Access, and re-apply it idempotently.
//!
//! Every resource is "look up, then create only if missing": by the id in `state.json`,
//! else by name (or hostname), else created — and its id is saved at once, so an interrupted
//! run resumes. The order keeps the hostname private: D1, R2, the encryption key, the
//! service token, both Access policies, the Access application (its AUD goes into the
//! Worker's vars), then the Worker, then workers.dev/preview URLs off, and the custom domain
//! last — the hostname only starts serving when Access already guards it.
//!
//! `plan` runs the same lookups (GETs only) and prints what `up` would do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::api::{self, AccessApp, Policy, ScriptInfo};
use crate::assets::{self, Assets};
use crate::cf::{ApiError, Client};
use crate::cmd::{exit, failure};
use crate::config::{self, FlagInputs, Inputs, Need, Remembered, Sources};
use crate::report::{Action, Reporter};
use crate::script::{self, KeyBinding, Settings, SECRET_KEY_NAME};
use crate::secret::Secret;
use crate::state::{
    self, D1Ref, DomainRef, McpCredentials, Outputs, Paths, R2Ref, Secrets, State, WorkerRef,
    ZoneRef,
};
use crate::wrangler::WorkerSpec;

/// Options shared by `up`, `plan`, `destroy` and `status`.
#[derive(Debug, Clone, Default)]
pub struct CommonOptions {
    pub flags: FlagInputs,
    /// The `.env` file read for inputs.
    pub env_file: PathBuf,
    pub state_dir: PathBuf,
    /// `.env.mcp`; default next to the state directory.
    pub mcp_env: Option<PathBuf>,
    pub json: bool,
    pub verbose: bool,
    pub yes: bool,
}

/// Options of `up` and `plan`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    pub common: CommonOptions,
    /// The Worker build directory; default: the directory of wrangler.toml's `main`.
    pub worker_dir: Option<PathBuf>,
    /// The entry module, relative to the build directory; default: `main`'s file name.
    pub main_module: Option<String>,
    /// Default: wrangler.toml `[assets] directory`.
    pub assets_dir: Option<PathBuf>,
    /// Default: wrangler.toml's D1 `migrations_dir`.
    pub migrations_dir: Option<PathBuf>,
    pub no_migrations: bool,
    /// Do not build the Worker when the build is stale.
    pub no_build: bool,
    pub takeover_domain: bool,
    pub rotate_service_token: bool,
    pub force_deploy: bool,
}

/// Name of the Access service token of agents.
pub fn service_token_name(worker: &str) -> String {
    format!("{worker}-agent")
}

fn display_name(worker: &str) -> String {
    if worker == "executor" {
        "Executor".to_string()
    } else {
        worker.to_string()
    }
}

/// Name of the reusable Access policy that lets the allowed people in.
pub fn email_policy_name(worker: &str) -> String {
    format!("{} — allowed emails", display_name(worker))
}

/// Name of the reusable Access policy that lets the agent's service token in.
pub fn agent_policy_name(worker: &str) -> String {
    format!("{} — agent service token", display_name(worker))
}

/// Name of the Access application.
pub fn app_name(worker: &str) -> String {
    display_name(worker)
}

const NEW: &str = "(new)";

/// Everything a deployment command knows after the read-only preliminaries.
pub struct Session {
    pub root: PathBuf,
    pub spec: WorkerSpec,
    pub paths: Paths,
    pub state: State,
    pub secrets: Secrets,
    pub inputs: Inputs,
    pub client: Client,
    pub account: String,
    pub report: Reporter,
    /// `plan`: no mutating call, no local writes.
    pub dry: bool,
}

impl Session {
    /// Loads wrangler.toml, the local files and the inputs; builds the API client.
    pub fn open(common: &CommonOptions, need: Need, dry: bool) -> Result<Self> {
        let root = crate::project_root()?;
        let spec = WorkerSpec::load(&root)?;
        let paths = Paths::new(common.state_dir.clone(), common.mcp_env.clone());
        let state = paths.load_state()?;
        let secrets = paths.load_secrets()?;
        let sources = Sources::from_process(&common.env_file)?;
        let remembered = Remembered {
            hostname: state.hostname.clone(),
            allowed_emails: state.allowed_emails.clone(),
            team_domain: state.team_domain.clone(),
            account_id: state.account_id.clone(),
        };
        let inputs = config::resolve(&common.flags, &sources, &remembered, need)
            .map_err(|e| failure(exit::USAGE, e.to_string(), Some(config::INPUT_HINT.into())))?;
        let client = Client::new(&inputs.api_base, inputs.api_token.clone(), common.verbose)?;
        for secret in [
            &secrets.encryption_key,
            &secrets.service_token_client_secret,
        ]
        .into_iter()
        .flatten()
        {
            client.remember_secret(secret);
        }
        Ok(Self {
            root,
            spec,
            paths,
            state,
            secrets,
            inputs,
            client,
            account: String::new(),
            report: Reporter::new(common.json),
            dry,
        })
    }

    /// Saves `state.json` (not in `plan`).
    pub fn save(&self) -> Result<()> {
        if self.dry {
            return Ok(());
        }
        self.paths.save_state(&self.state)
    }

    fn save_secrets(&self) -> Result<()> {
        if self.dry {
            return Ok(());
        }
        self.paths.save_secrets(&self.secrets)
    }

    /// Verifies the API token and picks the account.
    pub async fn connect(&mut self) -> Result<()> {
        let c = &self.client;
        let status = match api::verify_user_token(c).await {
            Ok(status) => status,
            Err(user_err) => match &self.inputs.account_id {
                Some(account) => api::verify_account_token(c, account)
                    .await
                    .map_err(|_| user_err)?,
                None => {
                    return Err(anyhow::Error::new(user_err).context(
                        "the API token was not accepted (for an account-owned token, also set CLOUDFLARE_ACCOUNT_ID)",
                    ))
                }
            },
        };
        if status.status != "active" {
            return Err(failure(
                exit::PRECONDITION,
                format!("the API token is `{}`, not active", status.status),
                Some(
                    "create a new token (README \"Deploy to Cloudflare\" lists the permissions)"
                        .into(),
                ),
            ));
        }
        self.account = match &self.inputs.account_id {
            Some(id) => id.clone(),
            None => {
                let accounts = api::list_accounts(c).await?;
                match accounts.as_slice() {
                    [one] => one.id.clone(),
                    [] => {
                        return Err(failure(
                            exit::PRECONDITION,
                            "the API token cannot see any account",
                            Some("give the token access to your account".into()),
                        ))
                    }
                    many => {
                        let list: Vec<String> = many
                            .iter()
                            .map(|a| format!("  {}  {}", a.id, a.name))
                            .collect();
                        return Err(failure(
                            exit::USAGE,
                            format!(
                                "the API token sees {} accounts; choose one:\n{}",
                                many.len(),
                                list.join("\n")
                            ),
                            Some("pass `--account-id ID` or set CLOUDFLARE_ACCOUNT_ID".into()),
                        ));
                    }
                }
            }
        };
        if self.state.account_id.as_deref() != Some(self.account.as_str()) {
            if let Some(old) = &self.state.account_id {
                if !self.state.is_empty() {
                    return Err(failure(
                        exit::PRECONDITION,
                        format!(
                            "{} records a deployment in account `{old}`, not `{}`",
                            self.paths.state().display(),
                            self.account
                        ),
                        Some("use another `--state-dir`, or `provision destroy` the old deployment first".into()),
                    ));
                }
            }
            self.state.account_id = Some(self.account.clone());
        }
        Ok(())
    }

    /// The zone that contains the hostname: the longest suffix that is a zone.
    pub async fn resolve_zone(&mut self) -> Result<ZoneRef> {
        let host = self.inputs.hostname.clone();
        let labels: Vec<&str> = host.split('.').collect();
        for start in 0..labels.len().saturating_sub(1) {
            let suffix = labels[start..].join(".");
            let zones = api::find_zones(&self.client, &self.account, &suffix).await?;
            let mut matching: Vec<_> = zones.into_iter().filter(|z| z.name == suffix).collect();
            matching.sort_by_key(|z| z.status != "active");
            if let Some(zone) = matching.into_iter().next() {
                if zone.status != "active" {
                    self.report.warn(format!(
                        "zone `{}` is `{}`, not active yet; the custom domain works once it is",
                        zone.name, zone.status
                    ));
                }
                let zone = ZoneRef {
                    id: zone.id,
                    name: zone.name,
                };
                self.state.zone = Some(zone.clone());
                return Ok(zone);
            }
        }
        Err(failure(
            exit::PRECONDITION,
            format!("`{host}` is not in a zone of this account"),
            Some("add the domain to the account (Websites → Add a domain) or pick a hostname under one of its zones".into()),
        ))
    }

    /// The Access team domain, read from the account's Access organization (and compared
    /// with the one given, if any).
    pub async fn resolve_team_domain(&mut self) -> Result<String> {
        let org = api::access_organization(&self.client, &self.account).await?;
        let Some(auth_domain) = org
            .and_then(|o| o.auth_domain)
            .filter(|d| !d.trim().is_empty())
        else {
            return Err(failure(
                exit::PRECONDITION,
                "Zero Trust (Access) is not set up on this account",
                Some("open Zero Trust in the dashboard once and choose a team name, then run `provision up` again".into()),
            ));
        };
        let actual = config::check_team_domain(&auth_domain).unwrap_or(auth_domain);
        if let Some(given) = &self.inputs.team_domain {
            if given != &actual {
                return Err(failure(
                    exit::USAGE,
                    format!("ACCESS_TEAM_DOMAIN `{given}` is not this account's Access team domain `{actual}`"),
                    Some("drop ACCESS_TEAM_DOMAIN (it is read from the account) or fix it".into()),
                ));
            }
        }
        self.state.team_domain = Some(actual.clone());
        Ok(actual)
    }
}

/// The local artifacts of the Worker, read before any API call.
struct Local {
    modules: Vec<script::Module>,
    main_module: String,
    assets: Option<Assets>,
    migrations: Vec<(String, String)>,
}

fn read_local(session: &Session, opts: &UpOptions) -> Result<Local> {
    let root = &session.root;
    let spec = &session.spec;
    let explicit_dir = opts.worker_dir.is_some();
    let worker_dir = opts
        .worker_dir
        .clone()
        .unwrap_or_else(|| root.join(spec.main.parent().unwrap_or_else(|| Path::new("."))));
    let main_module = opts.main_module.clone().unwrap_or_else(|| {
        spec.main
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "index.js".into())
    });
    if !explicit_dir && !opts.no_build && !session.dry && !crate::local::build_is_fresh(root) {
        eprintln!("building the Worker (`sh scripts/build.sh`)");
        crate::local::run_build(root, true, false)?;
    }
    let modules = script::read_modules(&worker_dir, &main_module)?;
    let assets_dir = opts
        .assets_dir
        .clone()
        .or_else(|| spec.assets.as_ref().map(|a| root.join(&a.directory)));
    let assets = assets_dir.map(|d| Assets::read(&d)).transpose()?;
    let mut migrations = Vec::new();
    if !opts.no_migrations {
        let dir = opts
            .migrations_dir
            .clone()
            .or_else(|| spec.d1.migrations_dir.as_ref().map(|d| root.join(d)));
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("listing {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            files.sort();
            for file in files {
                let sql = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
                    .replace("\r\n", "\n");
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                migrations.push((name, sql));
            }
        }
    }
    Ok(Local {
        modules,
        main_module,
        assets,
        migrations,
    })
}

/// The assets config of the script metadata.
fn assets_config(spec: &WorkerSpec, assets: &Assets) -> Value {
    let mut config = serde_json::Map::new();
    if let Some(a) = &spec.assets {
        if let Some(v) = &a.not_found_handling {
            config.insert("not_found_handling".into(), json!(v));
        }
        if let Some(v) = &a.html_handling {
            config.insert("html_handling".into(), json!(v));
        }
        if let Some(v) = &a.run_worker_first {
            config.insert("run_worker_first".into(), v.clone());
        }
    }
    if let Some(h) = &assets.headers {
        config.insert("_headers".into(), json!(h));
    }
    if let Some(r) = &assets.redirects {
        config.insert("_redirects".into(), json!(r));
    }
    Value::Object(config)
}

fn sql_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)";

/// Sorted JSON texts, to compare rule lists regardless of order.
fn canonical(rules: &[Value]) -> Vec<String> {
    let mut list: Vec<String> = rules.iter().map(Value::to_string).collect();
    list.sort();
    list
}

/// Retries an Access create/update while Cloudflare has not propagated a just-created policy
/// (HTTP 400 "… not found") or throttles (HTTP 403), for about a minute.
async fn retry_access<T, F, Fut>(f: F) -> std::result::Result<T, ApiError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, ApiError>>,
{
    let base = std::env::var(crate::cf::RETRY_BASE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(1));
    let mut waited = Duration::ZERO;
    let mut delay = base;
    loop {
        match f().await {
            Err(e)
                if (e.status == 403 || (e.status == 400 && e.mentions("not found")))
                    && waited < base * 60 =>
            {
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(base * 10);
            }
            other => return other,
        }
    }
}

/// What the preliminary lookups found.
struct Observed {
    script: Option<ScriptInfo>,
    domains: Vec<api::CustomDomain>,
    app: Option<AccessApp>,
    migration: Option<Value>,
}

/// `provision up` (`dry == false`) and `provision plan` (`dry == true`).
pub async fn up(opts: &UpOptions, dry: bool) -> Result<()> {
    let mut session = Session::open(&opts.common, Need::Deploy, dry)?;
    let command = if dry { "plan" } else { "up" };
    let _lock = if dry {
        None
    } else {
        Some(session.paths.lock()?)
    };
    let result = run_up(&mut session, opts).await;
    let outputs = outputs_json(&session);
    match result {
        Ok(()) => {
            if session.report.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &session.report.document(command, true, outputs, None)
                    )
                    .context("serialising the summary")?
                );
            } else if !dry {
                print_summary(&session);
            }
            Ok(())
        }
        Err(err) => {
            if session.report.json {
                let message = format!("{err:#}");
                println!(
                    "{}",
                    serde_json::to_string_pretty(&session.report.document(
                        command,
                        false,
                        outputs,
                        Some(message)
                    ))
                    .context("serialising the summary")?
                );
            }
            Err(err)
        }
    }
}

fn outputs_json(s: &Session) -> Value {
    let host = &s.inputs.hostname;
    let mut out = json!({
        "url": format!("https://{host}"),
        "mcp_url": format!("https://{host}/mcp"),
        "state_file": s.paths.state().display().to_string(),
    });
    if let Some(team) = &s.state.team_domain {
        out["team_domain"] = json!(team);
        out["access_certs"] = json!(format!("https://{team}/cdn-cgi/access/certs"));
    }
    if let Some(aud) = &s.state.access.aud {
        out["access_aud"] = json!(aud);
    }
    if let Some(id) = &s.state.access.service_token_client_id {
        out["agent_client_id"] = json!(id);
    }
    if s.secrets.service_token_client_secret.is_some() {
        out["agent_credentials_file"] = json!(s.paths.mcp_env.display().to_string());
    }
    out
}

fn print_summary(s: &Session) {
    let host = &s.inputs.hostname;
    println!("App URL            https://{host}");
    println!("MCP URL            https://{host}/mcp");
    if let Some(team) = &s.state.team_domain {
        println!("Access team domain {team}");
        println!("Access certs       https://{team}/cdn-cgi/access/certs");
    }
    if let Some(aud) = &s.state.access.aud {
        println!("Access AUD         {aud}");
    }
    if let Some(id) = &s.state.access.service_token_client_id {
        println!("Agent client id    {id}");
    }
    if s.secrets.service_token_client_secret.is_some() {
        println!(
            "Agent credentials  written to {} (client secret: keep it private)",
            s.paths.mcp_env.display()
        );
    }
    println!("The first HTTPS requests can fail for a few minutes while the edge certificate is issued; then run `provision verify`.");
}

async fn run_up(s: &mut Session, opts: &UpOptions) -> Result<()> {
    let host = s.inputs.hostname.clone();
    if let Some(old) = &s.state.hostname {
        if old != &host && !s.state.is_empty() && !s.dry {
            return Err(failure(
                exit::PRECONDITION,
                format!(
                    "{} records the deployment of `{old}`, not `{host}`",
                    s.paths.state().display()
                ),
                Some("use another `--state-dir` for a second deployment, or `provision destroy` the old one first".into()),
            ));
        }
    }
    // Local artifacts first: a missing build fails before any API call.
    let local = read_local(s, opts)?;

    s.connect().await?;
    let zone = s.resolve_zone().await?;
    let team_domain = s.resolve_team_domain().await?;
    s.state.hostname = Some(host.clone());
    s.state.allowed_emails = s.inputs.allowed_emails.clone();
    s.save()?;

    let observed = preflight(s, opts).await?;

    let d1 = ensure_d1(s).await?;
    apply_migrations(s, d1.as_deref(), &local.migrations).await?;
    ensure_r2(s).await?;
    let key = ensure_key(s, observed.script.as_ref()).await?;
    let token_id = ensure_service_token(s, opts).await?;
    let email_policy = ensure_email_policy(s).await?;
    let agent_policy = ensure_agent_policy(s, &token_id).await?;
    let aud = ensure_app(s, observed.app, &email_policy, &agent_policy).await?;
    let deployed = ensure_worker(
        s,
        opts,
        local,
        &observed.script,
        observed.migration,
        &WorkerInputs {
            team_domain: &team_domain,
            aud: &aud,
            d1_uuid: d1.as_deref().unwrap_or(NEW),
            key,
        },
    )
    .await?;
    ensure_subdomain_off(s, deployed).await?;
    ensure_custom_domain(s, &zone, &observed.domains, opts).await?;
    write_mcp_env(s)?;
    s.state.outputs = Some(Outputs {
        url: format!("https://{host}"),
        mcp_url: format!("https://{host}/mcp"),
    });
    s.save()?;
    Ok(())
}

/// Read-only checks that must pass before anything is created.
async fn preflight(s: &mut Session, opts: &UpOptions) -> Result<Observed> {
    let name = s.spec.name.clone();
    let host = s.inputs.hostname.clone();
    let domains = api::domains_for_host(&s.client, &s.account, &host).await?;
    if let Some(other) = domains.iter().find(|d| d.service != name) {
        if !(opts.takeover_domain && opts.common.yes) {
            return Err(failure(
                exit::PRECONDITION,
                format!(
                    "`{host}` is already the custom domain of Worker `{}`",
                    other.service
                ),
                Some("pick another hostname, or move it with `--takeover-domain --yes`".into()),
            ));
        }
    }
    let script = api::script_find(&s.client, &s.account, &name).await?;
    let migration = script::migration_for(
        &s.spec.migrations,
        script.as_ref().and_then(|x| x.migration_tag.as_deref()),
    )
    .map_err(|e| {
        failure(
            exit::PRECONDITION,
            e,
            Some("add the missing `[[migrations]]` entries to wrangler.toml; `provision` never guesses a migration".into()),
        )
    })?;
    let mut app = None;
    if let Some(id) = s.state.access.app_id.clone() {
        app = api::app_get(&s.client, &s.account, &id)
            .await?
            .filter(|a| a.domain == host);
    }
    if app.is_none() {
        let found = api::apps_for_domain(&s.client, &s.account, &host).await?;
        let wanted = app_name(&name);
        if let Some(ours) = found.iter().find(|a| a.name == wanted) {
            app = Some(ours.clone());
        } else if let Some(other) = found.first() {
            if !opts.common.yes {
                return Err(failure(
                    exit::PRECONDITION,
                    format!(
                        "`{host}` is already protected by the Access application `{}`",
                        other.name
                    ),
                    Some(
                        "pass `--yes` to adopt that application (its policies are replaced)".into(),
                    ),
                ));
            }
            app = Some(other.clone());
        }
    }
    Ok(Observed {
        script,
        domains,
        app,
        migration,
    })
}

async fn ensure_d1(s: &mut Session) -> Result<Option<String>> {
    let name = s.spec.d1.database_name.clone();
    let resource = format!("D1 database `{name}`");
    let mut found = None;
    let mut how = None;
    if let Some(d1) = s.state.d1.clone() {
        found = api::d1_get(&s.client, &s.account, &d1.uuid).await?;
    }
    if found.is_none() {
        found = api::d1_find(&s.client, &s.account, &name).await?;
        how = found.as_ref().map(|_| "found by name".to_string());
    }
    let db = match found {
        Some(db) => {
            s.report
                .step(&resource, Action::Unchanged, Some(&db.uuid), how);
            db
        }
        None if s.dry => {
            s.report.step(&resource, Action::WouldCreate, None, None);
            return Ok(None);
        }
        None => match api::d1_create(&s.client, &s.account, &name).await {
            Ok(db) => {
                s.report
                    .step(&resource, Action::Created, Some(&db.uuid), None);
                db
            }
            Err(e) if e.has_code(7502) => {
                let db = api::d1_find(&s.client, &s.account, &name).await?.ok_or(e)?;
                s.report.step(
                    &resource,
                    Action::Unchanged,
                    Some(&db.uuid),
                    Some("created concurrently; adopted".into()),
                );
                db
            }
            Err(e) => return Err(e.into()),
        },
    };
    let migrations_applied = s
        .state
        .d1
        .as_ref()
        .filter(|d| d.uuid == db.uuid)
        .map(|d| d.migrations_applied.clone())
        .unwrap_or_default();
    s.state.d1 = Some(D1Ref {
        uuid: db.uuid.clone(),
        name: db.name,
        migrations_applied,
    });
    s.save()?;
    Ok(Some(db.uuid))
}

async fn apply_migrations(
    s: &mut Session,
    uuid: Option<&str>,
    files: &[(String, String)],
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let resource = "D1 migrations";
    let Some(uuid) = uuid else {
        s.report.step(
            resource,
            Action::WouldCreate,
            None,
            Some(format!("apply {} file(s)", files.len())),
        );
        return Ok(());
    };
    let recorded: Vec<String> = s
        .state
        .d1
        .as_ref()
        .map(|d| d.migrations_applied.clone())
        .unwrap_or_default();
    if files.iter().all(|(name, _)| recorded.contains(name)) {
        s.report.step(
            resource,
            Action::Unchanged,
            None,
            Some(format!("{} applied", files.len())),
        );
        return Ok(());
    }
    if s.dry {
        // Reading the applied list takes a POST to the query endpoint; `plan` makes none.
        s.report.step(
            resource,
            Action::WouldUpdate,
            None,
            Some(format!(
                "apply whichever of {} file(s) are pending",
                files.len()
            )),
        );
        return Ok(());
    }
    let results = api::d1_query(
        &s.client,
        &s.account,
        uuid,
        &format!("{MIGRATIONS_TABLE};\nSELECT name FROM d1_migrations ORDER BY id;"),
        "the migrations table query",
    )
    .await?;
    let applied: Vec<String> = results
        .last()
        .map(|r| {
            r.results
                .iter()
                .filter_map(|row| row.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut done: Vec<String> = files
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| applied.contains(n))
        .collect();
    let mut newly = Vec::new();
    for (name, sql) in files {
        if applied.contains(name) {
            continue;
        }
        let statement = format!(
            "{}\nINSERT INTO d1_migrations (name) VALUES ({});",
            sql.trim_end(),
            sql_quote(name)
        );
        api::d1_query(
            &s.client,
            &s.account,
            uuid,
            &statement,
            &format!("migration `{name}`"),
        )
        .await?;
        newly.push(name.clone());
        done.push(name.clone());
        if let Some(d1) = s.state.d1.as_mut() {
            d1.migrations_applied = done.clone();
        }
        s.save()?;
    }
    if let Some(d1) = s.state.d1.as_mut() {
        d1.migrations_applied = done;
    }
    s.save()?;
    if newly.is_empty() {
        s.report.step(
            resource,
            Action::Unchanged,
            None,
            Some(format!("{} applied", applied.len())),
        );
    } else {
        s.report.step(
            resource,
            Action::Updated,
            None,
            Some(format!("applied {}", newly.join(", "))),
        );
    }
    Ok(())
}

async fn ensure_r2(s: &mut Session) -> Result<()> {
    let name = s.spec.r2.bucket_name.clone();
    let resource = format!("R2 bucket `{name}`");
    if api::r2_get(&s.client, &s.account, &name).await?.is_some() {
        s.report.step(&resource, Action::Unchanged, None, None);
    } else if s.dry {
        s.report.step(&resource, Action::WouldCreate, None, None);
        return Ok(());
    } else {
        match api::r2_create(&s.client, &s.account, &name).await {
            Ok(()) => s.report.step(&resource, Action::Created, None, None),
            // Created between the lookup and the create: it exists, which is all we need.
            Err(e) if e.status == 409 || e.mentions("already exists") => {
                s.report
                    .step(&resource, Action::Unchanged, None, Some("adopted".into()))
            }
            Err(e) => return Err(e.into()),
        }
    }
    s.state.r2 = Some(R2Ref { name });
    s.save()
}

async fn ensure_key(s: &mut Session, script: Option<&ScriptInfo>) -> Result<KeyBinding> {
    let resource = format!("Worker secret `{SECRET_KEY_NAME}`");
    if let Some(key) = &s.secrets.encryption_key {
        s.report.step(
            &resource,
            Action::Unchanged,
            None,
            Some(format!("held in {}", s.paths.secrets().display())),
        );
        return Ok(KeyBinding::Text(key.clone()));
    }
    if let Some(script) = script {
        let secrets = api::script_secrets(&s.client, &s.account, &script.id).await?;
        if secrets.iter().any(|x| x.name == SECRET_KEY_NAME) {
            s.report.warn(format!(
                "the deployed Worker has `{SECRET_KEY_NAME}` but {} does not; keeping the deployed key (never regenerated: stored credentials would become unreadable)",
                s.paths.secrets().display()
            ));
            s.report.step(
                &resource,
                Action::Unchanged,
                None,
                Some("kept from the deployed Worker".into()),
            );
            return Ok(KeyBinding::Inherit);
        }
    }
    if s.dry {
        s.report.step(&resource, Action::WouldCreate, None, None);
        return Ok(KeyBinding::Text(Secret::new("0".repeat(64))));
    }
    let key = Secret::new(crate::envfile::random_hex32()?);
    s.client.remember_secret(&key);
    s.secrets.encryption_key = Some(key.clone());
    s.save_secrets()?;
    s.report.step(
        &resource,
        Action::Created,
        None,
        Some(format!("written to {}", s.paths.secrets().display())),
    );
    Ok(KeyBinding::Text(key))
}

async fn ensure_service_token(s: &mut Session, opts: &UpOptions) -> Result<String> {
    let name = service_token_name(&s.spec.name);
    let resource = format!("Access service token `{name}`");
    let mut found = None;
    let mut how = None;
    if let Some(id) = s.state.access.service_token_id.clone() {
        found = api::service_token_get(&s.client, &s.account, &id).await?;
    }
    if found.is_none() {
        found = api::service_token_find(&s.client, &s.account, &name).await?;
        how = found.as_ref().map(|_| "found by name".to_string());
    }
    let token = match found {
        None if s.dry => {
            s.report.step(&resource, Action::WouldCreate, None, None);
            return Ok(NEW.to_string());
        }
        None => {
            let (token, secret) = api::service_token_create(&s.client, &s.account, &name).await?;
            s.secrets.service_token_client_secret = Some(secret);
            s.secrets.service_token_id = Some(token.id.clone());
            s.save_secrets()?;
            s.report
                .step(&resource, Action::Created, Some(&token.client_id), None);
            token
        }
        Some(token) => {
            let owner = s.secrets.service_token_id.as_deref().or(s
                .state
                .access
                .service_token_id
                .as_deref());
            let held =
                s.secrets.service_token_client_secret.is_some() && owner == Some(token.id.as_str());
            if opts.rotate_service_token {
                if s.dry {
                    s.report.step(
                        &resource,
                        Action::WouldUpdate,
                        Some(&token.client_id),
                        Some("rotate the client secret".into()),
                    );
                } else {
                    let secret =
                        api::service_token_rotate(&s.client, &s.account, &token.id).await?;
                    s.secrets.service_token_client_secret = Some(secret);
                    s.secrets.service_token_id = Some(token.id.clone());
                    s.save_secrets()?;
                    s.report.step(
                        &resource,
                        Action::Updated,
                        Some(&token.client_id),
                        Some("client secret rotated".into()),
                    );
                }
            } else {
                if !held {
                    s.report.warn(format!(
                        "the client secret of `{name}` is not held locally, so `.env.mcp` cannot be written; run `provision up --rotate-service-token` to issue a new one"
                    ));
                    if s.secrets.service_token_client_secret.is_some() && !s.dry {
                        // A secret of another token must not be written as this one's.
                        s.secrets.service_token_client_secret = None;
                        s.secrets.service_token_id = None;
                        s.save_secrets()?;
                    }
                }
                if held && s.secrets.service_token_id.is_none() && !s.dry {
                    s.secrets.service_token_id = Some(token.id.clone());
                    s.save_secrets()?;
                }
                s.report
                    .step(&resource, Action::Unchanged, Some(&token.client_id), how);
            }
            token
        }
    };
    s.state.access.service_token_id = Some(token.id.clone());
    s.state.access.service_token_client_id = Some(token.client_id.clone());
    s.save()?;
    Ok(token.id)
}

async fn ensure_policy(
    s: &mut Session,
    name: &str,
    decision: &str,
    include: Vec<Value>,
    recorded: Option<String>,
) -> Result<String> {
    let resource = format!("Access policy `{name}`");
    let body = api::policy_body(name, decision, &include);
    let mut found: Option<Policy> = None;
    let mut how = None;
    if let Some(id) = recorded {
        found = api::policy_get(&s.client, &s.account, &id).await?;
    }
    if found.is_none() {
        found = api::policy_find(&s.client, &s.account, name).await?;
        how = found.as_ref().map(|_| "found by name".to_string());
    }
    match found {
        None if s.dry => {
            s.report.step(&resource, Action::WouldCreate, None, None);
            Ok(NEW.to_string())
        }
        None => {
            let created = api::policy_create(&s.client, &s.account, &body).await?;
            s.report
                .step(&resource, Action::Created, Some(&created.id), None);
            Ok(created.id)
        }
        Some(p) if p.decision == decision && canonical(&p.include) == canonical(&include) => {
            s.report
                .step(&resource, Action::Unchanged, Some(&p.id), how);
            Ok(p.id)
        }
        Some(p) if s.dry => {
            s.report
                .step(&resource, Action::WouldUpdate, Some(&p.id), None);
            Ok(p.id)
        }
        Some(p) => {
            let updated = api::policy_update(&s.client, &s.account, &p.id, &body).await?;
            s.report.step(
                &resource,
                Action::Updated,
                Some(&updated.id),
                Some("decision or rules differed".into()),
            );
            Ok(updated.id)
        }
    }
}

async fn ensure_email_policy(s: &mut Session) -> Result<String> {
    let include: Vec<Value> = s
        .inputs
        .allowed_emails
        .iter()
        .map(|e| json!({ "email": { "email": e } }))
        .collect();
    let name = email_policy_name(&s.spec.name);
    let recorded = s.state.access.email_policy_id.clone();
    let id = ensure_policy(s, &name, "allow", include, recorded).await?;
    if id != NEW {
        s.state.access.email_policy_id = Some(id.clone());
        s.save()?;
    }
    Ok(id)
}

async fn ensure_agent_policy(s: &mut Session, token_id: &str) -> Result<String> {
    let include = vec![json!({ "service_token": { "token_id": token_id } })];
    let name = agent_policy_name(&s.spec.name);
    let recorded = s.state.access.token_policy_id.clone();
    let id = ensure_policy(s, &name, "non_identity", include, recorded).await?;
    if id != NEW {
        s.state.access.token_policy_id = Some(id.clone());
        s.save()?;
    }
    Ok(id)
}

async fn ensure_app(
    s: &mut Session,
    existing: Option<AccessApp>,
    email_policy: &str,
    agent_policy: &str,
) -> Result<String> {
    let host = s.inputs.hostname.clone();
    let name = app_name(&s.spec.name);
    let resource = format!("Access application `{name}` on `{host}`");
    let body = json!({
        "type": "self_hosted",
        "name": name,
        "domain": host,
        "session_duration": "24h",
        "app_launcher_visible": false,
        "policies": [
            { "id": email_policy, "precedence": 1 },
            { "id": agent_policy, "precedence": 2 },
        ],
    });
    let app = match existing {
        None if s.dry => {
            s.report.step(&resource, Action::WouldCreate, None, None);
            return Ok(NEW.to_string());
        }
        None => {
            let created = retry_access(|| api::app_create(&s.client, &s.account, &body)).await?;
            s.report
                .step(&resource, Action::Created, Some(&created.id), None);
            created
        }
        Some(app) => {
            let ids: Vec<&str> = app.policies.iter().map(|p| p.id.as_str()).collect();
            let same = app.name == name
                && app.domain == host
                && app.kind == "self_hosted"
                && ids == [email_policy, agent_policy];
            if same {
                s.report
                    .step(&resource, Action::Unchanged, Some(&app.id), None);
                app
            } else if s.dry {
                s.report
                    .step(&resource, Action::WouldUpdate, Some(&app.id), None);
                app
            } else {
                let updated =
                    retry_access(|| api::app_update(&s.client, &s.account, &app.id, &body)).await?;
                s.report.step(
                    &resource,
                    Action::Updated,
                    Some(&updated.id),
                    Some("name, domain or policies differed".into()),
                );
                updated
            }
        }
    };
    if !app.aud.is_empty() {
        s.state.access.app_id = Some(app.id.clone());
        s.state.access.aud = Some(app.aud.clone());
        s.save()?;
    } else if !s.dry {
        return Err(failure(
            exit::API,
            format!("the Access application `{}` has no AUD tag", app.id),
            None,
        ));
    }
    Ok(app.aud)
}

struct WorkerInputs<'a> {
    team_domain: &'a str,
    aud: &'a str,
    d1_uuid: &'a str,
    key: KeyBinding,
}

/// Uploads the Worker when it changed; returns whether the script exists now.
async fn ensure_worker(
    s: &mut Session,
    opts: &UpOptions,
    local: Local,
    remote: &Option<ScriptInfo>,
    migration: Option<Value>,
    w: &WorkerInputs<'_>,
) -> Result<bool> {
    let name = s.spec.name.clone();
    let resource = format!("Worker `{name}`");
    let manifest = local
        .assets
        .as_ref()
        .map(Assets::manifest)
        .unwrap_or(Value::Null);
    let settings = Settings {
        spec: &s.spec,
        hostname: &s.inputs.hostname,
        team_domain: w.team_domain,
        aud: w.aud,
        admin_emails: &s.inputs.allowed_emails,
        d1_uuid: w.d1_uuid,
        assets_config: local.assets.as_ref().map(|a| assets_config(&s.spec, a)),
        migration: migration.clone(),
    };
    let upload = script::prepare(
        &settings,
        local.modules,
        &local.main_module,
        w.key.clone(),
        &manifest,
    );
    let recorded = s.state.worker.clone().unwrap_or_default();
    let unchanged = remote.as_ref().is_some_and(|r| {
        migration.is_none()
            && recorded.content_hash.as_deref() == Some(upload.content_hash.as_str())
            && (recorded.etag.is_none() || r.etag.is_none() || recorded.etag == r.etag)
    });
    if unchanged && !opts.force_deploy {
        s.report.step(&resource, Action::Unchanged, None, None);
        return Ok(true);
    }
    let action = if remote.is_some() {
        Action::Updated
    } else {
        Action::Created
    };
    if s.dry {
        let action = if remote.is_some() {
            Action::WouldUpdate
        } else {
            Action::WouldCreate
        };
        s.report.step(&resource, action, None, None);
        return Ok(remote.is_some());
    }
    let mut uploaded_files = 0;
    let jwt = match &local.assets {
        Some(assets) => {
            let done = assets::upload(&s.client, &s.account, &name, assets).await?;
            uploaded_files = done.files_uploaded;
            Some(done.completion_jwt)
        }
        None => None,
    };
    let info = api::script_upload(
        &s.client,
        &s.account,
        &name,
        upload.inherits(),
        upload.form_builder(jwt.as_ref()),
    )
    .await?;
    s.state.worker = Some(WorkerRef {
        name: name.clone(),
        migration_tag: s.spec.latest_migration_tag().map(str::to_string),
        content_hash: Some(upload.content_hash.clone()),
        etag: info.etag.clone(),
        last_deployed_at: Some(now_rfc3339()),
    });
    s.save()?;
    let mut detail = format!("{} module(s)", upload.modules.len());
    if local.assets.is_some() {
        detail.push_str(&format!(", {uploaded_files} asset(s) uploaded"));
    }
    if migration.is_some() {
        detail.push_str(", Durable Object migration applied");
    }
    s.report.step(&resource, action, None, Some(detail));
    Ok(true)
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

async fn ensure_subdomain_off(s: &mut Session, exists: bool) -> Result<()> {
    let name = s.spec.name.clone();
    let resource = format!("workers.dev and preview URLs of `{name}`");
    if !exists {
        s.report.step(
            &resource,
            Action::WouldUpdate,
            None,
            Some("turn off".into()),
        );
        return Ok(());
    }
    let current = api::subdomain_get(&s.client, &s.account, &name).await?;
    if !current.enabled && !current.previews_enabled {
        s.report
            .step(&resource, Action::Unchanged, None, Some("off".into()));
    } else if s.dry {
        s.report.step(
            &resource,
            Action::WouldUpdate,
            None,
            Some("turn off".into()),
        );
    } else {
        api::subdomain_disable(&s.client, &s.account, &name).await?;
        s.report
            .step(&resource, Action::Updated, None, Some("turned off".into()));
    }
    Ok(())
}

async fn ensure_custom_domain(
    s: &mut Session,
    zone: &ZoneRef,
    domains: &[api::CustomDomain],
    opts: &UpOptions,
) -> Result<()> {
    let name = s.spec.name.clone();
    let host = s.inputs.hostname.clone();
    let resource = format!("custom domain `{host}`");
    if let Some(d) = domains.iter().find(|d| d.service == name) {
        s.report
            .step(&resource, Action::Unchanged, Some(&d.id), None);
        s.state.custom_domain = Some(DomainRef {
            id: d.id.clone(),
            hostname: host,
            zone_id: d.zone_id.clone(),
        });
        return s.save();
    }
    let takeover = !domains.is_empty();
    if s.dry {
        s.report.step(
            &resource,
            Action::WouldCreate,
            None,
            takeover.then(|| "move it from another Worker".to_string()),
        );
        return Ok(());
    }
    let attached = api::domain_attach(
        &s.client,
        &s.account,
        &host,
        &name,
        &zone.id,
        takeover && opts.takeover_domain,
    )
    .await;
    let domain = match attached {
        Ok(d) => d,
        Err(e) if e.has_code(100117) => {
            return Err(failure(
                exit::PRECONDITION,
                format!("{e}"),
                Some(format!(
                    "`{host}` has a DNS record that is not managed by Workers; delete it in the zone's DNS settings, then run `provision up` again"
                )),
            ))
        }
        Err(e) if e.has_code(100116) => {
            return Err(failure(
                exit::PRECONDITION,
                format!("{e}"),
                Some("the hostname belongs to another Worker; move it with `--takeover-domain --yes`".into()),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    s.report
        .step(&resource, Action::Created, Some(&domain.id), None);
    s.state.custom_domain = Some(DomainRef {
        id: domain.id,
        hostname: host,
        zone_id: zone.id.clone(),
    });
    s.save()
}

fn write_mcp_env(s: &mut Session) -> Result<()> {
    if s.dry {
        return Ok(());
    }
    let resource = format!("MCP credentials `{}`", s.paths.mcp_env.display());
    let (Some(secret), Some(client_id)) = (
        s.secrets.service_token_client_secret.clone(),
        s.state.access.service_token_client_id.clone(),
    ) else {
        s.report.step(
            &resource,
            Action::Skipped,
            None,
            Some("no client secret held".into()),
        );
        return Ok(());
    };
    let creds = McpCredentials {
        url: format!("https://{}/mcp", s.inputs.hostname),
        client_id,
        client_secret: secret,
    };
    let before = std::fs::read_to_string(&s.paths.mcp_env).ok();
    state::write_mcp_env(&s.paths.mcp_env, &creds)?;
    let after = std::fs::read_to_string(&s.paths.mcp_env).ok();
    let action = match before {
        None => Action::Created,
        Some(b) if Some(&b) == after.as_ref() => Action::Unchanged,
        Some(_) => Action::Updated,
    };
    s.report.step(&resource, action, None, None);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }

    #[test]
    fn rule_lists_compare_regardless_of_order() {
        let a = vec![
            json!({"email": {"email": "a@x.io"}}),
            json!({"email": {"email": "b@x.io"}}),
        ];
        let b = vec![a[1].clone(), a[0].clone()];
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(sql_quote("it's.sql"), "'it''s.sql'");
    }
}
