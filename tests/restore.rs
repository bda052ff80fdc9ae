//! `backup restore` and `recover`: round trips, the original tool's format,
//! refusals that change nothing, and rollback after failures and kills.

use std::time::Duration;

use predicates::prelude::*;

use crate::support::{repo_root, snapshot_dir, timestamped_backups, TestDb};

fn content(t: &TestDb) -> Vec<String> {
    crate::support::db_content(&t.db)
}

fn seed(t: &TestDb) {
    t.exec(
        "CREATE (a:Function:`Hostile ``) DETACH DELETE n //` {name: 'system.tag.read', usage_count: 5, score: 1.5, tags: ['a','b'], `_id`: 'not an id'}), \
                (b:Function {name: 'system.db.runQuery', usage_count: 9223372036854775807, deprecated: false}), \
                (c:Template {name: 'tmpl', `prop with space`: 'ü ✓'}), \
                (a)-[:CO_OCCURS_WITH {confidence: 0.85}]->(b), (c)-[:`USES ``x```]->(a)",
    );
}

#[test]
fn legacy_sample_restores_with_its_counts() {
    let t = TestDb::acquire();
    let sample = repo_root().join("tests/data/legacy-format-sample.json");
    t.cmd()
        .args(["backup", "restore", "--yes", "--file"])
        .arg(&sample)
        .assert()
        .success();
    assert_eq!(t.count("MATCH (n) RETURN count(n) AS c"), 100);
    assert_eq!(t.count("MATCH ()-[r]->() RETURN count(r) AS c"), 259);
}

#[test]
fn backup_restore_backup_gives_the_same_content_with_hostile_names() {
    let t = TestDb::acquire();
    seed(&t);
    let before = content(&t);
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.wipe();
    t.exec("CREATE (:Other {x: 1})");
    t.cmd()
        .args(["backup", "restore", "--yes", "--file", &file])
        .assert()
        .success();
    assert_eq!(content(&t), before);
    // A hostile label is stored as that label, not executed.
    assert_eq!(
        t.count("MATCH (n:`Hostile ``) DETACH DELETE n //`) RETURN count(n) AS c"),
        1
    );
    // The safety backup holds what was replaced.
    let files = timestamped_backups(&t.backup_dir());
    assert_eq!(files.len(), 2, "{files:?}");
}

