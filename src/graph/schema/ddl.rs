//! Schema statements: rebuilding `CREATE INDEX` / `CREATE CONSTRAINT` from a
//! [`SchemaItem`]'s fields, checking before anything changes that a server
//! can take each of them, creating, dropping, and waiting for population.
//!
//! Every name reaches Cypher through [`escape_name`]. Index options come from
//! a whitelist of keys with the value shapes Neo4j documents, and their values
//! travel as parameters (`OPTIONS {indexConfig: {`vector.dimensions`: $o0}}`).
//! A property type is rebuilt from a small grammar of Neo4j's type names, so
//! no text from a file is ever placed in a statement as it is. Each statement
//! is valid under both `CYPHER 5` and `CYPHER 25`, without deprecations.
//!
//! Schema statements run in explicit transactions: an error is then the
//! statement's answer, never retried on another connection (neo4rs retries
//! auto-commit statements whose result fails), and a check can be rolled back.

use std::time::{Duration, Instant};

use neo4rs::{query, BoltType, Query};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{ConstraintKind, Described, Entity, IndexKind, Schema, SchemaItem};
use crate::graph::{escape_name, value, Db, GraphError, ServerInfo};

/// A statement and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub text: String,
    pub params: Vec<(String, BoltType)>,
}

impl Statement {
    pub fn query(&self) -> Query {
        let mut q = query(&self.text);
        for (k, v) in &self.params {
            q = q.param(k, v.clone());
        }
        q
    }
}

/// An item a server cannot (or did not) recreate, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SchemaGap {
    pub name: String,
    /// `index` or `constraint`.
    pub kind: &'static str,
    /// The item in words: ``constraint `k` (NODE_KEY on :Function(k))``.
    pub item: String,
    pub reason: String,
}

/// A gap as tests of the messages that list gaps use it.
#[cfg(test)]
pub(crate) fn example_gap() -> SchemaGap {
    SchemaGap {
        name: "fn_key".into(),
        kind: "constraint",
        item: "constraint `fn_key` (NODE_KEY on :Function(name))".into(),
        reason: "key constraints need Neo4j Enterprise Edition".into(),
    }
}

impl SchemaGap {
    pub fn new(item: &SchemaItem, constraint: bool, reason: impl Into<String>) -> SchemaGap {
        SchemaGap {
            name: item.name.clone(),
            kind: if constraint { "constraint" } else { "index" },
            item: Described(item, constraint).to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for SchemaGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.item, self.reason)
    }
}

/// The value shape an index option must have.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Integer,
    Float,
    Text,
    Boolean,
    /// A list of floats, of 2 or 3 elements (spatial bounds).
    Bounds(usize),
}

/// Every index option Neo4j 5 and 2025+ document, with its value shape.
const OPTION_KEYS: &[(&str, Shape)] = &[
    ("vector.dimensions", Shape::Integer),
    ("vector.similarity_function", Shape::Text),
    ("vector.hnsw.m", Shape::Integer),
    ("vector.hnsw.ef_construction", Shape::Integer),
    ("vector.quantization.enabled", Shape::Boolean),
    ("vector.quantization.type", Shape::Text),
    ("vector.default_search_expansion_factor", Shape::Float),
    ("fulltext.analyzer", Shape::Text),
    ("fulltext.eventually_consistent", Shape::Boolean),
    ("spatial.cartesian.min", Shape::Bounds(2)),
    ("spatial.cartesian.max", Shape::Bounds(2)),
    ("spatial.cartesian-3d.min", Shape::Bounds(3)),
    ("spatial.cartesian-3d.max", Shape::Bounds(3)),
    ("spatial.wgs-84.min", Shape::Bounds(2)),
    ("spatial.wgs-84.max", Shape::Bounds(2)),
    ("spatial.wgs-84-3d.min", Shape::Bounds(3)),
    ("spatial.wgs-84-3d.max", Shape::Bounds(3)),
];

/// Which option keys belong to which index type.
fn option_prefix(kind: IndexKind) -> Option<&'static str> {
    match kind {
        IndexKind::Vector => Some("vector."),
        IndexKind::Fulltext => Some("fulltext."),
        IndexKind::Point => Some("spatial."),
        IndexKind::Range | IndexKind::Text | IndexKind::Lookup => None,
    }
}

