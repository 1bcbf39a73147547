//! `provision destroy`: take the deployment down in an order that never leaves the hostname
//! served without Access — the custom domain first (the hostname stops serving), then the
//! Worker, then the Access application, its policies and the service token. The D1
//! database and the R2 bucket (and the key that decrypts the D1 data) are kept unless
//! `--delete-data` is given. Every "not found" counts as done, so a second run is a no-op.

use std::io::BufRead;

use anyhow::{Context, Result};
use serde_json::json;

use crate::api;
use crate::cf::ApiError;
use crate::cmd::{exit, failure};
use crate::config::Need;
use crate::deploy::{
    agent_policy_name, app_name, email_policy_name, service_token_name, CommonOptions, Session,
};
use crate::report::Action;
use crate::state::remove_if_present;

/// Options of `destroy`.
#[derive(Debug, Clone, Default)]
pub struct DestroyOptions {
    pub common: CommonOptions,
    /// Also delete the D1 database and the R2 bucket (and forget the encryption key).
    pub delete_data: bool,
}

/// "Not found" is success when deleting.
fn gone(result: std::result::Result<(), ApiError>) -> std::result::Result<bool, ApiError> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Asks for the hostname to be typed (unless `--yes`).
fn confirm(host: &str, delete_data: bool, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    eprintln!(
        "This removes `{host}` from Cloudflare: custom domain, Worker, Access application, policies and service token."
    );
    if delete_data {
        eprintln!(
            "With --delete-data it also DELETES the D1 database and the R2 bucket with everything stored in them."
        );
    }
    eprintln!("Type the hostname to confirm:");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the confirmation")?;
    if line.trim() != host {
        return Err(failure(
            exit::USAGE,
            "not confirmed; nothing was changed",
            Some("type the hostname exactly, or pass `--yes`".into()),
        ));
    }
    Ok(())
}

pub async fn destroy(opts: &DestroyOptions) -> Result<()> {
    let mut session = Session::open(&opts.common, Need::Teardown, false)?;
    let _lock = session.paths.lock()?;
    confirm(&session.inputs.hostname, opts.delete_data, opts.common.yes)?;
    let result = run(&mut session, opts).await;
    if session.report.json {
        let outputs = json!({ "state_file": session.paths.state().display().to_string() });
        let error = result.as_ref().err().map(|e| format!("{e:#}"));
        println!(
            "{}",
            serde_json::to_string_pretty(&session.report.document(
                "destroy",
                result.is_ok(),
                outputs,
                error
            ))
            .context("serialising the summary")?
        );
    }
    result
}

