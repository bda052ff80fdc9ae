//! Schema helpers for the tests: the rows `SHOW INDEXES YIELD *` and
//! `SHOW CONSTRAINTS YIELD *` return (what "the same schema" means), a rich
//! schema to round-trip, and editing a backup's schema with its checksum and
//! counts recomputed (so a test changes exactly one thing).

#![allow(dead_code)]

use std::path::Path;

use neo4rs::BoltType;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{runtime, TestDb};
use ign_setup::graph::Db;

/// Columns that differ between two databases with the same schema.
const VOLATILE: &[&str] = &[
    "id",
    "populationPercent",
    "readCount",
    "lastRead",
    "trackedSince",
];

/// A Bolt value as JSON: maps and lists structurally, everything else in
/// the backup codec's form (so `3.0` stays a Float and `4` an Integer).
fn json(v: &BoltType) -> Value {
    match v {
        BoltType::Map(m) => Value::Object(
            m.value
                .iter()
                .map(|(k, v)| (k.value.clone(), json(v)))
                .collect(),
        ),
        BoltType::List(l) => Value::Array(l.value.iter().map(json).collect()),
        BoltType::Null(_) => Value::Null,
        other => ign_setup::graph::value::encode(other)
            .unwrap_or_else(|e| panic!("a SHOW column holds {other:?}: {e}")),
    }
}

fn rows(db: &Db, cypher: &str, tag: &str) -> Vec<String> {
    let rows = runtime()
        .block_on(db.rows(neo4rs::query(cypher)))
        .unwrap_or_else(|e| panic!("`{cypher}` failed: {e}"));
    rows.iter()
        .map(|r| {
            let mut obj = Map::new();
            for key in r.keys() {
                let k = key.value.as_str();
                if VOLATILE.contains(&k) {
                    continue;
                }
                obj.insert(k.to_owned(), json(&r.get::<BoltType>(k).unwrap()));
            }
            // A row that lost its columns would make every comparison pass.
            assert!(
                obj.contains_key("name") && obj.contains_key("createStatement") && obj.len() >= 8,
                "{cypher}: too few columns in {obj:?}"
            );
            format!("{tag} {}", Value::Object(obj))
        })
        .collect()
}

/// A database's content without ids, every value in the backup codec's
/// form (points and temporal values included): each node's labels and
/// properties, each relationship's type, properties and endpoints' properties.
pub fn typed_content(db: &Db) -> Vec<String> {
    let q = |cypher: &str| {
        runtime()
            .block_on(db.rows(neo4rs::query(cypher)))
            .unwrap_or_else(|e| panic!("`{cypher}` failed: {e}"))
    };
    let mut out: Vec<String> =
        q("MATCH (n) WHERE NOT n:IgnSetupLock AND NOT n:IgnSetupOperation RETURN labels(n) AS l, properties(n) AS p")
            .iter()
            .map(|r| {
                let mut labels: Vec<String> = r.get("l").unwrap();
                labels.sort();
                format!("N {labels:?} {}", json(&r.get::<BoltType>("p").unwrap()))
            })
            .collect();
    out.extend(
        q("MATCH (a)-[r]->(b) RETURN type(r) AS t, properties(r) AS p, properties(a) AS a, properties(b) AS b")
            .iter()
            .map(|r| {
                let t: String = r.get("t").unwrap();
                let j = |k: &str| json(&r.get::<BoltType>(k).unwrap());
                format!("R {t} {} {} {}", j("p"), j("a"), j("b"))
            }),
    );
    out.sort();
    out
}

/// Every row of `SHOW INDEXES YIELD *` and `SHOW CONSTRAINTS YIELD *`, ids,
/// population and read counts aside, sorted.
pub fn schema_rows(db: &Db) -> Vec<String> {
    let mut out = rows(db, "SHOW INDEXES YIELD *", "index");
    out.extend(rows(db, "SHOW CONSTRAINTS YIELD *", "constraint"));
    out.sort();
    out
}

/// The schema the round-trip tests carry: one index of every type and
/// option kind, composite indexes on nodes and relationships, uniqueness
/// constraints on both, a hostile name, and data for all of them.
pub const RICH_SCHEMA: &[&str] = &[
    "CREATE VECTOR INDEX fn_embedding IF NOT EXISTS FOR (n:Function) ON (n.embedding) \
     OPTIONS {indexConfig: {`vector.dimensions`: 4, `vector.similarity_function`: 'euclidean'}}",
    "CREATE FULLTEXT INDEX fn_fulltext IF NOT EXISTS FOR (n:Function|Template) ON EACH [n.name, n.doc] \
     OPTIONS {indexConfig: {`fulltext.analyzer`: 'english', `fulltext.eventually_consistent`: true}}",
    "CREATE FULLTEXT INDEX rel_fulltext IF NOT EXISTS FOR ()-[r:USES|MATCHES]-() ON EACH [r.note]",
    "CREATE POINT INDEX site_location IF NOT EXISTS FOR (n:Site) ON (n.location) \
     OPTIONS {indexConfig: {`spatial.cartesian.min`: [-100.0, -100.0], `spatial.cartesian.max`: [100.0, 100.0]}}",
    "CREATE TEXT INDEX fn_doc_text IF NOT EXISTS FOR (n:Function) ON (n.doc)",
    "CREATE TEXT INDEX uses_note_text IF NOT EXISTS FOR ()-[r:USES]-() ON (r.note)",
    "CREATE INDEX fn_category_module IF NOT EXISTS FOR (n:Function) ON (n.category, n.module)",
    "CREATE INDEX uses_since_weight IF NOT EXISTS FOR ()-[r:USES]-() ON (r.since, r.weight)",
    "CREATE INDEX `hostile ``) DETACH DELETE n //` IF NOT EXISTS FOR (n:`Odd ``Label`) ON (n.`odd key`)",
    "CREATE CONSTRAINT fn_name_unique IF NOT EXISTS FOR (n:Function) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT tmpl_pair_unique IF NOT EXISTS FOR (n:Template) REQUIRE (n.a, n.b) IS UNIQUE",
    "CREATE CONSTRAINT uses_id_unique IF NOT EXISTS FOR ()-[r:USES]-() REQUIRE r.id IS UNIQUE",
];

