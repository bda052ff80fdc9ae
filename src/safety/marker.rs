//! The operation marker: one node, `(:IgnSetupOperation {id: 'operation'})`,
//! that exists in the database exactly while a destructive operation (restore,
//! upgrade, install) may have left it half-changed.
//!
//! The journal says the same thing, but only to whoever reads that one backup
//! folder. The marker says it to every client of the database: a backup taken
//! from another folder (a cron job, another machine) refuses while it exists,
//! so a half-restored database is never published as a good backup; and a
//! journal is acted on only when its operation id is the marker's, so a journal
//! left in a folder that was not used since can never roll back newer data.
//!
//! Written after the safety backup is complete (so no backup carries it) and
//! before the first destructive change; removed only after the operation
//! finished or was rolled back. It names its safety backup with the file's
//! checksum, so recovery can be run from any folder holding a copy of it.

use std::path::Path;

use neo4rs::{query, Row};
use serde::Serialize;

use super::journal::{Journal, JournalEntry, Phase};
use super::owner::{host_name, pid_alive};
use super::SafetyError;
use crate::graph::{Db, GraphError};

pub use crate::graph::reserved::OPERATION_LABEL as MARKER_LABEL;

/// What the database records about an unfinished operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    pub operation_id: String,
    /// `restore`, `upgrade`, `install`.
    pub kind: String,
    pub host: String,
    pub pid: u32,
    /// The backup folder of the operation, as that host saw it.
    pub backup_dir: String,
    /// File name of the safety backup; none when the database was empty before.
    pub safety_backup: Option<String>,
    /// sha256 recorded in that file's metadata line.
    pub safety_sha256: Option<String>,
    pub started_at: String,
    pub tool_version: String,
}

impl Marker {
    /// The marker for the operation a journal describes. `None` for a journal
    /// written by an older release, which has no operation id.
    pub fn of(entry: &JournalEntry, backup_dir: &Path) -> Option<Marker> {
        Some(Marker {
            operation_id: entry.operation_id.clone()?,
            kind: entry.operation.to_string(),
            host: entry.host.clone(),
            pid: entry.pid,
            backup_dir: backup_dir.display().to_string(),
            safety_backup: entry.safety_backup.clone(),
            safety_sha256: entry.safety_sha256.clone(),
            started_at: entry.started_at.clone(),
            tool_version: crate::TOOL_VERSION.to_owned(),
        })
    }

    /// Whether `entry` describes this operation.
    pub fn matches(&self, entry: &JournalEntry) -> bool {
        entry.operation_id.as_deref() == Some(self.operation_id.as_str())
    }

    /// Whether the process that wrote the marker still runs on this host.
    pub fn owner_alive_here(&self) -> bool {
        self.host == host_name() && pid_alive(self.pid)
    }

    /// `restore <id> started at <time> by pid <pid> on host <host> (backup folder <dir>)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} started at {} by pid {} on host {} (backup folder `{}`)",
            self.kind, self.operation_id, self.started_at, self.pid, self.host, self.backup_dir
        )
    }

    /// What recovery needs, for messages.
    pub fn needs(&self) -> String {
        match (&self.safety_backup, &self.safety_sha256) {
            (Some(f), Some(sha)) => format!("its safety backup `{f}` (sha256 {sha})"),
            (Some(f), None) => format!("its safety backup `{f}`"),
            (None, _) => "no safety backup (the database was empty before it)".to_owned(),
        }
    }

    fn from_row(row: &Row) -> Result<Marker, GraphError> {
        let text = |k: &str| row.get::<Option<String>>(k).ok().flatten();
        let pid: i64 = row.get::<Option<i64>>("pid").ok().flatten().unwrap_or(0);
        Ok(Marker {
            operation_id: text("operation_id").ok_or_else(|| {
                GraphError::Protocol(format!("the {MARKER_LABEL} node has no operation_id"))
            })?,
            kind: text("kind").unwrap_or_default(),
            host: text("host").unwrap_or_default(),
            pid: u32::try_from(pid).unwrap_or(0),
            backup_dir: text("backup_dir").unwrap_or_default(),
            safety_backup: text("safety_backup"),
            safety_sha256: text("safety_sha256"),
            started_at: text("started_at").unwrap_or_default(),
            tool_version: text("tool_version").unwrap_or_default(),
        })
    }
}

