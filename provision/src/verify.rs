//! `provision verify`, `provision verify-mcp` and `provision token`.
//!
//! - `verify`: anonymous requests to `/` and `/mcp` must be turned away by Access (a redirect
//!   to the team domain), never answered by the Worker;
//! - `verify-mcp`: with the service token's headers, MCP `initialize` on `/mcp` answers 200
//!   with `serverInfo`;
//! - `token`: the agent's connection details and an `mcp.json` snippet.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::cmd::{exit, failure};
use crate::secret::redact;
use crate::state::{read_mcp_env, McpCredentials, Paths};

/// The MCP protocol version `verify-mcp` asks for.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// Options of `verify`.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub hostname: Option<String>,
    /// Where to send the requests instead of `https://<hostname>` (a test edge).
    pub origin: Option<String>,
    pub team_domain: Option<String>,
    pub state_dir: PathBuf,
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("provision/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// The origin to check: `--origin`, else `https://` + the hostname (flag, environment,
/// state file).
fn origin_of(opts: &VerifyOptions) -> Result<(String, Option<String>)> {
    let state = Paths::new(opts.state_dir.clone(), None).load_state()?;
    let team = opts
        .team_domain
        .clone()
        .or_else(|| std::env::var(crate::config::ENV_TEAM_DOMAIN).ok())
        .filter(|t| !t.trim().is_empty())
        .or(state.team_domain.clone());
    if let Some(origin) = &opts.origin {
        return Ok((origin.trim_end_matches('/').to_string(), team));
    }
    let host = opts
        .hostname
        .clone()
        .or_else(|| std::env::var(crate::config::ENV_HOSTNAME).ok())
        .filter(|h| !h.trim().is_empty())
        .or(state.hostname.clone())
        .ok_or_else(|| {
            failure(
                exit::USAGE,
                "no hostname to verify",
                Some("pass `--hostname`, set EXECUTOR_HOSTNAME, or run from the directory of `provision up`".into()),
            )
        })?;
    let host = crate::config::check_hostname(&host).map_err(|e| failure(exit::USAGE, e, None))?;
    Ok((format!("https://{host}"), team))
}

/// One anonymous check: `Ok(description)` when Access turned the request away.
pub fn judge_anonymous(
    status: u16,
    location: Option<&str>,
    team: Option<&str>,
) -> std::result::Result<String, String> {
    if (200..300).contains(&status) {
        return Err(format!(
            "HTTP {status}: the anonymous request reached the app; Access is not protecting it"
        ));
    }
    if !(300..400).contains(&status) {
        return Err(format!(
            "HTTP {status}: expected a redirect to Access (is the hostname live and behind Access?)"
        ));
    }
    let location = location.unwrap_or_default();
    let to_access = match team {
        Some(team) => location.contains(team),
        None => location.contains(".cloudflareaccess.com"),
    };
    if to_access {
        Ok(format!("HTTP {status} to Access login"))
    } else {
        Err(format!(
            "HTTP {status} redirects to `{location}`, not to the Access team domain"
        ))
    }
}

/// `provision verify`.
pub async fn verify(opts: &VerifyOptions) -> Result<()> {
    let (origin, team) = origin_of(opts)?;
    let client = http_client()?;
    let mut failures = Vec::new();
    for path in ["/", "/mcp"] {
        let url = format!("{origin}{path}");
        let response = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("requesting {url}"))?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match judge_anonymous(
            response.status().as_u16(),
            location.as_deref(),
            team.as_deref(),
        ) {
            Ok(what) => eprintln!("      ok {url}: {what}"),
            Err(problem) => {
                eprintln!("  FAILED {url}: {problem}");
                failures.push(format!("{url}: {problem}"));
            }
        }
    }
    if !failures.is_empty() {
        return Err(failure(
            exit::VERIFY,
            format!("the deployment is not private: {}", failures.join("; ")),
            Some("run `provision up` (it re-creates the Access application) and check the hostname in Zero Trust → Access → Applications".into()),
        ));
    }
    println!("verified: anonymous requests to {origin} are turned away by Access");
    println!("next: sign in at {origin}/ in a browser, and run `provision verify-mcp` for the agent's path");
    Ok(())
}

/// Options of `verify-mcp` and `token`.
#[derive(Debug, Clone, Default)]
pub struct McpOptions {
    /// `.env.mcp`; default next to the state directory.
    pub mcp_env: Option<PathBuf>,
    pub state_dir: PathBuf,
    /// Replace scheme and host of the MCP URL (a test edge).
    pub origin: Option<String>,
}

/// The MCP credentials and the URL to use.
pub fn credentials(opts: &McpOptions) -> Result<McpCredentials> {
    let paths = Paths::new(opts.state_dir.clone(), opts.mcp_env.clone());
    let mut creds = read_mcp_env(&paths.mcp_env)?;
    if let Some(origin) = &opts.origin {
        let path = reqwest::Url::parse(&creds.url)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| "/mcp".into());
        creds.url = format!("{}{path}", origin.trim_end_matches('/'));
    }
    Ok(creds)
}

