//! `ign-setup backup create|verify|list|info|status|init` against the real
//! server: every property type survives into the file, the folder's names,
//! permissions, retention and index, change detection, the original tool's
//! format, a corpus of damaged files, and a create killed half-way.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone};
use neo4rs::{
    query, BoltBoolean, BoltBytes, BoltDuration, BoltFloat, BoltInteger, BoltList, BoltPoint2D,
    BoltPoint3D, BoltType,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::support::{repo_root, run_json, runtime, snapshot_dir, TestDb};

// ---------------------------------------------------------------- helpers

fn create(t: &TestDb) -> Value {
    let doc = run_json(t, &["backup", "create"], 0);
    assert_eq!(doc["created"], true, "{doc}");
    doc
}

/// A Cypher name, escaped here independently of the code under test.
fn esc(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn run_with(t: &TestDb, cypher: &str, params: &[(String, BoltType)]) {
    let mut q = query(cypher);
    for (k, v) in params {
        q = q.param(k, v.clone());
    }
    runtime()
        .block_on(t.db.run(q))
        .unwrap_or_else(|e| panic!("`{cypher}` failed: {e}"));
}

fn backup_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ign_scripts_db_backup_") || n == "initial_backup.json")
        .collect();
    names.sort();
    names
}

fn write_config(t: &TestDb, toml: &str) {
    std::fs::write(t.path("ign-setup.toml"), toml).unwrap();
}

/// Splits a format-2 file into its metadata (parsed) and the bytes after the first line.
fn split_file(bytes: &[u8]) -> (Value, Vec<u8>) {
    let nl = bytes.iter().position(|b| *b == b'\n').unwrap();
    let first = &bytes[..nl];
    let inner = first
        .strip_prefix(b"{\"metadata\":")
        .and_then(|r| r.strip_suffix(b","))
        .expect("format-2 first line");
    (
        serde_json::from_slice(inner).unwrap(),
        bytes[nl + 1..].to_vec(),
    )
}

/// Puts a file together again, with the checksum recomputed for `body` (so
/// that a test damages exactly one thing).
fn join_file(metadata: &Value, body: &[u8]) -> Vec<u8> {
    let mut metadata = metadata.clone();
    metadata["checksum"]["value"] = hex::encode(Sha256::digest(body)).into();
    let mut out = b"{\"metadata\":".to_vec();
    out.extend_from_slice(serde_json::to_string(&metadata).unwrap().as_bytes());
    out.extend_from_slice(b",\n");
    out.extend_from_slice(body);
    out
}

// ------------------------------------------------------ every property type

fn int(i: i64) -> BoltType {
    BoltType::Integer(BoltInteger::new(i))
}
fn float(f: f64) -> BoltType {
    BoltType::Float(BoltFloat::new(f))
}
fn string(s: &str) -> BoltType {
    BoltType::String(s.into())
}
fn boolean(b: bool) -> BoltType {
    BoltType::Boolean(BoltBoolean::new(b))
}
fn list(items: Vec<BoltType>) -> BoltType {
    BoltType::List(BoltList::from(items))
}
fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}
fn hms(h: u32, m: u32, s: u32, nanos: u32) -> NaiveTime {
    NaiveTime::from_hms_nano_opt(h, m, s, nanos).unwrap()
}
fn offset(seconds: i32) -> FixedOffset {
    FixedOffset::east_opt(seconds).unwrap()
}

