//! `ign-setup backup create|list|info|verify|status|init`.

use super::json;
use super::output::{age, counted, human_size, local_time, mark, table, thousands, Report};
use super::Context;
use crate::backup::format::INITIAL_BACKUP;
use crate::backup::status::{change, current_counts, recommend, Counts};
use crate::backup::{
    create_backup, verify_backup, BackupStore, BackupType, CreateRequest, Metadata,
};
use crate::error::Result;
use crate::exit;

fn store(ctx: &Context) -> BackupStore {
    BackupStore::new(&ctx.settings.backup_dir, ctx.settings.keep)
        .with_retention(ctx.settings.retention.clone())
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
            let doc = json::BackupNotNeeded {
                created: false,
                reason: &rec.reason,
                change: ch.as_ref(),
            };
            return Ok(
                Report::done(format!("No backup needed: {}.", rec.reason), doc)
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
        thousands(r.node_count),
        thousands(r.relationship_count),
        r.schema_count,
        human_size(created.size),
        if removed.is_empty() { String::new() } else { format!("\n  removed by retention: {}", removed.join(", ")) }
    );
    let doc = json::BackupCreated {
        created: true,
        file: &created.file,
        path: &created.path,
        size: created.size,
        node_count: r.node_count,
        relationship_count: r.relationship_count,
        label_counts: &r.label_counts,
        relationship_type_counts: &r.relationship_type_counts,
        schema_count: r.schema_count,
        metadata: &r.metadata,
        removed: &removed,
    };
    Ok(Report::done(human, doc))
}

/// Files that retention must not touch: the safety backup of an unfinished operation.
fn protected(ctx: &Context) -> Vec<String> {
    crate::backup::store::protected_by_journal(&ctx.settings.backup_dir)
}