#[test]
fn refusals_change_nothing() {
    let t = TestDb::acquire();
    seed(&t);
    let before = content(&t);
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    let folder = snapshot_dir(&t.backup_dir());
    // No terminal and no --yes.
    t.cmd()
        .args(["backup", "restore", "--file", &file])
        .assert()
        .code(40)
        .stderr(predicate::str::contains("--yes"));
    // A corrupt file.
    let bad = t.path("bad.json");
    let mut bytes = std::fs::read(t.backup_dir().join(&file)).unwrap();
    let n = bytes.len();
    bytes.truncate(n - 40);
    std::fs::write(&bad, bytes).unwrap();
    t.cmd()
        .args(["backup", "restore", "--yes", "--file"])
        .arg(&bad)
        .assert()
        .code(20)
        .stderr(predicate::str::contains("not valid JSON"));
    t.cmd()
        .args(["backup", "restore", "--yes", "--file", "nope.json"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("no backup named"));
    assert_eq!(content(&t), before);
    assert_eq!(snapshot_dir(&t.backup_dir()), folder);
}

#[test]
fn a_failure_in_the_middle_is_rolled_back() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 3000) AS i CREATE (:Function {name: 'f' + toString(i), i: i})-[:USES {w: i}]->(:Template {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    // The state to return to differs from the backup.
    t.exec("MATCH (n:Function) WHERE n.i > 2500 DETACH DELETE n");
    t.exec("CREATE (:Marker {keep: true})");
    let before = content(&t);
    for fault in [
        "restore.batch:2",
        "restore.before-verify:1",
        "restore.after-clear:1",
    ] {
        t.cmd()
            .env("IGN_SETUP_FAULT", fault)
            .args(["backup", "restore", "--yes", "--file", &file])
            .assert()
            .code(31)
            .stderr(predicate::str::contains("rolled back"));
        assert_eq!(content(&t), before, "after {fault}");
        assert!(!t.backup_dir().join(".journal.json").exists());
    }
}

#[test]
fn a_restore_killed_at_ten_points_is_recovered_by_the_next_run() {
    let t = TestDb::acquire();
    let seed = |n: u32| {
        t.exec(&format!(
            "UNWIND range(1, {n}) AS i CREATE (:Function {{name: 'f' + toString(i), i: i, d: 'some text to make it heavier'}})-[:USES {{w: i}}]->(:Template {{i: i}})"
        ))
    };
    seed(10000);
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.wipe();
    seed(100);
    let before = content(&t);
    let journal_path = t.backup_dir().join(".journal.json");
    let mut phases = Vec::new();
    for delay_ms in [150u64, 400, 700, 1000, 1400, 1800, 2300, 2800, 3500, 4500] {
        let mut child = t
            .std_cmd()
            .args(["backup", "restore", "--yes", "--file", &file])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let phase = std::fs::read_to_string(&journal_path)
            .ok()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
            .map(|j| j["phase"].as_str().unwrap_or("?").to_owned())
            .unwrap_or_else(|| "none".into());
        phases.push(format!("{delay_ms} ms: {phase}"));
        // The next command that changes the database (here `recover`
        // itself) finishes the recovery first.
        t.cmd().arg("recover").assert().success();
        assert!(!journal_path.exists());
        let now = content(&t);
        if phase == "none" && now != before {
            // Killed before it began, or after it finished: then the backup's state, complete.
            assert_eq!(
                t.count("MATCH (n:Function) RETURN count(n) AS c"),
                10000,
                "{phases:?}"
            );
            assert_eq!(
                t.count("MATCH ()-[r]->() RETURN count(r) AS c"),
                10000,
                "{phases:?}"
            );
            t.wipe();
            seed(100);
        } else {
            assert_eq!(now, before, "killed after {delay_ms} ms ({phase})");
        }
        t.cmd()
            .arg("recover")
            .assert()
            .success()
            .stdout(predicate::str::contains("Nothing to recover"));
    }
    // And one kill that surely lands while the database is being replaced:
    // held after the first batch of the load.
    let mut child = crate::support::restore_held_mid_load(&t, &file);
    let _ = child.kill();
    let _ = child.wait();
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    assert!(journal.contains("\"destructive\""), "{journal}");
    assert_ne!(
        content(&t),
        before,
        "the held restore had not changed anything yet"
    );
    t.cmd().arg("recover").assert().success();
    assert!(!journal_path.exists());
    assert_eq!(content(&t), before, "{phases:?}");
}

/// A backup's records with ids replaced by content, for comparing two backups
/// of the same graph taken from different databases.
fn file_content(path: &std::path::Path) -> Vec<String> {
    use ign_setup::backup::format::{NodeRecord, RelRecord};
    use ign_setup::backup::reader::{read_backup, RecordSink};
    use ign_setup::backup::BackupError;
    #[derive(Default)]
    struct Collect {
        nodes: std::collections::HashMap<String, String>,
        lines: Vec<String>,
    }
    fn sorted_props(map: &neo4rs::BoltMap) -> Vec<String> {
        let mut props: Vec<String> = map
            .value
            .iter()
            .map(|(k, v)| format!("{}={v:?}", k.value))
            .collect();
        props.sort();
        props
    }

    impl RecordSink for Collect {
        fn node(&mut self, n: NodeRecord) -> Result<(), BackupError> {
            let mut labels = n.labels.clone();
            labels.sort();
            let props = sorted_props(&n.properties);
            let text = format!("{labels:?} {props:?}");
            self.lines.push(format!("N {text}"));
            self.nodes.insert(n.id, text);
            Ok(())
        }
        fn relationship(&mut self, r: RelRecord) -> Result<(), BackupError> {
            let props = sorted_props(&r.properties);
            self.lines.push(format!(
                "R {} {props:?} {} {}",
                r.rel_type, self.nodes[&r.start], self.nodes[&r.end]
            ));
            Ok(())
        }
    }
    let mut c = Collect::default();
    let outcome = read_backup(path, &mut c).unwrap();
    c.lines.push(format!(
        "schema {:?}",
        outcome
            .schema
            .indexes
            .iter()
            .chain(&outcome.schema.constraints)
            .map(|i| (&i.name, &i.kind, &i.labels_or_types, &i.properties))
            .collect::<Vec<_>>()
    ));
    c.lines.sort();
    c.lines
}

/// A backup's records exactly as written, ids replaced by the content of the
/// nodes they name: for each record its labels or type and the raw bytes of
/// its `properties`, so two backups of the same graph compare byte for byte.
fn raw_records(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let s = |v: &serde_json::Value| serde_json::to_string(v).unwrap();
    let mut nodes = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut rels = Vec::new();
    for line in text.lines().skip(2) {
        let line = line.strip_suffix(',').unwrap_or(line);
        if !line.starts_with('{') {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("labels").is_some() {
            let prefix = format!(
                "{{\"id\":{},\"labels\":{},\"properties\":",
                s(&v["id"]),
                s(&v["labels"])
            );
            let props = line.strip_prefix(&prefix).and_then(|r| r.strip_suffix('}'));
            let mut labels: Vec<String> = serde_json::from_value(v["labels"].clone()).unwrap();
            labels.sort();
            let key = format!("{labels:?} {}", props.expect("a node record as written"));
            nodes.insert(v["id"].as_str().unwrap().to_owned(), key.clone());
            out.push(format!("N {key}"));
        } else if v.get("start").is_some() {
            let prefix = format!(
                "{{\"end\":{},\"id\":{},\"properties\":",
                s(&v["end"]),
                s(&v["id"])
            );
            let suffix = format!(",\"start\":{},\"type\":{}}}", s(&v["start"]), s(&v["type"]));
            let props = line
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(&suffix))
                .expect("a relationship record as written")
                .to_owned();
            rels.push((v, props));
        }
    }
    for (v, props) in rels {
        out.push(format!(
            "R {} {props} {} {}",
            v["type"],
            nodes[v["start"].as_str().unwrap()],
            nodes[v["end"].as_str().unwrap()]
        ));
    }
    out.sort();
    out
}

#[test]
fn every_property_type_round_trips_through_restore() {
    let t = TestDb::acquire();
    std::fs::write(t.path("ign-setup.toml"), "[backup]\nkeep = 10\n").unwrap();
    crate::backup::build_every_type_graph(&t);
    t.exec("CREATE INDEX fn_name IF NOT EXISTS FOR (n:Function) ON (n.name)");
    let dst = crate::backup::dst_values(&t);
    assert_eq!(dst.len(), 2);
    for d in &dst {
        assert_eq!(d["gap"], 3600, "the server holds both instants: {d}");
    }
    t.cmd().args(["backup", "create"]).assert().success();
    let first = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.wipe();
    t.cmd()
        .args(["backup", "restore", "--yes", "--file", &first])
        .assert()
        .success();
    // The later instant of the repeated hour came back as itself, not an hour off.
    assert_eq!(crate::backup::dst_values(&t), dst);
    std::thread::sleep(Duration::from_millis(1100));
    t.cmd().args(["backup", "create"]).assert().success();
    let second = timestamped_backups(&t.backup_dir())
        .into_iter()
        .find(|f| *f != first)
        .unwrap();
    let a = file_content(&t.backup_dir().join(&first));
    let b = file_content(&t.backup_dir().join(&second));
    assert_eq!(
        a, b,
        "backup → restore → backup gives the same content, ids aside"
    );
    let a = raw_records(&t.backup_dir().join(&first));
    let b = raw_records(&t.backup_dir().join(&second));
    assert_eq!(a.len(), 7);
    assert_eq!(a, b, "and the same bytes for every property");
}
