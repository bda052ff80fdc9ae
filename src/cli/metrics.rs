//! After a command: which operation it was and what it did, for the metrics
//! file (`--metrics-file`). The facts come from the command's own JSON
//! document, the same one `--json` prints, so the metrics never disagree with
//! what a script sees.

use std::path::Path;

use serde_json::Value;

use super::opt::{BackupCommand, Command};
use crate::backup::BackupStore;
use crate::metrics::{FolderFacts, Operation, Run};

/// The operation a command line runs, if it is one the metrics record.
/// `backup status` records none but refreshes the backup series; dry runs
/// change nothing and write nothing.
pub fn operation_of(command: &Command) -> Option<Option<Operation>> {
    match command {
        Command::Backup(b) => match b {
            BackupCommand::Create { .. } => Some(Some(Operation::Create)),
            BackupCommand::Verify { .. } => Some(Some(Operation::Verify)),
            BackupCommand::Restore { .. } => Some(Some(Operation::Restore)),
            BackupCommand::Drill(_) => Some(Some(Operation::Drill)),
            BackupCommand::Prune(a) if !a.dry_run => Some(Some(Operation::Prune)),
            BackupCommand::Status => Some(None),
            _ => None,
        },
        Command::Upgrade(a) if !a.dry_run => Some(Some(Operation::Upgrade)),
        Command::Install(_) => Some(Some(Operation::Install)),
        _ => None,
    }
}

fn number(doc: &Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(doc, |v, k| v.get(k))?.as_u64()
}

fn text(doc: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(doc, |v, k| v.get(k))?
        .as_str()
        .map(str::to_owned)
}

/// The run's counts and installed version, read from its JSON document.
pub fn run_of(
    operation: Operation,
    started: f64,
    duration_seconds: f64,
    doc: Option<&Value>,
) -> Run {
    let mut run = Run {
        operation,
        started,
        duration_seconds,
        // A command that reports `"ok": false` (a failed drill) failed.
        success: doc.is_some_and(|d| d.get("ok") != Some(&Value::Bool(false))),
        nodes: None,
        relationships: None,
        installed_version: None,
    };
    let Some(doc) = doc else { return run };
    let (nodes, rels, version): (&[&str], &[&str], &[&[&str]]) = match operation {
        Operation::Create => (
            &["node_count"],
            &["relationship_count"],
            &[&["metadata", "app_version"]],
        ),
        Operation::Verify => (
            &["report", "node_count"],
            &["report", "relationship_count"],
            &[],
        ),
        Operation::Restore => (&["restore", "nodes"], &["restore", "relationships"], &[]),
        Operation::Drill => (&["drill", "nodes"], &["drill", "relationships"], &[]),
        Operation::Upgrade => (&[], &[], &[&["upgrade", "to"], &["already_at"]]),
        Operation::Install => (
            &[],
            &[],
            &[&["install", "version"], &["installed", "version"]],
        ),
        Operation::Prune => (&[], &[], &[]),
    };
    run.nodes = number(doc, nodes).filter(|_| !nodes.is_empty());
    run.relationships = number(doc, rels).filter(|_| !rels.is_empty());
    run.installed_version = version.iter().find_map(|p| text(doc, p));
    run
}

/// Writes the metrics file; a failure is reported on stderr and does not
/// change the command's exit code (a backup that worked stays a success).
pub fn write(path: &Path, backup_dir: &Path, run: Option<&Run>) {
    let entries = BackupStore::new(backup_dir, 1).list().unwrap_or_default();
    if let Err(e) = crate::metrics::record(path, run, &FolderFacts::of(&entries)) {
        eprintln!("warning: {e}");
    }
}
