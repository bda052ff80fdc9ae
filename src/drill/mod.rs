//! Restore drills: prove a backup restores, without touching the live
//! database. The backup is verified, loaded into an *empty scratch* database
//! (another server, or another database) with the restore machinery itself
//! ([`crate::restore::replace_database`]: the same loader, schema rebuild and
//! count checks as a real restore), then compared with the file: counts,
//! label and type counts, every index and constraint, and a sample of nodes
//! and relationships matched by labels, type and every property. The scratch
//! database is emptied again at the end, whatever happened.
//!
//! Refusals, before anything is written: a target that is the configured
//! database (same resolved host:port and database name), and a target that
//! holds any data or schema (a drill never needs to delete someone's data,
//! so it never starts on a database it would have to).
//!
//! No safety backup is taken (the target is empty by then); the target's
//! lease (`operation::locked` on the target) keeps two drills off one scratch
//! database, and the backup folder's local lock keeps retention from removing
//! the file mid-drill.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use neo4rs::{query, BoltMap, BoltType};
use serde::Serialize;

use crate::backup::format::{NodeRecord, RelRecord, Schema};
use crate::backup::reader::{read_backup, RecordSink};
use crate::backup::{verify_backup, BackupError, VerifyReport};
use crate::config::{BoltUri, ConnectSettings};
use crate::graph::{escape_name, label_expr, Db, GraphError};
use crate::restore::{load, schema, LoadPurpose, RestoreError};

/// Nodes, and relationships, compared record by record.
pub const SAMPLE: usize = 100;

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("refused: the drill target {target} is the configured database ({configured}); a drill loads into a scratch database and empties it — point --into / --into-database at another server or database")]
    SameDatabase { target: String, configured: String },
    #[error("refused: the drill target {target} is not empty ({what}); a drill only loads into an empty scratch database — empty it, or choose another with --into / --into-database")]
    NotEmpty { target: String, what: String },
    #[error("no password for the drill target: set IGN_SETUP_DRILL_PASSWORD or pass --into-password-file FILE (a password is never taken on the command line)")]
    NoPassword,
    #[error("cannot read the drill password file `{path}`: {source}; fix --into-password-file")]
    PasswordFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Safety(#[from] crate::safety::SafetyError),
    #[error("{outcome}\nThe scratch database {target} could not be emptied afterwards ({cleanup}); empty it by hand before the next drill")]
    NotEmptied {
        target: String,
        /// What the drill itself came to.
        outcome: String,
        cleanup: String,
    },
}

impl DrillError {
    pub fn fault(&self) -> crate::exit::Fault {
        use crate::exit::Fault;
        match self {
            DrillError::SameDatabase { .. } => Fault::DrillRefused,
            DrillError::NotEmpty { .. } => Fault::DrillTargetNotEmpty,
            DrillError::NoPassword | DrillError::PasswordFile { .. } => Fault::Config,
            DrillError::Backup(b) => b.fault(),
            DrillError::Graph(g) => g.fault(),
            DrillError::Restore(r) => r.fault(),
            DrillError::Safety(s) => s.fault(),
            DrillError::NotEmptied { .. } => Fault::DrillNotEmptied,
        }
    }
}

/// One comparison of the drill, passed or failed.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// The drill's result (also what `--json` prints under `drill`).
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub ok: bool,
    pub source: PathBuf,
    pub backup_datetime: String,
    pub target: String,
    pub target_database: Option<String>,
    pub nodes: u64,
    pub relationships: u64,
    pub schema_items: usize,
    pub sampled_nodes: usize,
    pub sampled_relationships: usize,
    pub checks: Vec<Check>,
    /// The scratch database held no data and no schema afterwards.
    pub emptied: bool,
    pub duration_seconds: f64,
}

