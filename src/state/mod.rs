//! The tool's own records inside the database: the installed application
//! version and the history of applied migrations.
//!
//! They are ordinary nodes, so a backup carries them and a restore brings back
//! the version that went with the data. Timestamps come from the client's clock:
//! some servers' `datetime()` is unreliable.

use neo4rs::query;
use serde::Serialize;

use crate::graph::{Db, GraphError, MIGRATION_LABEL, VERSION_LABEL};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VersionRecord {
    pub version: semver::Version,
    pub installed_at: String,
    pub tool_version: String,
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("the version record in the database is damaged: {0}; fix or delete the `IgnSetupVersion` node, or reinstall with `ign-setup install --baseline X.Y.Z`")]
    Damaged(String),
}

impl StateError {
    pub fn fault(&self) -> crate::exit::Fault {
        match self {
            StateError::Graph(g) => g.fault(),
            StateError::Damaged(_) => crate::exit::Fault::State,
        }
    }
}

/// The installed application version, if one is recorded.
pub async fn installed_version(db: &Db) -> Result<Option<VersionRecord>, StateError> {
    let rows = db
        .rows(query(
            &format!("MATCH (v:{VERSION_LABEL}) RETURN v.version AS version, v.installed_at AS installed_at, v.tool_version AS tool_version"),
        ))
        .await?;
    match rows.len() {
        0 => Ok(None),
        1 => {
            let row = &rows[0];
            let text: String = row
                .get("version")
                .map_err(|_| StateError::Damaged("no `version` property".into()))?;
            let version = semver::Version::parse(&text)
                .map_err(|e| StateError::Damaged(format!("version `{text}` is not semver: {e}")))?;
            Ok(Some(VersionRecord {
                version,
                installed_at: row.get("installed_at").unwrap_or_default(),
                tool_version: row.get("tool_version").unwrap_or_default(),
            }))
        }
        n => Err(StateError::Damaged(format!(
            "{n} version nodes where one is expected"
        ))),
    }
}

/// Records `version` as installed (replacing any earlier record).
pub async fn record_version(db: &Db, version: &semver::Version) -> Result<(), StateError> {
    db.run_in_txn(vec![
        query(&format!("MATCH (v:{VERSION_LABEL}) DELETE v")),
        query(&format!("CREATE (v:{VERSION_LABEL} {{version: $version, installed_at: $at, tool_version: $tool}})"))
            .param("version", version.to_string())
            .param("at", now_rfc3339())
            .param("tool", crate::TOOL_VERSION),
    ])
    .await?;
    Ok(())
}

/// The client's clock, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One applied migration file, as recorded in the database.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppliedMigration {
    pub version: semver::Version,
    pub name: String,
    pub checksum: String,
    pub applied_at: String,
    pub duration_ms: i64,
    pub tool_version: String,
    /// True when the file was marked applied by `install --baseline` (or an
    /// install from a backup at that version) rather than run.
    pub baseline: bool,
}

/// What to record for a migration file that was applied (or baselined).
#[derive(Debug, Clone, Copy)]
pub struct MigrationRecord<'a> {
    pub version: &'a semver::Version,
    pub name: &'a str,
    pub checksum: &'a str,
    pub duration_ms: u64,
    pub baseline: bool,
}

/// Every recorded migration, oldest version first, then by file name.
pub async fn applied_migrations(db: &Db) -> Result<Vec<AppliedMigration>, StateError> {
    let rows = db
        .rows(query(&format!(
            "MATCH (m:{MIGRATION_LABEL}) RETURN m.version AS version, m.name AS name, \
             m.checksum AS checksum, m.applied_at AS applied_at, m.duration_ms AS duration_ms, \
             m.tool_version AS tool_version, m.baseline AS baseline",
        )))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let text: String = row
            .get("version")
            .map_err(|_| StateError::Damaged("a migration record has no `version`".into()))?;
        let version = semver::Version::parse(&text).map_err(|e| {
            StateError::Damaged(format!(
                "migration record version `{text}` is not semver: {e}"
            ))
        })?;
        let name: String = row.get("name").map_err(|_| {
            StateError::Damaged(format!("a {version} migration record has no `name`"))
        })?;
        let checksum: String = row.get("checksum").map_err(|_| {
            StateError::Damaged(format!("the record of {version}/{name} has no `checksum`"))
        })?;
        out.push(AppliedMigration {
            version,
            name,
            checksum,
            applied_at: row.get("applied_at").unwrap_or_default(),
            duration_ms: row.get("duration_ms").unwrap_or_default(),
            tool_version: row.get("tool_version").unwrap_or_default(),
            baseline: row.get("baseline").unwrap_or(false),
        });
    }
    out.sort_by(|a, b| {
        a.version
            .cmp_precedence(&b.version)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(out)
}

fn migration_query(m: &MigrationRecord<'_>, at: &str) -> neo4rs::Query {
    // MERGE on (version, name): recording the same file twice keeps one record.
    query(&format!(
        "MERGE (m:{MIGRATION_LABEL} {{version: $version, name: $name}}) \
         SET m.checksum = $checksum, m.applied_at = $at, m.duration_ms = $ms, \
         m.tool_version = $tool, m.baseline = $baseline",
    ))
    .param("version", m.version.to_string())
    .param("name", m.name)
    .param("checksum", m.checksum)
    .param("at", at)
    .param("ms", m.duration_ms.min(i64::MAX as u64) as i64)
    .param("tool", crate::TOOL_VERSION)
    .param("baseline", m.baseline)
}

/// Records one migration file as applied, timestamped by the client's clock.
pub async fn record_migration(db: &Db, m: &MigrationRecord<'_>) -> Result<(), StateError> {
    db.run_in_txn(vec![migration_query(m, &now_rfc3339())])
        .await?;
    Ok(())
}

/// Records several migration files in one transaction (for a baseline).
pub async fn record_migrations(db: &Db, ms: &[MigrationRecord<'_>]) -> Result<(), StateError> {
    if ms.is_empty() {
        return Ok(());
    }
    let at = now_rfc3339();
    db.run_in_txn(ms.iter().map(|m| migration_query(m, &at)).collect())
        .await?;
    Ok(())
}
