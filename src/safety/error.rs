//! The one error type of the safety primitives (journal and lock).
//!
//! Each message ends with what the person at the terminal should do next: these
//! errors stop a destructive operation before it starts, so the reader needs to
//! know whether to wait, to recover, or to repair a file by hand.

use std::io;
use std::path::PathBuf;

use super::journal::JournalEntry;
use super::marker::Marker;
use crate::graph::GraphError;

/// Everything that can go wrong while journalling or locking an operation.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    /// A journal or lock file could not be read or written.
    #[error("could not {action} `{}`: {source}; check that the backup folder exists and is writable", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The journal exists but cannot be understood. It is never ignored: it may be
    /// the only record that a database was left half-restored.
    #[error("the operation journal `{}` is damaged ({reason}); inspect it; if no operation is running, `ign-setup recover` handles it", path.display())]
    CorruptJournal { path: PathBuf, reason: String },

    /// An earlier operation was interrupted and has not been rolled back yet.
    /// Boxed because a journal entry is large and this enum travels in every `Result`.
    #[error("an unfinished {} from {} (pid {} on host {}) must be recovered first: run `ign-setup recover`",
        entry.operation, entry.started_at, entry.pid, entry.host)]
    Unfinished { entry: Box<JournalEntry> },

    /// The journal belongs to an operation that is still running, so it must not be
    /// taken over for recovery.
    #[error("the {} started at {} is still running (pid {} on host {}); wait for it to finish",
        entry.operation, entry.started_at, entry.pid, entry.host)]
    StillRunning { entry: Box<JournalEntry> },

    /// Another install, upgrade or restore holds the lock.
    #[error("locked by {holder} since {since}; wait for it to finish, or if that process is gone run `ign-setup recover`")]
    Locked {
        /// `host/pid (operation)`.
        holder: String,
        since: String,
    },

    /// The database lease was taken over by another client while this operation
    /// held it, typically after the server was unreachable for longer than the lease.
    #[error("the database lock was lost (now held by {holder}); stop, and run `ign-setup recover` once the other operation has finished")]
    LeaseLost { holder: String },

    /// The database records an operation that has not finished: its content
    /// may be half-changed, so nothing may read it as good data or change it
    /// further until that operation is recovered.
    #[error("the database has an unfinished {}, so its content may be half-changed and nothing was done; wait for it if it is still running, else run `ign-setup recover` with a backup folder that holds {} (e.g. `--backup-dir {}` on host {})",
        marker.describe(), marker.needs(), marker.backup_dir, marker.host)]
    OperationInDatabase { marker: Box<Marker> },

    /// Recovery needs the safety backup the marker names, and this folder does
    /// not hold it (or holds another file under that name).
    #[error("the database has an unfinished {}; recovering it needs {}, but `{}` {problem}. Copy that file into this folder, or run `ign-setup recover --backup-dir {}` on host {}",
        marker.describe(), marker.needs(), dir.display(), marker.backup_dir, marker.host)]
    SafetyBackupMissing {
        marker: Box<Marker>,
        dir: PathBuf,
        problem: String,
    },

    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl SafetyError {
    pub fn fault(&self) -> crate::exit::Fault {
        use crate::exit::Fault;
        match self {
            SafetyError::Io { .. } => Fault::Io,
            SafetyError::CorruptJournal { .. }
            | SafetyError::StillRunning { .. }
            | SafetyError::LeaseLost { .. } => Fault::Safety,
            SafetyError::Unfinished { .. } | SafetyError::OperationInDatabase { .. } => {
                Fault::Unfinished
            }
            SafetyError::SafetyBackupMissing { .. } => Fault::RecoveryNeeded,
            SafetyError::Locked { .. } => Fault::Locked,
            SafetyError::Graph(g) => g.fault(),
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SafetyError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
