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
use crate::safety::{marker, SafetyError};

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    pub recovered: bool,
    pub operation: Option<String>,
    pub message: String,
    /// What the rollback could not put back of the earlier schema.
    pub schema_not_recreated: Vec<SchemaGap>,
    /// Journals that described no unfinished operation of the database:
    /// moved aside (where to), never acted on.
    pub stale_journals: Vec<std::path::PathBuf>,
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
    cancel: &crate::interrupt::Cancel,
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
            let schema = replace_database(
                db,
                &path,
                &report,
                progress,
                LoadPurpose::Rollback,
                cancel,
                &[],
            )
            .await?;
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
    cancel: &crate::interrupt::Cancel,
) -> Result<Option<RecoveryReport>, RecoverError> {
    if pending(store)?.is_none() {
        return Ok(None);
    }
    recover(db, store, progress, cancel).await.map(Some)
}

/// Finishes what an interrupted restore, upgrade or install left: if it had
/// started changing the database, the safety backup is loaded back and
/// verified (or the database emptied again).
///
/// The database's operation marker decides what is unfinished. A journal in
/// this folder is acted on only if the marker names its operation; a journal
/// of a changing phase that the marker does not name is stale (its operation
/// was recovered elsewhere, and newer data may have been written since): it is
/// moved aside and reported. A marker without a journal here is recovered
/// from the safety backup it names, if this folder holds that file.
pub async fn recover(
    db: Arc<Db>,
    store: &BackupStore,
    progress: bool,
    cancel: &crate::interrupt::Cancel,
) -> Result<RecoveryReport, RecoverError> {
    // A damaged journal is not refused here: the marker says what, if
    // anything, is unfinished (see `recover_one`).
    let (entry, damaged) = match Journal::load(store.dir()) {
        Ok(e) => (e, false),
        Err(SafetyError::CorruptJournal { .. }) => (None, true),
        Err(e) => return Err(e.into()),
    };
    if let Some(entry) = &entry {
        if Journal::is_owner_alive(entry) && entry.pid != std::process::id() {
            return Err(SafetyError::Unfinished {
                entry: Box::new(entry.clone()),
            }
            .into());
        }
    }
    if entry.is_none()
        && !damaged
        && marker::read(&db)
            .await
            .map_err(SafetyError::from)?
            .is_none()
    {
        return Ok(RecoveryReport {
            recovered: false,
            operation: None,
            message: "Nothing to recover: no unfinished operation.".into(),
            schema_not_recreated: Vec::new(),
            stale_journals: Vec::new(),
        });
    }
    super::locked(&db, store.dir(), "recover", async |db: &Db| {
        let mut report = RecoveryReport {
            recovered: false,
            operation: None,
            message: String::new(),
            schema_not_recreated: Vec::new(),
            stale_journals: Vec::new(),
        };
        let mut messages = Vec::new();
        // A journal and, behind it, the marker of another operation: at most
        // two rounds of real work; the third only finds nothing.
        for _ in 0..3 {
            match recover_one(db, store, progress, cancel, &mut report).await? {
                Some(m) => messages.push(m),
                None => break,
            }
        }
        if messages.is_empty() {
            messages.push("Nothing to recover: no unfinished operation.".into());
        }
        report.message = messages.join("\n");
        Ok(report)
    })
    .await
}

/// One step of [`recover`], under the lock: the journal of this folder or, if
/// there is none, the marker in the database. `None` when nothing is left.
async fn recover_one(
    db: &Db,
    store: &BackupStore,
    progress: bool,
    cancel: &crate::interrupt::Cancel,
    report: &mut RecoveryReport,
) -> Result<Option<String>, RecoverError> {
    let in_db = marker::read(db).await.map_err(SafetyError::from)?;
    let loaded = match Journal::load(store.dir()) {
        Err(SafetyError::CorruptJournal { reason, .. }) => {
            // Unreadable, so it can name nothing; the marker names what is
            // unfinished, if anything (recovered in the next round).
            let aside = Journal::set_aside_damaged(store.dir())?;
            let message = format!(
                "The journal could not be read ({reason}); it was moved to `{}`. {}",
                aside.display(),
                match &in_db {
                    Some(m) => format!("The database records the unfinished {}.", m.describe()),
                    None => "The database records no unfinished operation.".to_owned(),
                }
            );
            report.stale_journals.push(aside);
            return Ok(Some(message));
        }
        other => other?,
    };
    let journal = match loaded {
        Some(e) if may_have_changed(e.phase) && !in_db.as_ref().is_some_and(|m| m.matches(&e)) => {
            let aside = Journal::set_aside(store.dir(), &e)?;
            let now = match &in_db {
                Some(m) => format!("names another operation, the {}", m.describe()),
                None => "records no unfinished operation".to_owned(),
            };
            let message = format!(
                "The journal of the {} from {} (pid {} on host {}) was not acted on: the database {now}, so that operation was finished or rolled back elsewhere and the data may have changed since. The journal was moved to `{}`.",
                e.operation, e.started_at, e.pid, e.host, aside.display()
            );
            report.stale_journals.push(aside);
            return Ok(Some(message));
        }
        Some(_) => Journal::resume(store.dir())?.ok_or(RecoverError::Vanished)?,
        None => match &in_db {
            None => return Ok(None),
            Some(m) => {
                check_safety_backup(store, m)?;
                Journal::adopt(store.dir(), m)?
            }
        },
    };
    let entry = journal.entry().clone();
    let op = entry.operation.to_string();
    report.recovered = true;
    report.operation = Some(op.clone());
    if !may_have_changed(entry.phase) {
        marker::close(db, journal).await?;
        return Ok(Some(format!(
            "The interrupted {op} from {} had not changed the database; its journal was closed.",
            entry.started_at
        )));
    }
    if let Some(m) = &in_db {
        check_safety_backup(store, m)?;
    }
    let _section = cancel.destructive();
    let (restored, schema) = restore_from_entry(db, store, &entry, progress, cancel).await?;
    marker::close(db, journal).await?;
    let message = format!(
        "The interrupted {op} from {} was rolled back: the database was restored from {restored} and verified.{}",
        entry.started_at,
        rollback_schema_note(&schema.not_recreated)
    );
    report.schema_not_recreated.extend(schema.not_recreated);
    Ok(Some(message))
}

/// Whether an operation in `phase` may have changed the database.
fn may_have_changed(phase: Phase) -> bool {
    matches!(phase, Phase::Destructive | Phase::RollingBack)
}

/// The safety backup a marker names is in `store`, with the checksum the
/// marker recorded.
fn check_safety_backup(store: &BackupStore, m: &marker::Marker) -> Result<(), RecoverError> {
    let Some(file) = &m.safety_backup else {
        return Ok(());
    };
    let missing = |problem: String| {
        RecoverError::Safety(SafetyError::SafetyBackupMissing {
            marker: Box::new(m.clone()),
            dir: store.dir().to_owned(),
            problem,
        })
    };
    let path = store.dir().join(file);
    if !path.is_file() {
        return Err(missing("has no such file".into()));
    }
    let recorded = crate::backup::reader::read_metadata(&path)
        .map_err(|e| {
            missing(format!(
                "holds a file under that name that cannot be read ({e})"
            ))
        })?
        .checksum
        .map(|c| c.value);
    match (&m.safety_sha256, recorded) {
        (Some(want), Some(have)) if *want != have => Err(missing(format!(
            "holds another file under that name (sha256 {have})"
        ))),
        _ => Ok(()),
    }
}
