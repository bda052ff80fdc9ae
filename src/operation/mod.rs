//! The guarded operation: the one place that takes the operation lock,
//! writes the journal, protects the data, runs a destructive change and then
//! either closes the journal or rolls the database back.
//!
//! Restore, upgrade and install are bodies handed to [`run`]; whatever the
//! body fails with arrives typed in [`OperationError`] together with what the
//! rollback did. A run that was killed is finished by [`recover`] (or
//! [`recover_if_needed`]) from the journal it left.
//!
//! Order of work in [`run`]: lock → journal → protection (a verified safety
//! backup recorded in the journal, or a check under the lock that the
//! database is still empty) → phase `destructive` → body → `done` and close,
//! or roll back from the journal's entry. Anything that fails before the
//! phase `destructive` is [`OperationError::NotStarted`]: nothing was changed.

mod recover;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backup::{create_backup, BackupError, BackupStore, BackupType, CreateRequest};
use crate::exit::Fault;
use crate::graph::schema::ddl::SchemaGap;
use crate::graph::{Db, GraphError};
use crate::restore::RestoreError;
use crate::safety::journal::{Journal, OperationKind, Phase};
use crate::safety::{lock, marker, SafetyError};

pub use recover::{pending, recover, recover_if_needed, RecoverError, RecoveryReport};

/// How the data is protected before the first destructive change.
#[derive(Debug, Clone)]
pub enum Protection {
    /// A verified backup of the current data, recorded in the journal; a
    /// rollback loads it back.
    SafetyBackup { kind: BackupType, reason: String },
    /// The database must be empty (checked again under the lock); a rollback
    /// empties it again.
    EmptyDatabase,
}

/// What to run: the operation's kind (also the lock's operation name and the
/// word messages use), what it targets (recorded in the journal), the version
/// it starts from (upgrades), and how the data is protected.
#[derive(Debug, Clone)]
pub struct Spec {
    pub kind: OperationKind,
    pub target: String,
    pub from: Option<String>,
    pub protection: Protection,
}

/// Where an operation runs: the database, the backup folder (lock, journal,
/// safety backups) and whether to draw progress.
pub struct Env<'a> {
    pub db: Arc<Db>,
    pub store: &'a BackupStore,
    pub progress: bool,
}

/// A finished operation: the body's value and the safety backup taken first.
#[derive(Debug)]
pub struct Finished<T> {
    pub value: T,
    pub safety_backup: Option<String>,
}

/// Why an operation did not start; nothing was changed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The lock, the journal, or a lease lost before the first change.
    #[error(transparent)]
    Safety(#[from] SafetyError),
    /// The safety backup could not be taken.
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("the database is no longer empty (something wrote to it since the plan was made); run the command again; nothing was changed")]
    NoLongerEmpty,
}

/// How a guarded operation failed, with the body's own error `E`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum OperationError<E> {
    /// Nothing was changed.
    #[error(transparent)]
    NotStarted(StartError),
    /// The body failed and the database was put back and verified.
    #[error("{kind} failed: {cause}\nThe database was rolled back to its state before the {kind} (from {restored}) and verified.{}{}", rollback_schema_note(.schema_not_recreated), .now.as_deref().map(|n| format!("\n{n}")).unwrap_or_default())]
    RolledBack {
        kind: OperationKind,
        #[source]
        cause: E,
        /// What the data was restored from: a backup file, or "an empty database".
        restored: String,
        /// What the rollback could not put back (empty when it put back everything).
        schema_not_recreated: Vec<SchemaGap>,
        /// Where the data is now, for people: "The database is back at version 1.4.0; ..."
        now: Option<String>,
    },
    /// The body failed and so did the rollback: the journal names the safety
    /// backup for `ign-setup recover`.
    #[error("{kind} failed: {cause}\nThe rollback did not complete either: {rollback}\nNothing is lost: the journal {journal} names the safety backup. Run `ign-setup recover` (once the server is reachable again, if it is not).")]
    RollbackFailed {
        kind: OperationKind,
        #[source]
        cause: E,
        rollback: RestoreError,
        journal: PathBuf,
    },
    /// The body succeeded but the journal could not be closed; the next run
    /// finds it and, since its phase says so, only closes it.
    #[error("the {kind} finished, but closing its journal failed: {source}")]
    NotClosed {
        kind: OperationKind,
        source: SafetyError,
    },
}

impl<E> OperationError<E> {
    /// The same for every body: 31 rolled back, 32 recovery needed, and
    /// for one that did not start, what stopped it.
    pub fn fault(&self) -> Fault {
        match self {
            OperationError::NotStarted(s) => s.fault(),
            OperationError::RolledBack { .. } => Fault::RolledBack,
            OperationError::RollbackFailed { .. } => Fault::RecoveryNeeded,
            OperationError::NotClosed { source, .. } => source.fault(),
        }
    }

