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
