//! `ign-setup package` and `ign-setup package verify`.

use std::path::Path;

use super::json;
use super::opt::{PackageArgs, PackageCommand};
use super::output::Report;
use super::Context;
use crate::backup::BackupStore;
use crate::bundle::{build_package, OuterChecksum, PackageRequest};
use crate::error::{Error, Result};

/// The backup check a bundle runs on its `initial_backup.json`.
pub fn backup_check(path: &Path) -> std::result::Result<serde_json::Value, String> {
    crate::backup::verify::bundle_summary(path)
}

pub fn run(ctx: &Context, args: PackageArgs) -> Result<Report> {
    if let Some(PackageCommand::Verify { zip }) = args.command {
        return verify(&zip);
    }
    let version = args.version.ok_or_else(|| {
        Error::Usage("pass --release X.Y.Z, the application version of this release".into())
    })?;
    let store = BackupStore::new(&ctx.settings.backup_dir, ctx.settings.keep);
    let backup_path = match &args.backup {
        Some(b) => store.resolve(b)?,
        None => store.latest()?.path,
    };
    // A backup that fails verification never ships.
    let summary = crate::backup::verify::summary_of(&crate::backup::verify_backup(&backup_path)?);
    let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<i64>().ok());
    let migrations_dir = ctx.settings.migrations_dir.clone();
    // A bundle never ships migrations that `install` would refuse (folder
    // and file names, statements): checked as the catalog reads them.
    crate::migrations::Catalog::load(&migrations_dir)?;
    let outcome = build_package(&PackageRequest {
        app_version: version.clone(),
        backup_path: backup_path.clone(),
        backup_summary: summary.clone(),
        migrations_dir,
        out_dir: args.out.clone(),
        tool_version: crate::TOOL_VERSION.to_owned(),
        source_date_epoch,
    })?;
    let human = format!(
        "Bundle written: {} ({})\n  sha256: {}\n  initial backup: {} ({}, {})\n  entries: {}",
        outcome.zip_path.display(),
        super::output::human_size(outcome.size),
        outcome.sha256,
        backup_path.display(),
        count(&summary["node_count"], "node"),
        count(&summary["relationship_count"], "relationship"),
        entries_text(outcome.entries.len()),
    );
    Ok(Report::done(
        human,
        json::Packaged {
            zip: &outcome.zip_path,
            sha256: &outcome.sha256,
            size: outcome.size,
            application_version: version.to_string(),
            backup: &summary,
            entries: outcome.entries.len() + 2,
            files: &outcome.entries,
        },
    ))
}

/// One way to count a bundle's entries, in `package` and `package verify`:
/// the payload files plus manifest.json and SHA256SUMS.
fn entries_text(files: usize) -> String {
    format!("{} ({files} files + manifest.json + SHA256SUMS)", files + 2)
}

fn verify(zip: &Path) -> Result<Report> {
    // The checks `install --bundle` makes, all of them: the bundle, then its
    // migrations folder as the catalog reads it (folder and file names,
    // statements), from a private unpacked copy removed at the end.
    let opened = crate::lifecycle::open_bundle(zip, &std::env::temp_dir())?;
    crate::migrations::Catalog::load(&opened.extracted.migrations_dir)?;
    let report = opened.report;
    let (outer, outer_json) = match &report.outer_checksum {
        OuterChecksum::Matched { sha256 } => (
            format!("matches {sha256}"),
            json::OuterChecksumDoc {
                checked: true,
                sha256: Some(sha256),
            },
        ),
        OuterChecksum::NotPresent => (
            "no .sha256 file beside the zip; not checked".into(),
            json::OuterChecksumDoc {
                checked: false,
                sha256: None,
            },
        ),
    };
    let human = format!(
        "ok {}\n  application version: {}\n  outer checksum: {}\n  entries: {}, verified against SHA256SUMS and manifest.json; all paths safe\n  initial backup: {}, {}, checksum ok",
        zip.display(),
        report.manifest.application_version,
        outer,
        entries_text(report.manifest.files.len()),
        count(&report.backup_summary["node_count"], "node"),
        count(&report.backup_summary["relationship_count"], "relationship"),
    );
    Ok(Report::done(
        human,
        json::BundleVerified {
            zip,
            application_version: report.manifest.application_version.to_string(),
            outer_checksum: outer_json,
            entries: report.manifest.files.len() + 2,
            files: &report.manifest.files,
            backup: &report.backup_summary,
        },
    ))
}

/// A JSON count as people read it.
fn count(v: &serde_json::Value, noun: &str) -> String {
    v.as_u64()
        .map(|n| super::output::counted(n, noun))
        .unwrap_or_else(|| format!("{v} {noun}s"))
}
