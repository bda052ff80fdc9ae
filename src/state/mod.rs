//! The tool's own records inside the database: the installed application
//! version and the history of applied migrations.
//!
//! They are ordinary nodes, so a backup carries them and a restore brings back
//! the version that went with the data. Timestamps come from the client's clock:
//! some servers' `datetime()` is unreliable.

use neo4rs::query;
use serde::Serialize;

use crate::graph::{Db, GraphError};

/// Label of the single node holding the installed version.
pub const VERSION_LABEL: &str = "IgnSetupVersion";
/// Label of the nodes recording each applied migration.
pub const MIGRATION_LABEL: &str = "IgnSetupMigration";

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

/// The installed application version, if one is recorded.
pub async fn installed_version(db: &Db) -> Result<Option<VersionRecord>, StateError> {
    let rows = db
        .rows(query(
            "MATCH (v:IgnSetupVersion) RETURN v.version AS version, v.installed_at AS installed_at, v.tool_version AS tool_version",
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
        query("MATCH (v:IgnSetupVersion) DELETE v"),
        query("CREATE (v:IgnSetupVersion {version: $version, installed_at: $at, tool_version: $tool})")
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
