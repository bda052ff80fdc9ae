//! What a real Neo4j server does that a stand-in did not: statements that
//! keep the server busy for longer than the connect timeout, server-side
//! query timeouts, migrations that batch with `CALL { … } IN TRANSACTIONS`
//! or carry a `CYPHER` prefix, error classification under `neo4j://`
//! routing (without tripping the server's login rate limit), count-store
//! counts, and what `doctor` reports.

use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::support::{runtime, TestDb, TestServer};

/// A driver connection of the test's own, outside ign-setup.
fn raw_graph(server: &TestServer) -> neo4rs::Graph {
    let config = neo4rs::ConfigBuilder::default()
        .uri(&server.uri)
        .user(server.user.as_str())
        .password(server.password.as_str())
        .db(server.database.as_str())
        .build()
        .unwrap();
    neo4rs::Graph::connect(config).unwrap()
}

/// Holds the write lock of every `:Blocker` node for `hold`, in an open
/// transaction of another client, while `run` goes on: any statement of
/// ign-setup that writes those nodes waits for the server that long.
fn while_blocked<T>(t: &TestDb, hold: Duration, run: impl FnOnce() -> T) -> T {
    let graph = raw_graph(t.server);
    let mut txn = runtime().block_on(graph.start_txn()).unwrap();
    runtime()
        .block_on(txn.run(neo4rs::query("MATCH (n:Blocker) SET n.held = true")))
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(hold);
        runtime().block_on(txn.rollback()).unwrap();
    });
    let out = run();
    release.join().unwrap();
    out
}

/// Version 1.0.0 recorded over a database holding one `:Blocker` node, and
/// release 1.1.0 whose only migration is `statement`.
fn blocked_upgrade_setup(t: &TestDb, statement: &str) {
    t.exec("CREATE (:Blocker {name: 'b'})");
    let mig = t.path("migrations");
    std::fs::create_dir_all(mig.join("1.0.0")).unwrap();
    std::fs::write(mig.join("1.0.0/001_noop.cypher"), "RETURN 1;\n").unwrap();
    t.cmd()
        .args(["install", "--yes", "--baseline", "1.0.0"])
        .assert()
        .success();
    std::fs::create_dir_all(mig.join("1.1.0")).unwrap();
    std::fs::write(mig.join("1.1.0/001_touch.cypher"), statement).unwrap();
}

#[test]
fn a_statement_busy_longer_than_the_connect_timeout_succeeds() {
    let t = TestDb::acquire();
    blocked_upgrade_setup(&t, "MATCH (n:Blocker) SET n.touched = true;\n");
    // Default settings: a connect timeout of 10 s, no query timeout. The
    // server answers the migration statement only after 13 s.
    let started = Instant::now();
    let out = while_blocked(&t, Duration::from_secs(13), || {
        t.cmd()
            .args(["upgrade", "--to", "1.1.0", "--yes"])
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "upgrade failed after {:?}:\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() >= Duration::from_secs(13));
    assert_eq!(
        t.count("MATCH (n:Blocker) WHERE n.touched RETURN count(n) AS c"),
        1
    );
}

#[test]
fn the_query_timeout_is_enforced_by_the_server_and_rolls_back() {
    let t = TestDb::acquire();
    blocked_upgrade_setup(
        &t,
        "MATCH (n:Blocker) CALL (n) { SET n.touched = true } IN TRANSACTIONS OF 10 ROWS;\n",
    );
    let out = while_blocked(&t, Duration::from_secs(8), || {
        t.cmd()
            .args(["upgrade", "--to", "1.1.0", "--yes", "--query-timeout", "2"])
            .output()
            .unwrap()
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(31), "{stderr}");
    assert!(stderr.contains("transaction timeout"), "{stderr}");
    assert!(stderr.contains("--query-timeout"), "{stderr}");
    assert_eq!(
        t.count("MATCH (n:Blocker) WHERE n.touched RETURN count(n) AS c"),
        0
    );
    // A timeout of 0 means nothing and is refused.
    t.cmd()
        .args(["doctor", "--query-timeout", "0"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("invalid --query-timeout `0`"));
}

#[test]
fn batched_and_version_prefixed_migrations_run() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 25) AS i CREATE (:Function {name: 'system.f' + i})");
    let mig = t.path("migrations/1.0.0");
    std::fs::create_dir_all(&mig).unwrap();
    std::fs::write(
        mig.join("001_batched.cypher"),
        "// a backfill in batches: only accepted in an auto-commit transaction\n\
         MATCH (f:Function) CALL (f) { SET f.batched = true } IN TRANSACTIONS OF 10 ROWS;\n\
         // a schema statement with a version prefix, then data: two transactions\n\
         CYPHER 5 CREATE INDEX fn_batched IF NOT EXISTS FOR (f:Function) ON (f.batched);\n\
         MATCH (f:Function) SET f.after_index = true;\n",
    )
    .unwrap();
    // The data predates any version record: record 0.9.0 as its baseline.
    std::fs::create_dir_all(t.path("migrations/0.9.0")).unwrap();
    std::fs::write(t.path("migrations/0.9.0/001_noop.cypher"), "RETURN 1;\n").unwrap();
    t.cmd()
        .args(["install", "--yes", "--baseline", "0.9.0"])
        .assert()
        .success();
    t.cmd()
        .args(["upgrade", "--to", "1.0.0", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("auto-commit"));
    t.cmd()
        .args(["upgrade", "--to", "1.0.0", "--yes"])
        .assert()
        .success();
    assert_eq!(
        t.count("MATCH (f:Function) WHERE f.batched AND f.after_index RETURN count(f) AS c"),
        25
    );
    assert_eq!(
        t.count("SHOW INDEXES YIELD name WHERE name = 'fn_batched' RETURN count(*) AS c"),
        1
    );
}

/// Waits until the right password logs in again (Neo4j locks an account for
/// `dbms.security.auth_lock_time`, 5 s by default, after
/// `auth_max_failed_attempts` failures, and a login tried while it is locked
/// counts as one more), so a test of wrong passwords leaves the server usable
/// for the next one.
pub fn wait_until_login_works(t: &TestDb) -> Duration {
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(6));
        let ok = t.cmd().arg("doctor").output().unwrap();
        if ok.status.code() != Some(11) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the account stayed locked for a minute"
        );
    }
}

