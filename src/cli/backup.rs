//! `ign-setup backup create|list|info|verify|status|init`.

use serde_json::json;

use super::output::{clean, mark, Report};
use super::Context;
use crate::backup::format::INITIAL_BACKUP;
use crate::backup::status::{change, current_counts, recommend, Counts};
use crate::backup::{
    create_backup, verify_backup, BackupStore, BackupType, CreateRequest, Metadata,
};
use crate::error::{exit, Result};

fn store(ctx: &Context) -> BackupStore {
    BackupStore::new(&ctx.settings.backup_dir, ctx.settings.keep)
        .with_retention(ctx.settings.retention.clone())
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub async fn create(ctx: &Context, reason: Option<String>, auto: bool) -> Result<Report> {
    let db = ctx.connect().await?;
    let store = store(ctx);
    // The backup folder's lock: a scheduled run that overlaps another
    // create, a prune or a restore on this host stops here (exit 30).
    // Another `backup create` holding it is waited for: both backups are made.
    let _lock =
        crate::safety::LocalLock::acquire_behind_same(store.dir(), "backup create", &|h| {
            ctx.out.note(format!(
                "Waiting for the backup run by {} since {} to finish.",
                h.describe(),
                h.since
            ))
        })?;
    if auto {
        let now = current_counts(&db).await?;
        let last_counts = match store.latest() {
            Ok(e) => Some(
                crate::backup::verify::statistics_of(&e.path)
                    .unwrap_or_else(|_| e.metadata.as_ref().map(counts_of).unwrap_or_default()),
            ),
            Err(_) => None,
        };
        let ch = last_counts.as_ref().map(|l| change(l, &now));
        let rec = recommend(ch.as_ref(), &ctx.settings.thresholds);
        if !rec.backup_recommended {
            let doc = json!({ "ok": true, "created": false, "reason": rec.reason, "change": ch });
            return Ok(
                Report::new(format!("No backup needed: {}.", rec.reason), doc)
                    .with_exit_code(exit::PENDING),
            );
        }
        ctx.out.note(format!("Backup needed: {}.", rec.reason));
    }
    let reason = reason.unwrap_or_else(|| {
        if auto {
            "Automatic backup on significant changes".into()
        } else {
            "Manual backup".into()
        }
    });
    let created = create_backup(
        &db,
        &store,
        CreateRequest {
            reason,
            backup_type: BackupType::Full,
            file_name: None,
            progress: !ctx.out.json,
        },
    )
    .await?;
    let removed = store.apply_retention(&created.file, &protected(ctx))?;
    store.write_index()?;
    let r = &created.report;
    let human = format!(
        "Backup created: {}\n  nodes: {}, relationships: {}, indexes and constraints: {}, size: {}\n  verified: checksum and counts ok{}",
        created.path.display(),
        r.node_count,
        r.relationship_count,
        r.schema_count,
        human_size(created.size),
        if removed.is_empty() { String::new() } else { format!("\n  removed by retention: {}", removed.join(", ")) }
    );
    let doc = json!({
        "ok": true, "created": true, "file": created.file, "path": created.path, "size": created.size,
        "node_count": r.node_count, "relationship_count": r.relationship_count,
        "label_counts": r.label_counts, "relationship_type_counts": r.relationship_type_counts,
        "schema_count": r.schema_count, "metadata": r.metadata, "removed": removed,
    });
    Ok(Report::new(human, doc))
}

/// Files that retention must not touch: the safety backup of an unfinished operation.
fn protected(ctx: &Context) -> Vec<String> {
    crate::backup::store::protected_by_journal(&ctx.settings.backup_dir)
}

pub async fn init(ctx: &Context, reason: Option<String>) -> Result<Report> {
    let db = ctx.connect().await?;
    let store = store(ctx);
    let created = create_backup(
        &db,
        &store,
        CreateRequest {
            reason: reason.unwrap_or_else(|| "Initial distribution backup".into()),
            backup_type: BackupType::Initial,
            file_name: Some(INITIAL_BACKUP.to_owned()),
            progress: !ctx.out.json,
        },
    )
    .await?;
    store.write_index()?;
    let r = &created.report;
    Ok(Report::new(
        format!(
            "Initial backup written: {} ({} nodes, {} relationships)",
            created.path.display(),
            r.node_count,
            r.relationship_count
        ),
        json!({ "ok": true, "file": created.file, "path": created.path, "node_count": r.node_count, "relationship_count": r.relationship_count, "metadata": r.metadata }),
    ))
}

pub fn list(ctx: &Context, detailed: bool) -> Result<Report> {
    let entries = store(ctx).list()?;
    let mut human = String::new();
    if entries.is_empty() {
        human.push_str(&format!(
            "No backups in {}.",
            ctx.settings.backup_dir.display()
        ));
    }
    for e in &entries {
        match &e.metadata {
            Some(m) => {
                human.push_str(&format!(
                    "{}  {}  {} nodes, {} relationships  {}\n",
                    e.file,
                    m.datetime,
                    m.node_count,
                    m.relationship_count,
                    human_size(e.size)
                ));
                if detailed {
                    human.push_str(&format!(
                        "    type: {}  format: {}  reason: {}\n    app version: {}  tool: {}  server: {}\n",
                        m.backup_type,
                        m.version,
                        clean(&m.reason),
                        m.app_version.as_deref().unwrap_or("-"),
                        m.tool_version.as_deref().unwrap_or("-"),
                        m.server.as_ref().map(|s| format!("{} {} at {}", s.agent, s.version, s.address)).unwrap_or_else(|| "-".into()),
                    ));
                }
            }
            None => human.push_str(&format!(
                "{}  UNREADABLE: {}\n",
                e.file,
                e.problem.as_deref().unwrap_or("?")
            )),
        }
    }
    Ok(Report::new(
        human,
        json!({ "ok": true, "backup_dir": ctx.settings.backup_dir, "backups": entries }),
    ))
}

pub fn info(ctx: &Context, file: &str) -> Result<Report> {
    let path = store(ctx).resolve(file)?;
    let m = crate::backup::reader::read_metadata(&path)?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let human = format!(
        "File:          {}\nCreated:       {}\nReason:        {}\nType:          {}\nFormat:        {}\nNodes:         {}\nRelationships: {}\nApp version:   {}\nSize:          {}\n(run `ign-setup backup verify {}` to check its integrity)",
        path.display(), m.datetime, clean(&m.reason), m.backup_type, m.version, m.node_count, m.relationship_count,
        m.app_version.as_deref().unwrap_or("-"), human_size(size), file
    );
    Ok(Report::new(
        human,
        json!({ "ok": true, "path": path, "size": size, "metadata": m }),
    ))
}

pub fn verify(ctx: &Context, file: &str) -> Result<Report> {
    let path = store(ctx).resolve(file)?;
    let r = verify_backup(&path)?;
    let mut human = format!(
        "{} {}\n  format {}; {} nodes, {} relationships, {} indexes and constraints\n  checksum: {}\n  counts, label and type counts, ids and relationship endpoints: ok",
        mark(true),
        path.display(),
        r.metadata.version,
        r.node_count,
        r.relationship_count,
        r.schema_count,
        if r.checksum_verified { "ok" } else { "not recorded in this format" },
    );
    for w in &r.warnings {
        human.push_str(&format!("\n  warning: {w}"));
    }
    Ok(Report::new(human, json!({ "ok": true, "report": r })))
}

pub fn counts_of(m: &Metadata) -> Counts {
    Counts {
        node_count: m.node_count,
        relationship_count: m.relationship_count,
        ..Default::default()
    }
}

pub async fn status(ctx: &Context) -> Result<Report> {
    let db = ctx.connect().await?;
    let now = current_counts(&db).await?;
    let store = store(ctx);
    let latest = store.latest().ok();
    // Per-label counts of the last backup come from its statistics (a full read
    // of the file would be needed otherwise; the index keeps the totals).
    let last = match &latest {
        Some(e) => match crate::backup::verify::statistics_of(&e.path) {
            Ok(c) => Some(c),
            Err(_) => e.metadata.as_ref().map(counts_of),
        },
        None => None,
    };
    let ch = last.as_ref().map(|l| change(l, &now));
    let t = ctx.settings.thresholds;
    let rec = recommend(ch.as_ref(), &t);
    let age = latest
        .as_ref()
        .and_then(|e| e.metadata.as_ref())
        .and_then(|m| chrono::DateTime::parse_from_rfc3339(&m.datetime).ok())
        .map(|d| chrono::Utc::now().signed_duration_since(d));
    let age_days = age.map(|a| a.num_days());
    let stale = age_days.map(|d| d > 7).unwrap_or(false);
    let mut human = format!(
        "Database backup status\n\nCurrent database:\n  Nodes: {}\n  Relationships: {}\n",
        now.node_count, now.relationship_count
    );
    match (&latest, &last, &ch) {
        (Some(e), Some(l), Some(c)) => {
            human.push_str(&format!(
                "\nLast backup: {}\n  Nodes: {}\n  Relationships: {}\n  Age: {}\nChanges since last backup:\n  Nodes: {:+} ({} changed)\n  Relationships: {:+} ({} changed)\n",
                e.file, l.node_count, l.relationship_count,
                match age { Some(a) if a.num_days() > 0 => format!("{} days", a.num_days()), Some(a) => format!("{} hours", a.num_hours()), None => "unknown".into() },
                c.nodes, c.nodes_changed, c.relationships, c.relationships_changed
            ));
            if stale {
                human.push_str("  warning: the last backup is more than 7 days old\n");
            }
        }
        _ => human.push_str("\nLast backup: none\n"),
    }
    human.push_str(&format!(
        "\nRecommendation: {} ({})\n\nAuto-backup thresholds:\n  Nodes: {}\n  Relationships: {}\n  Percentage: {:.1}%\n",
        if rec.backup_recommended || stale { "backup recommended" } else { "no backup needed" },
        rec.reason, t.nodes, t.relationships, t.percentage * 100.0
    ));
    let doc = json!({
        "ok": true,
        "current": now,
        "last_backup": latest.as_ref().map(|e| json!({ "file": e.file, "counts": last, "datetime": e.metadata.as_ref().map(|m| m.datetime.clone()), "age_days": age_days })),
        "change": ch,
        "recommendation": { "backup_recommended": rec.backup_recommended || stale, "reason": rec.reason, "stale": stale },
        "thresholds": { "nodes": t.nodes, "relationships": t.relationships, "percentage": t.percentage },
    });
    Ok(Report::new(human, doc))
}