    /// What the rollback could not put back, for `--json`.
    pub fn schema_not_recreated(&self) -> Option<&[SchemaGap]> {
        match self {
            OperationError::RolledBack {
                schema_not_recreated,
                ..
            } => Some(schema_not_recreated),
            _ => None,
        }
    }

    /// The body's error, if the body ran and failed.
    pub fn cause(&self) -> Option<&E> {
        match self {
            OperationError::RolledBack { cause, .. }
            | OperationError::RollbackFailed { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

impl StartError {
    pub fn fault(&self) -> Fault {
        match self {
            StartError::Safety(s) => s.fault(),
            StartError::Backup(b) => b.fault(),
            StartError::Graph(g) => g.fault(),
            StartError::NoLongerEmpty => Fault::Refused,
        }
    }
}

impl<E> From<StartError> for OperationError<E> {
    fn from(e: StartError) -> Self {
        OperationError::NotStarted(e)
    }
}

pub(crate) fn rollback_schema_note(gaps: &[SchemaGap]) -> String {
    if gaps.is_empty() {
        return String::new();
    }
    let mut text = format!(
        "\nThe rollback could not recreate {} index{} or constraint{} of the earlier database:",
        gaps.len(),
        if gaps.len() == 1 { "" } else { "es" },
        if gaps.len() == 1 { "" } else { "s" }
    );
    for g in gaps {
        text.push_str(&format!("\n  - {g}"));
    }
    text
}

/// Runs `body` as one guarded operation (see the module documentation).
pub async fn run<T, E>(
    env: &Env<'_>,
    spec: Spec,
    body: impl AsyncFnOnce(&Db) -> Result<T, E>,
) -> Result<Finished<T>, OperationError<E>> {
    let guard = lock::acquire(Arc::clone(&env.db), env.store.dir(), &spec.kind.to_string())
        .await
        .map_err(StartError::from)?;
    crate::faults::pause(&format!("{}.locked", spec.kind)).await;
    let result = run_locked(env, &spec, &guard, body).await;
    let _ = guard.release().await;
    result
}

async fn run_locked<T, E>(
    env: &Env<'_>,
    spec: &Spec,
    guard: &lock::LockGuard,
    body: impl AsyncFnOnce(&Db) -> Result<T, E>,
) -> Result<Finished<T>, OperationError<E>> {
    let db = env.db.as_ref();
    let mut journal = Journal::begin(env.store.dir(), spec.kind, Some(spec.target.clone()))
        .map_err(StartError::from)?;
    let safety_backup = match protect(env, spec, &mut journal).await {
        Ok(file) => file,
        Err(e) => {
            // Nothing was changed yet: close the journal and report.
            let _ = journal.finish();
            return Err(e.into());
        }
    };
    guard.check().map_err(StartError::from)?;
    // Before the first destructive change: the operation marker goes into
    // the database (so every other folder, host and `backup create` sees an
    // unfinished operation), then the journal says `destructive`.
    if let Err(e) = marker::enter_destructive(db, &mut journal).await {
        let _ = marker::close(db, journal).await;
        return Err(StartError::from(e).into());
    }
    let _section = crate::interrupt::DestructiveSection::enter();
    match body(db).await {
        Ok(value) => {
            // Finished: `done`, the marker removed, the journal closed.
            match marker::close(db, journal).await {
                Ok(()) => Ok(Finished {
                    value,
                    safety_backup,
                }),
                Err(source) => Err(OperationError::NotClosed {
                    kind: spec.kind,
                    source,
                }),
            }
        }
        // After rollback (inside `roll_back`, once the journal is closed).
        Err(cause) => Err(roll_back(env, spec, journal, cause).await),
    }
}

/// Takes the protection the spec asks for; nothing is changed by it.
async fn protect(
    env: &Env<'_>,
    spec: &Spec,
    journal: &mut Journal,
) -> Result<Option<String>, StartError> {
    if let Some(from) = &spec.from {
        journal.set_from_version(from)?;
    }
    match &spec.protection {
        Protection::SafetyBackup { kind, reason } => {
            crate::progress::step(format!(
                "Taking a verified {} backup of the current database first…",
                kind.as_str()
            ));
            let created = create_backup(
                &env.db,
                env.store,
                CreateRequest {
                    reason: reason.clone(),
                    backup_type: *kind,
                    file_name: None,
                    progress: env.progress,
                },
            )
            .await?;
            let sha256 = created.report.metadata.checksum.as_ref();
            journal.set_safety_backup(&created.file, sha256.map(|c| c.value.as_str()))?;
            journal.set_phase(Phase::SafetyBackupTaken)?;
            env.store.write_index()?;
            Ok(Some(created.file))
        }
        Protection::EmptyDatabase => {
            // Checked again under the lock: a rollback empties the database,
            // which is only right if it was empty.
            if is_empty(&env.db).await? {
                Ok(None)
            } else {
                Err(StartError::NoLongerEmpty)
            }
        }
    }
}

/// True when the database holds no node (besides the tool's lock) and no
/// index or constraint of its own.
pub async fn is_empty(db: &Db) -> Result<bool, GraphError> {
    let nodes = crate::graph::counts::node_count(db).await?;
    Ok(nodes == 0 && crate::graph::schema::read_schema(db).await?.is_empty())
}

/// Puts the database back as the journal's entry says, then closes the
/// journal. Returns the error to report.
async fn roll_back<E>(
    env: &Env<'_>,
    spec: &Spec,
    mut journal: Journal,
    cause: E,
) -> OperationError<E> {
    let _ = journal.set_phase(Phase::RollingBack);
    crate::progress::step(format!(
        "The {} failed; rolling the database back to {}…",
        spec.kind,
        journal
            .entry()
            .safety_backup
            .as_deref()
            .unwrap_or("an empty database")
    ));
    let journal_path = journal.path().to_owned();
    let entry = journal.entry().clone();
    // The server may be restarting: keep trying for a while before giving up.
    let mut last_err = None;
    for attempt in 0..6 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        match recover::restore_from_entry(&env.db, env.store, &entry, env.progress).await {
            Ok((restored, schema)) => {
                // Rolled back: the marker goes with the journal (left open if
                // this fails; the next run closes it).
                let _ = marker::close(&env.db, journal).await;
                let now = match (spec.kind, &spec.from) {
                    (OperationKind::Restore, _) => None,
                    (kind, Some(v)) => Some(format!(
                        "The database is back at version {v}; nothing of the {kind} remains."
                    )),
                    (kind, None) => Some(format!(
                        "The database is empty again, as before the {kind}."
                    )),
                };
                return OperationError::RolledBack {
                    kind: spec.kind,
                    cause,
                    restored,
                    schema_not_recreated: schema.not_recreated,
                    now,
                };
            }
            Err(e) if e.is_connection() => last_err = Some(e),
            Err(e) => {
                last_err = Some(e);
                break;
            }
        }
    }
    OperationError::RollbackFailed {
        kind: spec.kind,
        cause,
        rollback: last_err.unwrap_or_else(|| RestoreError::Internal("unknown".into())),
        journal: journal_path,
    }
}

/// Runs `body` under the operation lock alone, for changes that only add
/// records and so need no journal (an install's baseline) and for recovery.
pub async fn locked<T, E: From<SafetyError>>(
    db: &Arc<Db>,
    backup_dir: &std::path::Path,
    operation: &str,
    body: impl AsyncFnOnce(&Db) -> Result<T, E>,
) -> Result<T, E> {
    let guard = lock::acquire(Arc::clone(db), backup_dir, operation).await?;
    let result = body(db).await;
    let _ = guard.release().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::graph::schema::ddl::example_gap as gap;

    #[test]
    fn a_rollback_that_could_not_recreate_something_says_so() {
        let e: OperationError<RestoreError> = OperationError::RolledBack {
            kind: OperationKind::Upgrade,
            cause: RestoreError::Internal("boom".into()),
            restored: "ign_scripts_db_backup_x.json".into(),
            schema_not_recreated: vec![gap()],
            now: Some("The database is back at version 1.4.0.".into()),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("upgrade failed: boom\nThe database was rolled back"),
            "{text}"
        );
        assert!(
            text.contains("The rollback could not recreate 1 index or constraint"),
            "{text}"
        );
        assert!(
            text.contains("`fn_key`") && text.contains("Enterprise"),
            "{text}"
        );
        assert!(
            text.ends_with("\nThe database is back at version 1.4.0."),
            "{text}"
        );
        assert_eq!(e.schema_not_recreated().unwrap().len(), 1);
        let clean: OperationError<RestoreError> = OperationError::RolledBack {
            kind: OperationKind::Restore,
            cause: RestoreError::Internal("boom".into()),
            restored: "f".into(),
            schema_not_recreated: vec![],
            now: None,
        };
        assert!(!clean.to_string().contains("could not recreate"));
        assert!(clean.to_string().ends_with("and verified."));
    }
}