#[test]
fn routing_errors_keep_their_meaning_and_never_lock_the_account() {
    let t = TestDb::acquire();
    let routed = t.server.uri.replacen("bolt://", "neo4j://", 1);
    assert_ne!(routed, t.server.uri, "the test server speaks bolt://");

    // A wrong password through the router: exit 11 at once, one login attempt.
    // Neo4j locks the account after 3 failed attempts (its default), so two
    // runs must leave the right password working immediately.
    for _ in 0..2 {
        let started = Instant::now();
        t.cmd()
            .env("NEO4J_PASSWORD", "not-the-password")
            .args(["doctor", "--uri", &routed])
            .assert()
            .code(11)
            .stderr(predicate::str::contains("authentication failed"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }
    let out = t.cmd().args(["doctor", "--uri", &routed]).output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(11),
        "the right password was refused after two wrong ones:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An unknown database through the router: exit 12, not "unreachable".
    let started = Instant::now();
    t.cmd()
        .args(["doctor", "--uri", &routed, "--database", "no-such-db"])
        .assert()
        .code(12)
        .stderr(predicate::str::contains("does not exist"));
    assert!(started.elapsed() < Duration::from_secs(5));

    // TLS to a server without it: exit 13.
    let tls = t.server.uri.replacen("bolt://", "neo4j+s://", 1);
    t.cmd()
        .args(["doctor", "--uri", &tls])
        .assert()
        .code(13)
        .stderr(predicate::str::contains("TLS"));
}

#[test]
fn counts_come_from_the_count_store() {
    let t = TestDb::acquire();
    t.exec(
        "CREATE (a:Function:Template {name: 'a'}), (b:Function {name: 'b'}), (c:`Odd ``Label`), \
         (a)-[:USES]->(b), (b)-[:USES]->(c), (c)-[:`CO OCCURS`]->(a)",
    );
    // A lease node of the tool's own must not count.
    t.exec("CREATE (:IgnSetupLock {id: 'other', owner: 'x'})");
    let log = t.path("queries.jsonl");
    let out = t
        .cmd()
        .env("IGN_SETUP_QUERY_LOG", &log)
        .args(["backup", "status", "--json"])
        .output()
        .unwrap();
    t.exec("MATCH (n:IgnSetupLock {id: 'other'}) DELETE n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let now = &v["current"];
    assert_eq!(now["node_count"], 3, "{v}");
    assert_eq!(now["relationship_count"], 3, "{v}");
    assert_eq!(now["label_counts"]["Function"], 2, "{v}");
    assert_eq!(now["label_counts"]["Template"], 1, "{v}");
    assert_eq!(now["label_counts"]["Odd `Label"], 1, "{v}");
    assert!(now["label_counts"].get("IgnSetupLock").is_none(), "{v}");
    assert_eq!(now["relationship_type_counts"]["USES"], 2, "{v}");
    assert_eq!(now["relationship_type_counts"]["CO OCCURS"], 1, "{v}");

    // Every counting statement has a shape Neo4j answers from its count store.
    let count_store = [
        "MATCH (n) RETURN count(n) AS c",
        "MATCH ()-[r]->() RETURN count(r) AS c",
    ];
    let text = std::fs::read_to_string(&log).unwrap();
    let mut counting = 0;
    for line in text.lines() {
        let q: serde_json::Value = serde_json::from_str(line).unwrap();
        let q = q["query"].as_str().unwrap();
        if !q.contains("count(") {
            continue;
        }
        counting += 1;
        let one_label = q.starts_with("MATCH (n:`") && q.ends_with("`) RETURN count(n) AS c");
        let one_type = q.starts_with("MATCH ()-[r:`") && q.ends_with("`]->() RETURN count(r) AS c");
        assert!(
            count_store.contains(&q) || one_label || one_type,
            "not a count-store query: {q}"
        );
    }
    assert!(counting >= 4, "{text}");
}

#[test]
fn doctor_reports_the_neo4j_kernel_and_edition() {
    let t = TestDb::acquire();
    std::fs::set_permissions(
        t.backup_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    let out = t.cmd().args(["doctor", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("Neo4j Kernel"), "{text}");
    if t.server.data_dir.is_some() {
        let expected =
            std::process::Command::new(crate::support::repo_root().join("scripts/dev-db"))
                .arg("version")
                .stdout(Stdio::piped())
                .output()
                .unwrap();
        let expected = String::from_utf8(expected.stdout).unwrap();
        assert!(text.contains(expected.trim()), "{text} lacks {expected}");
        assert!(text.contains("community"), "{text}");
    }
}