/// Where the drill goes, and what it must not be.
pub struct DrillRequest {
    pub source: PathBuf,
    pub target: ConnectSettings,
    pub target_password: crate::config::Secret,
    /// The configured (live) database: its URI and database name.
    pub configured_uri: BoltUri,
    pub configured_database: Option<String>,
    pub backup_dir: PathBuf,
    pub progress: bool,
    /// Stops the load at the next batch when requested.
    pub cancel: crate::interrupt::Cancel,
}

fn resolved(uri: &BoltUri) -> Vec<SocketAddr> {
    uri.address()
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default()
}

/// Whether two URIs reach the same server: the same port and a common
/// resolved address, or loopback addresses on both (a server listening on
/// 127.0.0.1 also answers as localhost), or the same text when neither
/// resolves.
pub fn same_server(a: &BoltUri, b: &BoltUri) -> bool {
    if a.address().eq_ignore_ascii_case(&b.address()) {
        return true;
    }
    let (ra, rb) = (resolved(a), resolved(b));
    ra.iter().any(|x| {
        rb.iter().any(|y| {
            x.port() == y.port()
                && (x.ip() == y.ip() || (x.ip().is_loopback() && y.ip().is_loopback()))
        })
    })
}

/// Runs a drill. `Ok` carries the report, passed or failed; `Err` means the
/// drill could not be judged (refused, unreadable backup, lost server).
pub async fn drill(req: &DrillRequest) -> Result<DrillReport, DrillError> {
    let started = std::time::Instant::now();
    let target_label = format!(
        "{} (database {})",
        req.target.uri.address(),
        req.target.database.as_deref().unwrap_or("default")
    );
    let configured_label = format!(
        "{} (database {})",
        req.configured_uri.address(),
        req.configured_database.as_deref().unwrap_or("default")
    );
    let server_is_configured = same_server(&req.target.uri, &req.configured_uri);
    let same = |target_db: Option<&str>| DrillError::SameDatabase {
        target: format!(
            "{} (database {})",
            req.target.uri.address(),
            target_db.unwrap_or("default")
        ),
        configured: configured_label.clone(),
    };
    if server_is_configured
        && req.target.database.as_deref().map(str::to_ascii_lowercase)
            == req
                .configured_database
                .as_deref()
                .map(str::to_ascii_lowercase)
    {
        return Err(same(req.target.database.as_deref()));
    }
    let report = {
        let p = req.source.clone();
        tokio::task::spawn_blocking(move || verify_backup(&p))
            .await
            .map_err(|e| RestoreError::Internal(e.to_string()))??
    };
    let db = Arc::new(Db::connect(&req.target, &req.target_password).await?);
    if server_is_configured {
        // One side names its database and the other leaves it to the
        // server's default: ask the target which database it is.
        let actual = current_database(&db).await?;
        let configured = match &req.configured_database {
            Some(c) => c.clone(),
            // The configured side is the default; so is the target's only
            // when it named none, else the names cannot be told apart here.
            None if req.target.database.is_none() => actual.clone(),
            None => return Err(same(Some(&actual))),
        };
        if configured.eq_ignore_ascii_case(&actual) {
            return Err(same(Some(&actual)));
        }
    }
    // Emptied afterwards in every case where the target was proven empty
    // first (also after a failed load); never otherwise: data the drill did
    // not load is not the drill's to delete.
    let (outcome, cleanup) =
        crate::operation::locked(&db, &req.backup_dir, "drill", async |db: &Db| {
            refuse_unless_empty(db, &target_label).await?;
            let outcome = run_checks(db, &req.source, &report, req.progress, &req.cancel).await;
            Ok::<_, DrillError>((outcome, empty_again(db).await))
        })
        .await?;
    let checks = match outcome {
        Ok(checks) => checks,
        Err(e) => {
            return Err(match cleanup {
                Ok(()) => e,
                Err(c) => DrillError::NotEmptied {
                    target: target_label,
                    outcome: format!("the drill failed: {e}"),
                    cleanup: c.to_string(),
                },
            })
        }
    };
    if let Err(c) = cleanup {
        return Err(DrillError::NotEmptied {
            target: target_label,
            outcome: format!(
                "the drill ran ({} of {} checks passed)",
                checks.0.iter().filter(|c| c.ok).count(),
                checks.0.len()
            ),
            cleanup: c.to_string(),
        });
    }
    let emptied = true;
    let (sampled_nodes, sampled_relationships) = checks.1;
    let checks = checks.0;
    Ok(DrillReport {
        ok: checks.iter().all(|c| c.ok),
        source: req.source.clone(),
        backup_datetime: report.metadata.datetime.clone(),
        target: req.target.uri.address(),
        target_database: req.target.database.clone(),
        nodes: report.node_count,
        relationships: report.relationship_count,
        schema_items: report.schema_count,
        sampled_nodes,
        sampled_relationships,
        checks,
        emptied,
        duration_seconds: started.elapsed().as_secs_f64(),
    })
}

