//! Finishing an operation that was killed: the journal it left says what it
//! was, how far it got and which safety backup protects the data.

use std::sync::Arc;

use serde::Serialize;

use super::rollback_schema_note;
use crate::backup::{verify_backup, BackupStore};
use crate::graph::schema::ddl::SchemaGap;
use crate::graph::Db;
use crate::restore::{load, replace_database, schema, LoadPurpose, RestoreError, SchemaOutcome};
use crate::safety::journal::{Journal, JournalEntry, Phase};
use crate::safety::SafetyError;

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    pub recovered: bool,
    pub operation: Option<String>,
    pub message: String,
    /// What the rollback could not put back of the earlier schema.
    pub schema_not_recreated: Vec<SchemaGap>,
}

/// Why a recovery did not complete; the journal stays for the next try.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The lock, the journal, or a live owner of the journal.
    #[error(transparent)]
    Safety(#[from] SafetyError),
    /// Loading the safety backup back failed.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error("the journal vanished")]
    Vanished,
}

impl RecoverError {
    pub fn fault(&self) -> crate::exit::Fault {
        match self {
            RecoverError::Safety(s) => s.fault(),
            RecoverError::Restore(r) => r.fault(),
            RecoverError::Vanished => crate::exit::Fault::Internal,
        }
    }
}

/// Brings the database back to the state recorded by a journal entry. What
/// of the earlier schema could not be put back is in the outcome.
pub(super) async fn restore_from_entry(
    db: &Db,
    store: &BackupStore,
    entry: &JournalEntry,
    progress: bool,
) -> Result<(String, SchemaOutcome), RestoreError> {
    match &entry.safety_backup {
        Some(file) => {
            let path = store.dir().join(file);
            let report = {
                let p = path.clone();
                tokio::task::spawn_blocking(move || verify_backup(&p))
                    .await
                    .map_err(|e| RestoreError::Internal(e.to_string()))??
            };
            let schema =
                replace_database(db, &path, &report, progress, LoadPurpose::Rollback, &[]).await?;
            Ok((file.clone(), schema))
        }
        None => {
            // The database was empty before: empty it again (schema first,
            // keeping its token lookup indexes).
            let not_dropped =
                schema::drop_schema(db, &crate::graph::schema::Schema::default()).await?;
            load::clear_data(db).await?;
            schema::ensure_default_lookups(db).await?;
            Ok((
                "an empty database".into(),
                SchemaOutcome {
                    not_dropped,
                    ..SchemaOutcome::default()
                },
            ))
        }
    }
}

/// The journal of an operation whose process is gone, if there is one: what
/// [`recover_if_needed`] would finish. A journal whose owner still runs is
/// not returned (the lock stops a second operation where it matters).
pub fn pending(store: &BackupStore) -> Result<Option<JournalEntry>, SafetyError> {
    Ok(Journal::load(store.dir())?.filter(|e| !Journal::is_owner_alive(e)))
}

/// [`recover`] when [`pending`] finds a journal; `None` when there is nothing
/// to finish.
pub async fn recover_if_needed(
    db: Arc<Db>,
    store: &BackupStore,
    progress: bool,
) -> Result<Option<RecoveryReport>, RecoverError> {
    if pending(store)?.is_none() {
        return Ok(None);
    }
    recover(db, store, progress).await.map(Some)
}

/// Finishes what an interrupted restore, upgrade or install left: if it had
/// started changing the database, the safety backup is loaded back and
/// verified (or the database emptied again).
pub async fn recover(
    db: Arc<Db>,
    store: &BackupStore,
    progress: bool,
) -> Result<RecoveryReport, RecoverError> {
    let Some(entry) = Journal::load(store.dir())? else {
        return Ok(RecoveryReport {
            recovered: false,
            operation: None,
            message: "Nothing to recover: no unfinished operation.".into(),
            schema_not_recreated: Vec::new(),
        });
    };
    if Journal::is_owner_alive(&entry) && entry.pid != std::process::id() {
        return Err(SafetyError::Unfinished {
            entry: Box::new(entry),
        }
        .into());
    }
    super::locked(&db, store.dir(), "recover", async |db: &Db| {
        let journal = Journal::resume(store.dir())?.ok_or(RecoverError::Vanished)?;
        let op = entry.operation.to_string();
        let (message, schema_not_recreated) = match entry.phase {
            Phase::Started | Phase::SafetyBackupTaken | Phase::Done => {
                journal.finish()?;
                (format!("The interrupted {op} from {} had not changed the database; its journal was closed.", entry.started_at), Vec::new())
            }
            Phase::Destructive | Phase::RollingBack => {
                let _section = crate::interrupt::DestructiveSection::enter();
                let (restored, schema) = restore_from_entry(db, store, &entry, progress).await?;
                // In recovery, after the rollback: the journal is closed next.
                journal.finish()?;
                (format!("The interrupted {op} from {} was rolled back: the database was restored from {restored} and verified.{}", entry.started_at, rollback_schema_note(&schema.not_recreated)), schema.not_recreated)
            }
        };
        Ok(RecoveryReport { recovered: true, operation: Some(op), message, schema_not_recreated })
    })
    .await
}
