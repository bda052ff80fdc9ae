//! `ign-setup install`, `ign-setup upgrade --to` and `ign-setup migrations status`:
//! load the catalog, ask the library for a plan, print it, confirm, run it.

use std::path::PathBuf;
use std::sync::Arc;

use super::json;
use super::opt::{InstallArgs, UpgradeArgs};
use super::output::Report;
use super::Context;
use crate::backup::BackupStore;
use crate::error::Result;
use crate::exit;
use crate::lifecycle::{
    self, InstallDecision, InstallOptions, InstallPlan, StatusVerdict, UpgradeDecision,
};
use crate::migrations::Catalog;

fn store(ctx: &Context) -> BackupStore {
    BackupStore::new(&ctx.settings.backup_dir, ctx.settings.keep)
}

fn load_catalog(ctx: &Context) -> Result<Catalog> {
    Ok(Catalog::load(&ctx.settings.migrations_dir)?)
}

pub async fn upgrade(ctx: &Context, args: UpgradeArgs) -> Result<Report> {
    // The folder is checked before connecting: a broken catalog is the
    // person's to fix, whatever the database holds.
    let catalog = load_catalog(ctx)?;
    // Without --to: the newest release in the folder (the plan below says
    // which, and asks, before anything changes).
    let to = match (&args.to, catalog.latest()) {
        (Some(to), _) => to.clone(),
        (None, Some(latest)) => latest.version.clone(),
        (None, None) => {
            return Err(crate::error::Error::Usage(format!(
                "the migrations folder `{}` has no version folder to upgrade to: pass --to X.Y.Z, or point --migrations at the folder that holds the releases",
                catalog.dir().display()
            )))
        }
    };
    let db = ctx.connect().await?;
    let plan =
        match lifecycle::prepare_upgrade(&db, &catalog, &to, &ctx.settings.backup_dir).await? {
            UpgradeDecision::AlreadyAt(v) => {
                return Ok(Report::done(
                    format!("Already at {v}; nothing to do."),
                    json::AlreadyAt {
                        already_at: v.to_string(),
                        changed: false,
                    },
                ))
            }
            UpgradeDecision::Plan(p) => p,
        };
    if args.dry_run {
        let checked = lifecycle::explain_upgrade(&db, &plan).await?;
        return Ok(Report::done(
            format!(
                "{plan}\nThe server accepts all {} statement{} (asked with EXPLAIN).\n(dry run: nothing was changed)",
                crate::text::thousands(checked as u64),
                if checked == 1 { "" } else { "s" }
            ),
            json::UpgradeDryRun {
                dry_run: true,
                plan: &plan,
                statements_checked: checked,
            },
        ));
    }
    ctx.out.note(plan.to_string());
    if !ctx.yes {
        // The question names what it changes: which database, how much data.
        let now = crate::backup::status::current_counts(&db).await?;
        ctx.confirm(&format!(
            "Upgrade {} holding {} and {} from {} to {}?",
            super::target(&db),
            super::output::counted(now.node_count, "node"),
            super::output::counted(now.relationship_count, "relationship"),
            plan.from
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            plan.to
        ))?;
    }
    let outcome = lifecycle::execute_upgrade(
        Arc::new(db),
        &store(ctx),
        &catalog,
        &plan,
        !ctx.out.json,
        &ctx.cancel,
    )
    .await?;
    let human = format!(
        "Upgraded {} -> {}: {} migration file{} applied, {} verify quer{} passed, version recorded.",
        plan.from.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        outcome.to,
        outcome.applied.len(),
        if outcome.applied.len() == 1 { "" } else { "s" },
        outcome.verify_queries,
        if outcome.verify_queries == 1 { "y" } else { "ies" },
    );
    Ok(Report::done(
        human,
        json::Upgraded {
            changed: true,
            plan: &plan,
            upgrade: &outcome,
        },
    ))
}

fn describe_install(plan: &InstallPlan) -> String {
    let mut text = String::from("Install plan\n");
    match &plan.initial {
        Some(i) => text.push_str(&format!(
            "  load: {} ({}, {}; data at {} from the {})\n",
            i.path.display(),
            super::output::counted(i.nodes, "node"),
            super::output::counted(i.relationships, "relationship"),
            i.data_version,
            i.version_from
        )),
        None => text.push_str("  load: nothing (no initial backup): every migration runs\n"),
    }
    if let Some(i) = plan.initial.as_ref().filter(|i| !i.schema_gaps.is_empty()) {
        text.push_str(&format!(
            "  not recreatable on this server: {} of the backup's indexes and constraints\n",
            i.schema_gaps.len()
        ));
        for g in &i.schema_gaps {
            text.push_str(&format!("    - {g}\n"));
        }
    }
    if plan.upgrade.versions.is_empty() {
        // The loaded data is already at the newest version: no upgrade to show.
        text.push_str(&format!(
            "  migrations: none to run (the data is at {0})\n  then: record version {0}",
            plan.upgrade.to
        ));
    } else {
        text.push_str(&plan.upgrade.to_string());
    }
    text
}

