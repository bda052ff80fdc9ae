//! The `--json` documents, as types: one per command, so what a script can
//! read is written down in one place. Every document has one shape: `ok`,
//! then the command's fields or, on failure, `error {kind, message,
//! exit_code}` (plus `details` where there are any). [`Done`] puts
//! `"ok": true` in front of a successful command's fields; commands whose
//! success is a verdict (`doctor`, `migrations status`, `backup drill`) carry
//! their own `ok`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use crate::backup::status::{Change, Counts};
use crate::backup::store::{BackupEntry, RetentionEntry};
use crate::backup::{Metadata, VerifyReport};
use crate::bundle::ManifestEntry;
use crate::config::{Source, Thresholds};
use crate::drill::DrillReport;
use crate::error::Error;
use crate::lifecycle::{
    BaselinePlan, InstallOutcome, InstallPlan, MigrationStatus, StatusVerdict, UpgradeOutcome,
    UpgradePlan,
};
use crate::operation::RecoveryReport;
use crate::restore::RestoreOutcome;
use crate::retention::Policies;
use crate::state::VersionRecord;

/// `"ok": true` and the fields of a successful command's document.
#[derive(Debug, Serialize)]
pub struct Done<T: Serialize> {
    pub ok: bool,
    #[serde(flatten)]
    pub body: T,
}

impl<T: Serialize> Done<T> {
    pub fn new(body: T) -> Done<T> {
        Done { ok: true, body }
    }
}

/// What a failed command prints on stdout with `--json`.
#[derive(Debug, Serialize)]
pub struct ErrorDocument {
    pub ok: bool,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub kind: &'static str,
    pub message: String,
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorDocument {
    /// `message` is the whole chain, as the reporter prints it on stderr.
    pub fn new(err: &Error, message: String) -> ErrorDocument {
        let fault = err.fault();
        ErrorDocument {
            ok: false,
            error: ErrorBody {
                kind: fault.kind(),
                message,
                exit_code: fault.code(),
                details: err.details(),
            },
        }
    }
}

// ---- backup ----

/// `backup create --auto` when no backup is needed (exit 4).
#[derive(Debug, Serialize)]
pub struct BackupNotNeeded<'a> {
    pub created: bool,
    pub reason: &'a str,
    pub change: Option<&'a Change>,
}

/// `backup create`.
#[derive(Debug, Serialize)]
pub struct BackupCreated<'a> {
    pub created: bool,
    pub file: &'a str,
    pub path: &'a Path,
    pub size: u64,
    pub node_count: u64,
    pub relationship_count: u64,
    pub label_counts: &'a BTreeMap<String, u64>,
    pub relationship_type_counts: &'a BTreeMap<String, u64>,
    pub schema_count: usize,
    pub metadata: &'a Metadata,
    /// Backups retention removed after this one was written.
    pub removed: &'a [String],
}

/// `backup init`.
#[derive(Debug, Serialize)]
pub struct InitialBackup<'a> {
    pub file: &'a str,
    pub path: &'a Path,
    pub node_count: u64,
    pub relationship_count: u64,
    pub metadata: &'a Metadata,
}

/// `backup list`.
#[derive(Debug, Serialize)]
pub struct BackupList<'a> {
    pub backup_dir: &'a Path,
    pub backups: &'a [BackupEntry],
}

/// `backup info NAME`.
#[derive(Debug, Serialize)]
pub struct BackupInfo<'a> {
    pub path: &'a Path,
    pub size: u64,
    pub metadata: &'a Metadata,
}

/// `backup verify NAME`.
#[derive(Debug, Serialize)]
pub struct BackupVerified<'a> {
    pub report: &'a VerifyReport,
}

/// `backup status`.
#[derive(Debug, Serialize)]
pub struct BackupStatus<'a> {
    pub current: &'a Counts,
    pub last_backup: Option<LastBackup<'a>>,
    pub change: Option<&'a Change>,
    pub recommendation: StatusRecommendation<'a>,
    pub thresholds: &'a Thresholds,
}

#[derive(Debug, Serialize)]
pub struct LastBackup<'a> {
    pub file: &'a str,
    pub counts: Option<&'a Counts>,
    pub datetime: Option<&'a str>,
    pub age_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct StatusRecommendation<'a> {
    pub backup_recommended: bool,
    pub reason: &'a str,
    /// The last backup is more than 7 days old.
    pub stale: bool,
}

