//! The error every command returns, and the exit code each case maps to.
//! Each area keeps its own error enum; this one only gathers them so the
//! binary has one reporter and one table of exit codes (documented in the README).

use crate::backup::BackupError;
use crate::bundle::BundleError;
use crate::config::ConfigError;
use crate::drill::DrillError;
use crate::graph::GraphError;
use crate::lifecycle::LifecycleError;
use crate::migrations::MigrationError;
use crate::restore::RestoreError;
use crate::safety::SafetyError;
use crate::schedule::ScheduleError;

/// Exit codes. Stable: scripts depend on them.
pub mod exit {
    pub const OK: i32 = 0;
    /// Anything not listed below.
    pub const FAILURE: i32 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: i32 = 2;
    /// Bad configuration: config file, URI, missing password.
    pub const CONFIG: i32 = 3;
    /// The command did its check and there is work to do (`backup create --auto`
    /// made no backup, `migrations status` has pending migrations).
    pub const PENDING: i32 = 4;
    /// `doctor` found a problem.
    pub const UNHEALTHY: i32 = 5;
    pub const UNREACHABLE: i32 = 10;
    pub const AUTH: i32 = 11;
    pub const UNKNOWN_DATABASE: i32 = 12;
    pub const TLS: i32 = 13;
    /// The server refused a query or the connection dropped mid-operation.
    pub const DATABASE: i32 = 14;
    /// A backup, bundle or migration file is invalid; nothing was changed.
    pub const INVALID_INPUT: i32 = 20;
    /// Another install/upgrade/restore holds the lock.
    pub const LOCKED: i32 = 30;
    /// The operation failed and the database was rolled back to its earlier state.
    pub const ROLLED_BACK: i32 = 31;
    /// The operation failed and the rollback did not complete: run `ign-setup recover`.
    pub const RECOVERY_NEEDED: i32 = 32;
    /// Confirmation was declined, or needed and not possible (no terminal, no --yes).
    pub const NOT_CONFIRMED: i32 = 40;
    /// Ctrl-C.
    pub const INTERRUPTED: i32 = 130;
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Safety(#[from] SafetyError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Lifecycle(Box<LifecycleError>),
    #[error(transparent)]
    Drill(#[from] DrillError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// A command-line value that clap's own checks cannot judge.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotConfirmed(String),
    #[error("{0}")]
    Io(String),
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => exit::CONFIG,
            Error::Graph(g) => graph_exit_code(g),
            Error::Backup(BackupError::Graph(g)) => graph_exit_code(g),
            Error::Backup(BackupError::Busy(s)) => safety_exit_code(s),
            Error::Backup(b) if b.is_invalid_input() => exit::INVALID_INPUT,
            Error::Backup(_) => exit::FAILURE,
            Error::Restore(r) => restore_exit_code(r),
            Error::Safety(s) => safety_exit_code(s),
            Error::Bundle(BundleError::Io { .. }) => exit::FAILURE,
            Error::Bundle(_) => exit::INVALID_INPUT,
            Error::Lifecycle(l) => l.exit_code(),
            Error::Drill(d) => d.exit_code(),
            Error::Schedule(s) => s.exit_code(),
            Error::Usage(_) => exit::USAGE,
            Error::NotConfirmed(_) => exit::NOT_CONFIRMED,
            Error::Io(_) => exit::FAILURE,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }

    /// A short machine-readable name for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Graph(g) => match g {
                GraphError::Unreachable { .. } => "unreachable",
                GraphError::AuthFailed { .. } | GraphError::AuthRateLimited { .. } => "auth_failed",
                GraphError::UnknownDatabase { .. } => "unknown_database",
                GraphError::Tls { .. } => "tls",
                _ => "database",
            },
            Error::Backup(BackupError::Graph(_)) => "database",
            Error::Backup(BackupError::Busy(_)) => "busy",
            Error::Backup(b) if b.is_invalid_input() => "invalid_backup",
            Error::Backup(_) => "backup",
            Error::Restore(RestoreError::RolledBack { .. }) => "rolled_back",
            Error::Restore(RestoreError::SchemaNotRecreatable { .. }) => "schema_not_recreatable",
            Error::Restore(RestoreError::RollbackFailed { .. }) => "recovery_needed",
            Error::Restore(_) => "restore",
            Error::Safety(SafetyError::Locked { .. }) => "locked",
            Error::Safety(_) => "safety",
            Error::Bundle(BundleError::Io { .. }) => "io",
            Error::Bundle(_) => "invalid_bundle",
            Error::Lifecycle(l) => l.kind(),
            Error::Drill(d) => d.kind(),
            Error::Schedule(_) => "schedule",
            Error::Usage(_) => "usage",
            Error::NotConfirmed(_) => "not_confirmed",
            Error::Io(_) => "io",
            Error::Interrupted => "interrupted",
        }
    }
}

impl Error {
    /// Structured facts for `--json` beyond the message: the indexes and
    /// constraints a restore refused to lose, or a rollback could not put back.
    pub fn details(&self) -> Option<serde_json::Value> {
        let restore = match self {
            Error::Restore(r) => r,
            Error::Lifecycle(l) => match l.as_ref() {
                LifecycleError::RolledBack { source, .. } | LifecycleError::Restore(source) => {
                    source
                }
                _ => return None,
            },
            _ => return None,
        };
        let gaps = restore.schema_not_recreated()?;
        let key = match restore {
            RestoreError::SchemaNotRecreatable { .. } => "schema_not_recreatable",
            _ => "schema_not_recreated",
        };
        Some(serde_json::json!({ key: gaps }))
    }
}

pub fn graph_exit_code(g: &GraphError) -> i32 {
    match g {
        GraphError::Unreachable { .. } => exit::UNREACHABLE,
        GraphError::AuthFailed { .. } | GraphError::AuthRateLimited { .. } => exit::AUTH,
        GraphError::UnknownDatabase { .. } => exit::UNKNOWN_DATABASE,
        GraphError::Tls { .. } => exit::TLS,
        _ => exit::DATABASE,
    }
}

pub fn restore_exit_code(r: &RestoreError) -> i32 {
    match r {
        RestoreError::RolledBack { .. } => exit::ROLLED_BACK,
        RestoreError::RollbackFailed { .. } => exit::RECOVERY_NEEDED,
        RestoreError::Backup(BackupError::Graph(g)) | RestoreError::Graph(g) => graph_exit_code(g),
        RestoreError::Backup(BackupError::Busy(s)) => safety_exit_code(s),
        RestoreError::Backup(b) if b.is_invalid_input() => exit::INVALID_INPUT,
        RestoreError::Name(_) => exit::INVALID_INPUT,
        RestoreError::SchemaNotRecreatable { .. } => exit::INVALID_INPUT,
        RestoreError::Safety(s) => safety_exit_code(s),
        RestoreError::Interrupted => exit::INTERRUPTED,
        _ => exit::FAILURE,
    }
}

pub fn safety_exit_code(s: &SafetyError) -> i32 {
    match s {
        SafetyError::Locked { .. }
        | SafetyError::Unfinished { .. }
        | SafetyError::OperationInDatabase { .. } => exit::LOCKED,
        SafetyError::SafetyBackupMissing { .. } => exit::RECOVERY_NEEDED,
        SafetyError::Graph(g) => graph_exit_code(g),
        _ => exit::FAILURE,
    }
}

impl From<LifecycleError> for Error {
    fn from(e: LifecycleError) -> Error {
        Error::Lifecycle(Box::new(e))
    }
}

impl From<MigrationError> for Error {
    fn from(e: MigrationError) -> Error {
        LifecycleError::Catalog(e).into()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