async fn current_database(db: &Db) -> Result<String, GraphError> {
    let rows = db
        .rows(query("CALL db.info() YIELD name RETURN name"))
        .await?;
    rows.first()
        .and_then(|r| r.get::<String>("name").ok())
        .ok_or_else(|| GraphError::Protocol("db.info() returned no name".into()))
}

async fn refuse_unless_empty(db: &Db, target: &str) -> Result<(), DrillError> {
    let nodes = crate::graph::counts::node_count(db).await?;
    let schema = crate::graph::schema::read_schema(db).await?;
    if nodes > 0 || !schema.is_empty() {
        return Err(DrillError::NotEmpty {
            target: target.to_owned(),
            what: format!("{nodes} nodes, {} indexes and constraints", schema.len()),
        });
    }
    Ok(())
}

/// Clears data and schema, then checks that nothing is left.
async fn empty_again(db: &Db) -> Result<(), DrillError> {
    // Keeps the built-in lookup indexes every database has.
    schema::drop_schema(db, &crate::backup::format::Schema::default()).await?;
    load::clear_data(db).await?;
    let nodes = crate::graph::counts::node_count(db).await?;
    let left = crate::graph::schema::read_schema(db).await?;
    let left = left.len() - left.lookups().count();
    if nodes > 0 || left > 0 {
        return Err(DrillError::Graph(GraphError::Protocol(format!(
            "{nodes} nodes and {left} indexes or constraints are left"
        ))));
    }
    Ok(())
}

type Checked = (Vec<Check>, (usize, usize));

/// Loads the backup and compares; a comparison that fails is a failed
/// check, not an error.
async fn run_checks(
    db: &Db,
    path: &Path,
    report: &VerifyReport,
    progress: bool,
    cancel: &crate::interrupt::Cancel,
) -> Result<Checked, DrillError> {
    let mut checks = Vec::new();
    match crate::restore::replace_database(
        db,
        path,
        report,
        progress,
        LoadPurpose::Restore,
        cancel,
        &[],
    )
    .await
    {
        Ok(outcome) => {
            checks.push(Check {
                name: "load",
                ok: true,
                detail: format!(
                    "{} nodes and {} relationships loaded",
                    report.node_count, report.relationship_count
                ),
            });
            checks.push(Check {
                name: "counts",
                ok: true,
                detail: "node, relationship, label and type counts equal the backup's".into(),
            });
            checks.push(schema_check(db, &report.schema, &outcome.not_recreated).await?);
        }
        Err(RestoreError::Mismatch(m)) => {
            checks.push(Check {
                name: "counts",
                ok: false,
                detail: m,
            });
            return Ok((checks, (0, 0)));
        }
        Err(e) if e.is_connection() => return Err(e.into()),
        Err(RestoreError::Interrupted) => return Err(RestoreError::Interrupted.into()),
        Err(e) => {
            checks.push(Check {
                name: "load",
                ok: false,
                detail: e.to_string(),
            });
            return Ok((checks, (0, 0)));
        }
    }
    let sample = {
        let p = path.to_owned();
        let (n, r) = (report.node_count, report.relationship_count);
        tokio::task::spawn_blocking(move || take_sample(&p, n, r))
            .await
            .map_err(|e| RestoreError::Internal(e.to_string()))??
    };
    let sizes = (sample.nodes.len(), sample.rels.len());
    checks.push(sample_check(db, &sample).await?);
    Ok((checks, sizes))
}

