//! The safety primitives that restore and upgrade both rely on: a journal that
//! lets an interrupted destructive operation be rolled back by the next run,
//! the marker that tells every client of the database that such an operation
//! is unfinished, and a lock that keeps two such operations off one database
//! at once.
//!
//! They sit below restore and the lifecycle engine so neither has to reach into
//! the other for them. Unix only: the lock uses `flock` and liveness checks use
//! `kill(pid, 0)`.

mod durable;
mod error;
mod flock;
pub mod journal;
mod lease;
pub mod lock;
pub mod marker;
mod owner;

pub use error::SafetyError;
/// The local layer alone, for work on the backup folder that needs no
/// database lease (backup create, prune).
pub(crate) use flock::LocalLock;
pub use flock::LOCK_FILE;
pub use journal::{Journal, JournalEntry, OperationKind, Phase, JOURNAL_FILE};
pub use lease::{DEFAULT_LEASE, LOCK_LABEL};
pub use lock::{acquire, acquire_with_lease, clear_stale, LockGuard};
pub use marker::{Marker, MARKER_LABEL};
pub use owner::{host_name, pid_alive};

#[cfg(test)]
mod db_tests;