/// The JSON-RPC `initialize` request `verify-mcp` sends.
pub fn initialize_request(id: u64, client: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": client, "version": env!("CARGO_PKG_VERSION") },
        },
    })
}

/// `provision verify-mcp`.
pub async fn verify_mcp(opts: &McpOptions) -> Result<()> {
    let creds = credentials(opts)?;
    let response = http_client()?
        .post(&creds.url)
        .header("CF-Access-Client-Id", &creds.client_id)
        .header("CF-Access-Client-Secret", creds.client_secret.expose())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize_request(1, "provision-verify-mcp").to_string())
        .send()
        .await
        .with_context(|| format!("requesting {}", creds.url))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if status == 200 && body.contains("serverInfo") {
        println!(
            "verified: MCP `initialize` on {} answers with serverInfo through Access",
            creds.url
        );
        return Ok(());
    }
    let head: String = redact(&body, &[&creds.client_secret])
        .chars()
        .take(200)
        .collect();
    Err(failure(
        exit::VERIFY,
        format!("MCP `initialize` on {} failed: HTTP {status}: {head}", creds.url),
        Some("a 302 means Access refused the service token: run `provision up` (it repairs the agent policy) or `provision up --rotate-service-token`".into()),
    ))
}

/// Options of `token`.
#[derive(Debug, Clone, Default)]
pub struct TokenOptions {
    pub mcp: McpOptions,
    /// Put the client secret itself into the snippet (instead of a variable reference).
    pub show_secret: bool,
}

/// The text `provision token` prints.
pub fn token_text(creds: &McpCredentials, env_file: &std::path::Path, show_secret: bool) -> String {
    let secret = if show_secret {
        creds.client_secret.expose().to_string()
    } else {
        "${CF_ACCESS_CLIENT_SECRET}".to_string()
    };
    let http = json!({
        "mcpServers": {
            "executor": {
                "type": "http",
                "url": creds.url,
                "headers": {
                    "CF-Access-Client-Id": creds.client_id,
                    "CF-Access-Client-Secret": secret,
                },
            },
        },
    });
    let bridge = json!({
        "mcpServers": {
            "executor": {
                "command": "provision",
                "args": ["bridge", "--mcp-env-file", env_file.display().to_string()],
            },
        },
    });
    format!(
        "MCP URL          {}\nAccess client id {}\nClient secret    in {} (CF_ACCESS_CLIENT_SECRET){}\n\n\
         mcp.json for clients that send HTTP headers:\n{}\n\n\
         mcp.json for stdio-only clients (through `provision bridge`):\n{}\n",
        creds.url,
        creds.client_id,
        env_file.display(),
        if show_secret { "" } else { "; `--show-secret` puts it into the snippet" },
        serde_json::to_string_pretty(&http).unwrap_or_default(),
        serde_json::to_string_pretty(&bridge).unwrap_or_default(),
    )
}

/// `provision token`.
pub fn token(opts: &TokenOptions) -> Result<()> {
    let creds = credentials(&opts.mcp)?;
    let paths = Paths::new(opts.mcp.state_dir.clone(), opts.mcp.mcp_env.clone());
    print!("{}", token_text(&creds, &paths.mcp_env, opts.show_secret));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn anonymous_answers_are_judged() {
        let team = Some("acme.cloudflareaccess.com");
        assert!(judge_anonymous(
            302,
            Some("https://acme.cloudflareaccess.com/cdn-cgi/access/login/x"),
            team
        )
        .is_ok());
        assert!(judge_anonymous(302, Some("https://x.cloudflareaccess.com/"), None).is_ok());
        assert!(judge_anonymous(200, None, team)
            .expect_err("served")
            .contains("reached the app"));
        assert!(judge_anonymous(302, Some("https://evil.example/"), team).is_err());
        assert!(judge_anonymous(302, Some("https://other.cloudflareaccess.com/"), team).is_err());
        assert!(judge_anonymous(404, None, team).is_err());
    }

    #[test]
    fn the_token_snippet_hides_the_secret_by_default() {
        let creds = McpCredentials {
            url: "https://a.example.com/mcp".into(),
            client_id: "abc.access".into(),
            client_secret: Secret::new("the-client-secret"),
        };
        let text = token_text(&creds, std::path::Path::new(".env.mcp"), false);
        assert!(!text.contains("the-client-secret"), "{text}");
        assert!(
            text.contains("\"CF-Access-Client-Id\": \"abc.access\""),
            "{text}"
        );
        assert!(text.contains("${CF_ACCESS_CLIENT_SECRET}"), "{text}");
        let shown = token_text(&creds, std::path::Path::new(".env.mcp"), true);
        assert!(shown.contains("the-client-secret"));
    }
}
