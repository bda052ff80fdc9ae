//! `ign-setup backup restore` and `ign-setup recover`, and the automatic
//! recovery every database command runs first.

use std::sync::Arc;

use super::json;

use super::output::{counted, Report};
use super::Context;
use crate::backup::BackupStore;
use crate::error::{Error, Result};
use crate::graph::Db;

fn store(ctx: &Context) -> BackupStore {
    BackupStore::new(&ctx.settings.backup_dir, ctx.settings.keep)
}

pub async fn run(
    ctx: &Context,
    file: Option<String>,
    confirm: bool,
    allow_schema_loss: bool,
) -> Result<Report> {
    let store = store(ctx);
    let source = match &file {
        Some(f) => store.resolve(f)?,
        None => {
            let newest = store.latest_full()?;
            ctx.out.note(format!(
                "No backup named: taking the newest full backup, {}.",
                newest.file
            ));
            newest.path
        }
    };
    let db = ctx.connect().await?;
    let plan = crate::restore::plan(&db, &source).await?;
    let m = &plan.backup.metadata;
    let target = super::target(&db);
    ctx.out.note(format!(
        "Restore plan\n  into:    {target}\n  from:    {} ({}, {}, reason: {})\n  backup:  {}, {}, {} indexes and constraints\n  replaces the current database: {}, {}\n  safety backup first: {}",
        source.display(),
        m.datetime,
        m.backup_type,
        m.reason,
        counted(plan.backup.node_count, "node"),
        counted(plan.backup.relationship_count, "relationship"),
        plan.backup.schema_count,
        counted(plan.current.node_count, "node"),
        counted(plan.current.relationship_count, "relationship"),
        if plan.safety_backup_needed { "yes" } else { "no (the database is empty)" },
    ));
    for w in &plan.backup.warnings {
        ctx.out.note(format!("  warning: {w}"));
    }
    if !plan.schema_gaps.is_empty() && allow_schema_loss {
        ctx.out.note(format!(
            "  not recreated on this server (--allow-schema-loss): {}",
            plan.schema_gaps.len()
        ));
        for g in &plan.schema_gaps {
            ctx.out.note(format!("    - {g}"));
        }
    }
    // Refused before the prompt: nothing to confirm.
    plan.check_schema(allow_schema_loss)?;
    if !confirm {
        ctx.confirm(&format!(
            "Replace all {} and {} of {target} with this backup?",
            counted(plan.current.node_count, "node"),
            counted(plan.current.relationship_count, "relationship"),
        ))?;
    }
    let outcome = crate::restore::restore(
        Arc::new(db),
        &store,
        &plan,
        !ctx.out.json,
        &ctx.cancel,
        allow_schema_loss,
    )
    .await?;
    let mut human = format!(
        "Restored {} and {} from {}; counts, label counts and type counts verified.",
        counted(outcome.nodes, "node"),
        counted(outcome.relationships, "relationship"),
        source.display()
    );
    if outcome.schema.not_recreated.is_empty() {
        human.push_str(&format!(
            "\nSchema: {} indexes and constraints recreated, online and compared with the backup.",
            outcome.schema.created.len()
        ));
    } else {
        human.push_str(&format!(
            "\nSchema: {} indexes and constraints recreated; {} not recreated on this server:",
            outcome.schema.created.len(),
            outcome.schema.not_recreated.len()
        ));
        for g in &outcome.schema.not_recreated {
            human.push_str(&format!("\n  - {g}"));
        }
    }
    if let Some(s) = &outcome.safety_backup {
        human.push_str(&format!("\nThe previous data is kept in {s}."));
    }
    for w in outcome
        .warnings
        .iter()
        .filter(|w| !w.starts_with("not recreated on this server"))
    {
        human.push_str(&format!("\nwarning: {w}"));
    }
    Ok(Report::new(
        human,
        json::RestoreDocument {
            ok: true,
            restore: &outcome,
        },
    ))
}

pub async fn recover(ctx: &Context) -> Result<Report> {
    let password = ctx.settings.connect.password.resolve(ctx.interactive)?;
    let db = Db::connect(&ctx.settings.connect, &password).await?;
    let report =
        crate::operation::recover(Arc::new(db), &store(ctx), !ctx.out.json, &ctx.cancel).await?;
    Ok(Report::new(
        report.message.clone(),
        json::RecoveryDocument {
            ok: true,
            recovery: &report,
        },
    ))
}

/// If an earlier run left a journal and its process is gone, finish its
/// rollback now, before this command does anything else.
pub async fn recover_if_needed(ctx: &Context, db: Db) -> Result<Db> {
    let store = store(ctx);
    // A journal whose process still runs is not pending: the lock stops us
    // where it matters.
    let Some(entry) = crate::operation::pending(&store)? else {
        return Ok(db);
    };
    ctx.out.note(format!(
        "An interrupted {:?} from {} was found; finishing its recovery first.",
        entry.operation, entry.started_at
    ));
    let db = Arc::new(db);
    let report =
        crate::operation::recover(Arc::clone(&db), &store, !ctx.out.json, &ctx.cancel).await?;
    ctx.out.note(&report.message);
    Arc::try_unwrap(db)
        .map_err(|_| Error::Io("the connection is still shared after recovery".into()))
}
