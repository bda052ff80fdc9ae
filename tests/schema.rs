//! Schema fidelity on the real server: every index and constraint of a rich
//! schema survives backup → wipe → restore and a failed upgrade's rollback
//! with the same `SHOW INDEXES YIELD *` / `SHOW CONSTRAINTS YIELD *` rows;
//! schema this server cannot recreate is refused before anything changes,
//! or left out on request and listed; older formats keep restoring.

use predicates::prelude::*;
use serde_json::{json, Value};

use crate::support::schema::typed_content as db_content;
use crate::support::schema::{
    build_rich_schema, edit_schema, is_community, rename_lookup_indexes, schema_rows,
    ENTERPRISE_SCHEMA,
};
use crate::support::{repo_root, run_json, snapshot_dir, timestamped_backups, TestDb};

fn newest_backup(t: &TestDb) -> String {
    timestamped_backups(&t.backup_dir()).pop().unwrap()
}

/// The schema line of a backup file, parsed.
fn file_schema(t: &TestDb, file: &str) -> Value {
    let text = std::fs::read_to_string(t.backup_dir().join(file)).unwrap();
    let line = text.lines().nth(1).unwrap();
    serde_json::from_str(
        line.strip_prefix("\"schema\":")
            .unwrap()
            .strip_suffix(',')
            .unwrap(),
    )
    .unwrap()
}

fn item<'a>(schema: &'a Value, list: &str, name: &str) -> &'a Value {
    schema[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}: {schema}"))
}

#[test]
fn schema_every_index_and_constraint_survives_backup_wipe_restore() {
    let t = TestDb::acquire();
    build_rich_schema(&t);
    if is_community(&t) {
        // Community Edition refuses these itself: the refusal test covers them.
        for s in ENTERPRISE_SCHEMA {
            let err = ign_setup_run(&t, s).unwrap_err();
            assert!(err.contains("Enterprise"), "{s}: {err}");
        }
    }
    let before_rows = schema_rows(&t.db);
    let before_content = db_content(&t.db);
    t.cmd().args(["backup", "create"]).assert().success();
    let file = newest_backup(&t);

    // The file holds what recreating needs.
    let schema = file_schema(&t, &file);
    let vector = item(&schema, "indexes", "fn_embedding");
    assert_eq!(vector["index_config"]["vector.dimensions"], 4);
    assert_eq!(
        vector["index_config"]["vector.similarity_function"],
        "EUCLIDEAN"
    );
    let ft = item(&schema, "indexes", "fn_fulltext");
    assert_eq!(ft["index_config"]["fulltext.analyzer"], "english");
    assert_eq!(ft["index_config"]["fulltext.eventually_consistent"], true);
    let point = item(&schema, "indexes", "site_location");
    assert_eq!(
        point["index_config"]["spatial.cartesian.min"],
        json!([-100.0, -100.0])
    );
    let unique = item(&schema, "constraints", "uses_id_unique");
    assert_eq!(unique["owned_index"], "uses_id_unique");
    assert_eq!(unique["entity_type"], "RELATIONSHIP");
    let lookups = schema["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "LOOKUP")
        .count();
    assert_eq!(lookups, 2, "both token lookup indexes are recorded");

    t.wipe();
    rename_lookup_indexes(&t);
    t.exec("CREATE (:Other {x: 1})");
    t.exec("CREATE INDEX other_index FOR (n:Other) ON (n.x)");
    assert_ne!(schema_rows(&t.db), before_rows);

    let out = t
        .cmd()
        .args(["backup", "restore", "--yes", "-v", "--file", &file])
        .assert()
        .success()
        .stdout(predicate::str::contains("compared with the backup"))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.to_ascii_lowercase().contains("deprecat"),
        "a schema statement drew a deprecation warning:\n{stderr}"
    );
    assert_eq!(schema_rows(&t.db), before_rows);
    assert_eq!(db_content(&t.db), before_content);
    // Every index is online when the restore reports success.
    assert_eq!(
        t.count("SHOW INDEXES YIELD state WHERE state <> 'ONLINE' RETURN count(*) AS c"),
        0
    );
}

/// Runs one statement, returning the server's error text.
fn ign_setup_run(t: &TestDb, cypher: &str) -> Result<(), String> {
    crate::support::runtime()
        .block_on(t.db.run(neo4rs::query(cypher)))
        .map_err(|e| e.to_string())
}

