//! Loading a verified backup into an empty database: nodes in UNWIND batches
//! grouped by label set and property keys, each query returning the new
//! element id of every node it created; the client keeps the map from backup
//! id to new id, and relationships (in batches grouped by type and property
//! keys) find their endpoints by element id, which every server looks up
//! directly. Nothing temporary is written to
//! the database, so nothing has to be cleaned up after a load or a failure.
//! Every label, type and key reaches Cypher through `escape_name`; every value
//! travels as a parameter.
//!
//! The file is parsed on a blocking thread and handed over in bounded
//! batches, so memory stays flat whatever the file's size. Up to
//! [`PARALLEL`] batches are in flight at once: the server works on one while
//! the next is sent. Relationship batches start only once every node batch
//! has been answered and its ids mapped. A batch that meets a deadlock (two
//! batches touching the same nodes) is rolled back whole by the server and
//! sent again by the driver, which retries transient errors.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use futures::stream::{FuturesUnordered, StreamExt};

use neo4rs::{query, BoltList, BoltMap, BoltString, BoltType};
use tokio::sync::mpsc;

use super::idmap::{IdMap, IdMapError, NewId};
use super::RestoreError;
use crate::backup::format::{NodeRecord, RelRecord};
use crate::backup::reader::{read_backup, RecordSink};
use crate::backup::BackupError;
use crate::graph::{escape_name, label_expr, Db};
use crate::progress::Progress;

/// Records per UNWIND query.
pub const BATCH: usize = 1000;

/// UNWIND queries in flight at once.
pub const PARALLEL: usize = 1;

/// Records of one shape, for one UNWIND query.
enum Batch {
    Nodes(Shape, Vec<NodeRecord>),
    Rels(Shape, Vec<RelRecord>),
}

/// Records the parser may hold back while it fills batches of one label set
/// or one type: bounds memory whatever the mix of labels in the file.
const MAX_BUFFERED: usize = 2 * BATCH;

/// What one UNWIND query is written for: the label set (nodes) or the type
/// (relationships) of its rows, and their property keys, all sorted. The keys
/// are written into the query (`CREATE (n:L {k: row.p.k})`): creating an
/// entity with its properties is one write, where `CREATE … SET n = row.p` is
/// a create and then an update, and costs some servers nearly twice the time.
/// Keys in `zoned` (rare: zoned date-times at the later offset of a
/// repeated hour) carry DateTime text that the server builds with
/// `datetime()`; `true` for a list of them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    names: Vec<String>,
    keys: Vec<String>,
    zoned: Vec<(String, bool)>,
}

impl Shape {
    fn of(names: Vec<String>, properties: &BoltMap, server_zoned: &[String]) -> Shape {
        let mut names = names;
        names.sort();
        names.dedup();
        let mut keys: Vec<String> = properties.value.keys().map(|k| k.value.clone()).collect();
        keys.sort();
        let mut zoned: Vec<(String, bool)> = server_zoned
            .iter()
            .map(|k| {
                let list = matches!(properties.value.get(k.as_str()), Some(BoltType::List(_)));
                (k.clone(), list)
            })
            .collect();
        zoned.sort();
        Shape { names, keys, zoned }
    }

    /// ` {`k`: row.p.`k`, …}`, or nothing for entities without properties.
    fn properties_expr(&self) -> Result<String, RestoreError> {
        if self.keys.is_empty() {
            return Ok(String::new());
        }
        let mut expr = String::from(" {");
        for (i, key) in self.keys.iter().enumerate() {
            let key = escape_name(key)?;
            if i > 0 {
                expr.push_str(", ");
            }
            match self.zoned.iter().find(|(k, _)| k == &self.keys[i]) {
                None => expr.push_str(&format!("{key}: row.p.{key}")),
                Some((_, false)) => expr.push_str(&format!("{key}: datetime(row.p.{key})")),
                Some((_, true)) => {
                    expr.push_str(&format!("{key}: [x IN row.p.{key} | datetime(x)]"))
                }
            }
        }
        expr.push('}');
        Ok(expr)
    }
}