/// Every index and constraint of the backup exists on the target, by name,
/// labels or types and properties.
async fn schema_check(
    db: &Db,
    expected: &Schema,
    not_created: &[crate::graph::schema::ddl::SchemaGap],
) -> Result<Check, GraphError> {
    let found = crate::graph::schema::read_schema(db).await?;
    let key = |i: &crate::backup::format::SchemaItem| {
        (
            i.name.clone(),
            i.labels_or_types.clone(),
            i.properties.clone(),
        )
    };
    let have: BTreeSet<_> = found
        .indexes
        .iter()
        .chain(&found.constraints)
        .map(key)
        .collect();
    let missing: Vec<String> = expected
        .indexes
        .iter()
        .chain(&expected.constraints)
        .filter(|i| !have.contains(&key(i)))
        .map(|i| {
            not_created
                .iter()
                .find(|g| g.name == i.name)
                .map(|g| g.to_string())
                .unwrap_or_else(|| i.name.clone())
        })
        .collect();
    Ok(Check {
        name: "schema",
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            format!("{} indexes and constraints present", expected.len())
        } else {
            format!("missing: {}", missing.join("; "))
        },
    })
}

struct Sample {
    nodes: Vec<NodeRecord>,
    rels: Vec<RelRecord>,
    /// Endpoints of the sampled relationships, by backup id.
    ends: HashMap<String, NodeRecord>,
}

/// Evenly spaced records: the first, then every `stride`-th.
struct SampleSink {
    stride_n: u64,
    stride_r: u64,
    seen_n: u64,
    seen_r: u64,
    nodes: Vec<NodeRecord>,
    rels: Vec<RelRecord>,
}

impl RecordSink for SampleSink {
    fn node(&mut self, n: NodeRecord) -> Result<(), BackupError> {
        if self.seen_n % self.stride_n == 0
            && self.nodes.len() < SAMPLE
            && comparable(&n.properties)
        {
            self.nodes.push(n);
        }
        self.seen_n += 1;
        Ok(())
    }

    fn relationship(&mut self, r: RelRecord) -> Result<(), BackupError> {
        if self.seen_r % self.stride_r == 0 && self.rels.len() < SAMPLE && comparable(&r.properties)
        {
            self.rels.push(r);
        }
        self.seen_r += 1;
        Ok(())
    }
}

struct EndsSink<'a> {
    wanted: &'a HashSet<String>,
    found: HashMap<String, NodeRecord>,
}

impl RecordSink for EndsSink<'_> {
    fn node(&mut self, n: NodeRecord) -> Result<(), BackupError> {
        if self.wanted.contains(&n.id) {
            self.found.insert(n.id.clone(), n);
        }
        Ok(())
    }

    fn relationship(&mut self, _r: RelRecord) -> Result<(), BackupError> {
        Ok(())
    }
}

/// NaN equals nothing, not even itself: such a record cannot be found by
/// equality and is left out of the sample.
fn comparable(m: &BoltMap) -> bool {
    fn ok(v: &BoltType) -> bool {
        match v {
            BoltType::Float(f) => !f.value.is_nan(),
            BoltType::List(l) => l.value.iter().all(ok),
            BoltType::Map(m) => m.value.values().all(ok),
            _ => true,
        }
    }
    m.value.values().all(ok)
}

