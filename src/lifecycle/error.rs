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

use crate::backup::BackupError;
use crate::bundle::BundleError;
use crate::graph::GraphError;
use crate::migrations::MigrationError;
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
    #[error("interrupted by Ctrl-C after version {version}, `{file}`")]
    Interrupted { version: Version, file: String },
    #[error("loading the initial data failed: {0}")]
    Load(#[source] RestoreError),
    #[error("the migration history of the loaded data does not match the files: {0}")]
    History(#[source] HistoryProblem),
    #[error("final check failed: {0}")]
    Check(String),
    #[error("recording the installed version failed: {0}")]
    Version(#[source] StateError),
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
    #[error("{0}")]
    History(Box<HistoryProblem>),
    #[error("{source}\n{now}")]
    RolledBack {
        #[source]
        source: RestoreError,
        /// Where the data is now, for people: "The database is back at version 1.4.0."
        now: String,
    },
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

impl From<HistoryProblem> for LifecycleError {
    fn from(p: HistoryProblem) -> LifecycleError {
        LifecycleError::History(Box::new(p))
    }
}

impl LifecycleError {
    /// The exit code (see `crate::error::exit`).
    pub fn exit_code(&self) -> i32 {
        use crate::error::{exit, graph_exit_code, restore_exit_code, safety_exit_code};
        match self {
            LifecycleError::Catalog(MigrationError::Io { .. }) => exit::FAILURE,
            LifecycleError::Catalog(_)
            | LifecycleError::UnknownTarget { .. }
            | LifecycleError::Downgrade { .. }
            | LifecycleError::NotInstalled
            | LifecycleError::NeedsBaseline { .. }
            | LifecycleError::Refused(_)
            | LifecycleError::History(_) => exit::INVALID_INPUT,
            LifecycleError::RolledBack { .. } => exit::ROLLED_BACK,
            LifecycleError::Restore(r) => restore_exit_code(r),
            LifecycleError::Safety(s) => safety_exit_code(s),
            LifecycleError::State(StateError::Graph(g)) | LifecycleError::Graph(g) => {
                graph_exit_code(g)
            }
            LifecycleError::State(_) => exit::FAILURE,
            LifecycleError::Backup(BackupError::Graph(g)) => graph_exit_code(g),
            LifecycleError::Backup(BackupError::Busy(s)) => safety_exit_code(s),
            LifecycleError::Backup(b) if b.is_invalid_input() => exit::INVALID_INPUT,
            LifecycleError::Backup(_) => exit::FAILURE,
            LifecycleError::Bundle(BundleError::Io { .. }) => exit::FAILURE,
            LifecycleError::Bundle(_) => exit::INVALID_INPUT,
            LifecycleError::Internal(_) => exit::FAILURE,
        }
    }

    /// A short machine-readable name for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            LifecycleError::Catalog(_) => "invalid_migrations",
            LifecycleError::UnknownTarget { .. } => "unknown_version",
            LifecycleError::Downgrade { .. } => "downgrade",
            LifecycleError::NotInstalled => "not_installed",
            LifecycleError::NeedsBaseline { .. } => "needs_baseline",
            LifecycleError::Refused(_) => "refused",
            LifecycleError::History(_) => "drift",
            LifecycleError::RolledBack { .. } => "rolled_back",
            LifecycleError::Restore(RestoreError::RollbackFailed { .. }) => "recovery_needed",
            LifecycleError::Restore(RestoreError::SchemaNotRecreatable { .. }) => {
                "schema_not_recreatable"
            }
            LifecycleError::Restore(_) => "restore",
            LifecycleError::Safety(SafetyError::Locked { .. }) => "locked",
            LifecycleError::Safety(_) => "safety",
            LifecycleError::State(_) => "state",
            LifecycleError::Graph(_) => "database",
            LifecycleError::Backup(_) => "backup",
            LifecycleError::Bundle(_) => "invalid_bundle",
            LifecycleError::Internal(_) => "internal",
        }
    }
}