/// One property of every type the codec knows, under awkward keys too.
fn every_type() -> Vec<(&'static str, BoltType)> {
    let dt = offset(3600)
        .from_local_datetime(&ymd(2024, 1, 2).and_time(hms(3, 4, 5, 123_000_000)))
        .unwrap();
    vec![
        ("int", int(42)),
        ("int_min", int(i64::MIN)),
        ("int_max", int(i64::MAX)),
        ("float_one", float(1.0)),
        ("float_fraction", float(-0.1)),
        ("float_tiny", float(2.5e-300)),
        ("float_neg_zero", float(-0.0)),
        ("float_nan", float(f64::NAN)),
        ("float_inf", float(f64::INFINITY)),
        ("float_neg_inf", float(f64::NEG_INFINITY)),
        ("float_max", float(f64::MAX)),
        ("float_min_positive", float(f64::MIN_POSITIVE)),
        (
            "string",
            string("héllo wörld ✓ 日本語 🎉 \"quoted\" \\ back"),
        ),
        ("bool", boolean(true)),
        (
            "bytes",
            BoltType::Bytes(BoltBytes::new(vec![0u8, 1, 2, 254, 255].into())),
        ),
        ("ints", list(vec![int(1), int(-2), int(i64::MAX)])),
        ("floats", list(vec![float(1.0), float(2.5)])),
        ("strings", list(vec![string("a"), string("ü ✓")])),
        ("bools", list(vec![boolean(true), boolean(false)])),
        (
            "int_extremes",
            list(vec![int(i64::MIN), int(0), int(i64::MAX)]),
        ),
        ("empty_list", list(vec![])),
        (
            "dates",
            list(vec![
                BoltType::Date(ymd(2024, 1, 2).into()),
                BoltType::Date(ymd(-44, 3, 15).into()),
            ]),
        ),
        (
            "points",
            list(vec![
                BoltType::Point2D(BoltPoint2D {
                    sr_id: 4326.into(),
                    x: BoltFloat::new(2.3522),
                    y: BoltFloat::new(48.8566),
                }),
                BoltType::Point2D(BoltPoint2D {
                    sr_id: 4326.into(),
                    x: BoltFloat::new(-0.1276),
                    y: BoltFloat::new(51.5072),
                }),
            ]),
        ),
        (
            "date_time_negative_offset",
            BoltType::DateTime(
                offset(-(9 * 3600 + 30 * 60))
                    .from_local_datetime(&ymd(1969, 12, 31).and_time(hms(23, 59, 59, 999_999_999)))
                    .unwrap()
                    .into(),
            ),
        ),
        (
            // Negative, in the form Neo4j normalises to (nanoseconds 0..1e9).
            "duration_negative",
            BoltType::Duration(BoltDuration::new(
                (-14).into(),
                (-3).into(),
                (-8).into(),
                999_999_999.into(),
            )),
        ),
        ("date", BoltType::Date(ymd(2024, 1, 2).into())),
        (
            "time",
            BoltType::Time((hms(12, 34, 56, 789_000_000), offset(3600)).into()),
        ),
        ("local_time", BoltType::LocalTime(hms(23, 59, 58, 1).into())),
        ("date_time", BoltType::DateTime(dt.into())),
        (
            // Summer time, far from a transition: no repeated hour.
            "date_time_zone",
            BoltType::DateTimeZoneId(
                (ymd(2024, 7, 2).and_time(hms(3, 4, 5, 0)), "Europe/Paris").into(),
            ),
        ),
        (
            "local_date_time",
            BoltType::LocalDateTime(ymd(2024, 1, 2).and_time(hms(3, 4, 5, 123_456_789)).into()),
        ),
        (
            // Small components, already normal: nothing for a server to normalise.
            "duration",
            BoltType::Duration(BoltDuration::new(
                1.into(),
                2.into(),
                3.into(),
                500_000_000.into(),
            )),
        ),
        (
            "point_2d",
            BoltType::Point2D(BoltPoint2D {
                sr_id: 7203.into(),
                x: BoltFloat::new(1.0),
                y: BoltFloat::new(-2.5),
            }),
        ),
        (
            "point_3d",
            BoltType::Point3D(BoltPoint3D {
                sr_id: 9157.into(),
                x: BoltFloat::new(1.0),
                y: BoltFloat::new(2.0),
                z: BoltFloat::new(3.5),
            }),
        ),
        (
            "wgs84",
            BoltType::Point2D(BoltPoint2D {
                sr_id: 4326.into(),
                x: BoltFloat::new(2.3522),
                y: BoltFloat::new(48.8566),
            }),
        ),
        (
            "wgs84_3d",
            BoltType::Point3D(BoltPoint3D {
                sr_id: 4979.into(),
                x: BoltFloat::new(2.3522),
                y: BoltFloat::new(48.8566),
                z: BoltFloat::new(35.5),
            }),
        ),
        ("key with spaces", string("s")),
        ("back`tick", string("b")),
        ("ключ ✓", string("k")),
        ("_id", string("a property, not the record id")),
        ("_labels", list(vec![string("not"), string("labels")])),
        ("_type", string("not a type")),
        ("id", int(7)),
    ]
}

const LABELS: &[&str] = &["Everything", "Label With Spaces", "Back`tick", "Ünïcødé ✓"];
const REL_TYPE: &str = "REL `TYPE` ü";

/// Creates entities with `props` as parameters, under escaped keys.
fn create_with(t: &TestDb, pattern_start: &str, props: &[(&str, BoltType)], pattern_end: &str) {
    let mut params = Vec::new();
    let mut body = Vec::new();
    for (i, (k, v)) in props.iter().enumerate() {
        body.push(format!("{}: $p{i}", esc(k)));
        params.push((format!("p{i}"), v.clone()));
    }
    let cypher = format!("{pattern_start}{{{}}}{pattern_end}", body.join(", "));
    run_with(t, &cypher, &params);
}

pub(crate) fn build_every_type_graph(t: &TestDb) {
    let props = every_type();
    let all_labels: String = LABELS.iter().map(|l| format!(":{}", esc(l))).collect();
    create_with(t, &format!("CREATE (n{all_labels} "), &props, ")");
    create_with(t, "CREATE (n:Everything:Second ", &props[..10], ")");
    create_with(t, "CREATE (n:Plain ", &[("name", string("plain"))], ")");
    create_with(
        t,
        &format!(
            "MATCH (a:{}), (b:Second) CREATE (a)-[r:{} ",
            esc(LABELS[1]),
            esc(REL_TYPE)
        ),
        &props,
        "]->(b)",
    );
    create_with(
        t,
        "MATCH (a:Second), (b:Plain) CREATE (a)-[r:LINKS ",
        &[("weight", float(0.5))],
        "]->(b)",
    );
    t.exec("MATCH (a:Plain), (b:Everything) CREATE (a)-[:LINKS]->(b)");
    // The hour repeated when clocks go back (Paris, 27 October 2024): both
    // instants, which Bolt 4.4 sends identically (local time and zone), so
    // only Cypher literals can create the second one.
    let dst = "SET x.dst_earlier = datetime('2024-10-27T02:30:00+02:00[Europe/Paris]'), \
               x.dst_later = datetime('2024-10-27T02:30:00.5+01:00[Europe/Paris]'), \
               x.dst_list = [datetime('2024-10-27T02:30:00+01:00[Europe/Paris]'), \
                             datetime('2024-10-27T02:30:00+02:00[Europe/Paris]'), \
                             datetime('2024-07-02T02:30:00+02:00[Europe/Paris]')]";
    t.exec(&format!("MATCH (x:Second) {dst}"));
    t.exec(&format!("MATCH ()-[x:LINKS {{weight: 0.5}}]->() {dst}"));
}

