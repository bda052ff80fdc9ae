//! Creating a backup: stream every node and relationship from the server to
//! the writer (bounded memory), with the schema and statistics, then verify
//! the written file before anyone relies on it.

use std::path::PathBuf;

use neo4rs::{query, BoltMap, BoltType, Row};

use super::format::{BackupType, Metadata, ServerMeta, SOURCE};
use super::store::BackupStore;
use super::verify::{verify_backup, verify_written, VerifyReport};
use super::writer::BackupWriter;
use super::BackupError;
use crate::graph::Db;
use crate::progress::Progress;

/// The schema is read by the graph layer; these names stay here for the
/// callers that know them from this module.
pub use crate::graph::schema::{read_schema, EXCLUDED_LABELS};

pub struct CreateRequest {
    pub reason: String,
    pub backup_type: BackupType,
    /// A fixed file name (for `initial_backup.json`); else a timestamped one.
    pub file_name: Option<String>,
    pub progress: bool,
}

#[derive(Debug)]
pub struct CreatedBackup {
    pub path: PathBuf,
    pub file: String,
    pub report: VerifyReport,
    pub size: u64,
}

/// Which function yields a stable id: `elementId` from Neo4j 5 on, `id` before.
pub fn id_function(db: &Db) -> &'static str {
    if db.server().version.starts_with("4.") {
        "id"
    } else {
        "elementId"
    }
}