pub async fn install(ctx: &Context, args: InstallArgs) -> Result<Report> {
    // A bundle is verified and unpacked before the database is touched; the
    // unpacked folder sits beside the backup folder and is removed at the end.
    if args.bundle.is_some() && ctx.global.migrations.is_some() {
        return Err(crate::error::Error::Usage(
            "--bundle installs the migrations the bundle carries; leave out --migrations".into(),
        ));
    }
    let bundle = match &args.bundle {
        Some(zip) => {
            let parent = ctx
                .settings
                .backup_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            let opened = lifecycle::open_bundle(zip, &parent)?;
            ctx.out.note(format!(
                "Bundle {} verified (release {}).",
                zip.display(),
                opened.report.manifest.application_version
            ));
            Some(opened)
        }
        None => None,
    };
    let catalog = match &bundle {
        Some(b) => Catalog::load(&b.extracted.migrations_dir)?,
        None => load_catalog(ctx)?,
    };
    let db = ctx.connect().await?;
    let opts = InstallOptions {
        baseline: args.baseline.clone(),
        bundle: bundle.as_ref().map(|b| &b.extracted),
    };
    let decision =
        lifecycle::prepare_install(&db, &catalog, &ctx.settings.backup_dir, &opts).await?;
    match decision {
        InstallDecision::AlreadyInstalled(record) => Ok(Report::done(
            format!(
                "Already installed: version {} (since {}); nothing to do. Use `ign-setup upgrade --to X.Y.Z` for a newer release.",
                record.version,
                when(&record.installed_at)
            ),
            json::AlreadyInstalled {
                changed: false,
                installed: &record,
            },
        )),
        InstallDecision::Baseline(plan) => {
            let what = if plan.rerecord {
                format!(
                    "Re-record the history of installed version {} with the checksums of the {} migration files on disk (nothing runs)",
                    plan.version,
                    plan.migrations.len()
                )
            } else {
                format!(
                    "Record version {} as installed and its {} migration files (and all earlier ones) as applied, without running them",
                    plan.version,
                    plan.migrations.len()
                )
            };
            ctx.out.note(format!("Baseline plan\n  {what}"));
            ctx.confirm(&format!("{what}?"))?;
            lifecycle::execute_baseline(Arc::new(db), &ctx.settings.backup_dir, &plan).await?;
            let newest = catalog.latest().map(|d| d.version.clone());
            let mut human = format!(
                "Baseline recorded: version {} installed, {} migration files marked applied.",
                plan.version,
                plan.migrations.len()
            );
            if let Some(n) = newest.filter(|n| n.cmp_precedence(&plan.version).is_gt()) {
                human.push_str(&format!(
                    "\nNewer migrations are pending: `ign-setup upgrade --to {n}`."
                ));
            }
            Ok(Report::done(
                human,
                json::Baselined {
                    changed: true,
                    baseline: &plan,
                },
            ))
        }
        InstallDecision::Fresh(plan) => {
            ctx.out.note(describe_install(&plan));
            // Refused before the prompt: nothing to confirm.
            plan.check_schema(args.allow_schema_loss)?;
            ctx.confirm(&format!(
                "Install version {} into {}?",
                plan.upgrade.to,
                super::target(&db)
            ))?;
            let outcome = lifecycle::execute_install(
                Arc::new(db),
                &store(ctx),
                &catalog,
                &plan,
                !ctx.out.json,
                &ctx.cancel,
                args.allow_schema_loss,
            )
            .await?;
            let mut human = format!("Installed version {}", outcome.version);
            let left_out = plan
                .initial
                .as_ref()
                .map(|i| i.schema_gaps.clone())
                .unwrap_or_default();
            if let Some(p) = &outcome.initial {
                human.push_str(&format!(
                    ": loaded {} ({} migration files already in its data marked applied)",
                    p.display(),
                    outcome.baselined
                ));
            }
            human.push_str(&format!(
                "; {} migration file{} applied; version recorded and checked.",
                outcome.applied.len(),
                if outcome.applied.len() == 1 { "" } else { "s" }
            ));
            if !left_out.is_empty() {
                human.push_str(&format!(
                    "\nNot recreated on this server (--allow-schema-loss): {}",
                    left_out.len()
                ));
                for g in &left_out {
                    human.push_str(&format!("\n  - {g}"));
                }
            }
            drop(bundle);
            Ok(Report::done(
                human,
                json::Installed {
                    changed: true,
                    plan: &plan,
                    install: &outcome,
                },
            ))
        }
    }
}

