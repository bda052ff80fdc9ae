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
//! loaded back the same way and verified. The lock, journal, safety backup
//! and rollback are [`crate::operation`]'s; this module is the body and the
//! loader that rollback and recovery use too.

mod idmap;
pub mod load;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::backup::status::{current_counts, Counts};
use crate::backup::{verify_backup, BackupError, BackupStore, BackupType, VerifyReport};
use crate::graph::schema::ddl::{check_recreatable, SchemaGap};
use crate::graph::{Db, GraphError, NameError};
use crate::operation::{self, Env, OperationError, Protection, Spec};
use crate::safety::journal::OperationKind;
use crate::safety::SafetyError;

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
    /// The guarded operation failed: not started, rolled back, or the
    /// rollback failed too.
    #[error(transparent)]
    Failed(Box<OperationError<RestoreError>>),
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

/// A server as messages name it: `Neo4j 5.26.30 community`.
fn server_words(db: &Db) -> String {
    let s = db.server();
    format!("Neo4j {} {}", s.version, s.edition)
}

impl RestoreError {
    pub fn fault(&self) -> crate::exit::Fault {
        use crate::exit::Fault;
        match self {
            RestoreError::Backup(b) => b.fault(),
            RestoreError::Graph(g) => g.fault(),
            RestoreError::Safety(s) => s.fault(),
            RestoreError::Name(_) => Fault::InvalidBackup,
            RestoreError::Mismatch(_) | RestoreError::Schema(_) | RestoreError::Injected(_) => {
                Fault::Restore
            }
            RestoreError::SchemaNotRecreatable { .. } => Fault::SchemaNotRecreatable,
            RestoreError::Interrupted => Fault::Interrupted,
            RestoreError::Internal(_) => Fault::Internal,
            RestoreError::Failed(op) => op.fault(),
        }
    }

    /// What the rollback could not put back, for `--json`.
    pub fn schema_not_recreated(&self) -> Option<&[SchemaGap]> {
        match self {
            RestoreError::Failed(op) => op.schema_not_recreated(),
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
    let who = match purpose {
        LoadPurpose::Restore => "Restore",
        LoadPurpose::Rollback => "Rollback",
    };
    let step = |what: String| crate::progress::step(format!("{who}: {what}"));
    step("dropping the current indexes and constraints, then clearing the data…".into());
    let mut outcome = SchemaOutcome {
        // Before any data goes: a refused DROP never leaves an empty database.
        not_dropped: schema::drop_schema(db, &expected.schema).await?,
        ..SchemaOutcome::default()
    };
    load::clear_data(db).await?;
    crate::faults::hit("restore.after-clear")?;
    schema::create_lookups(db, &expected.schema, &mut outcome).await?;
    step(format!(
        "loading {} nodes and {} relationships from {}…",
        crate::text::thousands(expected.node_count),
        crate::text::thousands(expected.relationship_count),
        path.display()
    ));
    load::load_data(
        db,
        path,
        expected.node_count,
        expected.relationship_count,
        progress,
        purpose,
    )
    .await?;
    step(format!(
        "recreating {} indexes and constraints and waiting until they are online…",
        expected.schema_count
    ));
    schema::apply_schema(db, &expected.schema, skip, purpose, &mut outcome).await?;
    crate::faults::hit("restore.before-verify")?;
    step("verifying counts, label and type counts and the schema…".into());
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

/// Runs a full restore of `plan.source` as a guarded operation (see
/// [`crate::operation`]). A plan with schema this server cannot recreate is
/// refused before anything changes unless `allow_schema_loss`.
pub async fn restore(
    db: Arc<Db>,
    store: &BackupStore,
    plan: &RestorePlan,
    progress: bool,
    allow_schema_loss: bool,
) -> Result<RestoreOutcome, RestoreError> {
    plan.check_schema(allow_schema_loss)?;
    let source_name = plan
        .source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let protection = if plan.safety_backup_needed {
        Protection::SafetyBackup {
            kind: BackupType::Safety,
            reason: format!("Safety backup before restoring {source_name}"),
        }
    } else {
        Protection::EmptyDatabase
    };
    let spec = Spec {
        kind: OperationKind::Restore,
        target: plan.source.display().to_string(),
        from: None,
        protection,
    };
    let env = Env {
        db,
        store,
        progress,
    };
    let done = operation::run(&env, spec, async |db: &Db| {
        replace_database(
            db,
            &plan.source,
            &plan.backup,
            progress,
            LoadPurpose::Restore,
            &plan.schema_gaps,
        )
        .await
    })
    .await
    .map_err(|e| RestoreError::Failed(Box::new(e)))?;
    let schema = done.value;
    let warnings = schema_warnings(&schema);
    Ok(RestoreOutcome {
        source: plan.source.clone(),
        safety_backup: done.safety_backup,
        nodes: plan.backup.node_count,
        relationships: plan.backup.relationship_count,
        schema,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::graph::schema::ddl::example_gap as gap;

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
        assert_eq!(e.fault().code(), crate::exit::INVALID_INPUT);
    }
}