/// The DST values as the server holds them: text and instant.
pub(crate) fn dst_values(t: &TestDb) -> Vec<Value> {
    t.query(
        "MATCH (x:Second) RETURN toString(x.dst_earlier) AS e, toString(x.dst_later) AS l, \
         [d IN x.dst_list | toString(d)] AS list, x.dst_later.epochSeconds - x.dst_earlier.epochSeconds AS gap \
         UNION ALL MATCH ()-[x:LINKS {weight: 0.5}]->() RETURN toString(x.dst_earlier) AS e, \
         toString(x.dst_later) AS l, [d IN x.dst_list | toString(d)] AS list, \
         x.dst_later.epochSeconds - x.dst_earlier.epochSeconds AS gap",
    )
    .into_iter()
    .map(Value::Object)
    .collect()
}

/// What the database returns for each entity: id -> (labels or type, properties).
fn db_entities(
    t: &TestDb,
    cypher: &str,
) -> BTreeMap<String, (Vec<String>, BTreeMap<String, BoltType>)> {
    let rows = runtime().block_on(t.db.rows(query(cypher))).unwrap();
    rows.iter()
        .map(|r| {
            let id = match r.get::<BoltType>("id").unwrap() {
                BoltType::String(s) => s.value,
                BoltType::Integer(i) => i.value.to_string(),
                other => panic!("id {other:?}"),
            };
            let names: Vec<String> = r.get("names").unwrap();
            let props = match r.get::<BoltType>("props").unwrap() {
                BoltType::Map(m) => m.value.into_iter().map(|(k, v)| (k.value, v)).collect(),
                other => panic!("props {other:?}"),
            };
            (id, (names, props))
        })
        .collect()
}

fn file_properties(record: &Value) -> BTreeMap<String, BoltType> {
    record["properties"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let decoded = ign_setup::graph::value::decode(v)
                .unwrap_or_else(|e| panic!("property {k:?} = {v} does not decode: {e}"));
            (k.clone(), decoded)
        })
        .collect()
}

/// Bolt values compared by their Debug text: exact for floats (-0.0 and NaN
/// included) and for every temporal field.
fn same(a: &BoltType, b: &BoltType) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn compare_entities(
    what: &str,
    db: &BTreeMap<String, (Vec<String>, BTreeMap<String, BoltType>)>,
    file: &BTreeMap<String, (Vec<String>, BTreeMap<String, BoltType>)>,
) {
    assert_eq!(
        db.keys().collect::<Vec<_>>(),
        file.keys().collect::<Vec<_>>(),
        "{what} ids"
    );
    for (id, (names, props)) in db {
        let (file_names, file_props) = &file[id];
        let mut a = names.clone();
        let mut b = file_names.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{what} {id}: labels/type");
        assert_eq!(
            props.keys().collect::<Vec<_>>(),
            file_props.keys().collect::<Vec<_>>(),
            "{what} {id}: property keys"
        );
        for (k, v) in props {
            assert!(
                same(v, &file_props[k]),
                "{what} {id}: property {k:?}\n  database: {v:?}\n  file:     {:?}",
                file_props[k]
            );
        }
    }
}

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("docs/backup-format.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema itself is valid")
}