/// Constraints only Enterprise Edition creates.
pub const ENTERPRISE_SCHEMA: &[&str] = &[
    "CREATE CONSTRAINT fn_key IF NOT EXISTS FOR (n:Function) REQUIRE (n.category, n.name) IS NODE KEY",
    "CREATE CONSTRAINT uses_key IF NOT EXISTS FOR ()-[r:USES]-() REQUIRE r.note IS RELATIONSHIP KEY",
    "CREATE CONSTRAINT fn_doc_exists IF NOT EXISTS FOR (n:Function) REQUIRE n.doc IS NOT NULL",
    "CREATE CONSTRAINT uses_w_exists IF NOT EXISTS FOR ()-[r:USES]-() REQUIRE r.weight IS NOT NULL",
    "CREATE CONSTRAINT fn_doc_type IF NOT EXISTS FOR (n:Function) REQUIRE n.doc IS :: STRING",
    "CREATE CONSTRAINT uses_w_type IF NOT EXISTS FOR ()-[r:USES]-() REQUIRE r.weight IS :: INTEGER | FLOAT",
];

pub fn is_community(t: &TestDb) -> bool {
    t.db.server().edition.eq_ignore_ascii_case("community")
}

/// Creates [`RICH_SCHEMA`] (and, on Enterprise, [`ENTERPRISE_SCHEMA`]) with
/// data that populates every index.
pub fn build_rich_schema(t: &TestDb) {
    for s in RICH_SCHEMA {
        t.exec(s);
    }
    if !is_community(t) {
        for s in ENTERPRISE_SCHEMA {
            t.exec(s);
        }
    }
    t.exec(
        "UNWIND range(1, 40) AS i \
         CREATE (f:Function {name: 'fn' + toString(i), doc: 'reads the tag value number ' + toString(i), \
                 category: i % 3, module: 'm' + toString(i % 5), embedding: [toFloat(i), 1.0, 0.5, -0.25]}) \
         CREATE (t:Template {name: 'tmpl' + toString(i), doc: 'template', a: i, b: 'x'}) \
         CREATE (s:Site {location: point({x: toFloat(i), y: -toFloat(i)})}) \
         CREATE (o:`Odd ``Label` {`odd key`: i}) \
         CREATE (f)-[:USES {id: i, note: 'uses note ' + toString(i), since: 2000 + i, weight: i * 0.5}]->(t) \
         CREATE (t)-[:MATCHES {note: 'matches'}]->(f)",
    );
}

/// Rewrites the schema of a format-3 backup with `edit` and recomputes
/// `schema_count` and the checksum.
pub fn edit_schema(path: &Path, edit: impl FnOnce(&mut Value)) {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let (schema_line, body_rest) = rest.split_once('\n').unwrap();
    let schema_json = schema_line
        .strip_prefix("\"schema\":")
        .and_then(|s| s.strip_suffix(','))
        .expect("line 2 holds the schema");
    let mut schema: Value = serde_json::from_str(schema_json).unwrap();
    edit(&mut schema);
    let count = schema["indexes"].as_array().unwrap().len()
        + schema["constraints"].as_array().unwrap().len();
    let body = format!("\"schema\":{schema},\n{body_rest}");
    let mut metadata: Value = serde_json::from_str(
        first
            .strip_prefix("{\"metadata\":")
            .and_then(|s| s.strip_suffix(','))
            .unwrap(),
    )
    .unwrap();
    metadata["schema_count"] = count.into();
    metadata["checksum"]["value"] = hex::encode(Sha256::digest(body.as_bytes())).into();
    std::fs::write(path, format!("{{\"metadata\":{metadata},\n{body}")).unwrap();
}

/// Replaces the database's token lookup indexes by ones with other names,
/// so a restore has to put the backup's back.
pub fn rename_lookup_indexes(t: &TestDb) {
    for row in t.query("SHOW INDEXES YIELD name, type WHERE type = 'LOOKUP' RETURN name") {
        let name = row["name"].as_str().unwrap().replace('`', "``");
        t.exec(&format!("DROP INDEX `{name}`"));
    }
    t.exec("CREATE LOOKUP INDEX other_node_lookup FOR (n) ON EACH labels(n)");
    t.exec("CREATE LOOKUP INDEX other_rel_lookup FOR ()-[r]-() ON EACH type(r)");
}