/// `backup prune`.
#[derive(Debug, Serialize)]
pub struct Pruned<'a> {
    pub dry_run: bool,
    pub policies: &'a Policies,
    pub backups: &'a [RetentionEntry],
    pub removed: &'a [String],
}

/// `backup delete --dry-run`.
#[derive(Debug, Serialize)]
pub struct WouldDelete<'a> {
    pub dry_run: bool,
    pub would_delete: Vec<&'a str>,
}

/// `backup delete`.
#[derive(Debug, Serialize)]
pub struct Deleted<'a> {
    pub deleted: &'a [String],
}

/// `backup drill` (its own `ok`: whether the drill passed).
#[derive(Debug, Serialize)]
pub struct Drilled<'a> {
    pub ok: bool,
    pub drill: &'a DrillReport,
}

// ---- install, upgrade, migrations ----

/// `upgrade` when the database is already at the target.
#[derive(Debug, Serialize)]
pub struct AlreadyAt {
    pub already_at: String,
    pub changed: bool,
}

/// `upgrade --dry-run`.
#[derive(Debug, Serialize)]
pub struct UpgradeDryRun<'a> {
    pub dry_run: bool,
    pub plan: &'a UpgradePlan,
    /// Statements and verify queries the server planned with EXPLAIN.
    pub statements_checked: usize,
}

/// `upgrade`.
#[derive(Debug, Serialize)]
pub struct Upgraded<'a> {
    pub changed: bool,
    pub plan: &'a UpgradePlan,
    pub upgrade: &'a UpgradeOutcome,
}

/// `install` when a version is already installed.
#[derive(Debug, Serialize)]
pub struct AlreadyInstalled<'a> {
    pub changed: bool,
    pub installed: &'a VersionRecord,
}

/// `install --baseline X.Y.Z`.
#[derive(Debug, Serialize)]
pub struct Baselined<'a> {
    pub changed: bool,
    pub baseline: &'a BaselinePlan,
}

/// `install`.
#[derive(Debug, Serialize)]
pub struct Installed<'a> {
    pub changed: bool,
    pub plan: &'a InstallPlan,
    pub install: &'a InstallOutcome,
}

/// `migrations status` (its own `ok`: up to date).
#[derive(Debug, Serialize)]
pub struct MigrationsStatus<'a> {
    pub ok: bool,
    pub status: StatusVerdict,
    pub migrations: &'a MigrationStatus,
}

/// `migrations new NAME`.
#[derive(Debug, Serialize)]
pub struct MigrationCreated {
    pub path: String,
    pub version: String,
    pub new_version: bool,
}

// ---- package ----

/// `package --release X.Y.Z`.
#[derive(Debug, Serialize)]
pub struct Packaged<'a> {
    pub zip: &'a Path,
    pub sha256: &'a str,
    pub size: u64,
    pub application_version: String,
    pub backup: &'a Value,
    /// Every entry of the zip: the files, manifest.json and SHA256SUMS.
    pub entries: usize,
    pub files: &'a [ManifestEntry],
}

/// `package verify ZIP`.
#[derive(Debug, Serialize)]
pub struct BundleVerified<'a> {
    pub zip: &'a Path,
    pub application_version: String,
    pub outer_checksum: OuterChecksumDoc<'a>,
    pub entries: usize,
    pub files: &'a [ManifestEntry],
    pub backup: &'a Value,
}

/// Whether the `.sha256` beside a bundle was there and matched.
#[derive(Debug, Serialize)]
pub struct OuterChecksumDoc<'a> {
    pub checked: bool,
    pub sha256: Option<&'a str>,
}

// ---- doctor, config, generated files ----

/// `doctor` (its own `ok`: every check passed).
#[derive(Debug, Serialize)]
pub struct Doctor<'a> {
    pub ok: bool,
    pub server: DoctorServer<'a>,
    pub database: &'a str,
    pub backup_dir: DoctorFolder<'a>,
    pub installed_version: InstalledVersion<'a>,
    pub unfinished_operation: Option<String>,
}

/// The version record, `null` when none is recorded, or `{error}`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum InstalledVersion<'a> {
    Recorded(&'a VersionRecord),
    None,
    Unreadable { error: String },
}