fn assert_schema_valid(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} fails the JSON schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn every_property_type_survives_into_the_file() {
    let t = TestDb::acquire();
    build_every_type_graph(&t);

    // The server must hand the values back with their types, or the test proves little.
    let first = db_entities(
        &t,
        "MATCH (n:Everything) WHERE n.int_min IS NOT NULL AND n.date IS NOT NULL RETURN elementId(n) AS id, labels(n) AS names, properties(n) AS props",
    );
    assert_eq!(first.len(), 1, "the node with every type");
    let (labels, props) = first.values().next().unwrap();
    let mut labels = labels.clone();
    labels.sort();
    let mut expected_labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    expected_labels.sort();
    assert_eq!(labels, expected_labels);
    let mut changed = Vec::new();
    for (k, v) in every_type() {
        let got = props.get(k).unwrap_or_else(|| panic!("server lost {k:?}"));
        if same(got, &v) {
            continue;
        }
        changed.push(format!("{k}: sent {v:?}\n   got {got:?}"));
    }
    assert!(
        changed.is_empty(),
        "the server changed:\n{}",
        changed.join("\n")
    );

    let doc = create(&t);
    let path = PathBuf::from(doc["path"].as_str().unwrap());
    let path = if path.is_absolute() {
        path
    } else {
        t.work.path().join(path)
    };
    assert!(path.is_file());
    assert_eq!(path.parent().unwrap(), t.backup_dir());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o640, "backup file mode");
    assert_eq!(mode(&t.backup_dir()), 0o750, "backup folder mode");

    let file = path.file_name().unwrap().to_str().unwrap().to_owned();
    let report = run_json(&t, &["backup", "verify", &file], 0);
    assert_eq!(report["report"]["checksum_verified"], true);

    let bytes = std::fs::read(&path).unwrap();
    let whole: Value = serde_json::from_slice(&bytes).unwrap();
    assert_schema_valid(&schema_validator(), &whole, "the new backup");

    // Counts, label counts and type counts against the database.
    let meta = &whole["metadata"];
    let stats = &whole["data"]["statistics"];
    let nodes = t.count("MATCH (n) RETURN count(n) AS c");
    let rels = t.count("MATCH ()-[r]->() RETURN count(r) AS c");
    assert_eq!((nodes, rels), (3, 4));
    assert_eq!(
        meta["snapshot"], true,
        "a quiet database is read as one point in time"
    );
    for v in [meta, stats] {
        assert_eq!(v["node_count"], nodes);
        assert_eq!(v["relationship_count"], rels);
    }
    let label_counts: Map<String, Value> = t
        .query("MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS c")
        .into_iter()
        .map(|r| (r["l"].as_str().unwrap().to_owned(), r["c"].clone()))
        .collect();
    assert_eq!(stats["label_counts"], Value::Object(label_counts));
    let type_counts: Map<String, Value> = t
        .query("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS c")
        .into_iter()
        .map(|r| (r["t"].as_str().unwrap().to_owned(), r["c"].clone()))
        .collect();
    assert_eq!(
        stats["relationship_type_counts"],
        Value::Object(type_counts)
    );
    assert_eq!(stats["relationship_type_counts"][REL_TYPE], 1);

    // Every value in the file decodes to what the server returns for that entity.
    let file_nodes = whole["data"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels = r["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect();
            (
                r["id"].as_str().unwrap().to_owned(),
                (labels, file_properties(r)),
            )
        })
        .collect();
    let db_nodes = db_entities(
        &t,
        "MATCH (n) RETURN elementId(n) AS id, labels(n) AS names, properties(n) AS props",
    );
    compare_entities("node", &db_nodes, &file_nodes);
    let file_rels = whole["data"]["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap().to_owned();
            let key = format!(
                "{id} {} {}",
                r["start"].as_str().unwrap(),
                r["end"].as_str().unwrap()
            );
            (
                key,
                (
                    vec![r["type"].as_str().unwrap().to_owned()],
                    file_properties(r),
                ),
            )
        })
        .collect();
    let db_rels = db_entities(
        &t,
        "MATCH (a)-[r]->(b) RETURN elementId(r) + ' ' + elementId(a) + ' ' + elementId(b) AS id, [type(r)] AS names, properties(r) AS props",
    );
    compare_entities("relationship", &db_rels, &file_rels);

    // The plain forms the documentation promises.
    let all = whole["data"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["labels"].as_array().unwrap().len() == LABELS.len())
        .unwrap();
    let p = &all["properties"];
    assert_eq!(p["int_min"].to_string(), "-9223372036854775808");
    assert_eq!(p["int_max"].to_string(), "9223372036854775807");
    assert_eq!(p["float_one"].to_string(), "1.0");
    assert_eq!(p["bytes"], json!({"$type": "Bytes", "value": "AAEC/v8="}));
    assert_eq!(p["date"], json!({"$type": "Date", "value": "2024-01-02"}));
    assert_eq!(p["_id"], "a property, not the record id");
    assert_eq!(p["float_nan"], json!({"$type": "Float", "value": "NaN"}));
    assert_eq!(
        p["float_neg_inf"],
        json!({"$type": "Float", "value": "-Infinity"})
    );
    assert_eq!(p["float_neg_zero"].to_string(), "-0.0");

    // Both instants of the repeated hour are told apart in the file (the
    // server was asked for the offset Bolt 4.4 does not carry).
    let second = whole["data"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["labels"].as_array().unwrap().contains(&json!("Second")))
        .unwrap();
    let q = &second["properties"];
    assert_eq!(
        q["dst_earlier"]["value"],
        "2024-10-27T02:30:00+02:00[Europe/Paris]"
    );
    assert_eq!(
        q["dst_later"]["value"],
        "2024-10-27T02:30:00.500+01:00[Europe/Paris]"
    );
    let list: Vec<&str> = q["dst_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        list,
        [
            "2024-10-27T02:30:00+01:00[Europe/Paris]",
            "2024-10-27T02:30:00+02:00[Europe/Paris]",
            "2024-07-02T02:30:00+02:00[Europe/Paris]"
        ]
    );
}

#[test]
fn a_value_this_client_cannot_read_is_refused_not_written_wrong() {
    let t = TestDb::acquire();
    if t.db.server().version.starts_with("5.") {
        // VECTOR values exist from Neo4j 2025.10.
        eprintln!("note: Neo4j {} has no VECTOR type", t.db.server().version);
        return;
    }
    // Community Edition cannot store a VECTOR property at all ...
    let err = crate::support::runtime().block_on(t.db.run(query(
        "CYPHER 25 CREATE (:Vec {v: vector([1.0, 2.0, 3.0], 3, FLOAT32)})",
    )));
    if t.db.server().edition.eq_ignore_ascii_case("community") {
        let err = err.unwrap_err().to_string();
        assert!(err.contains("vector"), "{err}");
    }
    // ... but any server sends this client a placeholder for one, which the
    // codec refuses by name instead of writing it into a backup.
    let rows = runtime()
        .block_on(t.db.rows(query(
            "CYPHER 25 RETURN {v: vector([1.0, 2.0, 3.0], 3, FLOAT32)} AS props",
        )))
        .unwrap();
    let props = match rows[0].get::<BoltType>("props").unwrap() {
        BoltType::Map(m) => m,
        other => panic!("{other:?}"),
    };
    let err = ign_setup::graph::value::write_properties(&props, &mut Vec::new()).unwrap_err();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    assert!(text.contains("VECTOR(3, FLOAT32)"), "{text}");
    assert!(
        text.contains("not backed up rather than written wrong"),
        "{text}"
    );
    if !t.db.server().edition.eq_ignore_ascii_case("community") {
        // Enterprise stores it: then `backup create` itself must refuse.
        t.cmd()
            .args(["backup", "create"])
            .assert()
            .failure()
            .stderr(predicates::str::contains("VECTOR"));
    }
}

// ---------------------------------------------------------- the schema file

