//! Creating a backup: stream every node and relationship from the server to
//! the writer (bounded memory), with the schema and statistics, then verify
//! the written file before anyone relies on it.

use std::path::PathBuf;

use neo4rs::{query, BoltMap, BoltType};

use super::format::{BackupType, Metadata, ServerMeta, SOURCE};
use super::store::BackupStore;
use super::verify::{verify_backup, verify_written, VerifyReport};
use super::writer::BackupWriter;
use super::BackupError;
use crate::graph::Db;
use crate::progress::Progress;

use crate::graph::schema::read_schema;

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

pub async fn create_backup(
    db: &Db,
    store: &BackupStore,
    req: CreateRequest,
) -> Result<CreatedBackup, BackupError> {
    if req.reason.chars().count() > 1000 {
        return Err(BackupError::ReasonTooLong(req.reason.chars().count()));
    }
    store.prepare()?;
    crate::fsutil::note_temp_dir(store.dir());
    // A database with an unfinished restore or upgrade may be half-changed:
    // never kept as a backup, whichever folder asks.
    crate::safety::marker::refuse_if_present(db).await?;
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
    let idf = db.id_function();
    // The totals only size the progress bars: not counted when none is shown.
    let (total_nodes, total_rels) = if req.progress {
        (
            crate::graph::counts::node_count(db).await?,
            crate::graph::counts::relationship_count(db).await?,
        )
    } else {
        (0, 0)
    };

    let staged_name = format!(
        "{}{}-{file}.staged",
        crate::fsutil::TEMP_PREFIX,
        std::process::id()
    );
    // A routine backup must be one point in time: read again while the
    // database keeps changing, then give up. A safety or pre-upgrade backup
    // is taken under the operation lock, whose own lease renewals commit
    // while a long read runs: it is kept (consistent record by record, see
    // `read_graph`) and marked as not a snapshot.
    let lenient = req.backup_type.guards_a_destructive_step();
    let mut attempt = 1;
    let (schema, writer, snapshot) = loop {
        let before = db.last_bookmark().await?;
        let schema = read_schema(db).await?;
        phase("version and schema read");
        let mut writer = BackupWriter::create(store.dir(), &staged_name)?;
        writer.write_schema(&schema)?;
        let totals = (total_nodes, total_rels);
        let change = match read_graph(db, &mut writer, idf, req.progress, totals).await {
            Ok(after) => {
                let snapshot = before.is_some() && before == after;
                if snapshot || lenient {
                    break (schema, writer, snapshot);
                }
                "other transactions committed while it was read".to_owned()
            }
            // A relationship to a node created after the nodes were read.
            Err(BackupError::Inconsistent(e)) => e,
            Err(e) => return Err(e),
        };
        if attempt >= READ_ATTEMPTS {
            return Err(BackupError::Changing {
                attempts: attempt,
                last: change,
            });
        }
        crate::log::debug(format!(
            "backup create: read {attempt} is not a snapshot ({change}); reading again"
        ));
        drop(writer);
        attempt += 1;
    };
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
        snapshot: Some(snapshot),
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
    // Asked again: an operation may have begun while the file was read.
    if let Err(e) = crate::safety::marker::refuse_if_present(db).await {
        let _ = std::fs::remove_file(&staged);
        return Err(e.into());
    }
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

/// How many times a routine backup reads a database that keeps changing.
const READ_ATTEMPTS: usize = 3;

/// Streams every node, then every relationship, into the writer, in one
/// transaction, and returns the bookmark its commit reports (the last
/// transaction committed on the database by then).
///
/// One transaction matters: Neo4j keeps the id of a deleted entity from
/// being reused while a transaction that could have seen it is open, so the
/// endpoint ids of every relationship read here name the nodes read here. A
/// relationship to a node created after the node stream passed has an
/// endpoint that was not read, which the writer reports. Neo4j reads are
/// read-committed, not a snapshot: the caller compares bookmarks to learn
/// whether anything committed meanwhile.
///
/// Rows are handed over one at a time. (Encoding on a second thread while
/// the driver decodes was measured: no faster on two cores, where the
/// server needs the other one, and a third more memory.)
async fn read_graph(
    db: &Db,
    writer: &mut BackupWriter,
    idf: &str,
    progress: bool,
    (total_nodes, total_rels): (u64, u64),
) -> Result<Option<String>, BackupError> {
    let mut txn = db.start_txn().await?;
    let result = async {
        let mut bar = Progress::new(progress, "backup nodes", total_nodes);
        let mut stream = txn
            .execute(db.logged(query(&format!(
                "MATCH (n) WHERE {} RETURN {idf}(n) AS id, labels(n) AS labels, properties(n) AS props",
                crate::graph::reserved::not_bookkeeping("n")
            ))))
            .await
            .map_err(|e| db_err(db, e))?;
        while let Some(row) = stream.next(txn.handle()).await.map_err(|e| db_err(db, e))? {
            let id = id_text(row.get::<BoltType>("id").ok())?;
            let labels: Vec<String> = row
                .get("labels")
                .map_err(|e| BackupError::Value(format!("labels of node {id}: {e}")))?;
            let props = props_of(row.get::<BoltType>("props").ok(), &id)?;
            let offsets = resolve_zones(db, &mut txn, idf, "MATCH (e) WHERE", &id, &props).await?;
            writer.write_node_resolved(&id, &labels, &props, &offsets)?;
            bar.inc(1);
            // Tests interrupt or cut the connection here, mid-file.
            crate::faults::pause("backup.node").await;
        }
        bar.finish();
        bar = Progress::new(progress, "backup rels", total_rels);
        let mut stream = txn
            .execute(db.logged(query(&format!(
                "MATCH (a)-[r]->(b) RETURN {idf}(r) AS id, type(r) AS type, {idf}(a) AS s, {idf}(b) AS e, properties(r) AS props"
            ))))
            .await
            .map_err(|e| db_err(db, e))?;
        while let Some(row) = stream.next(txn.handle()).await.map_err(|e| db_err(db, e))? {
            let id = id_text(row.get::<BoltType>("id").ok())?;
            let rel_type: String = row
                .get("type")
                .map_err(|e| BackupError::Value(format!("type of relationship {id}: {e}")))?;
            let s = id_text(row.get::<BoltType>("s").ok())?;
            let e = id_text(row.get::<BoltType>("e").ok())?;
            let props = props_of(row.get::<BoltType>("props").ok(), &id)?;
            let offsets =
                resolve_zones(db, &mut txn, idf, "MATCH ()-[e]->() WHERE", &id, &props).await?;
            writer.write_relationship_resolved(&id, &rel_type, &s, &e, &props, &offsets)?;
            bar.inc(1);
        }
        bar.finish();
        Ok::<(), BackupError>(())
    }
    .await;
    match result {
        Ok(()) => txn.commit().await.map_err(|e| db_err(db, e)),
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// For each property holding a zoned date-time in an hour that occurs twice
/// (clocks going back), asks the server, in the same transaction, which
/// offset it has: Bolt 4.4 sends only the local time and the zone.
async fn resolve_zones(
    db: &Db,
    txn: &mut neo4rs::Txn,
    idf: &str,
    match_entity: &str,
    id: &str,
    props: &BoltMap,
) -> Result<Vec<(String, Vec<Option<i32>>)>, BackupError> {
    let mut out = Vec::new();
    for (key, v) in &props.value {
        if !crate::graph::value::ambiguous_zoned(v) {
            continue;
        }
        let cypher = match v {
            BoltType::List(_) => {
                format!("{match_entity} {idf}(e) = $id RETURN [x IN e[$k] | x.offsetSeconds] AS o")
            }
            _ => format!("{match_entity} {idf}(e) = $id RETURN [e[$k].offsetSeconds] AS o"),
        };
        // `id()` (Neo4j 4) is an integer, `elementId()` a string.
        let id_param = match id.parse::<i64>() {
            Ok(n) if idf == "id" => BoltType::from(n),
            _ => BoltType::from(id),
        };
        let mut stream = txn
            .execute(
                db.logged(
                    query(&cypher)
                        .param("id", id_param)
                        .param("k", key.value.as_str()),
                ),
            )
            .await
            .map_err(|e| db_err(db, e))?;
        let mut offsets = None;
        while let Some(row) = stream.next(txn.handle()).await.map_err(|e| db_err(db, e))? {
            let o: Vec<Option<i64>> = row.get("o").unwrap_or_default();
            offsets = Some(
                o.into_iter()
                    .map(|x| x.and_then(|s| i32::try_from(s).ok()))
                    .collect(),
            );
        }
        let offsets = offsets.ok_or_else(|| {
            BackupError::Inconsistent(format!(
                "`{id}` vanished while its zoned date-time `{}` was read",
                key.value
            ))
        })?;
        out.push((key.value.clone(), offsets));
    }
    Ok(out)
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
