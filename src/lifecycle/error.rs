//! What can stop an install or upgrade, and what a failed step reports.
//!
//! Refusals ([`LifecycleError`] variants other than `Failed`) happen before the
//! database is touched, so each one says what to change and that nothing
//! changed. A failure after the database was touched is a [`StepError`]
//! carried through the rollback, so the final message names the version, the
//! file and the statement's line *and* what the rollback did.

use std::path::PathBuf;

use semver::Version;
use serde::Serialize;

use super::engine::AppliedFile;
use crate::backup::BackupError;
use crate::bundle::BundleError;
use crate::exit::Fault;
use crate::graph::GraphError;
use crate::migrations::MigrationError;
use crate::operation::OperationError;
use crate::restore::RestoreError;
use crate::safety::SafetyError;
use crate::state::StateError;

/// A disagreement between the migration history in the database and the
/// files on disk. Any of them stops an upgrade before it starts.
#[derive(Debug, Clone, Serialize, thiserror::Error, PartialEq, Eq)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum HistoryProblem {
    /// An applied file was edited afterwards.
    #[error("migration `{}` was changed after it was applied: recorded sha256 {recorded}, the file now has {on_disk}; restore the original file (for example `git checkout -- {}`), or, if the edit is deliberate and the database already matches it, re-record the history with `ign-setup install --baseline {installed}`", path.display(), path.display())]
    Drift {
        version: Version,
        name: String,
        path: PathBuf,
        recorded: String,
        on_disk: String,
        installed: String,
    },
    /// A file recorded as applied is not in the migrations folder.
    #[error("migration {version}/{name} is recorded as applied but is not in `{}`: restore the file, or point --migrations at the folder it came from", dir.display())]
    MissingOnDisk {
        version: Version,
        name: String,
        dir: PathBuf,
    },
    /// A file in an installed version's folder that never ran.
    #[error("migration `{}` belongs to version {version}, which is already installed ({installed}), but was never applied: it was added after that release; move it into a new version folder", path.display())]
    NeverApplied {
        version: Version,
        name: String,
        path: PathBuf,
        installed: Version,
    },
}