pub async fn status(ctx: &Context) -> Result<Report> {
    let catalog = load_catalog(ctx)?;
    let db = ctx.connect().await?;
    let status = lifecycle::migration_status(&db, &catalog).await?;
    let verdict = status.verdict();
    let mut human = String::new();
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match &status.installed {
        Some(r) => human.push_str(&format!(
            "Installed: {} (since {})\n",
            r.version,
            when(&r.installed_at)
        )),
        None => human.push_str("Installed: nothing (run `ign-setup install`)\n"),
    }
    human.push_str(&format!(
        "Newest:    {} (in {})\n",
        status
            .latest
            .as_ref()
            .map_or_else(|| "no versions".to_owned(), |v| v.to_string()),
        catalog.dir().display(),
    ));
    human.push_str(&format!(
        "Applied:   {}\n",
        plural(status.applied.len(), "migration file")
    ));
    for a in &status.applied {
        human.push_str(&format!(
            "  {}/{}  {}{}\n",
            a.version,
            a.name,
            super::output::local_time(&a.applied_at),
            if a.baseline { " (baseline)" } else { "" }
        ));
    }
    if status.pending.is_empty() && status.pending_versions.is_empty() {
        human.push_str("Pending:   none\n");
    } else {
        human.push_str(&format!(
            "Pending:   {} ({})\n",
            plural(status.pending_versions.len(), "version"),
            plural(status.pending.len(), "migration file")
        ));
    }
    for p in &status.problems {
        human.push_str(&format!("drift: {p}\n"));
    }
    let (line, code) = match verdict {
        StatusVerdict::UpToDate => ("up to date".to_owned(), exit::OK),
        StatusVerdict::Pending => (
            format!(
                "work pending: `ign-setup upgrade --to {}`",
                status
                    .latest
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            ),
            exit::PENDING,
        ),
        StatusVerdict::NotInstalled => (
            "work pending: nothing installed; run `ign-setup install`".to_owned(),
            exit::PENDING,
        ),
        StatusVerdict::Drift => (
            "drift: the recorded history does not match the files; see above".to_owned(),
            exit::INVALID_INPUT,
        ),
    };
    human.push_str(&line);
    let report = Report::new(
        human,
        json::MigrationsStatus {
            ok: true,
            status: verdict,
            migrations: &status,
        },
    );
    if verdict == StatusVerdict::Drift {
        let problems: Vec<String> = status.problems.iter().map(|p| p.to_string()).collect();
        return Ok(report.failed(
            crate::exit::Fault::Drift,
            format!(
                "the recorded migration history does not match the files: {}",
                problems.join("; ")
            ),
        ));
    }
    Ok(report.with_exit_code(code))
}

/// `ign-setup migrations new NAME [--version X.Y.Z]`.
pub fn new_migration(
    ctx: &Context,
    name: &str,
    version: Option<&semver::Version>,
) -> Result<Report> {
    let made = crate::migrations::scaffold(&ctx.settings.migrations_dir, version, name)?;
    let human = format!(
        "Created {}{}
Write its statements; until it holds one, the migrations folder is refused (so it cannot be applied half-written).",
        made.path.display(),
        if made.new_version {
            format!(" (new release folder {})", made.version)
        } else {
            String::new()
        }
    );
    Ok(Report::done(
        human,
        json::MigrationCreated {
            path: made.path.display().to_string(),
            version: made.version.to_string(),
            new_version: made.new_version,
        },
    ))
}

/// A recorded time as people read it: local time with the offset, and how
/// long ago (`2026-12-01 18:10:40 +01:00, 3 days ago`).
fn when(rfc3339: &str) -> String {
    let local = super::output::local_time(rfc3339);
    match super::output::age(rfc3339) {
        Some(a) if a == "just now" => format!("{local}, just now"),
        Some(a) => format!("{local}, {a} ago"),
        None => local,
    }
}