/// Turns the file's records into batches of one shape (label set or type, and
/// property keys), so that each UNWIND query carries up to `BATCH` rows even
/// when labels, types and keys are interleaved in the file.
struct ChannelSink {
    tx: mpsc::Sender<Batch>,
    nodes: BTreeMap<Shape, Vec<NodeRecord>>,
    rels: BTreeMap<Shape, Vec<RelRecord>>,
    buffered: usize,
}

impl ChannelSink {
    fn send(&self, b: Batch) -> Result<(), BackupError> {
        self.tx
            .blocking_send(b)
            .map_err(|_| BackupError::Inconsistent("the loader stopped".into()))
    }

    fn flush_nodes(&mut self) -> Result<(), BackupError> {
        for (shape, b) in std::mem::take(&mut self.nodes) {
            self.buffered -= b.len();
            self.send(Batch::Nodes(shape, b))?;
        }
        Ok(())
    }

    fn flush_rels(&mut self) -> Result<(), BackupError> {
        for (shape, b) in std::mem::take(&mut self.rels) {
            self.buffered -= b.len();
            self.send(Batch::Rels(shape, b))?;
        }
        Ok(())
    }
}

/// Adds a record to its shape's group; a group that reaches `BATCH` records
/// is taken out whole, ready to send.
fn add<R>(
    groups: &mut BTreeMap<Shape, Vec<R>>,
    shape: Shape,
    record: R,
) -> Option<(Shape, Vec<R>)> {
    use std::collections::btree_map::Entry;
    match groups.entry(shape) {
        Entry::Occupied(mut group) => {
            group.get_mut().push(record);
            (group.get().len() >= BATCH).then(|| group.remove_entry())
        }
        Entry::Vacant(slot) => {
            let mut group = Vec::with_capacity(BATCH);
            group.push(record);
            slot.insert(group);
            None
        }
    }
}

impl RecordSink for ChannelSink {
    fn node(&mut self, n: NodeRecord) -> Result<(), BackupError> {
        let key = Shape::of(n.labels.clone(), &n.properties, &n.server_zoned);
        self.buffered += 1;
        if let Some((shape, b)) = add(&mut self.nodes, key, n) {
            self.buffered -= b.len();
            self.send(Batch::Nodes(shape, b))?;
        } else if self.buffered >= MAX_BUFFERED {
            self.flush_nodes()?;
        }
        Ok(())
    }

    fn relationship(&mut self, r: RelRecord) -> Result<(), BackupError> {
        // Every node must be loaded before the first relationship needs it.
        if !self.nodes.is_empty() {
            self.flush_nodes()?;
        }
        let key = Shape::of(vec![r.rel_type.clone()], &r.properties, &r.server_zoned);
        self.buffered += 1;
        if let Some((shape, b)) = add(&mut self.rels, key, r) {
            self.buffered -= b.len();
            self.send(Batch::Rels(shape, b))?;
        } else if self.buffered >= MAX_BUFFERED {
            self.flush_rels()?;
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
    cancel: &crate::interrupt::Cancel,
) -> Result<Loaded, RestoreError> {
    let idf = db.id_function();
    // Sized from the verified node count (capped: growing stays possible).
    let mut ids = IdMap::with_capacity(node_total.min(1 << 26) as usize);
    let (tx, mut rx) = mpsc::channel::<Batch>(2);
    let owned = path.to_owned();
    let parser = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink {
            tx,
            nodes: BTreeMap::new(),
            rels: BTreeMap::new(),
            buffered: 0,
        };
        read_backup(&owned, &mut sink)?;
        sink.flush_nodes()?;
        sink.flush_rels()?;
        Ok::<(), BackupError>(())
    });

