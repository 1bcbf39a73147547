//! Command-line arguments of the deployment commands, and their translation into the
//! options of [`crate::deploy`], [`crate::destroy`] and friends.

use std::path::PathBuf;

use clap::Args;

use crate::config::FlagInputs;
use crate::deploy::{CommonOptions, UpOptions};

/// Default state directory (relative to the working directory).
pub const DEFAULT_STATE_DIR: &str = ".provision";
/// Environment variable naming the state directory.
pub const ENV_STATE_DIR: &str = "PROVISION_STATE_DIR";

/// Inputs shared by `up`, `plan` and `destroy`.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Hostname to serve on, in a zone of the account [env: EXECUTOR_HOSTNAME]
    #[arg(long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// Email allowed through Access; repeatable [env: EXECUTOR_ALLOWED_EMAIL, comma-separated]
    #[arg(long = "allowed-email", value_name = "EMAIL")]
    pub allowed_email: Vec<String>,
    /// Access team domain, checked against the account [env: ACCESS_TEAM_DOMAIN; default: read from the account]
    #[arg(long, value_name = "TEAM.cloudflareaccess.com")]
    pub team_domain: Option<String>,
    /// Cloudflare account id [env: CLOUDFLARE_ACCOUNT_ID; default: the token's only account]
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// Cloudflare API root [env: CLOUDFLARE_API_BASE_URL; default: https://api.cloudflare.com/client/v4]
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// File with KEY=value inputs (CLOUDFLARE_API_TOKEN, EXECUTOR_HOSTNAME, …)
    #[arg(long, value_name = "FILE", default_value = ".env")]
    pub env_file: PathBuf,
    /// Directory of state.json and secrets.json [env: PROVISION_STATE_DIR; default: .provision]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where the MCP credentials go [default: .env.mcp next to the state directory]
    #[arg(long, value_name = "FILE")]
    pub mcp_env_file: Option<PathBuf>,
    /// Print a JSON summary on stdout instead of progress lines
    #[arg(long)]
    pub json: bool,
    /// Log every API call (method, path, status, duration; never secrets)
    #[arg(short, long)]
    pub verbose: bool,
    /// Confirm adopting an Access application of another name, moving a domain, deleting data
    #[arg(long)]
    pub yes: bool,
}

/// The state directory from the flag, `PROVISION_STATE_DIR`, or the default.
pub fn state_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os(ENV_STATE_DIR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

impl CommonArgs {
    pub fn options(&self) -> CommonOptions {
        CommonOptions {
            flags: FlagInputs {
                hostname: self.hostname.clone(),
                allowed_emails: self.allowed_email.clone(),
                team_domain: self.team_domain.clone(),
                account_id: self.account_id.clone(),
                api_base: self.api_base.clone(),
            },
            env_file: self.env_file.clone(),
            state_dir: state_dir(self.state_dir.clone()),
            mcp_env: self.mcp_env_file.clone(),
            json: self.json,
            verbose: self.verbose,
            yes: self.yes,
        }
    }
}

/// Arguments of `up` and `plan`.
#[derive(Args, Debug, Clone, Default)]
pub struct UpArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Worker build directory [default: the directory of wrangler.toml `main`; built when stale]
    #[arg(long, value_name = "DIR")]
    pub worker_dir: Option<PathBuf>,
    /// Entry module, relative to the build directory [default: the file name of wrangler.toml `main`]
    #[arg(long, value_name = "FILE")]
    pub main_module: Option<String>,
    /// Static assets directory [default: wrangler.toml `[assets] directory`]
    #[arg(long, value_name = "DIR")]
    pub assets_dir: Option<PathBuf>,
    /// D1 migrations directory [default: wrangler.toml `migrations_dir`]
    #[arg(long, value_name = "DIR")]
    pub d1_migrations_dir: Option<PathBuf>,
    /// Do not apply D1 migrations (the Worker also creates its schema on first use)
    #[arg(long)]
    pub no_migrations: bool,
    /// Do not build the Worker even when the build looks stale
    #[arg(long)]
    pub no_build: bool,
    /// Move the hostname from another Worker (with --yes)
    #[arg(long)]
    pub takeover_domain: bool,
    /// Issue a new client secret for the agent's service token and rewrite .env.mcp
    #[arg(long)]
    pub rotate_service_token: bool,
    /// Upload the Worker even when nothing changed
    #[arg(long)]
    pub force_deploy: bool,
}