/// One option's value as a parameter, if the key is known and the value has
/// its shape.
fn option_value(key: &str, json: &Value) -> Result<BoltType, String> {
    let Some((_, shape)) = OPTION_KEYS.iter().find(|(k, _)| *k == key) else {
        return Err(format!(
            "index option `{key}` is not one ign-setup knows how to pass on"
        ));
    };
    let v = value::decode(json).map_err(|e| format!("index option `{key}`: {e}"))?;
    let ok = match (shape, &v) {
        (Shape::Integer, BoltType::Integer(_))
        | (Shape::Float, BoltType::Float(_))
        | (Shape::Text, BoltType::String(_))
        | (Shape::Boolean, BoltType::Boolean(_)) => true,
        (Shape::Bounds(n), BoltType::List(l)) => {
            l.value.len() == *n && l.value.iter().all(|x| matches!(x, BoltType::Float(_)))
        }
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(format!(
            "index option `{key}` has the value {json}, which is not a {}",
            match shape {
                Shape::Integer => "an integer".to_owned(),
                Shape::Float => "a float".to_owned(),
                Shape::Text => "a string".to_owned(),
                Shape::Boolean => "a boolean".to_owned(),
                Shape::Bounds(n) => format!("list of {n} floats"),
            }
        ))
    }
}

/// ` OPTIONS {indexConfig: {...}}` with the values as parameters `$o0`, ...;
/// nothing for an empty (or unrecorded) configuration.
fn options_clause(
    config: Option<&Map<String, Value>>,
    allowed: Option<&str>,
    params: &mut Vec<(String, BoltType)>,
) -> Result<String, String> {
    let Some(config) = config.filter(|c| !c.is_empty()) else {
        return Ok(String::new());
    };
    let mut entries = Vec::new();
    for (key, json) in config {
        if !allowed.is_some_and(|p| key.starts_with(p)) {
            return Err(format!(
                "index option `{key}` does not belong to this kind of index"
            ));
        }
        let v = option_value(key, json)?;
        let name = escape_name(key).map_err(|e| e.to_string())?;
        let param = format!("o{}", params.len());
        entries.push(format!("{name}: ${param}"));
        params.push((param, v));
    }
    Ok(format!(
        " OPTIONS {{indexConfig: {{{}}}}}",
        entries.join(", ")
    ))
}

/// Neo4j's property type names (Cypher 5 and 25), for `IS :: <type>`.
const PROPERTY_TYPES: &[&str] = &[
    "BOOLEAN",
    "STRING",
    "INTEGER",
    "FLOAT",
    "DATE",
    "LOCAL TIME",
    "ZONED TIME",
    "LOCAL DATETIME",
    "ZONED DATETIME",
    "DURATION",
    "POINT",
];

/// Rebuilds a property type (`INTEGER | LIST<STRING NOT NULL>`) from the
/// names in [`PROPERTY_TYPES`]; anything else is refused.
pub fn property_type(text: &str) -> Result<String, String> {
    let refuse = || {
        format!("property type `{text}` is not one ign-setup can rebuild (it knows BOOLEAN, STRING, INTEGER, FLOAT, DATE, LOCAL TIME, ZONED TIME, LOCAL DATETIME, ZONED DATETIME, DURATION, POINT, LIST<... NOT NULL> of those, and unions of them)")
    };
    let simple = |t: &str| -> Option<&'static str> {
        let words: Vec<&str> = t.split_whitespace().collect();
        let t = words.join(" ").to_ascii_uppercase();
        PROPERTY_TYPES.iter().copied().find(|p| *p == t)
    };
    let mut parts = Vec::new();
    for part in text.split('|') {
        let part = part.trim();
        let upper = part.to_ascii_uppercase();
        let rebuilt = if let Some(inner) = upper
            .strip_prefix("LIST<")
            .and_then(|r| r.strip_suffix('>'))
        {
            let inner = inner
                .trim()
                .strip_suffix("NOT NULL")
                .ok_or_else(refuse)?
                .trim();
            format!("LIST<{} NOT NULL>", simple(inner).ok_or_else(refuse)?)
        } else {
            simple(part).ok_or_else(refuse)?.to_owned()
        };
        parts.push(rebuilt);
    }
    if parts.is_empty() {
        return Err(refuse());
    }
    Ok(parts.join(" | "))
}

