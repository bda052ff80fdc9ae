//! Loading a verified backup into an empty database: nodes in UNWIND batches
//! grouped by label set, each query returning the new element id of every node
//! it created; the client keeps the map from backup id to new id, and
//! relationships (in batches grouped by type) find their endpoints by element
//! id, which every server looks up directly. Nothing temporary is written to
//! the database, so nothing has to be cleaned up after a load or a failure.
//! Every label, type and key reaches Cypher through `escape_name`; every value
//! travels as a parameter.
//!
//! The file is parsed on a blocking thread and handed over in bounded
//! batches, so memory stays flat whatever the file's size.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use neo4rs::{query, BoltList, BoltMap, BoltString, BoltType};
use tokio::sync::mpsc;

use super::RestoreError;
use crate::backup::format::{NodeRecord, RelRecord};
use crate::backup::reader::{read_backup, RecordSink};
use crate::backup::BackupError;
use crate::graph::{escape_name, label_expr, Db};
use crate::progress::Progress;

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
    purpose: super::LoadPurpose,
) -> Result<Loaded, RestoreError> {
    let idf = crate::backup::create::id_function(db);
    let mut ids: HashMap<String, BoltType> = HashMap::new();
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
    let mut result: Result<(), RestoreError> = Ok(());
    while let Some(batch) = rx.recv().await {
        if purpose == super::LoadPurpose::Restore && crate::interrupt::requested() {
            result = Err(RestoreError::Interrupted);
            break;
        }
        let step = match batch {
            Batch::Nodes(nodes) => {
                let n = nodes.len() as u64;
                let t = std::time::Instant::now();
                let r = load_nodes(db, nodes, idf, &mut ids).await;
                crate::log::debug(format!("{n} nodes in {:?}", t.elapsed()));
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
                let t = std::time::Instant::now();
                let r = load_rels(db, rels, idf, &ids).await;
                crate::log::debug(format!("{n} relationships in {:?}", t.elapsed()));
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
    Ok(loaded)
}

fn bolt_str(s: &str) -> BoltType {
    BoltType::String(BoltString::new(s))
}

async fn load_nodes(
    db: &Db,
    nodes: Vec<NodeRecord>,
    idf: &str,
    ids: &mut HashMap<String, BoltType>,
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
        let expected = rows.len();
        let cypher = format!(
            "UNWIND $rows AS row CREATE (n{}) SET n = row.p RETURN row.id AS old, {idf}(n) AS new",
            label_expr(&labels)?
        );
        let out = db
            .rows(query(&cypher).param("rows", BoltType::List(BoltList::from(rows))))
            .await?;
        if out.len() != expected {
            return Err(RestoreError::Mismatch(format!(
                "{} of {expected} nodes labelled {labels:?} were created",
                out.len()
            )));
        }
        for row in out {
            let old: String = row.get("old").map_err(|e| {
                RestoreError::Internal(format!("created node without its backup id: {e}"))
            })?;
            let new: BoltType = row
                .get("new")
                .map_err(|e| RestoreError::Internal(format!("created node without an id: {e}")))?;
            ids.insert(old, new);
        }
    }
    Ok(())
}

async fn load_rels(
    db: &Db,
    rels: Vec<RelRecord>,
    idf: &str,
    ids: &HashMap<String, BoltType>,
) -> Result<(), RestoreError> {
    let mut groups: BTreeMap<String, Vec<BoltType>> = BTreeMap::new();
    for r in rels {
        let endpoint = |old: &str| {
            ids.get(old).cloned().ok_or_else(|| {
                RestoreError::Mismatch(format!(
                    "relationship `{}` points at node `{old}`, which was not loaded",
                    r.id
                ))
            })
        };
        let mut row = BoltMap::with_capacity(3);
        row.put(BoltString::new("s"), endpoint(&r.start)?);
        row.put(BoltString::new("e"), endpoint(&r.end)?);
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
             MATCH (a) WHERE {idf}(a) = row.s \
             MATCH (b) WHERE {idf}(b) = row.e \
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

/// Deletes every node and relationship except the tool's lock, in batches
/// small enough for any server's transaction memory.
pub async fn clear_data(db: &Db) -> Result<(), RestoreError> {
    for cypher in [
        "MATCH ()-[r]->() WITH r LIMIT 10000 DELETE r RETURN count(r) AS c",
        "MATCH (n) WHERE NOT n:IgnSetupLock WITH n LIMIT 10000 DETACH DELETE n RETURN count(n) AS c",
    ] {
        // Each statement deletes one batch and says how many; repeat until none.
        while db.count(cypher).await? > 0 {}
    }
    Ok(())
}
