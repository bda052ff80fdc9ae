//! Restore: replace the database with a verified backup, never losing data.
//!
//! Order of work: verify the file completely; check that this server can
//! recreate every index and constraint of the backup (refused before anything
//! changes unless the user accepts the loss); take the lock; open a journal;
//! take a verified safety backup of the current data (unless the database is
//! empty); drop the current schema (before any data is deleted); clear; put
//! the backup's token lookup indexes in place; load in batches; recreate the
//! schema and wait for its indexes; verify counts, label counts, type counts
//! and the schema against the backup. On any failure the safety backup is
//! loaded back the same way and verified. If the process dies, the journal
//! tells the next run what to roll back (see [`recover`]).

mod idmap;
pub mod load;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::backup::status::{current_counts, Counts};
use crate::backup::{
    create_backup, verify_backup, BackupError, BackupStore, BackupType, CreateRequest, VerifyReport,
};
use crate::graph::schema::ddl::{check_recreatable, SchemaGap};
use crate::graph::{Db, GraphError, NameError};
use crate::safety::journal::{Journal, JournalEntry, OperationKind, Phase};
use crate::safety::{lock, marker, SafetyError};

pub use schema::SchemaOutcome;

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Safety(#[from] SafetyError),
    #[error("a name in the backup cannot be used: {0}")]
    Name(#[from] NameError),
    #[error("verification after loading failed: {0}")]
    Mismatch(String),
    #[error("recreating the schema failed: {0}")]
    Schema(String),
    #[error("{}", schema_refusal(.gaps, .server))]
    SchemaNotRecreatable {
        gaps: Vec<SchemaGap>,
        server: String,
    },
    #[error("interrupted by Ctrl-C")]
    Interrupted,
    #[error(transparent)]
    Injected(#[from] crate::faults::InjectedFault),
    #[error("{0}")]
    Internal(String),
    /// A step of an operation built on top of restore (an upgrade's
    /// migration, a verify query) failed; carried here so [`roll_back`] can
    /// report it together with the rollback.
    #[error(transparent)]
    Operation(Box<dyn std::error::Error + Send + Sync>),
    #[error("{what} failed: {cause}\nThe database was rolled back to its state before the {what} (from {restored}) and verified.{}", rollback_schema_note(.schema_not_recreated))]
    RolledBack {
        what: &'static str,
        cause: Box<RestoreError>,
        restored: String,
        /// What the rollback could not put back (empty when it put back everything).
        schema_not_recreated: Vec<SchemaGap>,
    },
    #[error("{what} failed: {cause}\nThe rollback did not complete either: {rollback}\nNothing is lost: the journal {journal} names the safety backup. Run `ign-setup recover` (once the server is reachable again, if it is not).")]
    RollbackFailed {
        what: &'static str,
        cause: Box<RestoreError>,
        rollback: Box<RestoreError>,
        journal: PathBuf,
    },
}

fn schema_refusal(gaps: &[SchemaGap], server: &str) -> String {
    let mut text = format!(
        "this server ({server}) cannot recreate {} of the backup's indexes and constraints:",
        gaps.len()
    );
    for g in gaps {
        text.push_str(&format!("\n  - {g}"));
    }
    text.push_str("\nNothing was changed. Restore into a server that supports them, or pass --allow-schema-loss to restore the data without them (the result lists what was left out).");
    text
}

fn rollback_schema_note(gaps: &[SchemaGap]) -> String {
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

/// A server as messages name it: `Neo4j 5.26.30 community`.
fn server_words(db: &Db) -> String {
    let s = db.server();
    format!("Neo4j {} {}", s.version, s.edition)
}

impl RestoreError {
    /// What the rollback could not put back, for `--json`.
    pub fn schema_not_recreated(&self) -> Option<&[SchemaGap]> {
        match self {
            RestoreError::RolledBack {
                schema_not_recreated,
                ..
            } => Some(schema_not_recreated),
            RestoreError::SchemaNotRecreatable { gaps, .. } => Some(gaps),
            _ => None,
        }
    }

    pub fn is_connection(&self) -> bool {
        match self {
            RestoreError::Graph(g) => g.is_connection(),
            RestoreError::Backup(BackupError::Graph(g)) => g.is_connection(),
            RestoreError::Safety(SafetyError::Graph(g)) => g.is_connection(),
            _ => false,
        }
    }
}

/// Everything decided before the database is touched; printed for confirmation.
#[derive(Debug, Clone, Serialize)]
pub struct RestorePlan {
    pub source: PathBuf,
    pub backup: VerifyReport,
    pub current: Counts,
    pub safety_backup_needed: bool,
    /// The backup's indexes and constraints this server cannot recreate.
    pub schema_gaps: Vec<SchemaGap>,
    /// The server, for messages.
    pub server: String,
}

impl RestorePlan {
    /// Refuses a plan that would lose schema, unless the user accepted that.
    pub fn check_schema(&self, allow_schema_loss: bool) -> Result<(), RestoreError> {
        if self.schema_gaps.is_empty() || allow_schema_loss {
            Ok(())
        } else {
            Err(RestoreError::SchemaNotRecreatable {
                gaps: self.schema_gaps.clone(),
                server: self.server.clone(),
            })
        }
    }
}

pub async fn plan(db: &Db, source: &Path) -> Result<RestorePlan, RestoreError> {
    let backup = {
        let p = source.to_owned();
        tokio::task::spawn_blocking(move || verify_backup(&p))
            .await
            .map_err(|e| RestoreError::Internal(e.to_string()))??
    };
    let current = current_counts(db).await?;
    let live = crate::graph::schema::read_schema(db).await?;
    // An empty database still has lookup indexes of its own; when the backup
    // brings others, a rollback needs a safety backup to put them back.
    let lookups_differ = backup.schema.lookups_recorded
        && live
            .lookups()
            .map(|l| (&l.name, &l.entity_type))
            .ne(backup.schema.lookups().map(|l| (&l.name, &l.entity_type)));
    let safety_backup_needed = current.node_count > 0 || !live.is_empty() || lookups_differ;
    let schema_gaps = check_recreatable(db, &backup.schema).await?;
    Ok(RestorePlan {
        source: source.to_owned(),
        backup,
        current,
        safety_backup_needed,
        schema_gaps,
        server: server_words(db),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    pub source: PathBuf,
    pub safety_backup: Option<String>,
    pub nodes: u64,
    pub relationships: u64,
    pub schema: SchemaOutcome,
    pub warnings: Vec<String>,
}

/// The schema of a replaced database, and what of it could not be put back.
fn schema_warnings(schema: &SchemaOutcome) -> Vec<String> {
    let mut w: Vec<String> = schema
        .not_recreated
        .iter()
        .map(|g| format!("not recreated on this server: {g}"))
        .collect();
    w.extend(
        schema
            .not_dropped
            .iter()
            .map(|g| format!("the server did not drop the earlier {g}")),
    );
    w.extend(schema.warnings.iter().cloned());
    w
}

/// Why data is being loaded. A restore stops at Ctrl-C and rolls back; a
/// rollback or recovery must not stop half way (a second Ctrl-C still exits
/// at once, leaving the journal for `ign-setup recover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPurpose {
    Restore,
    Rollback,
}

/// Replaces the database's content with `path` (verified as `expected`) and
/// checks the result. Used for restores, rollbacks and recovery alike.
/// `skip`: items the plan found this server cannot recreate (accepted by
/// the user); a rollback passes none and records what fails instead.
pub async fn replace_database(
    db: &Db,
    path: &Path,
    expected: &VerifyReport,
    progress: bool,
    purpose: LoadPurpose,
    skip: &[SchemaGap],
) -> Result<SchemaOutcome, RestoreError> {
    let mut outcome = SchemaOutcome {
        // Before any data goes: a refused DROP never leaves an empty database.
        not_dropped: schema::drop_schema(db, &expected.schema).await?,
        ..SchemaOutcome::default()
    };
    load::clear_data(db).await?;
    crate::faults::hit("restore.after-clear")?;
    schema::create_lookups(db, &expected.schema, &mut outcome).await?;
    load::load_data(
        db,
        path,
        expected.node_count,
        expected.relationship_count,
        progress,
        purpose,
    )
    .await?;
    schema::apply_schema(db, &expected.schema, skip, purpose, &mut outcome).await?;
    crate::faults::hit("restore.before-verify")?;
    verify_counts(db, expected).await?;
    let problems = schema::compare(db, &expected.schema, &mut outcome).await?;
    if !problems.is_empty() {
        if purpose == LoadPurpose::Restore {
            return Err(RestoreError::Mismatch(format!(
                "the schema differs from the backup's: {}",
                problems.join("; ")
            )));
        }
        outcome.warnings.extend(problems);
    }
    Ok(outcome)
}

async fn verify_counts(db: &Db, expected: &VerifyReport) -> Result<(), RestoreError> {
    let now = current_counts(db).await?;
    if now.node_count != expected.node_count
        || now.relationship_count != expected.relationship_count
    {
        return Err(RestoreError::Mismatch(format!(
            "the database holds {} nodes and {} relationships, the backup {} and {}",
            now.node_count,
            now.relationship_count,
            expected.node_count,
            expected.relationship_count
        )));
    }
    if now.label_counts != expected.label_counts {
        return Err(RestoreError::Mismatch(format!(
            "label counts differ: database {:?}, backup {:?}",
            now.label_counts, expected.label_counts
        )));
    }
    if now.relationship_type_counts != expected.relationship_type_counts {
        return Err(RestoreError::Mismatch(format!(
            "relationship type counts differ: database {:?}, backup {:?}",
            now.relationship_type_counts, expected.relationship_type_counts
        )));
    }
    Ok(())
}

/// Takes a verified safety backup of the current database, recorded in the journal.
pub async fn take_safety_backup(
    db: &Db,
    store: &BackupStore,
    journal: &mut Journal,
    kind: BackupType,
    reason: String,
    progress: bool,
) -> Result<String, RestoreError> {
    let created = create_backup(
        db,
        store,
        CreateRequest {
            reason,
            backup_type: kind,
            file_name: None,
            progress,
        },
    )
    .await?;
    let sha256 = created.report.metadata.checksum.as_ref();
    journal.set_safety_backup(&created.file, sha256.map(|c| c.value.as_str()))?;
    journal.set_phase(Phase::SafetyBackupTaken)?;
    store.write_index()?;
    Ok(created.file)
}

/// Runs a full restore of `plan.source`. A plan with schema this server
/// cannot recreate is refused before anything changes unless
/// `allow_schema_loss`.
pub async fn restore(
    db: Arc<Db>,
    store: &BackupStore,
    plan: &RestorePlan,
    progress: bool,
    allow_schema_loss: bool,
) -> Result<RestoreOutcome, RestoreError> {
    plan.check_schema(allow_schema_loss)?;
    let guard = lock::acquire(Arc::clone(&db), store.dir(), "restore").await?;
    let result = restore_locked(&db, store, plan, progress, &guard).await;
    let _ = guard.release().await;
    result
}

async fn restore_locked(
    db: &Db,
    store: &BackupStore,
    plan: &RestorePlan,
    progress: bool,
    guard: &lock::LockGuard,
) -> Result<RestoreOutcome, RestoreError> {
    let mut journal = Journal::begin(
        store.dir(),
        OperationKind::Restore,
        Some(plan.source.display().to_string()),
    )?;
    let safety = if plan.safety_backup_needed {
        let source_name = plan
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match take_safety_backup(
            db,
            store,
            &mut journal,
            BackupType::Safety,
            format!("Safety backup before restoring {source_name}"),
            progress,
        )
        .await
        {
            Ok(f) => Some(f),
            Err(e) => {
                // Nothing was changed yet: close the journal and report.
                let _ = journal.finish();
                return Err(e);
            }
        }
    } else {
        None
    };
    guard.check()?;
    marker::enter_destructive(db, &mut journal).await?;
    let _section = crate::interrupt::DestructiveSection::enter();
    match replace_database(
        db,
        &plan.source,
        &plan.backup,
        progress,
        LoadPurpose::Restore,
        &plan.schema_gaps,
    )
    .await
    {
        Ok(schema) => {
            marker::close(db, journal).await?;
            let warnings = schema_warnings(&schema);
            Ok(RestoreOutcome {
                source: plan.source.clone(),
                safety_backup: safety,
                nodes: plan.backup.node_count,
                relationships: plan.backup.relationship_count,
                schema,
                warnings,
            })
        }
        Err(cause) => Err(roll_back(db, store, journal, "restore", cause, progress).await),
    }
}

/// Puts the database back as the journal's safety backup says, then closes
/// the journal. Returns the error to report.
pub async fn roll_back(
    db: &Db,
    store: &BackupStore,
    mut journal: Journal,
    what: &'static str,
    cause: RestoreError,
    progress: bool,
) -> RestoreError {
    let _ = journal.set_phase(Phase::RollingBack);
    let journal_path = journal.path().to_owned();
    let entry = journal.entry().clone();
    // The server may be restarting: keep trying for a while before giving up.
    let mut last_err = None;
    for attempt in 0..6 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        match restore_from_entry(db, store, &entry, progress).await {
            Ok((restored, schema)) => {
                // Left open if this fails: the next run closes it.
                let _ = marker::close(db, journal).await;
                return RestoreError::RolledBack {
                    what,
                    cause: Box::new(cause),
                    restored,
                    schema_not_recreated: schema.not_recreated,
                };
            }
            Err(e) if e.is_connection() => last_err = Some(e),
            Err(e) => {
                last_err = Some(e);
                break;
            }
        }
    }
    RestoreError::RollbackFailed {
        what,
        cause: Box::new(cause),
        rollback: Box::new(last_err.unwrap_or_else(|| RestoreError::Internal("unknown".into()))),
        journal: journal_path,
    }
}

/// Brings the database back to the state recorded by a journal entry. What
/// of the earlier schema could not be put back is in the outcome.
async fn restore_from_entry(
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

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    pub recovered: bool,
    pub operation: Option<String>,
    pub message: String,
    /// What the rollback could not put back of the earlier schema.
    pub schema_not_recreated: Vec<SchemaGap>,
    /// Journals that described no unfinished operation of the database:
    /// moved aside (where to), never acted on.
    pub stale_journals: Vec<PathBuf>,
}

/// Finishes what an interrupted restore or upgrade left: if it had started
/// changing the database, the safety backup is loaded back and verified.
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
) -> Result<RecoveryReport, RestoreError> {
    // A damaged journal is not refused here: the marker says what, if
    // anything, is unfinished (see `recover_one`).
    let (entry, damaged) = match Journal::load(store.dir()) {
        Ok(e) => (e, false),
        Err(SafetyError::CorruptJournal { .. }) => (None, true),
        Err(e) => return Err(e.into()),
    };
    if let Some(entry) = &entry {
        if Journal::is_owner_alive(entry) && entry.pid != std::process::id() {
            return Err(RestoreError::Safety(SafetyError::Unfinished {
                entry: Box::new(entry.clone()),
            }));
        }
    }
    if entry.is_none() && !damaged && marker::read(&db).await?.is_none() {
        return Ok(RecoveryReport {
            recovered: false,
            operation: None,
            message: "Nothing to recover: no unfinished operation.".into(),
            schema_not_recreated: Vec::new(),
            stale_journals: Vec::new(),
        });
    }
    let guard = lock::acquire(Arc::clone(&db), store.dir(), "recover").await?;
    let result = async {
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
            match recover_one(&db, store, progress, &mut report).await? {
                Some(m) => messages.push(m),
                None => break,
            }
        }
        if messages.is_empty() {
            messages.push("Nothing to recover: no unfinished operation.".into());
        }
        report.message = messages.join("\n");
        Ok(report)
    }
    .await;
    let _ = guard.release().await;
    result
}

/// One step of [`recover`], under the lock: the journal of this folder or, if
/// there is none, the marker in the database. `None` when nothing is left.
async fn recover_one(
    db: &Db,
    store: &BackupStore,
    progress: bool,
    report: &mut RecoveryReport,
) -> Result<Option<String>, RestoreError> {
    let in_db = marker::read(db).await?;
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
        Some(_) => Journal::resume(store.dir())?
            .ok_or_else(|| RestoreError::Internal("the journal vanished".into()))?,
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
    let _section = crate::interrupt::DestructiveSection::enter();
    let (restored, schema) = restore_from_entry(db, store, &entry, progress).await?;
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
fn check_safety_backup(store: &BackupStore, m: &marker::Marker) -> Result<(), RestoreError> {
    let Some(file) = &m.safety_backup else {
        return Ok(());
    };
    let missing = |problem: String| {
        RestoreError::Safety(SafetyError::SafetyBackupMissing {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gap() -> SchemaGap {
        SchemaGap {
            name: "fn_key".into(),
            kind: "constraint",
            item: "constraint `fn_key` (NODE_KEY on :Function(name))".into(),
            reason: "key constraints need Neo4j Enterprise Edition".into(),
        }
    }

    #[test]
    fn a_rollback_that_could_not_recreate_something_says_so() {
        let e = RestoreError::RolledBack {
            what: "upgrade",
            cause: Box::new(RestoreError::Internal("boom".into())),
            restored: "ign_scripts_db_backup_x.json".into(),
            schema_not_recreated: vec![gap()],
        };
        let text = e.to_string();
        assert!(
            text.contains("The rollback could not recreate 1 index or constraint"),
            "{text}"
        );
        assert!(
            text.contains("`fn_key`") && text.contains("Enterprise"),
            "{text}"
        );
        assert_eq!(e.schema_not_recreated().unwrap().len(), 1);
        let whole = crate::error::Error::Restore(e);
        assert_eq!(
            whole.details().unwrap()["schema_not_recreated"][0]["name"],
            "fn_key"
        );
        let clean = RestoreError::RolledBack {
            what: "upgrade",
            cause: Box::new(RestoreError::Internal("boom".into())),
            restored: "f".into(),
            schema_not_recreated: vec![],
        };
        assert!(!clean.to_string().contains("could not recreate"));
    }

    #[test]
    fn a_refusal_lists_every_item_and_the_way_out() {
        let e = RestoreError::SchemaNotRecreatable {
            gaps: vec![gap()],
            server: "Neo4j 5.26.30 community".into(),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("this server (Neo4j 5.26.30 community) cannot recreate 1"),
            "{text}"
        );
        assert!(text.contains("Nothing was changed") && text.contains("--allow-schema-loss"));
        assert_eq!(
            crate::error::restore_exit_code(&e),
            crate::error::exit::INVALID_INPUT
        );
    }
}