pub async fn init(ctx: &Context, reason: Option<String>) -> Result<Report> {
    let store = store(ctx);
    // The initial backup is the data a release ships: replacing it is asked.
    let existing = ctx.settings.backup_dir.join(INITIAL_BACKUP);
    if existing.exists() {
        let what = match crate::backup::reader::read_metadata(&existing) {
            Ok(m) => format!(
                "{}, {}, created {}",
                counted(m.node_count, "node"),
                counted(m.relationship_count, "relationship"),
                local_time(&m.datetime)
            ),
            Err(_) => "unreadable".to_owned(),
        };
        ctx.out
            .note(format!("{} already exists ({what}).", existing.display()));
        ctx.confirm(&format!(
            "Replace {INITIAL_BACKUP} with a backup of the current database?"
        ))?;
    }
    let db = ctx.connect().await?;
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
    Ok(Report::done(
        format!(
            "Initial backup written: {} ({}, {})",
            created.path.display(),
            counted(r.node_count, "node"),
            counted(r.relationship_count, "relationship")
        ),
        json::InitialBackup {
            file: &created.file,
            path: &created.path,
            node_count: r.node_count,
            relationship_count: r.relationship_count,
            metadata: &r.metadata,
        },
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
    let mut rows = Vec::new();
    let mut details = String::new();
    for e in &entries {
        match &e.metadata {
            Some(m) => {
                rows.push(vec![
                    e.file.clone(),
                    local_time(&m.datetime),
                    age(&m.datetime)
                        .map(|a| {
                            if a == "just now" {
                                a
                            } else {
                                format!("{a} ago")
                            }
                        })
                        .unwrap_or_default(),
                    m.backup_type.clone(),
                    thousands(m.node_count),
                    thousands(m.relationship_count),
                    human_size(e.size),
                    crate::text::printable(&m.reason),
                ]);
                if detailed {
                    details.push_str(&format!(
                        "\n{}\n  format: {}  app version: {}  tool: {}  schema: {}\n  server: {}\n",
                        e.file,
                        m.version,
                        m.app_version.as_deref().unwrap_or("-"),
                        m.tool_version.as_deref().unwrap_or("-"),
                        m.schema_count
                            .map(|n| format!("{n} indexes and constraints"))
                            .unwrap_or_else(|| "-".into()),
                        m.server
                            .as_ref()
                            .map(|s| format!("{} {} at {}", s.agent, s.version, s.address))
                            .unwrap_or_else(|| "-".into()),
                    ));
                }
            }
            None => rows.push(vec![
                e.file.clone(),
                "UNREADABLE".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                human_size(e.size),
                crate::text::printable(e.problem.as_deref().unwrap_or("?")),
            ]),
        }
    }
    if !rows.is_empty() {
        human.push_str(&table(
            &[
                "NAME",
                "CREATED",
                "AGE",
                "KIND",
                "NODES",
                "RELATIONSHIPS",
                "SIZE",
                "REASON",
            ],
            &rows,
        ));
        human.push_str(&details);
    }
    Ok(Report::done(
        human,
        json::BackupList {
            backup_dir: &ctx.settings.backup_dir,
            backups: &entries,
        },
    ))
}

pub fn info(ctx: &Context, file: &str) -> Result<Report> {
    let path = store(ctx).resolve(file)?;
    let m = crate::backup::reader::read_metadata(&path)?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let human = format!(
        "File:          {}\nCreated:       {}\nReason:        {}\nType:          {}\nFormat:        {}\nNodes:         {}\nRelationships: {}\nApp version:   {}\nSize:          {}\n(run `ign-setup backup verify {}` to check its integrity)",
        path.display(), super::output::local_time(&m.datetime), crate::text::printable(&m.reason), m.backup_type, m.version, thousands(m.node_count), thousands(m.relationship_count),
        m.app_version.as_deref().unwrap_or("-"), human_size(size), file
    );
    Ok(Report::done(
        human,
        json::BackupInfo {
            path: &path,
            size,
            metadata: &m,
        },
    ))
}

pub fn verify(ctx: &Context, file: &str) -> Result<Report> {
    let path = store(ctx).resolve(file)?;
    let r = verify_backup(&path)?;
    let mut human = format!(
        "{} {}\n  format {}; {}, {}, {} indexes and constraints\n  checksum: {}\n  counts, label and type counts, ids and relationship endpoints: ok",
        mark(true),
        path.display(),
        r.metadata.version,
        counted(r.node_count, "node"),
        counted(r.relationship_count, "relationship"),
        r.schema_count,
        if r.checksum_verified { "ok" } else { "not recorded in this format" },
    );
    for w in &r.warnings {
        human.push_str(&format!("\n  warning: {w}"));
    }
    Ok(Report::done(human, json::BackupVerified { report: &r }))
}

pub fn counts_of(m: &Metadata) -> Counts {
    Counts {
        node_count: m.node_count,
        relationship_count: m.relationship_count,
        ..Default::default()
    }
}

pub async fn status(ctx: &Context) -> Result<Report> {
    // Looks only: an interrupted operation leaves the data half-changed, so
    // there is nothing to compare; it is reported, and `recover` named.
    let (db, unfinished) = ctx.connect_to_look().await?;
    if let Some(u) = unfinished {
        return Err(crate::error::Error::Safety(u.into_error()));
    }
    let now = current_counts(&db).await?;
    let store = store(ctx);
    let latest = store.latest().ok();
    // Per-label counts of the last backup come from its statistics, which
    // close the file: this reads (and decodes) the whole backup once.
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
    let bullet = |label: &str, n: u64| format!("  • {label}: {}\n", thousands(n));
    let mut human = String::from("Database backup status\n\nCurrent database:\n");
    human.push_str(&bullet("Nodes", now.node_count));
    human.push_str(&bullet("Relationships", now.relationship_count));
    let signed = |n: i64| {
        let text = thousands(n.unsigned_abs());
        if n < 0 {
            format!("-{text}")
        } else {
            format!("+{text}")
        }
    };
    match (&latest, &last, &ch) {
        (Some(e), Some(l), Some(c)) => {
            let when = e
                .metadata
                .as_ref()
                .map(|m| {
                    let ago = super::output::age(&m.datetime).unwrap_or_default();
                    format!(
                        " ({}, {})",
                        local_time(&m.datetime),
                        if ago == "just now" {
                            ago
                        } else {
                            format!("{ago} ago")
                        }
                    )
                })
                .unwrap_or_default();
            human.push_str(&format!("\nLast backup: {}{when}\n", e.file));
            if stale {
                human.push_str(&format!(
                    "  {} it is more than 7 days old\n",
                    console::style("warning:").yellow().bold()
                ));
            }
            human.push_str(&bullet("Nodes", l.node_count));
            human.push_str(&bullet("Relationships", l.relationship_count));
            let changed = |net: i64, changed: u64, per: &str| {
                if net == 0 && changed == 0 {
                    "no change".to_owned()
                } else {
                    format!(
                        "{} ({} added or removed, counted per {per})",
                        signed(net),
                        thousands(changed)
                    )
                }
            };
            human.push_str(&format!(
                "\nChanges since the last backup:\n  • Nodes: {}\n  • Relationships: {}\n",
                changed(c.nodes, c.nodes_changed, "label"),
                changed(c.relationships, c.relationships_changed, "type"),
            ));
            let mut by_label: Vec<(String, i64)> = now
                .label_counts
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        *v as i64 - *l.label_counts.get(k).unwrap_or(&0) as i64,
                    )
                })
                .chain(
                    l.label_counts
                        .iter()
                        .filter(|(k, _)| !now.label_counts.contains_key(*k))
                        .map(|(k, v)| (k.clone(), -(*v as i64))),
                )
                .filter(|(_, d)| *d != 0)
                .collect();
            by_label.sort_by_key(|(k, d)| (std::cmp::Reverse(d.unsigned_abs()), k.clone()));
            if !by_label.is_empty() {
                let top: Vec<String> = by_label
                    .iter()
                    .take(5)
                    .map(|(k, d)| format!("{} {}", crate::text::printable(k), signed(*d)))
                    .collect();
                human.push_str(&format!("  • By label: {}\n", top.join(", ")));
            }
        }
        _ => human.push_str("\nLast backup: none\n"),
    }
    let empty = now.node_count == 0 && now.relationship_count == 0 && latest.is_none();
    let recommended = (rec.backup_recommended || stale) && !empty;
    let why = if empty {
        "the database is empty".to_owned()
    } else if stale && !rec.backup_recommended {
        "the last backup is more than 7 days old".to_owned()
    } else {
        rec.reason.clone()
    };
    human.push_str(&format!(
        "\nBackup recommendation: {}: {why}\n",
        if recommended {
            console::style("⚠ backup recommended")
                .yellow()
                .bold()
                .to_string()
        } else {
            "no backup needed".to_owned()
        },
    ));
    human.push_str(&format!(
        "\nAuto-backup thresholds (ign-setup.toml [backup]):\n  • Nodes: {} new or removed nodes\n  • Relationships: {} new or removed relationships\n  • Percentage: {:.1}% increase or decrease\n",
        thousands(t.nodes),
        thousands(t.relationships),
        t.percentage * 100.0
    ));
    let doc = json::BackupStatus {
        current: &now,
        last_backup: latest.as_ref().map(|e| json::LastBackup {
            file: &e.file,
            counts: last.as_ref(),
            datetime: e.metadata.as_ref().map(|m| m.datetime.as_str()),
            age_days,
        }),
        change: ch.as_ref(),
        recommendation: json::StatusRecommendation {
            backup_recommended: recommended,
            reason: &why,
            stale,
        },
        thresholds: &t,
    };
    Ok(Report::done(human, doc))
}