    let mut loaded = Loaded::default();
    let who = match purpose {
        super::LoadPurpose::Restore => "restore",
        super::LoadPurpose::Rollback => "rollback",
    };
    let node_bar = Progress::new(progress, &format!("{who} nodes"), node_total);
    let mut rel_bar: Option<Progress> = None;
    let mut result: Result<(), RestoreError> = Ok(());
    let mut inflight: FuturesUnordered<Pending<'_>> = FuturesUnordered::new();
    'batches: while let Some(batch) = rx.recv().await {
        if purpose == super::LoadPurpose::Restore && cancel.requested() {
            result = Err(RestoreError::Interrupted);
            break;
        }
        let next = match batch {
            Batch::Nodes(shape, nodes) => node_query(db, &shape, nodes, idf),
            Batch::Rels(shape, rels) => {
                if rel_bar.is_none() {
                    // Every node id must be known before a relationship needs it.
                    while let Some(done) = inflight.next().await {
                        if let Err(e) = settle(done, &mut ids, &mut loaded, &node_bar, None) {
                            result = Err(e);
                            break 'batches;
                        }
                    }
                    node_bar.finish();
                    rel_bar = Some(Progress::new(progress, &format!("{who} rels"), rel_total));
                }
                rel_query(db, &shape, rels, idf, &ids)
            }
        };
        match next {
            Ok(fut) => inflight.push(fut),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        while inflight.len() >= PARALLEL {
            let Some(done) = inflight.next().await else {
                break;
            };
            if let Err(e) = settle(done, &mut ids, &mut loaded, &node_bar, rel_bar.as_ref()) {
                result = Err(e);
                break 'batches;
            }
        }
        // After a batch is in: where the tests pause or hold a load.
        crate::faults::pause("restore.batch").await;
    }
    // Batches still in flight finish (or fail) before the caller rolls back
    // or goes on: none is left half-sent on a pooled connection.
    while let Some(done) = inflight.next().await {
        let settled = settle(done, &mut ids, &mut loaded, &node_bar, rel_bar.as_ref());
        if result.is_ok() {
            result = settled;
        }
    }
    drop(rx);
    crate::log::debug(format!(
        "id map: {} nodes in {} KiB",
        ids.len(),
        ids.heap_bytes() / 1024
    ));
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

/// One UNWIND query on its way, and what it gives back.
type Pending<'a> = Pin<Box<dyn Future<Output = Result<Done, RestoreError>> + Send + 'a>>;

enum Done {
    /// (backup id, new id) of each node created.
    Nodes(Vec<(String, NewId)>),
    Rels(u64),
}

/// Maps the ids of an answered node batch, counts it, runs the fault hook.
fn settle(
    done: Result<Done, RestoreError>,
    ids: &mut IdMap,
    loaded: &mut Loaded,
    node_bar: &Progress,
    rel_bar: Option<&Progress>,
) -> Result<(), RestoreError> {
    match done? {
        Done::Nodes(created) => {
            let n = created.len() as u64;
            for (old, new) in created {
                ids.insert(&old, new).map_err(|e| {
                    RestoreError::Mismatch(match e {
                        IdMapError::Duplicate(id) => format!("node `{id}` was loaded twice"),
                        IdMapError::TooLarge => {
                            "more than 4,294,967,294 nodes, or a node id over 64 KiB".into()
                        }
                    })
                })?;
            }
            loaded.nodes += n;
            node_bar.inc(n);
        }
        Done::Rels(n) => {
            loaded.relationships += n;
            if let Some(bar) = rel_bar {
                bar.inc(n);
            }
        }
    }
    crate::faults::hit("restore.batch")?;
    Ok(())
}

/// The query that creates one batch of nodes, all of `shape`, and returns
/// their backup ids with the ids the server gave them.
fn node_query<'a>(
    db: &'a Db,
    shape: &Shape,
    nodes: Vec<NodeRecord>,
    idf: &str,
) -> Result<Pending<'a>, RestoreError> {
    let rows: Vec<BoltType> = nodes
        .into_iter()
        .map(|n| {
            let mut row = BoltMap::with_capacity(2);
            row.put(BoltString::new("id"), bolt_str(&n.id));
            row.put(BoltString::new("p"), BoltType::Map(n.properties));
            BoltType::Map(row)
        })
        .collect();
    let expected = rows.len();
    let labels = shape.names.clone();
    let cypher = format!(
        "UNWIND $rows AS row CREATE (n{}{}) RETURN row.id AS old, {idf}(n) AS new",
        label_expr(&labels)?,
        shape.properties_expr()?
    );
    let q = query(&cypher).param("rows", BoltType::List(BoltList::from(rows)));
    Ok(Box::pin(async move {
        let t = std::time::Instant::now();
        let out = db.rows(q).await?;
        crate::log::debug(format!("{expected} nodes in {:?}", t.elapsed()));
        if out.len() != expected {
            return Err(RestoreError::Mismatch(format!(
                "{} of {expected} nodes labelled {labels:?} were created",
                out.len()
            )));
        }
        let mut created = Vec::with_capacity(expected);
        for row in out {
            let old: String = row.get("old").map_err(|e| {
                RestoreError::Internal(format!("created node without its backup id: {e}"))
            })?;
            let new = match row.get::<BoltType>("new") {
                Ok(BoltType::String(s)) => NewId::Text(s.value),
                Ok(BoltType::Integer(i)) => NewId::Int(i.value),
                other => {
                    return Err(RestoreError::Internal(format!(
                        "created node without an id: {other:?}"
                    )))
                }
            };
            created.push((old, new));
        }
        Ok(Done::Nodes(created))
    }))
}

