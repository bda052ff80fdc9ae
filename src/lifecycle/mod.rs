//! The lifecycle engine: `install`, `upgrade --to` and `migrations status`.
//!
//! Plan, then execute. [`plan`] computes everything an upgrade will do from
//! the migration catalog and the history recorded in the database, before
//! anything is written; `--dry-run` prints exactly that plan. [`engine`] runs
//! it inside the same safety machinery restore uses (lock, journal, verified
//! safety backup, rollback, recovery), and [`install`] decides how a database
//! without an installed version gets one.
//!
//! History: every applied migration file is one
//! `(:IgnSetupMigration {version, name, checksum, applied_at, duration_ms, tool_version, baseline})`
//! node (see [`crate::state`]); an applied file whose checksum changed, a
//! recorded file missing on disk, or a file of an installed version that never
//! ran stops an upgrade before it starts.

pub mod engine;
pub mod error;
pub mod install;
pub mod plan;

use semver::Version;
use serde::Serialize;

pub use engine::{
    execute_upgrade, explain_upgrade, prepare_upgrade, AppliedFile, UpgradeDecision, UpgradeOutcome,
};
pub use error::{HistoryProblem, LifecycleError, MigrationFailure, StepError};
pub use install::{
    execute_baseline, execute_install, open_bundle, prepare_install, BaselinePlan, InstallDecision,
    InstallOptions, InstallOutcome, InstallPlan, OpenedBundle,
};
pub use plan::{history_problems, Safety, UpgradePlan};

use crate::graph::Db;
use crate::migrations::Catalog;
use crate::state::{self, AppliedMigration, VersionRecord};

pub use crate::operation::is_empty;

/// A migration file not applied yet.
#[derive(Debug, Clone, Serialize)]
pub struct PendingMigration {
    pub version: Version,
    pub name: String,
    pub checksum: String,
}

/// `migrations status`: what is installed, applied, pending, and wrong.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    pub installed: Option<VersionRecord>,
    pub latest: Option<Version>,
    pub applied: Vec<AppliedMigration>,
    /// Versions newer than the installed one (all of them when nothing is installed).
    pub pending_versions: Vec<Version>,
    pub pending: Vec<PendingMigration>,
    pub problems: Vec<HistoryProblem>,
}

/// The overall verdict of a [`MigrationStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusVerdict {
    UpToDate,
    Pending,
    NotInstalled,
    Drift,
}

impl MigrationStatus {
    pub fn verdict(&self) -> StatusVerdict {
        if !self.problems.is_empty() {
            StatusVerdict::Drift
        } else if self.installed.is_none() {
            StatusVerdict::NotInstalled
        } else if !self.pending_versions.is_empty() {
            StatusVerdict::Pending
        } else {
            StatusVerdict::UpToDate
        }
    }
}

/// Reads the installed version and history and compares them with `catalog`.
pub async fn migration_status(
    db: &Db,
    catalog: &Catalog,
) -> Result<MigrationStatus, LifecycleError> {
    let installed = state::installed_version(db).await?;
    let applied = state::applied_migrations(db).await?;
    let from = installed.as_ref().map(|r| &r.version);
    let latest = catalog.latest().map(|d| d.version.clone());
    let pending_dirs = match &latest {
        Some(l) => catalog.pending(from, l),
        None => Vec::new(),
    };
    let problems = plan::history_problems(catalog, from, &applied);
    Ok(MigrationStatus {
        pending_versions: pending_dirs.iter().map(|d| d.version.clone()).collect(),
        pending: pending_dirs
            .iter()
            .flat_map(|d| d.migrations.iter())
            .map(|m| PendingMigration {
                version: m.version.clone(),
                name: m.name.clone(),
                checksum: m.checksum.clone(),
            })
            .collect(),
        installed,
        latest,
        applied,
        problems,
    })
}
