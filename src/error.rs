//! The error every command returns. Each area keeps its own error enum and
//! says which [`Fault`] each case is; this one only gathers them so the
//! binary has one reporter. Exit codes and kinds come from [`crate::exit`].

use crate::backup::BackupError;
use crate::bundle::BundleError;
use crate::config::ConfigError;
use crate::drill::DrillError;
use crate::exit::Fault;
use crate::graph::GraphError;
use crate::lifecycle::LifecycleError;
use crate::migrations::MigrationError;
use crate::operation::RecoverError;
use crate::restore::RestoreError;
use crate::safety::SafetyError;
use crate::schedule::ScheduleError;

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
    Recover(#[from] RecoverError),
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
    #[error("interrupted; nothing was changed")]
    Interrupted,
}

impl Error {
    /// What went wrong, for the exit code and the `--json` kind.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Config(c) => c.fault(),
            Error::Graph(g) => g.fault(),
            Error::Backup(b) => b.fault(),
            Error::Restore(r) => r.fault(),
            Error::Safety(s) => s.fault(),
            Error::Recover(r) => r.fault(),
            Error::Bundle(b) => b.fault(),
            Error::Lifecycle(l) => l.fault(),
            Error::Drill(d) => d.fault(),
            Error::Schedule(s) => s.fault(),
            Error::Usage(_) => Fault::Usage,
            Error::NotConfirmed(_) => Fault::NotConfirmed,
            Error::Io(_) => Fault::Io,
            Error::Interrupted => Fault::Interrupted,
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.fault().code()
    }

    /// A short machine-readable name for `--json` output.
    pub fn kind(&self) -> &'static str {
        self.fault().kind()
    }
}

impl Error {
    /// Structured facts for `--json` beyond the message: the indexes and
    /// constraints a restore refused to lose, or a rollback could not put back.
    pub fn details(&self) -> Option<serde_json::Value> {
        let restore = match self {
            Error::Restore(r) => r,
            Error::Lifecycle(l) => match l.as_ref() {
                LifecycleError::Operation(op) => {
                    let gaps = op.schema_not_recreated()?;
                    return Some(serde_json::json!({ "schema_not_recreated": gaps }));
                }
                LifecycleError::Restore(source) => source,
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