/// The query that creates one batch of relationships, all of `shape`,
/// between loaded nodes.
fn rel_query<'a>(
    db: &'a Db,
    shape: &Shape,
    rels: Vec<RelRecord>,
    idf: &str,
    ids: &IdMap,
) -> Result<Pending<'a>, RestoreError> {
    let mut rows = Vec::with_capacity(rels.len());
    for r in rels {
        let endpoint = |old: &str| {
            ids.get_bolt(old).ok_or_else(|| {
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
        rows.push(BoltType::Map(row));
    }
    let expected = rows.len() as i64;
    let rel_type = shape.names[0].clone();
    let cypher = format!(
        "UNWIND $rows AS row \
         MATCH (a) WHERE {idf}(a) = row.s \
         MATCH (b) WHERE {idf}(b) = row.e \
         CREATE (a)-[r:{}{}]->(b) RETURN count(r) AS c",
        escape_name(&rel_type)?,
        shape.properties_expr()?
    );
    let q = query(&cypher).param("rows", BoltType::List(BoltList::from(rows)));
    Ok(Box::pin(async move {
        let t = std::time::Instant::now();
        let rows_out = db.rows(q).await?;
        crate::log::debug(format!("{expected} relationships in {:?}", t.elapsed()));
        let created: i64 = rows_out.first().and_then(|r| r.get("c").ok()).unwrap_or(-1);
        if created != expected {
            return Err(RestoreError::Mismatch(format!(
                "{created} of {expected} `{rel_type}` relationships found both endpoints"
            )));
        }
        Ok(Done::Rels(expected as u64))
    }))
}

/// Deletes every node and relationship except the tool's bookkeeping (lease
/// and operation marker), in batches small enough for any server's
/// transaction memory.
pub async fn clear_data(db: &Db) -> Result<(), RestoreError> {
    let nodes = format!(
        "MATCH (n) WHERE {} WITH n LIMIT 10000 DETACH DELETE n RETURN count(n) AS c",
        crate::graph::reserved::not_bookkeeping("n")
    );
    for cypher in [
        "MATCH ()-[r]->() WITH r LIMIT 10000 DELETE r RETURN count(r) AS c",
        nodes.as_str(),
    ] {
        // Each statement deletes one batch and says how many; repeat until none.
        while db.count(cypher).await? > 0 {}
    }
    Ok(())
}