impl UpArgs {
    pub fn options(&self) -> UpOptions {
        UpOptions {
            common: self.common.options(),
            worker_dir: self.worker_dir.clone(),
            main_module: self.main_module.clone(),
            assets_dir: self.assets_dir.clone(),
            migrations_dir: self.d1_migrations_dir.clone(),
            no_migrations: self.no_migrations,
            no_build: self.no_build,
            takeover_domain: self.takeover_domain,
            rotate_service_token: self.rotate_service_token,
            force_deploy: self.force_deploy,
        }
    }
}

/// Arguments of `destroy`.
#[derive(Args, Debug, Clone, Default)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Also delete the D1 database and the R2 bucket, with all stored data
    #[arg(long)]
    pub delete_data: bool,
}

impl DestroyArgs {
    pub fn options(&self) -> crate::destroy::DestroyOptions {
        crate::destroy::DestroyOptions {
            common: self.common.options(),
            delete_data: self.delete_data,
        }
    }
}

/// Arguments of `verify`.
#[derive(Args, Debug, Clone, Default)]
pub struct VerifyArgs {
    /// Hostname of the deployment [env: EXECUTOR_HOSTNAME; default: from the state file]
    #[arg(long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// Send the requests here instead of https://HOST (for a test edge)
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,
    /// Access team domain the redirect must point at [default: from the state file]
    #[arg(long, value_name = "TEAM.cloudflareaccess.com")]
    pub team_domain: Option<String>,
    /// Directory of state.json [env: PROVISION_STATE_DIR; default: .provision]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl VerifyArgs {
    pub fn options(&self) -> crate::verify::VerifyOptions {
        crate::verify::VerifyOptions {
            hostname: self.hostname.clone(),
            origin: self.origin.clone(),
            team_domain: self.team_domain.clone(),
            state_dir: state_dir(self.state_dir.clone()),
        }
    }
}

/// Where the MCP credentials are (`verify-mcp`, `token`, `bridge`).
#[derive(Args, Debug, Clone, Default)]
pub struct McpArgs {
    /// The credentials file written by `up` [default: .env.mcp next to the state directory];
    /// EXECUTOR_MCP_URL, CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET in the environment win
    #[arg(long, value_name = "FILE")]
    pub mcp_env_file: Option<PathBuf>,
    /// Directory of state.json [env: PROVISION_STATE_DIR; default: .provision]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Replace scheme and host of the MCP URL (for a test edge)
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,
}

impl McpArgs {
    pub fn options(&self) -> crate::verify::McpOptions {
        crate::verify::McpOptions {
            mcp_env: self.mcp_env_file.clone(),
            state_dir: state_dir(self.state_dir.clone()),
            origin: self.origin.clone(),
        }
    }
}

/// Arguments of `token`.
#[derive(Args, Debug, Clone, Default)]
pub struct TokenArgs {
    #[command(flatten)]
    pub mcp: McpArgs,
    /// Put the client secret itself into the printed snippet
    #[arg(long)]
    pub show_secret: bool,
}

/// Arguments of `bridge`.
#[derive(Args, Debug, Clone, Default)]
pub struct BridgeArgs {
    #[command(flatten)]
    pub mcp: McpArgs,
    /// MCP URL to use instead of the one in the credentials file
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Arguments of `openapi-slice`.
#[derive(Args, Debug, Clone)]
pub struct SliceArgs {
    /// Cloudflare's full OpenAPI document (.json or .json.gz)
    #[arg(
        long,
        value_name = "FILE",
        default_value = "../shared/fixtures/openapi/cloudflare-api.openapi.json.gz"
    )]
    pub from: PathBuf,
    /// Where to write the slice
    #[arg(long, value_name = "FILE", default_value = crate::slice::OUTPUT)]
    pub out: PathBuf,
}

/// Arguments of `self-edit-mcp`.
#[derive(Args, Debug, Clone)]
pub struct SelfEditArgs {
    /// Repository root the edits are confined to [default: this checkout]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Shell command that rebuilds and redeploys after an edit
    #[arg(
        long,
        value_name = "CMD",
        default_value = "cargo run -q -p provision -- up"
    )]
    pub deploy_command: String,
}