async fn run(s: &mut Session, opts: &DestroyOptions) -> Result<()> {
    s.connect().await?;
    let host = s.inputs.hostname.clone();
    let name = s.spec.name.clone();
    let (c, acct) = (s.client.clone(), s.account.clone());

    // 1. The custom domain: the hostname stops serving.
    let resource = format!("custom domain `{host}`");
    let domains = api::domains_for_host(&c, &acct, &host).await?;
    let ours: Vec<_> = domains.iter().filter(|d| d.service == name).collect();
    if ours.is_empty() {
        s.report.step(
            &resource,
            Action::Unchanged,
            None,
            Some("not attached".into()),
        );
    }
    for d in ours {
        if gone(api::domain_delete(&c, &acct, &d.id, &host).await)? {
            s.report.step(&resource, Action::Deleted, Some(&d.id), None);
        }
    }
    s.state.custom_domain = None;
    s.save()?;

    // 2. The Worker (with its secret, assets and Durable Object data).
    let resource = format!("Worker `{name}`");
    if gone(api::script_delete(&c, &acct, &name).await)? {
        s.report.step(&resource, Action::Deleted, None, None);
    } else {
        s.report
            .step(&resource, Action::Unchanged, None, Some("not found".into()));
    }
    s.state.worker = None;
    s.save()?;

    // 3. The Access application, now that nothing serves the hostname.
    let wanted = app_name(&name);
    let resource = format!("Access application `{wanted}` on `{host}`");
    let mut app_ids: Vec<String> = s.state.access.app_id.iter().cloned().collect();
    for app in api::apps_for_domain(&c, &acct, &host).await? {
        if app.name == wanted && !app_ids.contains(&app.id) {
            app_ids.push(app.id);
        }
    }
    let mut deleted_any = false;
    for id in &app_ids {
        if gone(api::app_delete(&c, &acct, id).await)? {
            s.report.step(&resource, Action::Deleted, Some(id), None);
            deleted_any = true;
        }
    }
    if !deleted_any {
        s.report
            .step(&resource, Action::Unchanged, None, Some("not found".into()));
    }
    s.state.access.app_id = None;
    s.state.access.aud = None;
    s.save()?;

    // 4. The policies (an application no longer references them).
    for (policy_name, recorded) in [
        (
            agent_policy_name(&name),
            s.state.access.token_policy_id.clone(),
        ),
        (
            email_policy_name(&name),
            s.state.access.email_policy_id.clone(),
        ),
    ] {
        let resource = format!("Access policy `{policy_name}`");
        let mut id = recorded;
        if id.is_none() {
            id = api::policy_find(&c, &acct, &policy_name)
                .await?
                .map(|p| p.id);
        }
        match id {
            Some(id) if gone(api::policy_delete(&c, &acct, &id).await)? => {
                s.report.step(&resource, Action::Deleted, Some(&id), None);
            }
            _ => s
                .report
                .step(&resource, Action::Unchanged, None, Some("not found".into())),
        }
    }
    s.state.access.token_policy_id = None;
    s.state.access.email_policy_id = None;
    s.save()?;

    // 5. The service token, its secret and `.env.mcp`.
    let token_name = service_token_name(&name);
    let resource = format!("Access service token `{token_name}`");
    let mut id = s.state.access.service_token_id.clone();
    if id.is_none() {
        id = api::service_token_find(&c, &acct, &token_name)
            .await?
            .map(|t| t.id);
    }
    match id {
        Some(id) if gone(api::service_token_delete(&c, &acct, &id).await)? => {
            s.report.step(&resource, Action::Deleted, Some(&id), None);
        }
        _ => s
            .report
            .step(&resource, Action::Unchanged, None, Some("not found".into())),
    }
    s.state.access.service_token_id = None;
    s.state.access.service_token_client_id = None;
    s.secrets.service_token_client_secret = None;
    s.secrets.service_token_id = None;
    s.paths.save_secrets(&s.secrets)?;
    remove_if_present(&s.paths.mcp_env)?;
    s.save()?;

    // 6. Data, only when asked.
    let bucket = s.spec.r2.bucket_name.clone();
    let database = s.spec.d1.database_name.clone();
    if opts.delete_data {
        let resource = format!("R2 bucket `{bucket}`");
        match api::r2_delete(&c, &acct, &bucket).await {
            Ok(()) => s.report.step(&resource, Action::Deleted, None, None),
            Err(e) if e.is_not_found() => {
                s.report
                    .step(&resource, Action::Unchanged, None, Some("not found".into()));
            }
            Err(e) if e.status == 409 || e.mentions("not empty") => {
                return Err(failure(
                    exit::PRECONDITION,
                    format!("{e}"),
                    Some(format!(
                        "empty the bucket `{bucket}` (dashboard → R2), then run `provision destroy --delete-data` again"
                    )),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        s.state.r2 = None;
        s.save()?;

        let resource = format!("D1 database `{database}`");
        let mut uuid = s.state.d1.as_ref().map(|d| d.uuid.clone());
        if uuid.is_none() {
            uuid = api::d1_find(&c, &acct, &database).await?.map(|d| d.uuid);
        }
        match uuid {
            Some(uuid) if gone(api::d1_delete(&c, &acct, &uuid).await)? => {
                s.report.step(&resource, Action::Deleted, Some(&uuid), None);
            }
            _ => s
                .report
                .step(&resource, Action::Unchanged, None, Some("not found".into())),
        }
        s.state.d1 = None;
        s.secrets.encryption_key = None;
        s.paths.save_secrets(&s.secrets)?;
        s.save()?;
    } else {
        s.report.step(
            format!("D1 database `{database}`"),
            Action::Kept,
            None,
            Some("pass --delete-data to delete it".into()),
        );
        s.report.step(
            format!("R2 bucket `{bucket}`"),
            Action::Kept,
            None,
            Some("pass --delete-data to delete it".into()),
        );
        if s.secrets.encryption_key.is_some() {
            s.report.step(
                "encryption key",
                Action::Kept,
                None,
                Some(format!(
                    "{} (it decrypts the credentials stored in D1)",
                    s.paths.secrets().display()
                )),
            );
        }
    }

    // 7. Nothing left: forget the deployment.
    if s.state.is_empty() {
        s.paths.remove_state()?;
        if s.secrets.is_empty() {
            remove_if_present(&s.paths.secrets())?;
        }
        if !s.report.json {
            eprintln!("removed {}", s.paths.state().display());
        }
    }
    Ok(())
}
