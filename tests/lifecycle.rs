//! `install`, `upgrade --to` and `migrations status` against the real server:
//! the happy path and its reruns, failures that roll back, the lock, a killed
//! upgrade, drift, dry runs, baselines and bundles.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::support::{repo_root, run_json, snapshot_dir, TestDb};

/// Every node (but the lock) and relationship, without ids, sorted.
fn content(t: &TestDb) -> Vec<String> {
    crate::support::db_content(&t.db)
}

/// Names of the indexes and constraints.
fn schema(t: &TestDb) -> Vec<String> {
    let mut out: Vec<String> = t
        .query("SHOW CONSTRAINTS YIELD name RETURN name")
        .into_iter()
        .map(|r| format!("C {}", r["name"]))
        .collect();
    out.extend(
        t.query("SHOW INDEXES YIELD name RETURN name")
            .into_iter()
            .map(|r| format!("I {}", r["name"])),
    );
    out.sort();
    out
}

fn version(t: &TestDb) -> Option<String> {
    t.query("MATCH (v:IgnSetupVersion) RETURN v.version AS v")
        .first()
        .and_then(|r| r["v"].as_str().map(str::to_owned))
}

/// Content, schema and version: what "unchanged" means for a database.
fn state(t: &TestDb) -> (Vec<String>, Vec<String>, Option<String>) {
    (content(t), schema(t), version(t))
}

