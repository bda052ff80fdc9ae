//! Loading a verified backup into an empty database: nodes in UNWIND batches
//! grouped by label set, each tagged with a temporary label and the element id
//! it had in the backup (indexed), so relationships can find their endpoints;
//! then relationships in batches grouped by type; then the temporary key,
//! label and index are removed. Every label, type and key reaches Cypher
//! through `escape_name`; every value travels as a parameter.
//!
//! The file is parsed on a blocking thread and handed over in bounded
//! batches, so memory stays flat whatever the file's size.

use std::collections::BTreeMap;
use std::path::Path;

use neo4rs::{query, BoltList, BoltMap, BoltString, BoltType};
use tokio::sync::mpsc;

use super::RestoreError;
use crate::backup::format::{NodeRecord, RelRecord};
use crate::backup::reader::{read_backup, RecordSink};
use crate::backup::BackupError;
use crate::graph::{escape_name, label_expr, Db};
use crate::progress::Progress;

/// Label put on every restored node until the load is complete.
pub const TEMP_LABEL: &str = "IgnSetupRestoring";
/// Property holding the node's element id from the backup, during the load.
pub const TEMP_KEY: &str = "ign_setup_restore_id";
pub const TEMP_INDEX: &str = "ign_setup_restore_id_index";

/// Records per UNWIND query.
pub const BATCH: usize = 1000;

enum Batch {
    Nodes(Vec<NodeRecord>),
    Rels(Vec<RelRecord>),
}

struct ChannelSink {
    tx: mpsc::Sender<Batch>,
    nodes: Vec<NodeRecord>,
    rels: Vec<RelRecord>,
}

impl ChannelSink {
    fn send(&self, b: Batch) -> Result<(), BackupError> {
        self.tx
            .blocking_send(b)
            .map_err(|_| BackupError::Inconsistent("the loader stopped".into()))
    }

    fn flush_nodes(&mut self) -> Result<(), BackupError> {
        if !self.nodes.is_empty() {
            let b = std::mem::take(&mut self.nodes);
            self.send(Batch::Nodes(b))?;
        }
        Ok(())
    }
}

impl RecordSink for ChannelSink {
    fn node(&mut self, n: NodeRecord) -> Result<(), BackupError> {
        self.nodes.push(n);
        if self.nodes.len() >= BATCH {
            self.flush_nodes()?;
        }
        Ok(())
    }

    fn relationship(&mut self, r: RelRecord) -> Result<(), BackupError> {
        self.flush_nodes()?;
        self.rels.push(r);
        if self.rels.len() >= BATCH {
            let b = std::mem::take(&mut self.rels);
            self.send(Batch::Rels(b))?;
        }
        Ok(())
    }
}

/// What was loaded.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub nodes: u64,
    pub relationships: u64,
}

/// Loads `path` (already verified) into the database, which must be empty.
pub async fn load_data(
    db: &Db,
    path: &Path,
    node_total: u64,
    rel_total: u64,
    progress: bool,
) -> Result<Loaded, RestoreError> {
    db.run(query(&format!(
        "CREATE INDEX {} IF NOT EXISTS FOR (n:{}) ON (n.{})",
        escape_name(TEMP_INDEX)?,
        escape_name(TEMP_LABEL)?,
        escape_name(TEMP_KEY)?
    )))
    .await?;
    let _ = db.run(query("CALL db.awaitIndexes(300)")).await;

    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let owned = path.to_owned();
    let parser = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink {
            tx,
            nodes: Vec::new(),
            rels: Vec::new(),
        };
        read_backup(&owned, &mut sink)?;
        sink.flush_nodes()?;
        if !sink.rels.is_empty() {
            let b = std::mem::take(&mut sink.rels);
            sink.send(Batch::Rels(b))?;
        }
        Ok::<(), BackupError>(())
    });

    let mut loaded = Loaded::default();
    let node_bar = Progress::new(progress, "nodes", node_total);
    let mut rel_bar: Option<Progress> = None;
    let temp_label = escape_name(TEMP_LABEL)?;
    let temp_key = escape_name(TEMP_KEY)?;
    let mut result: Result<(), RestoreError> = Ok(());
    while let Some(batch) = rx.recv().await {
        if crate::interrupt::requested() {
            result = Err(RestoreError::Interrupted);
            break;
        }
        let step = match batch {
            Batch::Nodes(nodes) => {
                let n = nodes.len() as u64;
                let r = load_nodes(db, nodes, &temp_label, &temp_key).await;
                loaded.nodes += n;
                node_bar.inc(n);
                r
            }
            Batch::Rels(rels) => {
                let bar = rel_bar.get_or_insert_with(|| {
                    node_bar.finish();
                    Progress::new(progress, "relationships", rel_total)
                });
                let n = rels.len() as u64;
                let r = load_rels(db, rels, &temp_label, &temp_key).await;
                loaded.relationships += n;
                bar.inc(n);
                r
            }
        };
        if let Err(e) = step {
            result = Err(e);
            break;
        }
        crate::faults::hit("restore.batch")?;
    }
    drop(rx);
    let parsed = parser
        .await
        .map_err(|e| RestoreError::Internal(format!("parser thread: {e}")))?;
    result?;
    parsed?;
    node_bar.finish();
    if let Some(b) = rel_bar {
        b.finish();
    }
    remove_temporary_markers(db).await?;
    Ok(loaded)
}