/// The `CREATE` statement for `item`, or why there is none.
pub fn create_statement(item: &SchemaItem, constraint: bool) -> Result<Statement, String> {
    build(item, constraint, &item.name, &item.labels_or_types)
}

/// The statement for `item` under another name and other labels or types,
/// used to ask the server whether it would take it without touching the
/// database's own schema.
fn probe_statement(item: &SchemaItem, constraint: bool, n: usize) -> Result<Statement, String> {
    let labels: Vec<String> = (0..item.labels_or_types.len())
        .map(|i| format!("IgnSetupSchemaProbe{n}_{i}"))
        .collect();
    build(
        item,
        constraint,
        &format!("ign_setup_schema_probe_{n}"),
        &labels,
    )
}

fn build(
    item: &SchemaItem,
    constraint: bool,
    name: &str,
    labels: &[String],
) -> Result<Statement, String> {
    let name = escape_name(name).map_err(|e| e.to_string())?;
    let entity = item.entity()?;
    let var = match entity {
        Entity::Node => "n",
        Entity::Relationship => "r",
    };
    let names = labels
        .iter()
        .map(|l| escape_name(l).map(|n| n.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let props = item
        .properties
        .iter()
        .map(|p| escape_name(p).map(|n| format!("{var}.{n}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let pattern = |joined: &str| match entity {
        Entity::Node => format!("({var}:{joined})"),
        Entity::Relationship => format!("()-[{var}:{joined}]-()"),
    };
    let one = |what: &str| -> Result<String, String> {
        match names.as_slice() {
            [one] => Ok(pattern(one)),
            [] => Err(format!("{what} without a label or relationship type")),
            _ => Err(format!(
                "{what} on more than one label or relationship type"
            )),
        }
    };
    let mut params = Vec::new();
    if constraint {
        if item.graph_type {
            return Err("it belongs to the database's graph type (Cypher 25), which ign-setup does not back up; recreate the graph type by hand".into());
        }
        let kind = ConstraintKind::parse(&item.kind, entity)?;
        let pat = one("a constraint")?;
        let tuple = match props.as_slice() {
            [] => return Err("a constraint without properties".into()),
            [one] => one.clone(),
            many => format!("({})", many.join(", ")),
        };
        let requirement = match kind {
            ConstraintKind::Unique => "IS UNIQUE".to_owned(),
            ConstraintKind::Key => match entity {
                Entity::Node => "IS NODE KEY".to_owned(),
                Entity::Relationship => "IS RELATIONSHIP KEY".to_owned(),
            },
            ConstraintKind::Exists | ConstraintKind::PropertyType if props.len() != 1 => {
                return Err("an existence or property type constraint on several properties".into())
            }
            ConstraintKind::Exists => "IS NOT NULL".to_owned(),
            ConstraintKind::PropertyType => {
                let t = item
                    .property_type
                    .as_deref()
                    .ok_or("a property type constraint without its type")?;
                format!("IS :: {}", property_type(t)?)
            }
        };
        // Uniqueness and key constraints own an index, whose configuration
        // travels with the constraint; the others take no options.
        let options = match kind {
            ConstraintKind::Unique | ConstraintKind::Key => {
                // Range-backed: no option key exists for them.
                options_clause(item.index_config.as_ref(), None, &mut params)?
            }
            _ => String::new(),
        };
        return Ok(Statement {
            text: format!(
                "CREATE CONSTRAINT {name} IF NOT EXISTS FOR {pat} REQUIRE {tuple} {requirement}{options}"
            ),
            params,
        });
    }
    let kind = IndexKind::parse(&item.kind)?;
    let options = options_clause(item.index_config.as_ref(), option_prefix(kind), &mut params)?;
    let single = |what: &str| -> Result<&String, String> {
        match props.as_slice() {
            [one] => Ok(one),
            [] => Err(format!("{what} without a property")),
            _ => Err(format!(
                "{what} on several properties (a Cypher 25 vector index with filter properties cannot be written in Cypher 5)"
            )),
        }
    };
    let text = match kind {
        IndexKind::Lookup => {
            if !names.is_empty() || !props.is_empty() {
                return Err("a lookup index with labels or properties".into());
            }
            match entity {
                Entity::Node => {
                    format!("CREATE LOOKUP INDEX {name} IF NOT EXISTS FOR (n) ON EACH labels(n)")
                }
                Entity::Relationship => format!(
                    "CREATE LOOKUP INDEX {name} IF NOT EXISTS FOR ()-[r]-() ON EACH type(r)"
                ),
            }
        }
        IndexKind::Range => {
            if props.is_empty() {
                return Err("a range index without properties".into());
            }
            format!(
                "CREATE RANGE INDEX {name} IF NOT EXISTS FOR {} ON ({}){options}",
                one("a range index")?,
                props.join(", ")
            )
        }
        IndexKind::Text => format!(
            "CREATE TEXT INDEX {name} IF NOT EXISTS FOR {} ON ({}){options}",
            one("a text index")?,
            single("a text index")?
        ),
        IndexKind::Point => format!(
            "CREATE POINT INDEX {name} IF NOT EXISTS FOR {} ON ({}){options}",
            one("a point index")?,
            single("a point index")?
        ),
        IndexKind::Vector => format!(
            "CREATE VECTOR INDEX {name} IF NOT EXISTS FOR {} ON ({}){options}",
            one("a vector index")?,
            single("a vector index")?
        ),
        IndexKind::Fulltext => {
            if names.is_empty() || props.is_empty() {
                return Err("a full-text index without labels or properties".into());
            }
            format!(
                "CREATE FULLTEXT INDEX {name} IF NOT EXISTS FOR {} ON EACH [{}]{options}",
                pattern(&names.join("|")),
                props.join(", ")
            )
        }
    };
    Ok(Statement { text, params })
}

/// `DROP INDEX` / `DROP CONSTRAINT` for an item of the live database.
pub fn drop_statement(item: &SchemaItem, constraint: bool) -> Result<String, String> {
    let name = escape_name(&item.name).map_err(|e| e.to_string())?;
    Ok(if constraint {
        format!("DROP CONSTRAINT {name} IF EXISTS")
    } else {
        format!("DROP INDEX {name} IF EXISTS")
    })
}

/// A server version as `dbms.components()` reports it: `5.26.30`,
/// `2026.08.1`, `5.27-aura`. Calendar versions (2025.01 on) sort after 5.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion(pub u32, pub u32);

impl ServerVersion {
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let mut parts = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        Some(ServerVersion(major, minor))
    }
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 >= 2025 {
            write!(f, "{}.{:02}", self.0, self.1)
        } else {
            write!(f, "{}.{}", self.0, self.1)
        }
    }
}

/// What the server's edition and version rule out, before asking it.
pub fn static_gap(item: &SchemaItem, constraint: bool, server: &ServerInfo) -> Option<String> {
    let version = ServerVersion::parse(&server.version);
    let older_than = |v: ServerVersion| version.is_some_and(|have| have < v);
    let entity = item.entity().ok()?;
    let needs = |v: ServerVersion, what: &str| {
        older_than(v).then(|| {
            format!(
                "{what} needs Neo4j {v} or newer; this server is {}",
                server.version
            )
        })
    };
    if constraint {
        let kind = ConstraintKind::parse(&item.kind, entity).ok()?;
        if kind.needs_enterprise() && server.edition.eq_ignore_ascii_case("community") {
            return Some(format!(
                "{} constraints need Neo4j Enterprise Edition; this server is {} Community Edition",
                match kind {
                    ConstraintKind::Key => "key",
                    ConstraintKind::Exists => "property existence",
                    ConstraintKind::PropertyType => "property type",
                    ConstraintKind::Unique => "uniqueness",
                },
                server.version
            ));
        }
        if entity == Entity::Relationship {
            if let Some(g) = needs(
                ServerVersion(5, 7),
                "a relationship uniqueness or key constraint",
            ) {
                return Some(g);
            }
        }
        if kind == ConstraintKind::PropertyType {
            return needs(ServerVersion(5, 9), "a property type constraint");
        }
        return None;
    }
    match IndexKind::parse(&item.kind).ok()? {
        // `CREATE VECTOR INDEX` exists from 5.15 (node vector indexes went
        // GA in 5.13 through a procedure), relationship ones from 5.18.
        IndexKind::Vector if entity == Entity::Relationship => {
            needs(ServerVersion(5, 18), "a relationship vector index")
        }
        IndexKind::Vector => needs(ServerVersion(5, 15), "`CREATE VECTOR INDEX`"),
        _ => None,
    }
}

fn server_reason(e: &GraphError) -> String {
    match e {
        // 2025+ messages start with GQL status codes on lines of their own.
        GraphError::Query { code, message } => {
            let text: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.chars().all(|c| c.is_ascii_alphanumeric()))
                .collect();
            format!("the server refused it: {} ({code})", text.join(" "))
        }
        other => other.to_string(),
    }
}

/// Runs one schema statement in its own explicit transaction. Notifications
/// the server sends (deprecations would be a bug of ours) go to `-v`.
pub async fn run_ddl(db: &Db, stmt: &Statement) -> Result<(), GraphError> {
    let mut txn = db.start_txn().await?;
    match txn.run(db.logged(stmt.query())).await {
        Ok(summary) => {
            for n in &summary.notifications {
                crate::log::debug(format!(
                    "server notification for `{}`: {:?} {:?}",
                    stmt.text, n.code, n.description
                ));
            }
        }
        Err(e) => {
            let _ = txn.rollback().await;
            return Err(db.classify(e));
        }
    }
    txn.commit().await.map(|_| ()).map_err(|e| db.classify(e))
}

/// Asks the server whether it would take `stmt`: runs it in a transaction
/// that is always rolled back. `Ok(None)` yes, `Ok(Some(reason))` no.
async fn probe(db: &Db, stmt: &Statement) -> Result<Option<String>, GraphError> {
    let mut txn = db.start_txn().await?;
    let answer = txn.run(db.logged(stmt.query())).await;
    let _ = txn.rollback().await;
    match answer.map_err(|e| db.classify(e)) {
        Ok(_) => Ok(None),
        Err(e @ GraphError::Query { .. }) => Ok(Some(server_reason(&e))),
        Err(e) => Err(e),
    }
}

/// Every item of `schema` this server cannot recreate, and why: first what
/// its edition and version rule out, then the server's own answer to each
/// statement, tried under another name and on labels of its own in a
/// transaction that is rolled back (so the database's schema is untouched).
pub async fn check_recreatable(db: &Db, schema: &Schema) -> Result<Vec<SchemaGap>, GraphError> {
    let mut gaps = Vec::new();
    let items = schema
        .constraints
        .iter()
        .map(|c| (c, true))
        .chain(schema.indexes.iter().map(|i| (i, false)));
    for (n, (item, constraint)) in items.enumerate() {
        if let Err(reason) = create_statement(item, constraint) {
            gaps.push(SchemaGap::new(item, constraint, reason));
            continue;
        }
        if let Some(reason) = static_gap(item, constraint, db.server()) {
            gaps.push(SchemaGap::new(item, constraint, reason));
            continue;
        }
        if super::is_lookup(item) {
            // One lookup index per entity type: the database's own would
            // answer "already exists"; nothing about one can be refused.
            continue;
        }
        let stmt = probe_statement(item, constraint, n).map_err(GraphError::Protocol)?;
        if let Some(reason) = probe(db, &stmt).await? {
            gaps.push(SchemaGap::new(item, constraint, reason));
        }
    }
    Ok(gaps)
}

/// An index still being populated, or one that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexState {
    pub name: String,
    pub state: String,
    pub percent: f64,
    pub failure: String,
}

