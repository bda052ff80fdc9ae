//! `ign-setup backup drill --into URI`: restore a backup into a scratch
//! database, compare, empty it again (see `crate::drill`).

use super::opt::DrillArgs;
use super::output::{mark, Report};
use super::Context;
use crate::backup::BackupStore;
use crate::config::{process_env, BoltUri, ConfigError, ConnectSettings, PasswordSource, Secret};
use crate::drill::{drill, DrillError, DrillRequest};
use crate::error::Result;

/// The drill password: `--into-password-file`, else `IGN_SETUP_DRILL_PASSWORD`.
fn password(args: &DrillArgs) -> std::result::Result<Secret, DrillError> {
    if let Some(path) = &args.into_password_file {
        let text = std::fs::read_to_string(path).map_err(|source| DrillError::PasswordFile {
            path: path.clone(),
            source,
        })?;
        return Ok(Secret::new(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    process_env("IGN_SETUP_DRILL_PASSWORD")
        .map(Secret::new)
        .ok_or(DrillError::NoPassword)
}

fn database_name(name: &str) -> std::result::Result<String, ConfigError> {
    crate::config::validate_database_name("--into-database", name)?;
    Ok(name.to_owned())
}

pub async fn run(ctx: &Context, args: DrillArgs) -> Result<Report> {
    let store = BackupStore::new(&ctx.settings.backup_dir, ctx.settings.keep);
    let source = match &args.file {
        Some(f) => store.resolve(f)?,
        None => store.latest()?.path,
    };
    let uri = BoltUri::parse(&args.into)?;
    let database = args
        .into_database
        .as_deref()
        .map(database_name)
        .transpose()?;
    let target_password = password(&args)?;
    let target = ConnectSettings {
        uri,
        user: args
            .into_user
            .clone()
            .unwrap_or_else(|| ctx.settings.connect.user.clone()),
        password: PasswordSource::Given(target_password.clone()),
        database,
        connect_timeout: ctx.settings.connect.connect_timeout,
        query_timeout: None,
    };
    let req = DrillRequest {
        source: source.clone(),
        target,
        target_password,
        configured_uri: ctx.settings.connect.uri.clone(),
        configured_database: ctx.settings.connect.database.clone(),
        backup_dir: ctx.settings.backup_dir.clone(),
        progress: !ctx.out.json,
        cancel: ctx.cancel.clone(),
    };
    let r = drill(&req).await?;
    let mut human = format!(
        "Restore drill of {} ({}) into {} (database {}): {}\n",
        source.display(),
        r.backup_datetime,
        r.target,
        r.target_database.as_deref().unwrap_or("default"),
        if r.ok { "passed" } else { "FAILED" }
    );
    for c in &r.checks {
        human.push_str(&format!("  {} {}: {}\n", mark(c.ok), c.name, c.detail));
    }
    human.push_str(&format!(
        "  scratch database emptied again: {}; {:.1} s",
        if r.emptied { "yes" } else { "no" },
        r.duration_seconds
    ));
    let failed: Vec<String> = r
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    let report = Report::new(
        human,
        super::json::Drilled {
            ok: r.ok,
            drill: &r,
        },
    );
    if r.ok {
        Ok(report)
    } else {
        Ok(report.failed(
            crate::exit::Fault::DrillFailed,
            format!("the restore drill failed: {}", failed.join("; ")),
        ))
    }
}