const RETURN_MARKER: &str = "RETURN m.operation_id AS operation_id, m.kind AS kind, \
     m.host AS host, m.pid AS pid, m.backup_dir AS backup_dir, \
     m.safety_backup AS safety_backup, m.safety_sha256 AS safety_sha256, \
     m.started_at AS started_at, m.tool_version AS tool_version";

/// The marker in the database, if any. (There is at most one: it is written
/// under the operation lock, and only when none exists.)
pub async fn read(db: &Db) -> Result<Option<Marker>, GraphError> {
    let rows = db
        .rows(query(&format!(
            "MATCH (m:{MARKER_LABEL}) {RETURN_MARKER} ORDER BY started_at LIMIT 1"
        )))
        .await?;
    rows.first().map(Marker::from_row).transpose()
}

/// Records `marker` in the database. Refuses with
/// [`SafetyError::OperationInDatabase`] if the database already has the
/// marker of another operation: that one must be recovered first.
pub async fn write(db: &Db, marker: &Marker) -> Result<(), SafetyError> {
    let rows = db
        .rows(
            query(&format!(
                "MERGE (m:{MARKER_LABEL} {{id: 'operation'}}) \
                 ON CREATE SET m.operation_id = $operation_id, m.kind = $kind, m.host = $host, \
                 m.pid = $pid, m.backup_dir = $backup_dir, m.safety_backup = $safety_backup, \
                 m.safety_sha256 = $safety_sha256, m.started_at = $started_at, \
                 m.tool_version = $tool_version \
                 WITH m {RETURN_MARKER}"
            ))
            .param("operation_id", marker.operation_id.as_str())
            .param("kind", marker.kind.as_str())
            .param("host", marker.host.as_str())
            .param("pid", i64::from(marker.pid))
            .param("backup_dir", marker.backup_dir.as_str())
            .param("safety_backup", marker.safety_backup.clone())
            .param("safety_sha256", marker.safety_sha256.clone())
            .param("started_at", marker.started_at.as_str())
            .param("tool_version", marker.tool_version.as_str()),
        )
        .await?;
    for row in &rows {
        let found = Marker::from_row(row)?;
        if found.operation_id != marker.operation_id {
            return Err(SafetyError::OperationInDatabase {
                marker: Box::new(found),
            });
        }
    }
    Ok(())
}

/// Removes the marker of `operation_id` (and only that one).
pub async fn remove(db: &Db, operation_id: &str) -> Result<(), GraphError> {
    db.run(
        query(&format!(
            "MATCH (m:{MARKER_LABEL}) WHERE m.operation_id = $operation_id DELETE m"
        ))
        .param("operation_id", operation_id),
    )
    .await
}

/// Fails with [`SafetyError::OperationInDatabase`] while the database has an
/// unfinished operation: what it holds now may be half-changed.
pub async fn refuse_if_present(db: &Db) -> Result<(), SafetyError> {
    match read(db).await? {
        Some(m) => Err(SafetyError::OperationInDatabase {
            marker: Box::new(m),
        }),
        None => Ok(()),
    }
}

/// The step into the destructive phase: the marker is written, then the
/// journal says `destructive`. Call it after the safety backup is complete and
/// before the first change. On failure nothing has been changed; the journal
/// stays open so that the next run closes it (and removes a marker that was
/// written after all, if the answer was lost).
pub async fn enter_destructive(db: &Db, journal: &mut Journal) -> Result<(), SafetyError> {
    if let Some(m) = Marker::of(journal.entry(), journal.dir()) {
        write(db, &m).await?;
    }
    journal.set_phase(Phase::Destructive)
}

/// The end of an operation (finished, or rolled back): the journal says
/// `done`, the marker goes, then the journal goes. Killed in between, the next
/// run finds a `done` journal and closes it.
pub async fn close(db: &Db, mut journal: Journal) -> Result<(), SafetyError> {
    journal.set_phase(Phase::Done)?;
    if let Some(id) = journal.entry().operation_id.clone() {
        remove(db, &id).await?;
    }
    journal.finish()
}
