//! Backups: the file format, streaming writer and reader, the backup folder
//! (names, index, retention), creating a backup from the database, verifying
//! a file, and the change detection behind `backup status` and `--auto`.

pub mod create;
pub mod format;
pub mod reader;
pub mod status;
pub mod store;
mod strict;
pub mod verify;
pub mod writer;

use std::path::{Path, PathBuf};

use crate::graph::GraphError;

pub use create::{create_backup, CreateRequest};
pub use format::{BackupType, Metadata};
pub use store::BackupStore;
pub use verify::{verify_backup, VerifyReport};

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot {action} `{path}`: {source}{}", crate::fsutil::io_hint(.source))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is {kind}, not a backup file; name a regular .json backup file", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("no backup named `{name}` in `{dir}` (and no such file); `ign-setup backup list` shows the backups")]
    NotFound { name: String, dir: PathBuf },
    #[error("there is no backup in `{0}` yet; create one with `ign-setup backup create`")]
    NoBackups(PathBuf),
    #[error("there is no full backup in `{dir}` ({others} safety or pre-upgrade backup(s) only); those restore only by name: `ign-setup backup restore NAME` (or --file NAME; `ign-setup backup list` shows them)")]
    NoFullBackup { dir: PathBuf, others: usize },
    #[error("`{path}` is not valid JSON (line {line}, column {column}): {message}; the file is damaged or truncated — use another backup")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{path}` has backup format version `{version}`, which this ign-setup cannot read (it reads 1.0.0, 2.x and 3.x); use a matching ign-setup release")]
    UnknownFormat { path: PathBuf, version: String },
    #[error("`{path}` is not a valid backup: {message}")]
    Structure { path: PathBuf, message: String },
    #[error("`{path}`: {what} #{index} is invalid: {message}")]
    Record {
        path: PathBuf,
        what: &'static str,
        index: u64,
        message: String,
    },
    #[error("`{path}` failed its checksum (recorded {expected}, computed {actual}): the file was changed or damaged after it was written; use another backup")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("`{path}`: {what} is {declared} in the metadata but the file holds {actual}; the file is damaged or was edited — use another backup")]
    CountMismatch {
        path: PathBuf,
        what: String,
        declared: u64,
        actual: u64,
    },
    #[error("`{path}`: relationship `{rel}` points at node `{node}`, which is not in the file; the backup is incomplete — use another backup")]
    DanglingEndpoint {
        path: PathBuf,
        rel: String,
        node: String,
    },
    #[error("`{path}`: node id `{id}` appears twice; the backup is damaged — use another backup")]
    DuplicateId { path: PathBuf, id: String },
    #[error("`{path}`: {message}")]
    BadName { path: PathBuf, message: String },
    #[error("`{path}`: node `{id}` carries the label `{label}`, which ign-setup reserves for its own bookkeeping (the operation lock, the marker of an unfinished operation, a load in progress); no backup ign-setup writes holds it, so the file was crafted or edited — use another backup")]
    ReservedLabel {
        path: PathBuf,
        id: String,
        label: String,
    },
    #[error("{0}")]
    Inconsistent(String),
    #[error("the database changed while it was being read, in each of {attempts} attempts (last: {last}), so no backup was written: a backup must be one point in time. Stop the clients that write to it (or wait for a quiet moment) and run the backup again; for a database that is written to all the time use Neo4j's own tools (`neo4j-admin database backup` on Enterprise Edition, or `neo4j-admin database dump` of a stopped database)")]
    Changing { attempts: usize, last: String },
    #[error("the backup reason is too long ({0} characters; at most 1000)")]
    ReasonTooLong(usize),
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The database has an unfinished operation (or is locked): what it holds
    /// now is not a state anyone should keep as a backup.
    #[error(transparent)]
    Busy(#[from] crate::safety::SafetyError),
    #[error("cannot back up a value: {0}")]
    Value(String),
}

/// An error and all its causes on one line: `property "x": integer ... does not fit`.
/// For errors that end up inside a message string, where the reporter can no
/// longer follow `source()`.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl BackupError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> BackupError {
        BackupError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn json(path: &Path, e: &serde_json::Error) -> BackupError {
        if e.is_io() {
            return BackupError::Io {
                action: "read",
                path: path.to_owned(),
                source: std::io::Error::other(e.to_string()),
            };
        }
        BackupError::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }

    pub(crate) fn structure(path: &Path, message: &str) -> BackupError {
        BackupError::Structure {
            path: path.to_owned(),
            message: message.to_owned(),
        }
    }

    pub(crate) fn record(
        path: &Path,
        what: &'static str,
        index: u64,
        message: &str,
    ) -> BackupError {
        BackupError::Record {
            path: path.to_owned(),
            what,
            index,
            message: message.to_owned(),
        }
    }

    /// A bad file is invalid input (exit 20); the disk, the server or a
    /// database that kept changing are not.
    pub fn fault(&self) -> crate::exit::Fault {
        use crate::exit::Fault;
        match self {
            BackupError::Io { .. } => Fault::Io,
            BackupError::Graph(g) => g.fault(),
            BackupError::Inconsistent(_) | BackupError::Changing { .. } => Fault::Backup,
            BackupError::Busy(s) => s.fault(),
            // Nothing to use: refused before anything changed.
            BackupError::NoBackups(_) | BackupError::NoFullBackup { .. } => Fault::Refused,
            BackupError::NotAFile { .. }
            | BackupError::NotFound { .. }
            | BackupError::Json { .. }
            | BackupError::UnknownFormat { .. }
            | BackupError::Structure { .. }
            | BackupError::Record { .. }
            | BackupError::Checksum { .. }
            | BackupError::CountMismatch { .. }
            | BackupError::DanglingEndpoint { .. }
            | BackupError::DuplicateId { .. }
            | BackupError::BadName { .. }
            | BackupError::ReservedLabel { .. }
            | BackupError::ReasonTooLong(_)
            | BackupError::Value(_) => Fault::InvalidBackup,
        }
    }
}