#[test]
fn schema_a_failed_upgrade_rolls_back_to_the_same_schema() {
    let t = TestDb::acquire();
    let dir = t.path("migrations");
    std::fs::create_dir_all(dir.join("1.4.0")).unwrap();
    for f in ["001_core_constraints.cypher", "002_core_indexes.cypher"] {
        std::fs::copy(
            repo_root().join("migrations/1.4.0").join(f),
            dir.join("1.4.0").join(f),
        )
        .unwrap();
    }
    t.cmd().args(["install", "--yes"]).assert().success();
    build_rich_schema(&t);
    let before_rows = schema_rows(&t.db);
    let before_content = db_content(&t.db);
    std::fs::create_dir_all(dir.join("1.5.0")).unwrap();
    std::fs::write(
        dir.join("1.5.0/001_break.cypher"),
        "CREATE INDEX added_by_upgrade IF NOT EXISTS FOR (n:Function) ON (n.added);\n\
         MATCH (f:Function) SET f.added = 1;\n\nTHIS IS NOT CYPHER;\n",
    )
    .unwrap();
    let doc = run_json(&t, &["upgrade", "--to", "1.5.0", "--yes"], 31);
    assert_eq!(doc["error"]["kind"], "rolled_back", "{doc}");
    assert_eq!(schema_rows(&t.db), before_rows);
    assert_eq!(db_content(&t.db), before_content);
}