async fn index_states(db: &Db) -> Result<Vec<IndexState>, GraphError> {
    let rows = db
        .rows(query(
            "SHOW INDEXES YIELD name, state, populationPercent, failureMessage \
             WHERE state <> 'ONLINE' RETURN name, state, populationPercent, failureMessage",
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|r| IndexState {
            name: r.get("name").unwrap_or_default(),
            state: r.get("state").unwrap_or_default(),
            percent: r.get("populationPercent").unwrap_or(0.0),
            failure: r.get("failureMessage").unwrap_or_default(),
        })
        .collect())
}

/// Why waiting for the indexes ended badly.
#[derive(Debug, Clone, PartialEq)]
pub enum PopulationError {
    Failed(Vec<IndexState>),
    Stalled(Vec<IndexState>),
}

impl std::fmt::Display for PopulationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PopulationError::Failed(v) => {
                let list: Vec<String> = v
                    .iter()
                    .map(|s| format!("`{}`: {}", s.name, s.failure.trim()))
                    .collect();
                write!(f, "index population failed: {}", list.join("; "))
            }
            PopulationError::Stalled(v) => {
                let list: Vec<String> = v
                    .iter()
                    .map(|s| format!("`{}` at {:.1} %", s.name, s.percent))
                    .collect();
                write!(
                    f,
                    "indexes made no progress for {} minutes: {}",
                    STALL.as_secs() / 60,
                    list.join(", ")
                )
            }
        }
    }
}