/// One step of an install or upgrade that failed after the database was touched.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("version {version}, `{file}`, statement at line {line}: {source}")]
    Statement {
        version: Version,
        file: String,
        line: usize,
        #[source]
        source: GraphError,
    },
    #[error("version {version}, `{file}`: recording it as applied failed: {source}")]
    Record {
        version: Version,
        file: String,
        #[source]
        source: StateError,
    },
    #[error("version {version}, verify.cypher query {index} (`{query}`) {problem}")]
    Verify {
        version: Version,
        index: usize,
        query: String,
        problem: String,
    },
    #[error("version {version}, after `{file}`: {source}")]
    Injected {
        version: Version,
        file: String,
        #[source]
        source: crate::faults::InjectedFault,
    },
    /// Ctrl-C, before the statement at `before_line` of `file`, or after
    /// the whole file when `None`.
    #[error("interrupted by Ctrl-C {}", interrupted_at(.version, .file, .before_line))]
    Interrupted {
        version: Version,
        file: String,
        before_line: Option<usize>,
    },
    #[error("loading the initial data failed: {0}")]
    Load(#[source] RestoreError),
    #[error("the migration history of the loaded data does not match the files: {0}")]
    History(#[source] HistoryProblem),
    #[error("final check failed: {0}")]
    Check(String),
    #[error("recording the installed version failed: {0}")]
    Version(#[source] StateError),
}

/// A failed step together with the migration files that ran before it (in
/// the order they ran): after a rollback that failed too, this is what the
/// database may still hold.
#[derive(Debug, thiserror::Error)]
#[error("{step}{}", applied_note(.applied))]
pub struct MigrationFailure {
    #[source]
    pub step: StepError,
    pub applied: Vec<AppliedFile>,
}

impl From<StepError> for MigrationFailure {
    fn from(step: StepError) -> MigrationFailure {
        MigrationFailure {
            step,
            applied: Vec::new(),
        }
    }
}

fn applied_note(applied: &[AppliedFile]) -> String {
    if applied.is_empty() {
        return String::new();
    }
    let files: Vec<String> = applied
        .iter()
        .map(|a| format!("{}/{}", a.version, a.name))
        .collect();
    format!(" (applied before it: {})", files.join(", "))
}

/// Everything an install, upgrade or `migrations status` can fail with.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Catalog(#[from] MigrationError),
    #[error("version {target} is not in the migrations folder `{}` (it has: {available}); pick one of those, or point --migrations at the right folder; nothing was changed", dir.display())]
    UnknownTarget {
        target: Version,
        dir: PathBuf,
        available: String,
    },
    #[error("the database is at {installed}, newer than {target}: ign-setup does not downgrade; to go back, restore a backup taken at {target} (`ign-setup backup list --detailed`); nothing was changed")]
    Downgrade { installed: Version, target: Version },
    #[error("no application version is installed in this database: run `ign-setup install` first (or `ign-setup install --baseline X.Y.Z` if it already holds data at release X.Y.Z); nothing was changed")]
    NotInstalled,
    #[error("the database holds {nodes} nodes but no installed version, so which migrations already ran is unknown: if its data is at a release, record that with `ign-setup install --baseline X.Y.Z` (releases in `{}`: {available}); nothing was changed", dir.display())]
    NeedsBaseline {
        nodes: u64,
        dir: PathBuf,
        available: String,
    },
    #[error("{0}; nothing was changed")]
    Refused(String),
    /// `upgrade --dry-run`: the server refused to plan a statement.
    #[error("the server refuses version {version}, {place} (asked with EXPLAIN, which runs nothing): {source}; fix the file and run `ign-setup upgrade --dry-run` again; nothing was changed")]
    DryRunRefused {
        version: Version,
        /// "`001_x.cypher`, statement at line 7" or "`verify.cypher`, query 2".
        place: String,
        #[source]
        source: Box<GraphError>,
    },
    #[error("{0}")]
    History(Box<HistoryProblem>),
    /// The guarded operation failed: not started, rolled back, or the
    /// rollback failed too.
    #[error(transparent)]
    Operation(Box<OperationError<MigrationFailure>>),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Safety(#[from] SafetyError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{0}")]
    Internal(String),
}

impl From<OperationError<MigrationFailure>> for LifecycleError {
    fn from(e: OperationError<MigrationFailure>) -> LifecycleError {
        LifecycleError::Operation(Box::new(e))
    }
}

impl From<HistoryProblem> for LifecycleError {
    fn from(p: HistoryProblem) -> LifecycleError {
        LifecycleError::History(Box::new(p))
    }
}

impl LifecycleError {
    pub fn fault(&self) -> Fault {
        match self {
            LifecycleError::Catalog(MigrationError::Io { .. }) => Fault::Io,
            LifecycleError::Catalog(_) => Fault::InvalidMigrations,
            LifecycleError::UnknownTarget { .. } => Fault::UnknownVersion,
            LifecycleError::Downgrade { .. } => Fault::Downgrade,
            LifecycleError::NotInstalled => Fault::NotInstalled,
            LifecycleError::NeedsBaseline { .. } => Fault::NeedsBaseline,
            LifecycleError::Refused(_) => Fault::Refused,
            // The file's statement is what the server refused; anything
            // else (a dropped connection) is the server's own fault.
            LifecycleError::DryRunRefused { source, .. }
                if matches!(**source, GraphError::Query { .. }) =>
            {
                Fault::InvalidMigrations
            }
            LifecycleError::DryRunRefused { source, .. } => source.fault(),
            LifecycleError::History(_) => Fault::Drift,
            LifecycleError::Operation(op) => op.fault(),
            LifecycleError::Restore(r) => r.fault(),
            LifecycleError::Safety(s) => s.fault(),
            LifecycleError::State(s) => s.fault(),
            LifecycleError::Graph(g) => g.fault(),
            LifecycleError::Backup(b) => b.fault(),
            LifecycleError::Bundle(b) => b.fault(),
            LifecycleError::Internal(_) => Fault::Internal,
        }
    }
}

fn interrupted_at(version: &Version, file: &str, before_line: &Option<usize>) -> String {
    match before_line {
        Some(line) => format!("before line {line} of version {version}, `{file}`"),
        None => format!("after version {version}, `{file}`"),
    }
}