#[derive(Debug, Serialize)]
pub struct DoctorServer<'a> {
    pub address: &'a str,
    pub agent: &'a str,
    pub version: &'a str,
    pub edition: &'a str,
}

#[derive(Debug, Serialize)]
pub struct DoctorFolder<'a> {
    pub path: String,
    pub ok: bool,
    pub exists: bool,
    pub writable: bool,
    /// Octal, e.g. `0750`.
    pub mode: Option<String>,
    pub problem: Option<&'a str>,
    pub warning: Option<&'a str>,
}

/// `config show`.
#[derive(Debug, Serialize)]
pub struct ConfigShown {
    pub config_file: Option<ConfigFile>,
    pub settings: BTreeMap<String, Setting>,
}

#[derive(Debug, Serialize)]
pub struct ConfigFile {
    pub path: String,
    pub source: Source,
}

/// One setting's value as shown (the password never) and where it came from.
#[derive(Debug, Serialize)]
pub struct Setting {
    pub value: String,
    pub source: Source,
}

/// `completions SHELL`.
#[derive(Debug, Serialize)]
pub struct Completions<'a> {
    pub shell: String,
    pub script: &'a str,
}

/// `man` (one page on stdout).
#[derive(Debug, Serialize)]
pub struct ManPage<'a> {
    pub page: &'a str,
}

/// `man --out DIR`.
#[derive(Debug, Serialize)]
pub struct ManPages<'a> {
    pub dir: String,
    pub pages: &'a [String],
}

// ---- schedule ----

/// `schedule install --cron`.
#[derive(Debug, Serialize)]
pub struct CronLine<'a> {
    pub cron: bool,
    pub schedule: &'a str,
    pub cron_expression: &'a str,
    pub crontab_line: &'a str,
    pub next_runs: &'a [String],
    pub notes: &'a [String],
}

/// `schedule install`.
#[derive(Debug, Serialize)]
pub struct TimerInstalled<'a> {
    pub cron: bool,
    pub scope: String,
    pub dir: &'a Path,
    pub files: &'a crate::schedule::Installed,
    pub schedule: &'a str,
    pub cron_expression: &'a str,
    pub on_calendar: String,
    pub next_runs: &'a [String],
    pub systemctl: &'a [String],
    pub notes: &'a [String],
}

/// `schedule status` with nothing installed.
#[derive(Debug, Serialize)]
pub struct NoTimer<'a> {
    pub installed: bool,
    pub dir: &'a Path,
}

/// `schedule status`.
#[derive(Debug, Serialize)]
pub struct TimerStatus<'a> {
    pub installed: bool,
    pub status: &'a crate::schedule::Status,
    pub next_runs: Option<&'a [String]>,
}

/// `schedule remove`.
#[derive(Debug, Serialize)]
pub struct TimerRemoved<'a> {
    pub removed: &'a [PathBuf],
    pub systemctl: &'a [String],
}

/// Prints the run's JSON document on stdout, unless one was printed already:
/// a Ctrl-C can end a prompt (its error returns to the reporter) while the
/// interrupt handler reports it too, and stdout must hold exactly one.
pub fn emit(doc: &impl Serialize) {
    static PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // The lock first: the handler, which exits right after, waits here until
    // a document being printed is complete.
    let mut out = std::io::stdout().lock();
    if PRINTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(doc).unwrap_or_default()
    );
    let _ = out.flush();
}

/// The error document of a Ctrl-C, which the interrupt handler prints just
/// before it exits (`--json` only).
pub fn print_interrupted(fault: crate::exit::Fault, message: &str) {
    let doc = ErrorDocument {
        ok: false,
        error: ErrorBody {
            kind: fault.kind(),
            message: message.to_owned(),
            exit_code: fault.code(),
            details: None,
        },
    };
    emit(&doc);
}

/// `backup restore --json`.
#[derive(Debug, Serialize)]
pub struct RestoreDocument<'a> {
    pub ok: bool,
    pub restore: &'a RestoreOutcome,
}

/// `recover --json`.
#[derive(Debug, Serialize)]
pub struct RecoveryDocument<'a> {
    pub ok: bool,
    pub recovery: &'a RecoveryReport,
}
