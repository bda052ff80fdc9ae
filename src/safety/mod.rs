//! The safety primitives that restore and upgrade both rely on: a journal that
//! lets an interrupted destructive operation be rolled back by the next run,
//! and a lock that keeps two such operations off one database at once.
//!
//! They sit below restore and the lifecycle engine so neither has to reach into
//! the other for them. Unix only: the lock uses `flock` and liveness checks use
//! `kill(pid, 0)`.

mod durable;
mod error;
pub mod journal;
mod owner;

pub use error::SafetyError;
pub use journal::{Journal, JournalEntry, OperationKind, Phase, JOURNAL_FILE};
pub use owner::{host_name, pid_alive};
