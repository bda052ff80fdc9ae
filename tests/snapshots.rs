//! Snapshots (insta) of what people and scripts read: `--help` and `--json`
//! documents. Temporary paths are filtered out; review a change with
//! `cargo insta review` or `INSTA_UPDATE=always cargo test --test tests snapshots`.

use crate::support::bare_cmd;

fn run(dir: &std::path::Path, args: &[&str], code: i32) -> String {
    let out = bare_cmd(dir)
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .clone();
    String::from_utf8(out.stdout).unwrap()
}

fn filtered(f: impl FnOnce()) {
    insta::with_settings!({
        filters => vec![
            (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
            (r"[0-9a-f]{64}", "[SHA256]"),
            (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]"),
        ],
        prepend_module_to_snapshot => false,
    }, {
        f()
    });
}

#[test]
fn snapshots_help() {
    let dir = tempfile::tempdir().unwrap();
    filtered(|| {
        insta::assert_snapshot!("help", run(dir.path(), &["--help"], 0));
        insta::assert_snapshot!("upgrade_help", run(dir.path(), &["upgrade", "--help"], 0));
        insta::assert_snapshot!(
            "backup_restore_help",
            run(dir.path(), &["backup", "restore", "--help"], 0)
        );
    });
}

#[test]
fn snapshots_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("neo4j/fullbackup")).unwrap();
    std::fs::write(
        dir.path().join("neo4j/fullbackup/broken.json"),
        "{ not json",
    )
    .unwrap();
    filtered(|| {
        insta::assert_snapshot!(
            "backup_verify_missing_json",
            run(
                dir.path(),
                &["backup", "verify", "missing.json", "--json"],
                20
            )
        );
        insta::assert_snapshot!(
            "backup_verify_damaged_json",
            run(
                dir.path(),
                &["backup", "verify", "broken.json", "--json"],
                20
            )
        );
    });
}

/// What people read from the commands they run most, on a real database:
/// `doctor`, `backup list`, `backup status`, `migrations status`, `package`
/// and `package verify`. Times, ages, sizes, addresses, versions of the
/// server and digests are filtered (and the runs of spaces of the table,
/// whose widths follow them), so the snapshots hold on every server and every
/// day while the words, counts and layout of lines are checked.
#[test]
fn snapshots_human_output() {
    use crate::support::{repo_root, TestDb};
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 1245) AS i CREATE (:Function {name: 'system.tag.f' + toString(i)})");
    t.exec("UNWIND range(1, 40) AS i CREATE (:Template {i: i})");
    t.exec(
        "MATCH (f:Function {name: 'system.tag.f1'}), (t:Template {i: 1}) CREATE (t)-[:USES]->(f)",
    );
    let m = t.path("migrations/1.4.0");
    std::fs::create_dir_all(&m).unwrap();
    for f in ["001_core_constraints.cypher", "002_core_indexes.cypher"] {
        std::fs::copy(repo_root().join("migrations/1.4.0").join(f), m.join(f)).unwrap();
    }
    t.cmd()
        .args(["install", "--yes", "--baseline", "1.4.0"])
        .assert()
        .success();
    t.cmd()
        .args(["backup", "create", "--reason", "Nightly"])
        .assert()
        .success();
    std::fs::set_permissions(
        t.backup_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    t.exec("UNWIND range(1, 60) AS i CREATE (:Template {i: 100 + i})");
    let human = |args: &[&str], code: i32| {
        let out = t.cmd().args(args).assert().code(code).get_output().clone();
        String::from_utf8(out.stdout).unwrap()
    };
    // Everything that differs between runs, days, machines and servers.
    let varying = vec![
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
        (r"[0-9a-f]{64}", "[SHA256]"),
        (
            r"ign_scripts_db_backup_\d{8}_\d{6}(_\d+)?\.json",
            "[BACKUP]",
        ),
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "[TIME]",
        ),
        (
            r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2}",
            "[LOCAL TIME]",
        ),
        (r"just now|\d+ (minute|hour|day)s?( ago)?", "[AGE]"),
        (r"\d+(\.\d+)? (B|KiB|MiB|GiB)\b", "[SIZE]"),
        (r"\d+ ms\b", "[MS]"),
        (r"127\.0\.0\.1:\d+", "[ADDR]"),
        (r"Neo4j Kernel [0-9][0-9.]*", "Neo4j Kernel [VERSION]"),
    ];
    // A table's columns are as wide as their widest (filtered) cell: runs of
    // spaces are folded there, and only there, so other alignment is checked.
    let mut folded = varying.clone();
    folded.push((r" {2,}", "  "));
    insta::with_settings!({ filters => varying, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("human_doctor", human(&["doctor"], 0));
        insta::assert_snapshot!("human_backup_status", human(&["backup", "status"], 0));
        insta::assert_snapshot!("human_migrations_status", human(&["migrations", "status"], 0));
        insta::assert_snapshot!("human_package", human(&["package", "--release", "1.4.0"], 0));
        insta::assert_snapshot!(
            "human_package_verify",
            human(&["package", "verify", "release/ign-scripts-1.4.0.zip"], 0)
        );
    });
    insta::with_settings!({ filters => folded, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("human_backup_list", human(&["backup", "list"], 0));
    });
}