/// A migrations folder in the test's work folder holding the repository's
/// versions named in `versions`.
fn migrations(t: &TestDb, versions: &[&str]) -> PathBuf {
    let dir = t.path("migrations");
    for v in versions {
        let from = repo_root().join("migrations").join(v);
        let to = dir.join(v);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap().flatten() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Installs 1.4.0 over the IGN sample data (which records no version, hence
/// the baseline), with 1.4.0's migrations only.
fn install_sample_at_1_4(t: &TestDb) {
    migrations(t, &["1.4.0"]);
    std::fs::copy(
        repo_root().join("tests/data/legacy-format-sample.json"),
        t.backup_dir().join("initial_backup.json"),
    )
    .unwrap();
    t.cmd()
        .args(["install", "--yes", "--baseline", "1.4.0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Installed version 1.4.0"));
    assert_eq!(version(t).as_deref(), Some("1.4.0"));
}

/// The binary as a plain process (to run two at once, or to kill one).
fn backup_files(t: &TestDb) -> Vec<String> {
    crate::support::timestamped_backups(&t.backup_dir())
}

#[test]
fn lifecycle_install_upgrade_status_and_reruns_change_nothing() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    assert!(t.count("MATCH (n:Function) RETURN count(n) AS c") > 0);
    t.cmd()
        .args(["migrations", "status"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("up to date"));
    let at_1_4 = state(&t);
    t.cmd()
        .args(["install", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Already installed: version 1.4.0"));
    assert_eq!(state(&t), at_1_4);

    migrations(&t, &["1.5.0"]);
    t.cmd()
        .args(["migrations", "status", "--json"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("\"pending\""));
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Upgraded 1.4.0 -> 1.5.0: 2 migration files applied",
        ));
    assert_eq!(version(&t).as_deref(), Some("1.5.0"));
    assert_eq!(
        t.count("MATCH (f:Function) WHERE f.usage_count IS NULL RETURN count(f) AS c"),
        0
    );
    assert_eq!(
        t.count("MATCH (m:IgnSetupMigration) RETURN count(m) AS c"),
        4
    );
    let applied = t.query(
        "MATCH (m:IgnSetupMigration {version: '1.5.0'}) RETURN m.applied_at AS at, m.duration_ms AS ms, m.tool_version AS tool, m.checksum AS sum",
    );
    for r in &applied {
        assert!(r["at"].as_str().unwrap().ends_with('Z'), "{r:?}");
        assert!(r["ms"].is_number(), "{r:?}");
        assert_eq!(r["sum"].as_str().unwrap().len(), 64, "{r:?}");
    }
    t.cmd()
        .args(["migrations", "status"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("up to date"));
    assert!(!t.backup_dir().join(".journal.json").exists());

    let at_1_5 = state(&t);
    let folder = snapshot_dir(&t.backup_dir());
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Already at 1.5.0"));
    t.cmd().args(["install", "--yes"]).assert().success();
    t.cmd().args(["migrations", "status"]).assert().code(0);
    assert_eq!(state(&t), at_1_5);
    assert_eq!(snapshot_dir(&t.backup_dir()), folder);

    // Refusals that change nothing.
    t.cmd()
        .args(["upgrade", "--to", "1.4.0", "--yes"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("does not downgrade"));
    t.cmd()
        .args(["upgrade", "--to", "9.9.9", "--yes"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("1.4.0, 1.5.0"));
    assert_eq!(state(&t), at_1_5);
}

#[test]
fn lifecycle_install_on_an_empty_database_runs_every_migration() {
    let t = TestDb::acquire();
    migrations(&t, &["1.4.0", "1.5.0"]);
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("run `ign-setup install`"));
    t.cmd()
        .args(["install", "--yes", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"changed\": true"));
    assert_eq!(version(&t).as_deref(), Some("1.5.0"));
    assert_eq!(
        t.count("MATCH (m:IgnSetupMigration) RETURN count(m) AS c"),
        4
    );
    let s = schema(&t).join(" ");
    for name in [
        "function_name_unique",
        "function_module",
        "session_id_unique",
    ] {
        assert!(s.contains(name), "{name} missing from {s}");
    }
    t.cmd().args(["migrations", "status"]).assert().code(0);
}

#[test]
fn lifecycle_a_failing_migration_or_verify_query_rolls_back() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    let before = state(&t);
    let dir = t.path("migrations/1.5.0");
    let original = repo_root().join("migrations/1.5.0/001_function_constraints.cypher");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&original, dir.join("001_function_constraints.cypher")).unwrap();
    write(
        &dir.join("002_bad.cypher"),
        "// the first statement works, the second does not\nMATCH (f:Function) SET f.touched = true;\n\nTHIS IS NOT CYPHER;\n",
    );
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .code(31)
        .stderr(predicate::str::contains(
            "version 1.5.0, `002_bad.cypher`, statement at line",
        ))
        .stderr(predicate::str::contains("rolled back"))
        .stderr(predicate::str::contains("back at version 1.4.0"));
    assert_eq!(state(&t), before);
    assert!(!t.backup_dir().join(".journal.json").exists());

    // Same with a verify query that fails.
    std::fs::remove_file(dir.join("002_bad.cypher")).unwrap();
    write(
        &dir.join("verify.cypher"),
        "RETURN true AS ok;\nMATCH (f:Function) RETURN count(f) < 0 AS ok;\n",
    );
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .code(31)
        .stderr(predicate::str::contains("verify.cypher query 2"))
        .stderr(predicate::str::contains("returned ok = false"));
    assert_eq!(state(&t), before);

    // And with a fault injected after the first file.
    std::fs::remove_file(dir.join("verify.cypher")).unwrap();
    t.cmd()
        .env("IGN_SETUP_FAULT", "upgrade.migration:1")
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .code(31)
        .stderr(predicate::str::contains(
            "after `001_function_constraints.cypher`",
        ));
    assert_eq!(state(&t), before);
    assert!(!t.backup_dir().join(".journal.json").exists());
}

#[test]
fn lifecycle_two_upgrades_at_once_one_runs_one_is_locked_out() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    migrations(&t, &["1.5.0"]);
    let spawn = || {
        t.std_cmd()
            .env("IGN_SETUP_PAUSE", "upgrade.locked:3000")
            .args(["upgrade", "--to", "1.5.0", "--yes", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    let mut codes = [a.status.code().unwrap(), b.status.code().unwrap()];
    codes.sort();
    assert_eq!(codes, [0, 30], "a: {a:?}\nb: {b:?}");
    let loser = if a.status.code() == Some(30) { &a } else { &b };
    assert!(
        String::from_utf8_lossy(&loser.stderr).contains("locked by"),
        "{loser:?}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&loser.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "locked", "{doc}");
    assert_eq!(version(&t).as_deref(), Some("1.5.0"));
    assert!(!t.backup_dir().join(".journal.json").exists());
}

#[test]
fn lifecycle_a_killed_upgrade_is_recovered_by_the_next_run() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    migrations(&t, &["1.5.0"]);
    let before = state(&t);
    let mut child = t
        .std_cmd()
        .env("IGN_SETUP_PAUSE", "upgrade.migration:60000")
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first migration file is applied and recorded: the
    // database is then half-way between 1.4.0 and 1.5.0.
    let deadline = Instant::now() + Duration::from_secs(60);
    while t.count(
        "MATCH (m:IgnSetupMigration {name: '001_function_constraints.cypher'}) RETURN count(m) AS c",
    ) == 0
    {
        assert!(Instant::now() < deadline, "the upgrade never applied its first file");
        assert!(child.try_wait().unwrap().is_none(), "the upgrade ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let journal = std::fs::read_to_string(t.backup_dir().join(".journal.json")).unwrap();
    assert!(journal.contains("\"operation\": \"upgrade\""), "{journal}");
    assert!(journal.contains("\"phase\": \"destructive\""), "{journal}");
    assert_ne!(state(&t), before);

    // The next command recovers first, then does its own work.
    t.cmd()
        .args(["migrations", "status"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("rolled back"));
    assert!(!t.backup_dir().join(".journal.json").exists());
    assert_eq!(state(&t), before);
    t.cmd()
        .arg("recover")
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to recover"));
    // And the upgrade then goes through.
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .success();
}

/// The upgrade's question names what it changes: the database, the server,
/// how much data it holds, and the versions; without a terminal and without
/// `--yes` it is not asked and nothing changes (exit 40).
#[test]
fn lifecycle_the_upgrade_question_names_the_database_and_its_data() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    migrations(&t, &["1.5.0"]);
    let before = state(&t);
    let out = t
        .cmd()
        .args(["upgrade", "--to", "1.5.0"])
        .assert()
        .code(40)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Upgrade database `neo4j` on 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("Neo4j Kernel"), "{stderr}");
    assert!(stderr.contains(" nodes and "), "{stderr}");
    assert!(stderr.contains("from 1.4.0 to 1.5.0?"), "{stderr}");
    assert_eq!(state(&t), before);
}

/// Ctrl-C while a migration file runs: the upgrade stops before its next
/// statement (not at the end of the upgrade), rolls back and exits 31.
#[test]
fn lifecycle_ctrl_c_during_an_upgrade_stops_at_the_next_statement_and_rolls_back() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    migrations(&t, &["1.5.0"]);
    let before = state(&t);
    // Held after the first statement of 1.5.0's first file.
    let hold = crate::support::Hold::at("upgrade.statement");
    let mut child = hold
        .apply(&mut t.std_cmd())
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    hold.wait_reached(&mut child);
    assert_ne!(state(&t), before, "the first statement has run");
    let (code, stderr) = crate::support::interrupt_held(&hold, child);
    assert_eq!(code, Some(31), "{stderr}");
    assert!(
        stderr.contains(
            "interrupted by Ctrl-C before line 7 of version 1.5.0, `001_function_constraints.cypher`"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("rolled back"), "{stderr}");
    assert_eq!(state(&t), before);
    assert!(!t.backup_dir().join(".journal.json").exists());
    assert_eq!(
        t.count("MATCH (m:IgnSetupOperation) RETURN count(m) AS c"),
        0
    );
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .success();
}

/// `upgrade --dry-run` asks the server about every statement (EXPLAIN) and
/// names the first it refuses, with its file and line; nothing is written.
#[test]
fn lifecycle_dry_run_finds_the_statement_the_server_refuses() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    let cases: [(&str, &str, &str); 3] = [
        (
            "a `:param` line (a cypher-shell command, not Cypher)",
            "CREATE INDEX a IF NOT EXISTS FOR (f:Function) ON (f.a);\n:param limit => 10;\nMATCH (f:Function) SET f.b = 1;\n",
            "`001_bad.cypher`, statement at line 2",
        ),
        (
            "a syntax error in the 400th statement",
            &format!(
                "{}MATCH (f:Function RETURN f;\n",
                "MATCH (f:Function) SET f.seen = true;\n".repeat(399)
            ),
            "`001_bad.cypher`, statement at line 400",
        ),
        (
            "an unknown procedure",
            "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'SET n.x = 1', {});\n",
            "`001_bad.cypher`, statement at line 1",
        ),
    ];
    for (what, text, place) in cases {
        let _ = std::fs::remove_dir_all(t.path("migrations"));
        migrations(&t, &["1.4.0"]);
        write(&t.path("migrations/1.5.0/001_bad.cypher"), text);
        let before = state(&t);
        let folder = snapshot_dir(t.work.path());
        let doc = run_json(&t, &["upgrade", "--to", "1.5.0", "--dry-run"], 20);
        let message = doc["error"]["message"].as_str().unwrap();
        assert_eq!(doc["error"]["kind"], "invalid_migrations", "{what}: {doc}");
        assert!(
            message.contains(&format!("the server refuses version 1.5.0, {place}")),
            "{what}: {message}"
        );
        assert!(message.contains("nothing was changed"), "{what}: {message}");
        assert_eq!(state(&t), before, "{what}");
        assert_eq!(snapshot_dir(t.work.path()), folder, "{what}");
    }
}

#[test]
fn lifecycle_dry_run_writes_nothing_and_drift_is_refused() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    migrations(&t, &["1.5.0"]);
    let before = state(&t);
    let folder = snapshot_dir(t.work.path());
    let out = t
        .cmd()
        .args(["upgrade", "--to", "1.5.0", "--dry-run"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Upgrade plan: 1.4.0 -> 1.5.0"), "{text}");
    assert!(
        text.contains("002_backfill_function_module.cypher"),
        "{text}"
    );
    assert!(text.contains("pre-upgrade backup into"), "{text}");
    assert!(
        text.contains("The server accepts all 8 statements (asked with EXPLAIN)"),
        "{text}"
    );
    let out = t
        .cmd()
        .args(["upgrade", "--to", "1.5.0", "--dry-run", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["plan"]["from"], "1.4.0");
    assert_eq!(doc["plan"]["to"], "1.5.0");
    assert_eq!(doc["plan"]["versions"][0]["migrations"][0]["statements"], 3);
    assert_eq!(state(&t), before);
    assert_eq!(snapshot_dir(t.work.path()), folder);

    // Edit an applied file: refused, naming the file and both checksums.
    let edited = t.path("migrations/1.4.0/002_core_indexes.cypher");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("\n// edited after release\n");
    std::fs::write(&edited, text).unwrap();
    let recorded = t.query(
        "MATCH (m:IgnSetupMigration {name: '002_core_indexes.cypher'}) RETURN m.checksum AS c",
    )[0]["c"]
        .as_str()
        .unwrap()
        .to_owned();
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("002_core_indexes.cypher"))
        .stderr(predicate::str::contains(&recorded))
        .stderr(predicate::str::contains("restore the original file"));
    t.cmd()
        .args(["migrations", "status"])
        .assert()
        .code(20)
        .stdout(predicate::str::contains("drift"));
    assert_eq!(state(&t), before);
    assert!(backup_files(&t).is_empty(), "{:?}", backup_files(&t));

    // A recorded file that is gone is refused too.
    std::fs::remove_file(&edited).unwrap();
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains(
            "is recorded as applied but is not in",
        ));
    assert_eq!(state(&t), before);
}

#[test]
fn lifecycle_install_over_data_without_a_version_needs_a_baseline() {
    let t = TestDb::acquire();
    migrations(&t, &["1.4.0", "1.5.0"]);
    t.exec("CREATE (:Function {name: 'system.tag.readBlocking'}), (:Function {name: 'system.db.runQuery', usage_count: 3})");
    let before = state(&t);
    t.cmd()
        .args(["install", "--yes"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("--baseline X.Y.Z"))
        .stderr(predicate::str::contains("1.4.0, 1.5.0"));
    t.cmd()
        .args(["install", "--yes", "--baseline", "1.3.0"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains(
            "1.3.0 is not in the migrations folder",
        ));
    assert_eq!(state(&t), before);
    t.cmd()
        .args(["install", "--yes", "--baseline", "1.4.0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("upgrade --to 1.5.0"));
    assert_eq!(version(&t).as_deref(), Some("1.4.0"));
    assert_eq!(
        t.count(
            "MATCH (m:IgnSetupMigration {version: '1.4.0', baseline: true}) RETURN count(m) AS c"
        ),
        2
    );
    // The data itself was not touched.
    assert_eq!(t.count("MATCH (f:Function) RETURN count(f) AS c"), 2);
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .success();
    assert_eq!(
        t.count("MATCH (f:Function {name: 'system.tag.readBlocking'}) WHERE f.module = 'tag' RETURN count(f) AS c"),
        1
    );
}

#[test]
fn lifecycle_install_bundle_on_an_empty_database() {
    let t = TestDb::acquire();
    // A release 1.5.0 bundle whose initial data is at 1.4.0.
    install_sample_at_1_4(&t);
    std::fs::remove_file(t.backup_dir().join("initial_backup.json")).unwrap();
    t.cmd()
        .args(["backup", "create", "--reason", "data at 1.4.0"])
        .assert()
        .success();
    let functions = t.count("MATCH (f:Function) RETURN count(f) AS c");
    let all = repo_root().join("migrations");
    t.cmd()
        .args([
            "package",
            "--version",
            "1.5.0",
            "--out",
            "release",
            "--migrations",
        ])
        .arg(&all)
        .assert()
        .success();
    let zip = t.path("release/ign-scripts-1.5.0.zip");

    // A fresh empty database and a fresh folder.
    t.wipe();
    std::fs::remove_dir_all(t.path("neo4j")).unwrap();
    std::fs::remove_dir_all(t.path("migrations")).unwrap();
    t.cmd()
        .args(["install", "--yes", "--bundle"])
        .arg(&zip)
        .assert()
        .success()
        .stdout(predicate::str::contains("Installed version 1.5.0"));
    assert_eq!(version(&t).as_deref(), Some("1.5.0"));
    assert_eq!(
        t.count("MATCH (f:Function) RETURN count(f) AS c"),
        functions
    );
    assert_eq!(
        t.count("MATCH (f:Function) WHERE f.usage_count IS NULL RETURN count(f) AS c"),
        0
    );
    assert_eq!(
        t.count("MATCH (m:IgnSetupMigration) RETURN count(m) AS c"),
        4
    );
    // The unpacked bundle is gone; nothing else was left beside the backups.
    let leftovers: Vec<_> = std::fs::read_dir(t.path("neo4j"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "fullbackup")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Installing it again changes nothing.
    let after = state(&t);
    t.cmd()
        .args(["install", "--yes", "--bundle"])
        .arg(&zip)
        .assert()
        .success()
        .stdout(predicate::str::contains("Already installed"));
    assert_eq!(state(&t), after);
}

#[test]
fn lifecycle_an_upgrade_killed_at_ten_points_ends_before_or_after_never_between() {
    let t = TestDb::acquire();
    let reset = |t: &TestDb| {
        let _ = std::fs::remove_dir_all(t.path("migrations/1.5.0"));
        t.wipe();
        install_sample_at_1_4(t);
        migrations(t, &["1.5.0"]);
    };
    // The state without the clock: when a version or migration was recorded.
    let timeless = |t: &TestDb| {
        let (content, schema, version) = state(t);
        let content: Vec<String> = content.iter().map(|c| regex_lite_strip(c)).collect();
        (content, schema, version)
    };
    reset(&t);
    let before = timeless(&t);
    t.cmd()
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .assert()
        .success();
    let after = timeless(&t);
    assert_ne!(before, after);
    reset(&t);
    let journal = t.backup_dir().join(".journal.json");
    let mut seen = Vec::new();
    for delay_ms in [50u64, 150, 250, 400, 550, 700, 900, 1100, 1400, 1800] {
        // Each applied file is followed by a pause, so the destructive phase
        // lasts long enough for kills to land in it however fast the machine.
        let mut child = t
            .std_cmd()
            .args(["upgrade", "--to", "1.5.0", "--yes"])
            .env("IGN_SETUP_PAUSE", "upgrade.migration:400")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let phase = std::fs::read_to_string(&journal)
            .ok()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
            .map(|j| j["phase"].as_str().unwrap_or("?").to_owned())
            .unwrap_or_else(|| "none".into());
        seen.push(format!("{delay_ms} ms: {phase}"));
        // Any database command first finishes the recovery.
        let _ = t.cmd().args(["migrations", "status"]).output().unwrap();
        assert!(!journal.exists(), "{seen:?}");
        let now = timeless(&t);
        if now == after {
            reset(&t);
        } else {
            assert_eq!(
                now, before,
                "killed after {delay_ms} ms ({phase}): neither before nor after"
            );
        }
    }
    assert!(
        seen.iter().any(|p| p.ends_with("destructive")),
        "no kill landed while migrations ran: {seen:?}"
    );
}

/// Blanks the values of the clock-based properties in a content line.
fn regex_lite_strip(line: &str) -> String {
    let mut out = line.to_owned();
    for key in ["\"applied_at\":", "\"installed_at\":", "\"duration_ms\":"] {
        let mut from = 0;
        while let Some(pos) = out[from..].find(key) {
            let start = from + pos + key.len();
            let end = out[start..]
                .find([',', '}'])
                .map(|e| start + e)
                .unwrap_or(out.len());
            out.replace_range(start..end, "_");
            from = start + 1;
        }
    }
    out
}

#[test]
fn lifecycle_an_upgrade_beside_a_restore_one_runs_the_other_is_locked_out() {
    let t = TestDb::acquire();
    install_sample_at_1_4(&t);
    t.cmd().args(["backup", "create"]).assert().success();
    let file = backup_files(&t).pop().unwrap();
    migrations(&t, &["1.5.0"]);
    // The upgrade holds the lock for a while before its first change.
    let upgrade = t
        .std_cmd()
        .env("IGN_SETUP_PAUSE", "upgrade.locked:4000")
        .args(["upgrade", "--to", "1.5.0", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lock_file = t.backup_dir().join(".ign-setup.lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&lock_file)
        .map(|s| s.contains("upgrade"))
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "the upgrade never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A locked restore reports the same kind as a locked upgrade.
    let doc = run_json(&t, &["backup", "restore", "--yes", "--file", &file], 30);
    assert_eq!(doc["error"]["kind"], "locked", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("locked by"),
        "{doc}"
    );
    let out = upgrade.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(version(&t).as_deref(), Some("1.5.0"));
}

#[test]
fn lifecycle_a_server_stopped_mid_upgrade_is_recovered_once_it_is_back() {
    use crate::support::PrivateServer;
    let server = PrivateServer::start();
    let work = tempfile::tempdir().unwrap();
    let backup_dir = work.path().join("neo4j/fullbackup");
    std::fs::create_dir_all(&backup_dir).unwrap();
    std::fs::copy(
        repo_root().join("tests/data/legacy-format-sample.json"),
        backup_dir.join("initial_backup.json"),
    )
    .unwrap();
    let mig = work.path().join("migrations");
    for v in ["1.4.0"] {
        let to = mig.join(v);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(repo_root().join("migrations").join(v))
            .unwrap()
            .flatten()
        {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    server
        .cmd(work.path())
        .args(["install", "--yes", "--baseline", "1.4.0"])
        .assert()
        .success();
    let to = mig.join("1.5.0");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(repo_root().join("migrations/1.5.0"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    let db = server.connect();
    let before = crate::support::db_content(&db);
    drop(db);

    let child = server
        .std_cmd(work.path())
        .env("IGN_SETUP_PAUSE", "upgrade.migration:3000")
        .args([
            "upgrade",
            "--to",
            "1.5.0",
            "--yes",
            "--connect-timeout",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the server while the upgrade waits after its first migration file.
    let journal = backup_dir.join(".journal.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&journal)
        .map(|j| j.contains("destructive"))
        .unwrap_or(false)
    {
        assert!(
            Instant::now() < deadline,
            "the upgrade never started its migrations"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1000));
    server.stop();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ign-setup recover"),
        "the error says what to do: {stderr}"
    );
    assert!(journal.exists(), "the journal stays for the recovery");
    server.restart();
    server
        .cmd(work.path())
        .arg("recover")
        .assert()
        .success()
        .stdout(predicate::str::contains("rolled back"));
    let db = server.connect();
    assert_eq!(
        crate::support::db_content(&db),
        before,
        "back at 1.4.0, as before"
    );
}
