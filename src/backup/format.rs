//! The backup file format: what each part of the file holds, and the typed
//! records the rest of the program works with. `docs/backup-format.md`
//! describes it for people, `docs/backup-format.schema.json` for validators.
//!
//! Layout of a format-3 file (format 2 has the same layout, with less in `schema`) (one JSON document; the first line holds only the
//! metadata, so `list` and `info` read one line, and the checksum covers every
//! byte after that line):
//!
//! ```text
//! {"metadata":{...},
//! "schema":{"indexes":[...],"constraints":[...]},
//! "data":{"nodes":[
//! {"id":"4:ab:0","labels":["Function"],"properties":{...}},
//! ...
//! ],"relationships":[
//! {"id":"5:ab:0","type":"USES","start":"4:ab:0","end":"4:ab:1","properties":{...}},
//! ...
//! ],"statistics":{...}}}
//! ```

use std::collections::BTreeMap;

use neo4rs::BoltMap;
use serde::{Deserialize, Serialize};

/// The format this tool writes.
pub const FORMAT_VERSION: &str = "3.0.0";
/// The first format whose schema records everything needed to recreate it
/// (index configuration, property types, owned indexes, token lookup indexes).
pub const FULL_SCHEMA_MAJOR: u64 = 3;
/// The original Python tool's format, still readable.
pub const LEGACY_FORMAT_VERSION: &str = "1.0.0";
pub const SOURCE: &str = "IGN Scripts Learning System";
pub const CHECKSUM_SCOPE: &str = "sha256 of every byte after the first line";

/// Why a backup was taken; decides how retention treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupType {
    /// Made on request (`backup create`), or by `--auto`.
    Full,
    /// Taken by a restore before it clears the database.
    Safety,
    /// Taken by an upgrade before its first migration.
    PreUpgrade,
    /// Written by `backup init` for distribution.
    Initial,
}

impl BackupType {
    /// Safety and pre-upgrade backups are what a rollback loads: they get the
    /// full, record-by-record verification before the destructive step starts.
    pub fn guards_a_destructive_step(self) -> bool {
        matches!(self, BackupType::Safety | BackupType::PreUpgrade)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Full => "full",
            BackupType::Safety => "safety",
            BackupType::PreUpgrade => "pre-upgrade",
            BackupType::Initial => "initial",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerMeta {
    pub address: String,
    pub agent: String,
    pub version: String,
    pub edition: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChecksumMeta {
    pub algorithm: String,
    pub scope: String,
    pub value: String,
}

/// The `metadata` object. The first eight fields are the original plan's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    /// `YYYYMMDD_HHMMSS`, UTC.
    pub timestamp: String,
    /// RFC 3339, UTC, from the client's clock.
    pub datetime: String,
    pub reason: String,
    pub node_count: u64,
    pub relationship_count: u64,
    /// The file format's version.
    pub version: String,
    pub backup_type: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    /// The installed application version recorded in the database, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_count: Option<u64>,
    /// Format 3: `true` when no transaction committed on the database while
    /// the backup was read (one point in time); `false` for a safety or
    /// pre-upgrade backup read while something (at least the tool's own
    /// lock lease) committed, which is consistent record by record only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<ChecksumMeta>,
}

impl Metadata {
    pub fn is_legacy(&self) -> bool {
        self.version == LEGACY_FORMAT_VERSION
    }

    /// Whether the file's schema is complete (format 3 on): index
    /// configuration, property types and token lookup indexes recorded.
    pub fn records_full_schema(&self) -> bool {
        semver::Version::parse(&self.version).is_ok_and(|v| v.major >= FULL_SCHEMA_MAJOR)
    }
}

/// The schema part of a file: the graph layer's model, serialised as is.
pub use crate::graph::schema::{Schema, SchemaItem};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Statistics {
    pub node_count: u64,
    pub relationship_count: u64,
    #[serde(default)]
    pub label_counts: BTreeMap<String, u64>,
    #[serde(default)]
    pub relationship_type_counts: BTreeMap<String, u64>,
}

/// A node as read from a backup, properties already decoded to Bolt values.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    /// The element id in the database the backup was taken from.
    pub id: String,
    pub labels: Vec<String>,
    pub properties: BoltMap,
    /// Keys whose value `properties` holds as DateTime text (a string or a
    /// list of strings) for the server to build with `datetime()`: zoned
    /// date-times at the later offset of a repeated hour, which Bolt 4.4
    /// cannot carry (see `graph::value::needs_server_zone`).
    pub server_zoned: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RelRecord {
    pub id: String,
    pub rel_type: String,
    pub start: String,
    pub end: String,
    pub properties: BoltMap,
    /// As [`NodeRecord::server_zoned`].
    pub server_zoned: Vec<String>,
}

/// File name pattern of timestamped backups (the original plan's).
pub const BACKUP_PREFIX: &str = "ign_scripts_db_backup_";
pub const BACKUP_SUFFIX: &str = ".json";
pub const INITIAL_BACKUP: &str = "initial_backup.json";
pub const INDEX_FILE: &str = "backup_metadata.json";
/// Files being written start with this; they are never taken for backups.
pub const TEMP_PREFIX: &str = ".tmp-";
