//! `ign-setup backup prune [--dry-run] [--keep-…]`: retention on demand.
//! Every backup is listed with the rules that keep it, or as removed.

use super::json;

use super::opt::PruneArgs;
use super::output::Report;
use super::Context;
use crate::backup::BackupStore;
use crate::error::{Error, Result};
use crate::retention::{Policies, Policy};

/// The configured policies, or the one the --keep-… flags describe (for
/// every kind).
pub fn policies(ctx: &Context, args: &PruneArgs) -> Result<Policies> {
    let given = args.keep_last.is_some()
        || args.keep_daily.is_some()
        || args.keep_weekly.is_some()
        || args.keep_monthly.is_some()
        || args.keep_within.is_some();
    if !given {
        return Ok(ctx.settings.retention.clone());
    }
    let policy = Policy {
        keep_last: args.keep_last.unwrap_or(0),
        keep_daily: args.keep_daily.unwrap_or(0),
        keep_weekly: args.keep_weekly.unwrap_or(0),
        keep_monthly: args.keep_monthly.unwrap_or(0),
        keep_within: args.keep_within.clone(),
    };
    if policy.is_empty() {
        return Err(Error::Usage(
            "every --keep-… rule given is 0, which would keep nothing; give at least one above 0"
                .into(),
        ));
    }
    Ok(Policies::uniform(policy))
}

fn describe(p: &Policies) -> String {
    let mut text = format!("default: {}", p.default);
    for (kind, policy) in &p.per_kind {
        text.push_str(&format!("; {kind}: {policy}"));
    }
    text
}

pub fn run(ctx: &Context, args: &PruneArgs) -> Result<Report> {
    let policies = policies(ctx, args)?;
    let store = BackupStore::new(&ctx.settings.backup_dir, 1).with_retention(policies.clone());
    // The lock of the backup folder: no create, restore or upgrade is adding
    // or reading backups while files are removed.
    let _lock = if args.dry_run {
        None
    } else {
        Some(crate::safety::LocalLock::acquire(
            &ctx.settings.backup_dir,
            "backup prune",
        )?)
    };
    let protected = crate::backup::store::protected_by_journal(&ctx.settings.backup_dir);
    let kinds = (!args.kind.is_empty()).then_some(args.kind.as_slice());
    let plan = store.retention_plan(None, &protected, kinds)?;
    let removed = if args.dry_run {
        Vec::new()
    } else {
        let removed = store.apply_plan(&plan)?;
        store.write_index()?;
        removed
    };
    let mut human = format!(
        "Retention ({}){}\n",
        describe(&policies),
        if args.dry_run {
            ", dry run: nothing is removed"
        } else {
            ""
        }
    );
    if plan.is_empty() {
        human.push_str(&format!(
            "No backups in {}.\n",
            ctx.settings.backup_dir.display()
        ));
    }
    for e in &plan {
        let what = if e.keep {
            let reasons: Vec<String> = e.reasons.iter().map(|r| r.to_string()).collect();
            format!("kept because: {}", reasons.join(", "))
        } else if args.dry_run {
            "would be removed".to_owned()
        } else {
            "removed".to_owned()
        };
        human.push_str(&format!(
            "{}  {}  {}  {what}\n",
            e.file,
            e.kind.as_deref().unwrap_or("-"),
            e.datetime.as_deref().unwrap_or("-"),
        ));
    }
    let to_remove = plan.iter().filter(|e| !e.keep).count();
    human.push_str(&if args.dry_run {
        format!("{to_remove} of {} backups would be removed.", plan.len())
    } else {
        format!("{} of {} backups removed.", removed.len(), plan.len())
    });
    let doc = json::Pruned {
        dry_run: args.dry_run,
        policies: &policies,
        backups: &plan,
        removed: &removed,
    };
    Ok(Report::done(human, doc))
}

/// `ign-setup backup delete NAME… [--dry-run]`: removes the named backups
/// from the backup folder, after saying what each one is and asking. A name
/// is a file in the folder (no paths); the safety backup of an unfinished
/// operation is refused, since it is the only copy of the data before it.
pub fn delete(ctx: &Context, names: &[String], dry_run: bool) -> Result<Report> {
    let dir = &ctx.settings.backup_dir;
    let store = BackupStore::new(dir, 1);
    let entries = store.list()?;
    let protected = crate::backup::store::protected_by_journal(dir);
    let mut chosen = Vec::new();
    for name in names {
        let Some(entry) = entries.iter().find(|e| &e.file == name) else {
            return Err(crate::backup::BackupError::NotFound {
                name: name.clone(),
                dir: dir.clone(),
            }
            .into());
        };
        if protected.contains(name) {
            return Err(Error::Usage(format!(
                "`{name}` is the safety backup of an unfinished operation, the only copy of the data before it: run `ign-setup recover` first; nothing was deleted"
            )));
        }
        if !chosen
            .iter()
            .any(|e: &&crate::backup::store::BackupEntry| &e.file == name)
        {
            chosen.push(entry);
        }
    }
    let describe = |e: &crate::backup::store::BackupEntry| match &e.metadata {
        Some(m) => format!(
            "{} ({}, {}, {}, {}, created {})",
            e.file,
            m.backup_type,
            super::output::counted(m.node_count, "node"),
            super::output::counted(m.relationship_count, "relationship"),
            super::output::human_size(e.size),
            super::output::local_time(&m.datetime)
        ),
        None => format!(
            "{} (unreadable: {})",
            e.file,
            e.problem.as_deref().unwrap_or("?")
        ),
    };
    let lines: Vec<String> = chosen.iter().map(|e| describe(e)).collect();
    if dry_run {
        return Ok(Report::done(
            format!(
                "Would delete (dry run, nothing changed):\n  {}",
                lines.join("\n  ")
            ),
            json::WouldDelete {
                dry_run: true,
                would_delete: chosen.iter().map(|e| e.file.as_str()).collect(),
            },
        ));
    }
    ctx.out.note(format!(
        "To delete from {}:\n  {}",
        dir.display(),
        lines.join("\n  ")
    ));
    ctx.confirm(&format!(
        "Delete {} backup{} for good?",
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" }
    ))?;
    let _lock = crate::safety::LocalLock::acquire(dir, "backup delete")?;
    let files: Vec<&str> = chosen.iter().map(|e| e.file.as_str()).collect();
    let removed = store.remove(&files)?;
    store.write_index()?;
    Ok(Report::done(
        format!("Deleted {}.", removed.join(", ")),
        json::Deleted { deleted: &removed },
    ))
}