fn take_sample(path: &Path, nodes: u64, rels: u64) -> Result<Sample, BackupError> {
    let stride = |total: u64| (total / SAMPLE as u64).max(1);
    let mut sink = SampleSink {
        stride_n: stride(nodes),
        stride_r: stride(rels),
        seen_n: 0,
        seen_r: 0,
        nodes: Vec::new(),
        rels: Vec::new(),
    };
    read_backup(path, &mut sink)?;
    let mut wanted = HashSet::new();
    for r in &sink.rels {
        wanted.insert(r.start.clone());
        wanted.insert(r.end.clone());
    }
    let mut ends = EndsSink {
        wanted: &wanted,
        found: HashMap::new(),
    };
    // A second pass: endpoints come before the relationships that need them.
    if !wanted.is_empty() {
        read_backup(path, &mut ends)?;
    }
    Ok(Sample {
        nodes: sink.nodes,
        rels: sink.rels,
        ends: ends.found,
    })
}

fn node_match(var: &str, n: &NodeRecord) -> Result<String, DrillError> {
    let labels = label_expr(&n.labels).map_err(RestoreError::from)?;
    Ok(format!("({var}{labels})"))
}

/// Each sampled node and relationship exists on the target with exactly its
/// labels (type) and properties; a relationship also with its endpoints'.
async fn sample_check(db: &Db, s: &Sample) -> Result<Check, DrillError> {
    let mut missing = Vec::new();
    for n in &s.nodes {
        let cypher = format!(
            "MATCH {} WHERE size(labels(n)) = $label_count AND properties(n) = $props RETURN count(n) AS c",
            node_match("n", n)?
        );
        let q = query(&cypher)
            .param("label_count", n.labels.len() as i64)
            .param("props", BoltType::Map(n.properties.clone()));
        if db.count_query(q).await? == 0 {
            missing.push(format!("node {} {:?}", n.id, n.labels));
        }
    }
    let mut rels_checked = 0;
    for r in &s.rels {
        let (Some(a), Some(b)) = (s.ends.get(&r.start), s.ends.get(&r.end)) else {
            missing.push(format!(
                "relationship {}: its endpoints are not in the file",
                r.id
            ));
            continue;
        };
        if !comparable(&a.properties) || !comparable(&b.properties) {
            continue;
        }
        rels_checked += 1;
        let t = escape_name(&r.rel_type).map_err(RestoreError::from)?;
        let cypher = format!(
            "MATCH {}-[r:{t}]->{} WHERE properties(r) = $props \
             AND size(labels(a)) = $a_label_count AND properties(a) = $a_props \
             AND size(labels(b)) = $b_label_count AND properties(b) = $b_props \
             RETURN count(r) AS c",
            node_match("a", a)?,
            node_match("b", b)?
        );
        let q = query(&cypher)
            .param("props", BoltType::Map(r.properties.clone()))
            .param("a_label_count", a.labels.len() as i64)
            .param("a_props", BoltType::Map(a.properties.clone()))
            .param("b_label_count", b.labels.len() as i64)
            .param("b_props", BoltType::Map(b.properties.clone()));
        if db.count_query(q).await? == 0 {
            missing.push(format!("relationship {} `{}`", r.id, r.rel_type));
        }
    }
    let total = s.nodes.len() + rels_checked;
    Ok(Check {
        name: "sample",
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            format!(
                "{} nodes and {rels_checked} relationships found with their labels, types and properties",
                s.nodes.len()
            )
        } else {
            format!(
                "{} of {total} sampled records not found: {}",
                missing.len(),
                missing.into_iter().take(5).collect::<Vec<_>>().join("; ")
            )
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_server_compares_resolved_addresses() {
        let u = |s: &str| BoltUri::parse(s).unwrap();
        assert!(same_server(
            &u("bolt://localhost:7687"),
            &u("neo4j://127.0.0.1:7687")
        ));
        assert!(same_server(
            &u("bolt://LOCALHOST:7687"),
            &u("bolt://localhost")
        ));
        assert!(same_server(
            &u("bolt://[::1]:7687"),
            &u("bolt://127.0.0.1:7687")
        ));
        assert!(!same_server(
            &u("bolt://localhost:7687"),
            &u("bolt://localhost:7688")
        ));
        assert!(!same_server(
            &u("bolt://no-such-host.invalid:7687"),
            &u("bolt://localhost:7687")
        ));
    }
}
