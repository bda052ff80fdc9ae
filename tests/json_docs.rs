//! Snapshots (insta) of the `--json` document of every command, run against
//! the real database in the order an operator would: install, back up, look,
//! restore, upgrade, package, and the rest. Values that differ between runs,
//! days and servers (times, temporary paths, digests, sizes, durations,
//! ports, hosts, process ids, server versions) are filtered; the keys, their
//! nesting and every count are checked. Review a change with
//! `INSTA_UPDATE=always cargo test --test tests json_documents` and `git diff`.

use crate::support::{repo_root, timestamped_backups, TestDb};

/// Copies the repository's release folders `versions` into the test's
/// migrations folder.
fn migrations(t: &TestDb, versions: &[&str]) {
    for v in versions {
        let to = t.path("migrations").join(v);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(repo_root().join("migrations").join(v))
            .unwrap()
            .flatten()
        {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn json_documents_of_every_command() {
    let t = TestDb::acquire();
    let systemd = tempfile::tempdir().unwrap();
    let doc = |args: &[&str], code: i32| -> String {
        let out = t
            .cmd()
            .env("IGN_SETUP_SYSTEMD_DIR", systemd.path())
            .args(args)
            .arg("--json")
            .assert()
            .code(code)
            .get_output()
            .clone();
        let text = String::from_utf8(out.stdout).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {text}"));
        // `ok`: the command did what it was asked; exit 4 is "work
        // pending" (`backup create --auto` made none, `migrations status`
        // found migrations to run), not a failure.
        let ok = code == 0 || code == 4;
        assert_eq!(value["ok"], ok, "{args:?}: {text}");
        text
    };
    let mut docs: Vec<(&str, String)> = Vec::new();

    migrations(&t, &["1.4.0"]);
    docs.push(("install", doc(&["install", "--yes"], 0)));
    docs.push(("install_again", doc(&["install", "--yes"], 0)));
    t.exec("UNWIND range(1, 1245) AS i CREATE (:Function {name: 'system.tag.f' + toString(i)})");
    t.exec("UNWIND range(1, 40) AS i CREATE (:Template {i: i})");
    t.exec("MATCH (f:Function {name: 'system.tag.f1'}), (t:Template) CREATE (t)-[:USES]->(f)");
    docs.push((
        "backup_create",
        doc(&["backup", "create", "--reason", "Nightly"], 0),
    ));
    let name = timestamped_backups(&t.backup_dir()).pop().unwrap();
    docs.push((
        "backup_create_auto",
        doc(&["backup", "create", "--auto"], 4),
    ));
    docs.push(("backup_list", doc(&["backup", "list"], 0)));
    docs.push(("backup_info", doc(&["backup", "info", &name], 0)));
    docs.push(("backup_verify", doc(&["backup", "verify", &name], 0)));
    t.exec("UNWIND range(1, 60) AS i CREATE (:Template {i: 100 + i})");
    docs.push(("backup_status", doc(&["backup", "status"], 0)));
    docs.push(("backup_init", doc(&["backup", "init", "--yes"], 0)));
    docs.push((
        "backup_prune_dry_run",
        doc(&["backup", "prune", "--dry-run", "--keep-last", "1"], 0),
    ));
    docs.push((
        "backup_delete_dry_run",
        doc(&["backup", "delete", "--dry-run", &name], 0),
    ));
    docs.push((
        "backup_restore",
        doc(&["backup", "restore", "--yes", "--file", &name], 0),
    ));
    docs.push(("recover", doc(&["recover"], 0)));
    migrations(&t, &["1.5.0"]);
    docs.push(("migrations_status", doc(&["migrations", "status"], 4)));
    docs.push((
        "upgrade_dry_run",
        doc(&["upgrade", "--to", "1.5.0", "--dry-run"], 0),
    ));
    docs.push(("upgrade", doc(&["upgrade", "--to", "1.5.0", "--yes"], 0)));
    docs.push(("upgrade_again", doc(&["upgrade", "--to", "1.5.0"], 0)));
    docs.push(("package", doc(&["package", "--release", "1.5.0"], 0)));
    docs.push((
        "package_verify",
        doc(&["package", "verify", "release/ign-scripts-1.5.0.zip"], 0),
    ));
    std::fs::set_permissions(
        t.backup_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    docs.push(("doctor", doc(&["doctor"], 0)));
    docs.push(("config_show", doc(&["config", "show"], 0)));
    docs.push((
        "schedule_install_cron",
        doc(
            &["schedule", "install", "--cron", "--every", "30 2 * * *"],
            0,
        ),
    ));
    docs.push((
        "schedule_install",
        doc(&["schedule", "install", "--user-units"], 0),
    ));
    docs.push((
        "schedule_status",
        doc(&["schedule", "status", "--user-units"], 0),
    ));
    docs.push((
        "schedule_remove",
        doc(&["schedule", "remove", "--user-units"], 0),
    ));
    docs.push(("completions", doc(&["completions", "bash"], 0)));
    docs.push(("man", doc(&["man"], 0)));
    docs.push((
        "backup_delete",
        doc(&["backup", "delete", "--yes", &name], 0),
    ));
    docs.push((
        "migrations_new",
        doc(&["migrations", "new", "add_usage", "--version", "1.6.0"], 0),
    ));

    let bin = regex_escape(env!("CARGO_BIN_EXE_ign-setup"));
    let work = regex_escape(&t.work.path().display().to_string());
    let systemd_dir = regex_escape(&systemd.path().display().to_string());
    insta::with_settings!({
        filters => vec![
            (bin.as_str(), "[BIN]"),
            (work.as_str(), "[WORK]"),
            (systemd_dir.as_str(), "[SYSTEMD]"),
            (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
            (r"[0-9a-f]{64}", "[SHA256]"),
            (r"ign_scripts_db_backup_\d{8}_\d{6}(_\d+)?\.json", "[BACKUP]"),
            (r"(pre_upgrade|safety)_backup_\d{8}_\d{6}(_\d+)?\.json", "[${1}_BACKUP]"),
            (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( ?(Z|[+-]\d{2}:\d{2}))?", "[TIME]"),
            (r#""timestamp": "\d{8}_\d{6}""#, r#""timestamp": "[STAMP]""#),
            // The names Neo4j gives the two lookup indexes differ by release.
            (r"index_[0-9a-f]{8}", "[LOOKUP INDEX]"),
            (r#""(script|page)": ".*""#, r#""$1": "[TEXT]""#),
            (r#""(size|duration_ms|pid|elapsed_ms|duration_seconds|seconds)": [0-9.e+-]+"#, r#""$1": [N]"#),
            (r#""(host|tool_version|version_commit)": "[^"]*""#, r#""$1": "[TEXT]""#),
            (r"127\.0\.0\.1:\d+", "[ADDR]"),
            (r#""agent": "Neo4j/[^"]*""#, r#""agent": "Neo4j/[VERSION]""#),
            (r#""version": "(5\.26\.\d+|20\d\d\.\d+\.\d+)""#, r#""version": "[SERVER VERSION]""#),
            (r"Neo4j Kernel [0-9][0-9.]*", "Neo4j Kernel [VERSION]"),
        ],
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        for (name, text) in &docs {
            insta::assert_snapshot!(format!("json_{name}"), text);
        }
    });
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}