#[test]
fn the_json_schema_accepts_the_documented_values_and_refuses_others() {
    let v = schema_validator();
    let file = |props: Value| {
        json!({
            "metadata": {
                "timestamp": "20250128_143022", "datetime": "2025-01-28T14:30:22.123456Z",
                "reason": "r", "node_count": 1, "relationship_count": 0, "version": "3.0.0",
                "backup_type": "full", "source": "IGN Scripts Learning System",
                "checksum": {"algorithm": "sha256", "scope": "sha256 of every byte after the first line",
                             "value": "0".repeat(64)}
            },
            "schema": {"indexes": [], "constraints": []},
            "data": {
                "nodes": [{"id": "#1:0", "labels": ["A"], "properties": props}],
                "relationships": [],
                "statistics": {"node_count": 1, "relationship_count": 0,
                               "label_counts": {"A": 1}, "relationship_type_counts": {}}
            }
        })
    };
    let good = json!({
        "b": true, "i": -9223372036854775808i64, "f": 1.0, "s": "ü", "l": [1, 2], "e": [],
        "nan": {"$type": "Float", "value": "NaN"},
        "bytes": {"$type": "Bytes", "value": "AAEC/w=="},
        "date": {"$type": "Date", "value": "+10000-01-02"},
        "lt": {"$type": "LocalTime", "value": "12:00:00.000000001"},
        "t": {"$type": "Time", "value": "12:00:00+01:00"},
        "ldt": {"$type": "LocalDateTime", "value": "2024-01-02T03:04:05.123456789"},
        "dt": {"$type": "DateTime", "value": "2024-01-02T03:04:05.123+01:00"},
        "dtz": {"$type": "DateTime", "value": "2024-07-02T03:04:05+02:00[Europe/Paris]"},
        "dtz2": {"$type": "DateTime", "value": "2024-07-02T03:04:05[Europe/Paris]"},
        "dur": {"$type": "Duration", "months": 1, "days": 2, "seconds": 3, "nanoseconds": 500000000, "value": "P1M2DT3.5S"},
        "p": {"$type": "Point", "srid": 7203, "x": 1.0, "y": 2.0},
        "p3": {"$type": "Point", "srid": 4979, "x": 1.0, "y": 2.0, "z": 3.0},
        "dates": [{"$type": "Date", "value": "2024-01-02"}]
    });
    assert_schema_valid(&v, &file(good), "the documented values");
    for bad in [
        json!({"o": {"a": 1}}),
        json!({"o": {"$type": "Instant", "value": "x"}}),
        json!({"o": {"$type": "Date", "value": "2024-13-02"}}),
        json!({"o": {"$type": "DateTime", "value": "2024-01-02T03:04:05"}}),
        json!({"o": {"$type": "Float", "value": "1.5"}}),
        json!({"o": {"$type": "Bytes", "value": "not base64!"}}),
        json!({"o": {"$type": "Point", "srid": 7203, "x": 1.0}}),
        json!({"o": {"$type": "Duration", "months": 1}}),
        json!({"o": {"$type": "Date", "value": "2024-01-02", "extra": 1}}),
        json!({"o": null}),
        json!({"o": [[1]]}),
        json!({"o": [{"$type": "Bytes", "value": "AA=="}]}),
        json!({"o": [null]}),
    ] {
        assert!(!v.is_valid(&file(bad.clone())), "accepted {bad}");
    }
}

// ------------------------------------------------- names, retention, index

#[test]
fn retention_keeps_the_newest_and_never_the_initial_backup() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Thing {n: 1})");
    write_config(&t, "[backup]\nkeep = 2\n");
    run_json(&t, &["backup", "init"], 0);
    // A file this version cannot read (a newer format) is not retention's to delete.
    let newer = "ign_scripts_db_backup_20000101_000000.json";
    let newer_bytes = br#"{"metadata":{"timestamp":"20000101_000000","datetime":"2000-01-01T00:00:00Z","reason":"r","node_count":0,"relationship_count":0,"version":"9.0.0","backup_type":"full","source":"IGN Scripts Learning System"},
"data":{}}
"#;
    std::fs::write(t.backup_dir().join(newer), newer_bytes).unwrap();
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(create(&t)["file"].as_str().unwrap().to_owned());
    }
    let dir = t.backup_dir();
    let mut expected = vec![
        created[1].clone(),
        created[2].clone(),
        "initial_backup.json".to_owned(),
        newer.to_owned(),
    ];
    expected.sort();
    assert_eq!(backup_files(&dir), expected);

    // The index lists exactly the files present.
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("backup_metadata.json")).unwrap()).unwrap();
    let mut listed: Vec<String> = index["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, expected);
    for b in index["backups"].as_array().unwrap() {
        assert_eq!(b["problem"].is_null(), b["file"] != newer, "{b}");
    }
    assert_eq!(
        std::fs::read(t.backup_dir().join(newer)).unwrap(),
        newer_bytes
    );

    // `backup list` agrees, newest first.
    let list = run_json(&t, &["backup", "list"], 0);
    let files: Vec<&str> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 4);
    assert_eq!(files[0], created[2]);
}

#[test]
fn backups_in_the_same_second_get_a_suffix() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Thing {n: 1})");
    write_config(&t, "[backup]\nkeep = 50\n");
    // Creates of a one-node graph take well under a second; try until two
    // start in the same second.
    for _ in 0..10 {
        let a = create(&t);
        let b = create(&t);
        let (sa, sb) = (
            a["metadata"]["timestamp"].as_str().unwrap(),
            b["metadata"]["timestamp"].as_str().unwrap(),
        );
        if sa == sb {
            let fa = a["file"].as_str().unwrap();
            let fb = b["file"].as_str().unwrap();
            assert_ne!(fa, fb);
            // Same stamp, distinct names: `<stamp>.json`, `<stamp>_1.json`, `<stamp>_2.json`, ...
            let stem = format!("ign_scripts_db_backup_{sa}");
            for f in [fa, fb] {
                let rest = f.strip_prefix(&stem).and_then(|r| r.strip_suffix(".json"));
                assert!(
                    matches!(rest, Some(r) if r.is_empty() || r.strip_prefix('_').is_some_and(|n| n.parse::<u32>().is_ok())),
                    "{fa} then {fb}"
                );
            }
            for f in [fa, fb] {
                run_json(&t, &["backup", "verify", f], 0);
            }
            return;
        }
    }
    panic!("no two backups started within one second in 10 tries");
}