pub async fn create_backup(
    db: &Db,
    store: &BackupStore,
    req: CreateRequest,
) -> Result<CreatedBackup, BackupError> {
    if req.reason.chars().count() > 1000 {
        return Err(BackupError::ReasonTooLong(req.reason.chars().count()));
    }
    store.prepare()?;
    let started = std::time::Instant::now();
    let phase = |what: &str| {
        crate::log::debug(format!(
            "backup create: {what} after {:.2?}",
            started.elapsed()
        ))
    };
    let now = chrono::Utc::now();
    let file = match &req.file_name {
        Some(f) => f.clone(),
        None => store.new_backup_name(&now.format("%Y%m%d_%H%M%S").to_string()),
    };
    let app_version = crate::state::installed_version(db)
        .await
        .ok()
        .flatten()
        .map(|v| v.version.to_string());
    let schema = read_schema(db).await?;
    phase("version and schema read");
    let idf = id_function(db);
    // The totals only size the progress bars: not counted when none is shown.
    let (total_nodes, total_rels) = if req.progress {
        (
            db.count("MATCH (n) WHERE NOT n:IgnSetupLock RETURN count(n) AS c")
                .await?,
            db.count("MATCH ()-[r]->() RETURN count(r) AS c").await?,
        )
    } else {
        (0, 0)
    };

    let staged_name = format!(
        "{}{}-{file}.staged",
        crate::fsutil::TEMP_PREFIX,
        std::process::id()
    );
    let mut writer = BackupWriter::create(store.dir(), &staged_name)?;
    writer.write_schema(&schema)?;

    stream_to_writer(
        db,
        &format!(
            "MATCH (n) WHERE NOT n:IgnSetupLock RETURN {idf}(n) AS id, labels(n) AS labels, properties(n) AS props"
        ),
        Progress::new(req.progress, "nodes", total_nodes),
        &mut writer,
        write_node,
    )
    .await?;
    phase("nodes written");
    stream_to_writer(
        db,
        &format!(
            "MATCH (a)-[r]->(b) RETURN {idf}(r) AS id, type(r) AS type, {idf}(a) AS s, {idf}(b) AS e, properties(r) AS props"
        ),
        Progress::new(req.progress, "relationships", total_rels),
        &mut writer,
        write_relationship,
    )
    .await?;

    phase("relationships written");
    let metadata = Metadata {
        timestamp: now.format("%Y%m%d_%H%M%S").to_string(),
        datetime: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        reason: req.reason.clone(),
        node_count: 0,
        relationship_count: 0,
        version: String::new(),
        backup_type: req.backup_type.as_str().to_owned(),
        source: SOURCE.to_owned(),
        tool_version: Some(crate::TOOL_VERSION.to_owned()),
        app_version,
        database: db.database().map(str::to_owned),
        server: Some(ServerMeta {
            address: db.address().to_owned(),
            agent: db.server().agent.clone(),
            version: db.server().version.clone(),
            edition: db.server().edition.clone(),
        }),
        schema_count: Some(schema.len() as u64),
        checksum: None,
    };
    // Written under a temporary name, verified, then renamed: a file with the
    // backup pattern is always complete and verified.
    let written = writer.finish(metadata)?;
    let staged = written.path.clone();
    phase("file complete and synced");
    let verified = if req.backup_type.guards_a_destructive_step() {
        verify_backup(&staged)
    } else {
        verify_written(&written, &schema)
    };
    let report = match verified {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    phase("verified");
    let target = store.dir().join(&file);
    let publish = if req.file_name.is_some() {
        // `initial_backup.json` is replaced on purpose by `backup init`.
        std::fs::rename(&staged, &target)
    } else {
        crate::fsutil::publish_new(&staged, &target)
    };
    if let Err(e) = publish {
        let _ = std::fs::remove_file(&staged);
        return Err(BackupError::io("publish", &target, e));
    }
    let _ = crate::fsutil::sync_dir(store.dir());
    let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(CreatedBackup {
        report: VerifyReport {
            path: target.clone(),
            ..report
        },
        path: target,
        file,
        size,
    })
}

/// Streams one query's rows into the writer, one at a time. (Encoding on a
/// second thread while the driver decodes was measured: no faster on two
/// cores, where the server needs the other one, and a third more memory.)
async fn stream_to_writer(
    db: &Db,
    cypher: &str,
    progress: Progress,
    writer: &mut BackupWriter,
    write_row: fn(&mut BackupWriter, &Row) -> Result<(), BackupError>,
) -> Result<(), BackupError> {
    let mut stream = db.stream(query(cypher)).await?;
    while let Some(row) = stream.next().await.map_err(|e| db_err(db, e))? {
        write_row(writer, &row)?;
        progress.inc(1);
    }
    progress.finish();
    Ok(())
}

fn write_node(writer: &mut BackupWriter, row: &Row) -> Result<(), BackupError> {
    let id = id_text(row.get::<BoltType>("id").ok())?;
    let labels: Vec<String> = row
        .get("labels")
        .map_err(|e| BackupError::Value(format!("labels of node {id}: {e}")))?;
    let props = props_of(row.get::<BoltType>("props").ok(), &id)?;
    writer.write_node(&id, &labels, &props)
}

fn write_relationship(writer: &mut BackupWriter, row: &Row) -> Result<(), BackupError> {
    let id = id_text(row.get::<BoltType>("id").ok())?;
    let rel_type: String = row
        .get("type")
        .map_err(|e| BackupError::Value(format!("type of relationship {id}: {e}")))?;
    let s = id_text(row.get::<BoltType>("s").ok())?;
    let e = id_text(row.get::<BoltType>("e").ok())?;
    let props = props_of(row.get::<BoltType>("props").ok(), &id)?;
    writer.write_relationship(&id, &rel_type, &s, &e, &props)
}

fn db_err(db: &Db, e: neo4rs::Error) -> BackupError {
    BackupError::Graph(db.classify(e))
}

fn id_text(v: Option<BoltType>) -> Result<String, BackupError> {
    match v {
        Some(BoltType::String(s)) => Ok(s.value),
        Some(BoltType::Integer(i)) => Ok(i.value.to_string()),
        other => Err(BackupError::Value(format!("unexpected id value {other:?}"))),
    }
}

fn props_of(v: Option<BoltType>, id: &str) -> Result<BoltMap, BackupError> {
    match v {
        Some(BoltType::Map(m)) => Ok(m),
        Some(BoltType::Null(_)) | None => Ok(BoltMap::new()),
        Some(other) => Err(BackupError::Value(format!(
            "entity `{id}`: properties are {other:?}"
        ))),
    }
}