#[test]
fn schema_this_server_cannot_recreate_is_refused_before_anything_changes() {
    let t = TestDb::acquire();
    build_rich_schema(&t);
    t.cmd().args(["backup", "create"]).assert().success();
    let file = newest_backup(&t);
    let path = t.backup_dir().join(&file);
    let rel_key = json!({
        "name": "uses_key", "type": "RELATIONSHIP_KEY", "entity_type": "RELATIONSHIP",
        "labels_or_types": ["USES"], "properties": ["id"], "owned_index": "uses_key",
        "index_config": {}, "create_statement": "MATCH (n) DETACH DELETE n"
    });
    let node_key = json!({
        "name": "fn_key", "type": "NODE_KEY", "entity_type": "NODE",
        "labels_or_types": ["Function"], "properties": ["name"], "owned_index": "fn_key",
        "index_config": {}, "create_statement": ""
    });
    let type_constraint = json!({
        "name": "fn_name_type", "type": "NODE_PROPERTY_TYPE", "entity_type": "NODE",
        "labels_or_types": ["Function"], "properties": ["doc"], "property_type": "STRING",
        "index_config": {}, "create_statement": ""
    });
    let unknown_option = json!({
        "name": "odd_vector", "type": "VECTOR", "entity_type": "NODE",
        "labels_or_types": ["Function"], "properties": ["other_embedding"],
        "index_config": {"vector.dimensions": 4, "vector.made_up_option": true},
        "create_statement": ""
    });
    // An option Neo4j 2025+ knows and 5.26 does not: only the server's own
    // answer (a statement tried and rolled back) can tell.
    let newer_option = json!({
        "name": "quantized_vector", "type": "VECTOR", "entity_type": "NODE",
        "labels_or_types": ["Function"], "properties": ["third_embedding"],
        "index_config": {"vector.dimensions": 4, "vector.quantization.type": "BINARY"},
        "create_statement": ""
    });
    edit_schema(&path, |s| {
        let c = s["constraints"].as_array_mut().unwrap();
        c.extend([rel_key, node_key, type_constraint]);
        c.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let i = s["indexes"].as_array_mut().unwrap();
        i.extend([unknown_option, newer_option]);
        i.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    });
    run_json(&t, &["backup", "verify", &file], 0);

    // The database now differs from the file, so a restore would show.
    t.exec("MATCH (f:Function {name: 'fn1'}) SET f.changed_after_backup = true");
    let content = db_content(&t.db);
    let rows = schema_rows(&t.db);
    let folder = snapshot_dir(&t.backup_dir());
    let mut expected_gaps = vec!["odd_vector"];
    if is_community(&t) {
        expected_gaps.extend(["fn_key", "fn_name_type", "uses_key"]);
    }
    let v5 = t.db.server().version.starts_with("5.");
    if v5 {
        expected_gaps.push("quantized_vector");
    }
    expected_gaps.sort();

    let doc = run_json(&t, &["backup", "restore", "--yes", "--file", &file], 20);
    assert_eq!(doc["error"]["kind"], "schema_not_recreatable", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("Nothing was changed"), "{message}");
    assert!(message.contains("--allow-schema-loss"), "{message}");
    assert!(message.contains("vector.made_up_option"), "{message}");
    if is_community(&t) {
        assert!(message.contains("Enterprise Edition"), "{message}");
    }
    if v5 {
        assert!(message.contains("the server refused it"), "{message}");
        assert!(message.contains("vector.quantization.type"), "{message}");
    }
    let mut listed: Vec<&str> = doc["error"]["details"]["schema_not_recreatable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, expected_gaps);
    assert_eq!(db_content(&t.db), content, "the database changed");
    assert_eq!(schema_rows(&t.db), rows, "the schema changed");
    assert_eq!(
        snapshot_dir(&t.backup_dir()),
        folder,
        "the backup folder changed"
    );

    // The human form says the same on stderr.
    t.cmd()
        .args(["backup", "restore", "--yes", "--file", &file])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("cannot recreate"))
        .stderr(predicate::str::contains("odd_vector"));

    // Accepted: the data comes back, everything else too, and the result says what not.
    let doc = run_json(
        &t,
        &[
            "backup",
            "restore",
            "--yes",
            "--allow-schema-loss",
            "--file",
            &file,
        ],
        0,
    );
    let mut left_out: Vec<&str> = doc["restore"]["schema"]["not_recreated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    left_out.sort();
    assert_eq!(left_out, expected_gaps, "{doc}");
    assert_eq!(
        t.count("MATCH (f:Function) WHERE f.changed_after_backup RETURN count(f) AS c"),
        0
    );
    let names: Vec<String> = t
        .query("SHOW CONSTRAINTS YIELD name RETURN name")
        .into_iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"fn_name_unique".to_owned()), "{names:?}");
    let human = t
        .cmd()
        .args([
            "backup",
            "restore",
            "--yes",
            "--allow-schema-loss",
            "--file",
            &file,
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let human = String::from_utf8_lossy(&human);
    assert!(human.contains("not recreated on this server"), "{human}");
    assert!(human.contains("odd_vector"), "{human}");
}

#[test]
fn schema_a_format_2_backup_still_restores_and_leaves_lookup_indexes_alone() {
    let t = TestDb::acquire();
    build_rich_schema(&t);
    t.cmd().args(["backup", "create"]).assert().success();
    let file = newest_backup(&t);
    let path = t.backup_dir().join(&file);
    // What ign-setup wrote before format 3: no options, no lookups, no owned index.
    edit_schema(&path, |s| {
        for list in ["indexes", "constraints"] {
            let items = s[list].as_array_mut().unwrap();
            items.retain(|i| i["type"] != "LOOKUP");
            for i in items.iter_mut() {
                let o = i.as_object_mut().unwrap();
                o.retain(|k, _| {
                    [
                        "name",
                        "type",
                        "entity_type",
                        "labels_or_types",
                        "properties",
                        "create_statement",
                    ]
                    .contains(&k.as_str())
                });
            }
        }
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let first = first.replace("\"version\":\"3.0.0\"", "\"version\":\"2.0.0\"");
    std::fs::write(&path, format!("{first}\n{rest}")).unwrap();
    run_json(&t, &["backup", "verify", &file], 0);

    t.wipe();
    rename_lookup_indexes(&t);
    let doc = run_json(&t, &["backup", "restore", "--yes", "--file", &file], 0);
    let warnings = doc["restore"]["warnings"].to_string();
    assert!(warnings.contains("default options"), "{warnings}");
    let lookups: Vec<String> = t
        .query("SHOW INDEXES YIELD name, type WHERE type = 'LOOKUP' RETURN name")
        .into_iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lookups.len(), 2);
    assert!(
        lookups.iter().all(|n| n.starts_with("other_")),
        "{lookups:?}"
    );
    for name in [
        "fn_embedding",
        "fn_fulltext",
        "site_location",
        "fn_name_unique",
        "uses_id_unique",
    ] {
        assert_eq!(
            t.count(&format!(
                "SHOW INDEXES YIELD name WHERE name = '{name}' RETURN count(*) AS c"
            )),
            1,
            "{name}"
        );
    }
}

#[test]
fn schema_install_from_an_initial_backup_refuses_lost_schema_unless_allowed() {
    let t = TestDb::acquire();
    let dir = t.path("migrations/1.4.0");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["001_core_constraints.cypher", "002_core_indexes.cypher"] {
        std::fs::copy(repo_root().join("migrations/1.4.0").join(f), dir.join(f)).unwrap();
    }
    t.cmd().args(["install", "--yes"]).assert().success();
    build_rich_schema(&t);
    t.cmd().args(["backup", "init"]).assert().success();
    let initial = t.backup_dir().join("initial_backup.json");
    // An option no Neo4j knows: no server can recreate this index.
    edit_schema(&initial, |s| {
        let i = s["indexes"].as_array_mut().unwrap();
        i.push(json!({
            "name": "zz_odd_vector", "type": "VECTOR", "entity_type": "NODE",
            "labels_or_types": ["Function"], "properties": ["other_embedding"],
            "index_config": {"vector.made_up_option": true}, "create_statement": ""
        }));
    });
    t.wipe();
    t.exec("MATCH (n) DETACH DELETE n");
    let rows = schema_rows(&t.db);
    let folder = snapshot_dir(&t.backup_dir());

    let doc = run_json(&t, &["install", "--yes"], 20);
    assert_eq!(doc["error"]["kind"], "schema_not_recreatable", "{doc}");
    assert_eq!(
        doc["error"]["details"]["schema_not_recreatable"][0]["name"],
        "zz_odd_vector"
    );
    assert_eq!(
        t.count("MATCH (n) RETURN count(n) AS c"),
        0,
        "nothing loaded"
    );
    assert_eq!(schema_rows(&t.db), rows);
    assert_eq!(snapshot_dir(&t.backup_dir()), folder);

    t.cmd()
        .args(["install", "--yes", "--allow-schema-loss"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Installed version 1.4.0"))
        .stdout(predicate::str::contains("Not recreated on this server"))
        .stdout(predicate::str::contains("zz_odd_vector"));
    assert_eq!(
        t.count("SHOW INDEXES YIELD name WHERE name = 'fn_embedding' RETURN count(*) AS c"),
        1
    );
}