// ---------------------------------------------------- status and --auto

#[test]
fn status_and_auto_follow_deletions_and_thresholds() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 1000) AS i CREATE (:Item {i: i})");
    create(&t);

    let doc = run_json(&t, &["backup", "create", "--auto"], 4);
    assert_eq!(doc["created"], false);
    let count = || backup_files(&t.backup_dir()).len();
    assert_eq!(count(), 1);

    t.exec("MATCH (n:Item) WHERE n.i <= 60 DETACH DELETE n");
    let status = run_json(&t, &["backup", "status"], 0);
    assert_eq!(status["current"]["node_count"], 940);
    assert_eq!(status["change"]["nodes"], -60);
    assert_eq!(
        status["recommendation"]["backup_recommended"], true,
        "{status}"
    );
    let reason = status["recommendation"]["reason"].as_str().unwrap();
    assert!(reason.contains("60 nodes added or removed"), "{reason}");

    // A higher node threshold (and the default 10 %) says 60 of 1000 is not enough.
    write_config(&t, "[backup]\nnode_threshold = 100\n");
    let status = run_json(&t, &["backup", "status"], 0);
    assert_eq!(
        status["recommendation"]["backup_recommended"], false,
        "{status}"
    );
    assert_eq!(status["thresholds"]["nodes"], 100);
    run_json(&t, &["backup", "create", "--auto"], 4);
    assert_eq!(count(), 1);

    // With the default thresholds it is, and --auto takes the backup.
    std::fs::remove_file(t.path("ign-setup.toml")).unwrap();
    let doc = run_json(&t, &["backup", "create", "--auto"], 0);
    assert_eq!(doc["created"], true);
    assert_eq!(doc["node_count"], 940);
    assert!(t.backup_dir().join(doc["file"].as_str().unwrap()).is_file());

    // And right after it nothing has changed.
    run_json(&t, &["backup", "create", "--auto"], 4);
}

// ------------------------------------------------- the original tool's format