/// How long population may show no progress at all before it counts as stuck.
const STALL: Duration = Duration::from_secs(600);

/// Waits until every index is ONLINE. Polls `SHOW INDEXES` rather than
/// calling `db.awaitIndexes`, whose fixed timeout fails a large but healthy
/// population: a FAILED index, or none making progress for ten minutes,
/// ends the wait with an error, and progress can be watched meanwhile.
pub async fn await_indexes(db: &Db) -> Result<Result<(), PopulationError>, GraphError> {
    let mut delay = Duration::from_millis(50);
    let mut last_progress = Instant::now();
    let mut last: Vec<IndexState> = Vec::new();
    loop {
        let states = index_states(db).await?;
        if states.is_empty() {
            return Ok(Ok(()));
        }
        let failed: Vec<IndexState> = states
            .iter()
            .filter(|s| s.state.eq_ignore_ascii_case("FAILED"))
            .cloned()
            .collect();
        if !failed.is_empty() {
            return Ok(Err(PopulationError::Failed(failed)));
        }
        if states != last {
            last_progress = Instant::now();
            crate::log::debug(format!(
                "waiting for indexes: {}",
                states
                    .iter()
                    .map(|s| format!("{} {:.0} %", s.name, s.percent))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            last = states;
        } else if last_progress.elapsed() > STALL {
            return Ok(Err(PopulationError::Stalled(states)));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(kind: &str, entity: &str, labels: &[&str], props: &[&str]) -> SchemaItem {
        SchemaItem {
            name: "my `idx".into(),
            kind: kind.into(),
            entity_type: entity.into(),
            labels_or_types: labels.iter().map(|s| s.to_string()).collect(),
            properties: props.iter().map(|s| s.to_string()).collect(),
            property_type: None,
            owned_index: None,
            provider: None,
            index_config: Some(Map::new()),
            graph_type: false,
            create_statement: "MATCH (n) DETACH DELETE n".into(),
        }
    }

    fn with_config(mut i: SchemaItem, config: Value) -> SchemaItem {
        i.index_config = Some(config.as_object().unwrap().clone());
        i
    }

    fn text(i: &SchemaItem, constraint: bool) -> String {
        create_statement(i, constraint).unwrap().text
    }

    #[test]
    fn statements_are_rebuilt_with_escaped_names_never_from_the_file_text() {
        assert_eq!(
            text(&item("RANGE", "NODE", &["Func`tion"], &["na me", "b"]), false),
            "CREATE RANGE INDEX `my ``idx` IF NOT EXISTS FOR (n:`Func``tion`) ON (n.`na me`, n.`b`)"
        );
        assert_eq!(
            text(&item("RANGE", "RELATIONSHIP", &["USES"], &["w"]), false),
            "CREATE RANGE INDEX `my ``idx` IF NOT EXISTS FOR ()-[r:`USES`]-() ON (r.`w`)"
        );
        assert_eq!(
            text(&item("TEXT", "RELATIONSHIP", &["USES"], &["note"]), false),
            "CREATE TEXT INDEX `my ``idx` IF NOT EXISTS FOR ()-[r:`USES`]-() ON (r.`note`)"
        );
        assert_eq!(
            text(&item("FULLTEXT", "NODE", &["A", "B"], &["x", "y"]), false),
            "CREATE FULLTEXT INDEX `my ``idx` IF NOT EXISTS FOR (n:`A`|`B`) ON EACH [n.`x`, n.`y`]"
        );
        assert_eq!(
            text(&item("LOOKUP", "RELATIONSHIP", &[], &[]), false),
            "CREATE LOOKUP INDEX `my ``idx` IF NOT EXISTS FOR ()-[r]-() ON EACH type(r)"
        );
        assert!(!text(&item("RANGE", "NODE", &["F"], &["a"]), false).contains("DETACH"));
    }

    #[test]
    fn constraints_in_both_spellings_and_every_kind() {
        for kind in ["UNIQUENESS", "NODE_PROPERTY_UNIQUENESS"] {
            assert_eq!(
                text(&item(kind, "NODE", &["F"], &["a", "b"]), true),
                "CREATE CONSTRAINT `my ``idx` IF NOT EXISTS FOR (n:`F`) REQUIRE (n.`a`, n.`b`) IS UNIQUE"
            );
        }
        for kind in [
            "RELATIONSHIP_UNIQUENESS",
            "RELATIONSHIP_PROPERTY_UNIQUENESS",
        ] {
            assert_eq!(
                text(&item(kind, "RELATIONSHIP", &["U"], &["id"]), true),
                "CREATE CONSTRAINT `my ``idx` IF NOT EXISTS FOR ()-[r:`U`]-() REQUIRE r.`id` IS UNIQUE"
            );
        }
        assert!(text(&item("NODE_KEY", "NODE", &["F"], &["k"]), true).ends_with("IS NODE KEY"));
        assert!(text(
            &item("RELATIONSHIP_KEY", "RELATIONSHIP", &["U"], &["k"]),
            true
        )
        .ends_with("REQUIRE r.`k` IS RELATIONSHIP KEY"));
        assert!(text(
            &item("NODE_PROPERTY_EXISTENCE", "NODE", &["F"], &["k"]),
            true
        )
        .ends_with("REQUIRE n.`k` IS NOT NULL"));
        let mut t = item("RELATIONSHIP_PROPERTY_TYPE", "RELATIONSHIP", &["U"], &["k"]);
        t.property_type = Some("integer |  list<string not null>".into());
        assert!(text(&t, true).ends_with("REQUIRE r.`k` IS :: INTEGER | LIST<STRING NOT NULL>"));
    }

    #[test]
    fn options_travel_as_parameters_from_a_whitelist() {
        let v = with_config(
            item("VECTOR", "NODE", &["F"], &["e"]),
            json!({"vector.dimensions": 4, "vector.similarity_function": "EUCLIDEAN",
                   "vector.quantization.enabled": true,
                   "vector.default_search_expansion_factor": {"$type": "Float", "value": "Infinity"}}),
        );
        let s = create_statement(&v, false).unwrap();
        assert_eq!(
            s.text,
            "CREATE VECTOR INDEX `my ``idx` IF NOT EXISTS FOR (n:`F`) ON (n.`e`) OPTIONS {indexConfig: {\
             `vector.default_search_expansion_factor`: $o0, `vector.dimensions`: $o1, \
             `vector.quantization.enabled`: $o2, `vector.similarity_function`: $o3}}"
        );
        assert_eq!(s.params.len(), 4);
        assert!(matches!(s.params[1].1, BoltType::Integer(ref i) if i.value == 4));
        let p = with_config(
            item("POINT", "NODE", &["S"], &["loc"]),
            json!({"spatial.cartesian.min": [-1.0, -2.0], "spatial.cartesian.max": [1.0, 2.0]}),
        );
        assert!(create_statement(&p, false).is_ok());
        // Wrong shape, unknown key, a key of another index type, Cypher in a value.
        for (kind, config) in [
            ("VECTOR", json!({"vector.dimensions": "4"})),
            (
                "VECTOR",
                json!({"vector.dimensions) DETACH DELETE n //": 4}),
            ),
            ("POINT", json!({"spatial.cartesian.min": [1.0, 2.0, 3.0]})),
            ("POINT", json!({"spatial.cartesian.min": [1, 2]})),
            ("FULLTEXT", json!({"vector.dimensions": 4})),
            ("RANGE", json!({"fulltext.analyzer": "english"})),
        ] {
            let i = with_config(item(kind, "NODE", &["F"], &["e"]), config.clone());
            assert!(create_statement(&i, false).is_err(), "{kind} {config}");
        }
        let f = with_config(
            item("FULLTEXT", "NODE", &["F"], &["e"]),
            json!({"fulltext.analyzer": "'}}) MATCH (n) DETACH DELETE n //"}),
        );
        let s = create_statement(&f, false).unwrap();
        assert!(!s.text.contains("DETACH"), "{}", s.text);
    }

    #[test]
    fn what_cannot_be_written_is_reported() {
        assert!(create_statement(&item("RANGE", "NODE", &["F"], &[]), false).is_err());
        assert!(create_statement(&item("TEXT", "NODE", &["F"], &["a", "b"]), false).is_err());
        let e =
            create_statement(&item("VECTOR", "NODE", &["F"], &["e", "cat"]), false).unwrap_err();
        assert!(e.contains("filter properties"), "{e}");
        assert!(create_statement(&item("RANGE", "NODE", &["A", "B"], &["x"]), false).is_err());
        assert!(create_statement(&item("BITMAP", "NODE", &["F"], &["x"]), false).is_err());
        assert!(create_statement(&item("UNIQUENESS", "WEIRD", &["F"], &["x"]), true).is_err());
        let mut t = item("NODE_PROPERTY_TYPE", "NODE", &["F"], &["k"]);
        t.property_type = Some("STRING) DETACH DELETE n //".into());
        assert!(create_statement(&t, true).is_err());
        t.property_type = Some("VECTOR<INTEGER8>(3)".into());
        assert!(create_statement(&t, true).is_err());
        let mut g = item("NODE_PROPERTY_UNIQUENESS", "NODE", &["F"], &["k"]);
        g.graph_type = true;
        assert!(create_statement(&g, true)
            .unwrap_err()
            .contains("graph type"));
    }

    #[test]
    fn probes_use_their_own_names_and_labels() {
        let s = probe_statement(&item("FULLTEXT", "NODE", &["A", "B"], &["x"]), false, 3).unwrap();
        assert_eq!(
            s.text,
            "CREATE FULLTEXT INDEX `ign_setup_schema_probe_3` IF NOT EXISTS FOR (n:`IgnSetupSchemaProbe3_0`|`IgnSetupSchemaProbe3_1`) ON EACH [n.`x`]"
        );
    }

    fn server(version: &str, edition: &str) -> ServerInfo {
        ServerInfo {
            agent: "Neo4j Kernel".into(),
            version: version.into(),
            edition: edition.into(),
        }
    }

    #[test]
    fn edition_and_version_rules() {
        let community = server("5.26.30", "community");
        let enterprise = server("5.26.30", "enterprise");
        let key = item("NODE_KEY", "NODE", &["F"], &["k"]);
        let e = static_gap(&key, true, &community).unwrap();
        assert!(e.contains("Enterprise Edition"), "{e}");
        assert_eq!(static_gap(&key, true, &enterprise), None);
        let unique = item("NODE_PROPERTY_UNIQUENESS", "NODE", &["F"], &["k"]);
        assert_eq!(static_gap(&unique, true, &community), None);
        let rel = item("RELATIONSHIP_UNIQUENESS", "RELATIONSHIP", &["U"], &["k"]);
        assert!(static_gap(&rel, true, &server("5.6.0", "community"))
            .unwrap()
            .contains("5.7"));
        let vector = item("VECTOR", "NODE", &["F"], &["e"]);
        assert!(static_gap(&vector, false, &server("5.13.0", "community")).is_some());
        assert_eq!(
            static_gap(&vector, false, &server("2026.08.1", "community")),
            None
        );
        let rel_vector = item("VECTOR", "RELATIONSHIP", &["U"], &["e"]);
        assert!(static_gap(&rel_vector, false, &server("5.15.0", "enterprise")).is_some());
        assert_eq!(static_gap(&rel_vector, false, &community), None);
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(ServerVersion::parse("5.26.30"), Some(ServerVersion(5, 26)));
        assert_eq!(
            ServerVersion::parse("2026.08.1"),
            Some(ServerVersion(2026, 8))
        );
        assert_eq!(
            ServerVersion::parse("5.27-aura"),
            Some(ServerVersion(5, 27))
        );
        assert_eq!(ServerVersion::parse(""), None);
        assert!(ServerVersion(2025, 1) > ServerVersion(5, 26));
        assert_eq!(ServerVersion(2026, 8).to_string(), "2026.08");
    }

    #[test]
    fn server_messages_lose_their_status_code_lines() {
        let e = GraphError::Query {
            code: "Neo.ClientError.Statement.SyntaxError".into(),
            message: "42001\n22N04: Invalid input 'x'\n\"CREATE ...\"".into(),
        };
        assert_eq!(
            server_reason(&e),
            "the server refused it: 22N04: Invalid input 'x' \"CREATE ...\" (Neo.ClientError.Statement.SyntaxError)"
        );
    }
}