fn bolt_str(s: &str) -> BoltType {
    BoltType::String(BoltString::new(s))
}

async fn load_nodes(
    db: &Db,
    nodes: Vec<NodeRecord>,
    temp_label: &crate::graph::CypherName,
    temp_key: &crate::graph::CypherName,
) -> Result<(), RestoreError> {
    let mut groups: BTreeMap<Vec<String>, Vec<BoltType>> = BTreeMap::new();
    for n in nodes {
        let mut row = BoltMap::with_capacity(2);
        row.put(BoltString::new("id"), bolt_str(&n.id));
        row.put(BoltString::new("p"), BoltType::Map(n.properties));
        let mut labels = n.labels;
        labels.sort();
        labels.dedup();
        groups.entry(labels).or_default().push(BoltType::Map(row));
    }
    for (labels, rows) in groups {
        let cypher = format!(
            "UNWIND $rows AS row CREATE (n{}:{temp_label}) SET n = row.p SET n.{temp_key} = row.id",
            label_expr(&labels)?
        );
        db.run(query(&cypher).param("rows", BoltType::List(BoltList::from(rows))))
            .await?;
    }
    Ok(())
}

async fn load_rels(
    db: &Db,
    rels: Vec<RelRecord>,
    temp_label: &crate::graph::CypherName,
    temp_key: &crate::graph::CypherName,
) -> Result<(), RestoreError> {
    let mut groups: BTreeMap<String, Vec<BoltType>> = BTreeMap::new();
    for r in rels {
        let mut row = BoltMap::with_capacity(3);
        row.put(BoltString::new("s"), bolt_str(&r.start));
        row.put(BoltString::new("e"), bolt_str(&r.end));
        row.put(BoltString::new("p"), BoltType::Map(r.properties));
        groups
            .entry(r.rel_type)
            .or_default()
            .push(BoltType::Map(row));
    }
    for (rel_type, rows) in groups {
        let expected = rows.len() as i64;
        let cypher = format!(
            "UNWIND $rows AS row \
             MATCH (a:{temp_label} {{{temp_key}: row.s}}) \
             MATCH (b:{temp_label} {{{temp_key}: row.e}}) \
             CREATE (a)-[r:{}]->(b) SET r = row.p RETURN count(r) AS c",
            escape_name(&rel_type)?
        );
        let rows_out = db
            .rows(query(&cypher).param("rows", BoltType::List(BoltList::from(rows))))
            .await?;
        let created: i64 = rows_out.first().and_then(|r| r.get("c").ok()).unwrap_or(-1);
        if created != expected {
            return Err(RestoreError::Mismatch(format!(
                "{created} of {expected} `{rel_type}` relationships found both endpoints"
            )));
        }
    }
    Ok(())
}

/// Removes the temporary id key, label and index, in batches.
pub async fn remove_temporary_markers(db: &Db) -> Result<(), RestoreError> {
    let label = escape_name(TEMP_LABEL)?;
    let key = escape_name(TEMP_KEY)?;
    // Key first, then label, in separate statements: some servers turn a label
    // change into a new record, which would drop a REMOVE in the same statement.
    for cypher in [
        format!("MATCH (n:{label}) WHERE n.{key} IS NOT NULL WITH n LIMIT 10000 REMOVE n.{key} RETURN count(n) AS c"),
        format!("MATCH (n:{label}) WITH n LIMIT 10000 REMOVE n:{label} RETURN count(n) AS c"),
    ] {
        loop {
            let rows = db.rows(query(&cypher)).await?;
            let c: i64 = rows.first().and_then(|r| r.get("c").ok()).unwrap_or(0);
            if c == 0 {
                break;
            }
        }
    }
    db.run(query(&format!(
        "DROP INDEX {} IF EXISTS",
        escape_name(TEMP_INDEX)?
    )))
    .await?;
    Ok(())
}

/// Deletes every node and relationship except the tool's lock, in batches
/// small enough for any server's transaction memory.
pub async fn clear_data(db: &Db) -> Result<(), RestoreError> {
    loop {
        let rows = db
            .rows(query(
                "MATCH ()-[r]->() WITH r LIMIT 10000 DELETE r RETURN count(r) AS c",
            ))
            .await?;
        if rows
            .first()
            .and_then(|r| r.get::<i64>("c").ok())
            .unwrap_or(0)
            == 0
        {
            break;
        }
    }
    loop {
        let rows = db
            .rows(query(
                "MATCH (n) WHERE NOT n:IgnSetupLock WITH n LIMIT 10000 DETACH DELETE n RETURN count(n) AS c",
            ))
            .await?;
        if rows
            .first()
            .and_then(|r| r.get::<i64>("c").ok())
            .unwrap_or(0)
            == 0
        {
            break;
        }
    }
    Ok(())
}