#[test]
fn the_original_tools_sample_verifies() {
    let t = TestDb::acquire();
    let sample = repo_root().join("tests/data/legacy-format-sample.json");
    let dir = t.backup_dir();
    std::fs::copy(
        &sample,
        dir.join("ign_scripts_db_backup_20250128_143022.json"),
    )
    .unwrap();
    let before = snapshot_dir(&dir);
    let doc = run_json(
        &t,
        &[
            "backup",
            "verify",
            "ign_scripts_db_backup_20250128_143022.json",
        ],
        0,
    );
    let r = &doc["report"];
    assert_eq!(r["node_count"], 100);
    assert_eq!(r["relationship_count"], 259);
    assert_eq!(r["checksum_verified"], false);
    assert_eq!(r["label_counts"]["Function"], 60);
    let info = run_json(&t, &["backup", "info", sample.to_str().unwrap()], 0);
    assert_eq!(info["metadata"]["node_count"], 100);
    assert_eq!(info["metadata"]["relationship_count"], 259);
    assert_eq!(info["metadata"]["version"], "1.0.0");
    let out = t
        .cmd()
        .args([
            "backup",
            "info",
            "ign_scripts_db_backup_20250128_143022.json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("100") && text.contains("259"), "{text}");
    let list = run_json(&t, &["backup", "list"], 0);
    assert_eq!(list["backups"][0]["metadata"]["node_count"], 100);
    assert_eq!(
        snapshot_dir(&dir),
        before,
        "verify, info and list changed the folder"
    );
}

// ------------------------------------------------------ damaged backups

/// A name, the bytes (None: a folder) and what the error must say.
struct Bad {
    name: &'static str,
    bytes: Option<Vec<u8>>,
    says: &'static str,
}

fn damaged_corpus(good: &[u8]) -> Vec<Bad> {
    let (meta, body) = split_file(good);
    let body_text = String::from_utf8(body.clone()).unwrap();
    let lines: Vec<&str> = body_text.split('\n').collect();
    // Record lines: nodes follow the line that opens `data`, relationships the
    // line that opens them.
    let node_line = lines
        .iter()
        .position(|l| l.starts_with("{\"id\"") && l.contains("\"labels\""))
        .unwrap();
    let rel_line = lines.iter().position(|l| l.contains("\"start\"")).unwrap();
    let with_line = |index: usize, new: String| -> Vec<u8> {
        let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        l[index] = new;
        l.join("\n").into_bytes()
    };
    let record = |line: &str| -> (Value, bool) {
        let trimmed = line.strip_suffix(',').unwrap_or(line);
        (serde_json::from_str(trimmed).unwrap(), line.ends_with(','))
    };
    let render = |v: &Value, comma: bool| format!("{}{}", v, if comma { "," } else { "" });
    let with_prop = |name: &str, raw: &str| -> Vec<u8> {
        let (mut n, comma) = record(lines[node_line]);
        n["properties"]["x"] = json!("PLACEHOLDER");
        let text = render(&n, comma).replace("\"PLACEHOLDER\"", raw);
        let _ = name;
        join_file(&meta, &with_line(node_line, text))
    };

    let mut out = Vec::new();
    out.push(Bad {
        name: "truncated",
        bytes: Some(good[..good.len() * 2 / 3].to_vec()),
        says: "not valid JSON",
    });
    // Structure, not a string's content, is garbled: the data section's
    // `"relationships"` key (in the middle of a string the file would still
    // be JSON, and only its checksum would catch it).
    let mut garbled = good.to_vec();
    let at = String::from_utf8_lossy(good)
        .rfind("\"relationships\"")
        .expect("the data section names its relationships");
    garbled[at..at + 8].copy_from_slice(b"}}]]{{:,");
    out.push(Bad {
        name: "garbled",
        bytes: Some(garbled),
        says: "not valid JSON",
    });
    out.push(Bad {
        name: "empty",
        bytes: Some(Vec::new()),
        says: "not valid JSON",
    });
    out.push(Bad {
        name: "folder",
        bytes: None,
        says: "is a folder",
    });
    // Byte offset (in the body) of the first node's `name` value.
    let node_start: usize = lines[..node_line].iter().map(|l| l.len() + 1).sum();
    let name_at = node_start + lines[node_line].find("\"name\":\"").unwrap() + 8;
    let mut non_utf8 = body.clone();
    non_utf8[name_at] = 0xff;
    out.push(Bad {
        name: "non-utf8",
        bytes: Some(join_file(&meta, &non_utf8)),
        says: "not valid JSON",
    });
    let mut future = meta.clone();
    future["version"] = "9.0.0".into();
    out.push(Bad {
        name: "future-version",
        bytes: Some(join_file(&future, &body)),
        says: "9.0.0",
    });
    // A flipped byte inside a property value; the recorded checksum stays.
    let mut flipped = good.to_vec();
    let first_nl = good.iter().position(|b| *b == b'\n').unwrap();
    flipped[first_nl + 1 + name_at] ^= 0x01;
    out.push(Bad {
        name: "flipped-byte",
        bytes: Some(flipped),
        says: "failed its checksum",
    });
    let mut off_by_one = meta.clone();
    off_by_one["node_count"] = (meta["node_count"].as_u64().unwrap() + 1).into();
    out.push(Bad {
        name: "node-count-off-by-one",
        bytes: Some(join_file(&off_by_one, &body)),
        says: "metadata.node_count",
    });
    let (mut r, comma) = record(lines[rel_line]);
    r["end"] = "#999:999".into();
    out.push(Bad {
        name: "missing-end-node",
        bytes: Some(join_file(&meta, &with_line(rel_line, render(&r, comma)))),
        says: "#999:999",
    });
    let (n0, _) = record(lines[node_line]);
    let (mut n1, comma) = record(lines[node_line + 1]);
    n1["id"] = n0["id"].clone();
    out.push(Bad {
        name: "duplicate-node-id",
        bytes: Some(join_file(
            &meta,
            &with_line(node_line + 1, render(&n1, comma)),
        )),
        says: "appears twice",
    });
    let (mut n, comma) = record(lines[node_line]);
    let label = n["labels"][0].as_str().unwrap().to_owned();
    n["labels"][0] = format!("{label}\\u0060").into();
    out.push(Bad {
        name: "backtick-escape-in-label",
        bytes: Some(join_file(&meta, &with_line(node_line, render(&n, comma)))),
        says: "unicode escape",
    });
    out.push(Bad {
        name: "huge-integer",
        bytes: Some(with_prop("huge", "18446744073709551616")),
        says: "18446744073709551616",
    });
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    out.push(Bad {
        name: "deep-array",
        bytes: Some(with_prop("deep", &deep)),
        says: "recursion limit",
    });
    out.push(Bad {
        name: "object-without-type",
        bytes: Some(with_prop("object", "{\"a\":1}")),
        says: "$type",
    });
    out
}

#[test]
fn damaged_backups_are_refused_and_left_alone() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 5) AS i CREATE (:Function {name: 'f' + toString(i), i: i})");
    t.exec(
        "MATCH (a:Function {i: 1}), (b:Function) WHERE b.i > 1 CREATE (a)-[:USES {w: b.i}]->(b)",
    );
    let good_file = create(&t)["file"].as_str().unwrap().to_owned();
    let dir = t.backup_dir();
    let good = std::fs::read(dir.join(&good_file)).unwrap();
    run_json(&t, &["backup", "verify", &good_file], 0);

    let corpus = damaged_corpus(&good);
    let mut names = Vec::new();
    for (i, bad) in corpus.iter().enumerate() {
        let name = format!("ign_scripts_db_backup_2000010{}_0000{i:02}.json", i % 9 + 1);
        let path = dir.join(&name);
        match &bad.bytes {
            Some(b) => std::fs::write(&path, b).unwrap(),
            None => std::fs::create_dir(&path).unwrap(),
        }
        names.push(name);
    }
    let before = snapshot_dir(&dir);
    let mut failures = Vec::new();
    for (bad, name) in corpus.iter().zip(&names) {
        let out = t.cmd().args(["backup", "verify", name]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(20) || !stderr.contains(bad.says) {
            failures.push(format!(
                "{}: exit {:?}, wanted 20 and a message with {:?}; stderr: {}",
                bad.name,
                out.status.code(),
                bad.says,
                stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // The same fault has the same exit code and kind in every command that
    // meets it: `package` refuses a damaged backup as `backup verify` does.
    let migrations = repo_root().join("migrations");
    for (bad, name) in corpus
        .iter()
        .zip(&names)
        .filter(|(b, _)| b.bytes.is_some())
        .take(3)
    {
        let verify = run_json(&t, &["backup", "verify", name], 20);
        let out = t.path("rel");
        let package = run_json(
            &t,
            &[
                "package",
                "--version",
                "1.0.0",
                "--backup",
                name,
                "--out",
                out.to_str().unwrap(),
                "--migrations",
                migrations.to_str().unwrap(),
            ],
            20,
        );
        assert_eq!(
            verify["error"]["kind"], "invalid_backup",
            "{}: {verify}",
            bad.name
        );
        assert_eq!(
            package["error"]["kind"], "invalid_backup",
            "{}: {package}",
            bad.name
        );
        assert!(!out.exists(), "{}: package wrote something", bad.name);
    }
    assert_eq!(
        snapshot_dir(&dir),
        before,
        "verify changed the backup folder"
    );
    // `backup create` also leaves the folder's lock file (empty, never deleted).
    let entries = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != ign_setup::safety::LOCK_FILE)
        .count();
    assert_eq!(
        entries,
        names.len() + 2,
        "the corpus, the good backup and the index"
    );
}

// ------------------------------------------------------ killed mid-create

fn std_cmd(t: &TestDb) -> std::process::Command {
    let mut cmd = t.std_cmd();
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

#[test]
fn a_killed_create_leaves_only_temporary_files() {
    let t = TestDb::acquire();
    t.exec(
        "UNWIND range(1, 20000) AS i CREATE (:Bulk {i: i, name: 'node number ' + toString(i), tags: ['a', 'b', 'c']})",
    );
    write_config(&t, "[backup]\nkeep = 50\n");
    let earlier = create(&t)["file"].as_str().unwrap().to_owned();
    let dir = t.backup_dir();
    let earlier_bytes = std::fs::read(dir.join(&earlier)).unwrap();
    let index_bytes = std::fs::read(dir.join("backup_metadata.json")).unwrap();
    let mut completed = Vec::new();
    let mut killed_while_writing = std::collections::BTreeSet::new();

    for delay in [50u64, 150, 250, 400, 550, 700, 850, 1000, 1250, 1500] {
        let mut child = std_cmd(&t).args(["backup", "create"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let status = child.wait().unwrap();

        assert_eq!(
            std::fs::read(dir.join(&earlier)).unwrap(),
            earlier_bytes,
            "after {delay} ms"
        );
        let listed = run_json(&t, &["backup", "list"], 0);
        let backups = listed["backups"].as_array().unwrap();
        for b in backups {
            let file = b["file"].as_str().unwrap();
            assert!(b["problem"].is_null(), "after {delay} ms: {b}");
            if file != earlier && !completed.iter().any(|c: &String| c == file) {
                // Killed after it published: then the file must be whole.
                run_json(&t, &["backup", "verify", file], 0);
                eprintln!("the create killed after {delay} ms ({status}) had finished: {file}");
                completed.push(file.to_owned());
            }
        }
        if completed.is_empty() {
            assert_eq!(
                std::fs::read(dir.join("backup_metadata.json")).unwrap(),
                index_bytes,
                "after {delay} ms the index changed without a new backup"
            );
        }
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                killed_while_writing.insert(delay);
            }
            assert!(
                name == earlier
                    || name == "backup_metadata.json"
                    || name == ign_setup::safety::LOCK_FILE
                    || name.starts_with(".tmp-")
                    || completed.contains(&name),
                "after {delay} ms: unexpected {name}"
            );
        }
    }
    eprintln!("kills that left temporary files: after {killed_while_writing:?} ms");
    assert!(
        !killed_while_writing.is_empty(),
        "no create was killed while it was writing: the test proved nothing"
    );

    // The next create clears what the killed ones left.
    create(&t);
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    assert_eq!(std::fs::read(dir.join(&earlier)).unwrap(), earlier_bytes);
}

// ------------------------------------------------ a database being written

#[test]
fn a_backup_of_a_database_being_written_is_one_point_in_time_or_refused() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let t = TestDb::acquire();
    t.exec(
        "UNWIND range(1, 3000) AS i CREATE (:Churn {i: i, pad: 'some text to read'})-[:NEXT {i: i}]->(:Churn {i: -i})",
    );
    // Another client deletes nodes and creates new ones (Neo4j reuses the
    // ids of deleted entities) as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes) = (Arc::clone(&stop), Arc::clone(&writes));
        let server = t.server;
        runtime().spawn(async move {
            let db = crate::support::connect(server).await.unwrap();
            let mut i = 10_000i64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let q = query(
                    "MATCH (n:Churn) WITH n ORDER BY n.i LIMIT 1 DETACH DELETE n \
                     WITH count(*) AS gone \
                     CREATE (:Churn {i: $i})-[:NEXT {i: $i}]->(:Churn {i: -$i})",
                )
                .param("i", i);
                if db.run(q).await.is_ok() {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    while writes.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = t
        .cmd()
        .args(["backup", "create", "--json"])
        .output()
        .unwrap();
    let during = writes.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    runtime().block_on(writer).unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = t.backup_dir();
    if out.status.success() {
        // Then nothing committed while it read: one point in time.
        let file = doc["file"].as_str().unwrap();
        assert_eq!(doc["metadata"]["snapshot"], true, "{doc}");
        run_json(&t, &["backup", "verify", file], 0);
    } else {
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("changed while it was being read, in each of 3 attempts"),
            "{message}"
        );
        assert!(message.contains("Stop the clients that write"), "{message}");
        assert_eq!(
            backup_files(&dir),
            Vec::<String>::new(),
            "no backup was published"
        );
        let temp: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp-"))
            .collect();
        assert!(temp.is_empty(), "left behind: {temp:?}");
    }
    eprintln!(
        "backup beside {during} writes: {}",
        if out.status.success() {
            "a snapshot"
        } else {
            "refused"
        }
    );

    // Once the writer stops, the backup is taken and holds exactly the graph.
    let before = crate::support::schema::typed_content(&t.db);
    let doc = create(&t);
    assert_eq!(doc["metadata"]["snapshot"], true);
    let file = doc["file"].as_str().unwrap().to_owned();
    t.wipe();
    t.cmd()
        .args(["backup", "restore", "--yes", "--file", &file])
        .assert()
        .success();
    assert_eq!(crate::support::schema::typed_content(&t.db), before);
}
