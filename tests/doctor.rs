//! `ign-setup doctor` and the connection errors every command shares.

use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::support::{bare_cmd, run_json, TestDb};

#[test]
fn doctor_names_the_server_and_passes() {
    let t = TestDb::acquire();
    std::fs::set_permissions(
        t.backup_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    let out = t
        .cmd()
        .args(["doctor", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["ok"], true);
    assert!(!doc["server"]["agent"].as_str().unwrap().is_empty());
    assert!(!doc["server"]["version"].as_str().unwrap().is_empty());
    t.cmd()
        .arg("doctor")
        .assert()
        .success()
        .stdout(predicate::str::contains("Server:"));
}

#[test]
fn a_missing_or_loose_backup_folder_is_a_warning_and_an_unwritable_one_fails() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestDb::acquire();
    // Missing: the first write creates it, so doctor passes and says so.
    let doc = run_json(&t, &["doctor", "--backup-dir", "nowhere"], 0);
    assert_eq!(doc["backup_dir"]["exists"], false);
    assert!(doc["backup_dir"]["warning"]
        .as_str()
        .unwrap()
        .contains("creates it with mode 0750"));
    assert!(!t.path("nowhere").exists(), "doctor must not create it");
    // 0755, as a fresh clone has it: a warning naming the fix, exit 0.
    std::fs::set_permissions(t.backup_dir(), PermissionsExt::from_mode(0o755)).unwrap();
    t.cmd()
        .arg("doctor")
        .assert()
        .success()
        .stdout(predicate::str::contains("looser than 0750"))
        .stdout(predicate::str::contains("chmod 750"))
        .stdout(predicate::str::contains("with a warning"));
    let mode = std::fs::metadata(t.backup_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o755, "doctor only reports; it changes nothing");
    // A file in place of the folder is a failure that names it.
    let file = t.path("a-file");
    std::fs::write(&file, b"x").unwrap();
    t.cmd()
        .args(["doctor", "--backup-dir", "a-file"])
        .assert()
        .code(5)
        .stdout(predicate::str::contains("a-file is not a folder"));
}

#[test]
fn unreachable_server_fails_within_ten_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    bare_cmd(dir.path())
        .args(["doctor", "--uri", "bolt://127.0.0.1:1", "--password", "x"])
        .assert()
        .code(10)
        .stderr(predicate::str::contains(
            "cannot reach the Neo4j server at 127.0.0.1:1",
        ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // The wait is never silent: each retry is said (on a terminal, and on a
    // pipe with -v).
    bare_cmd(dir.path())
        .args([
            "-v",
            "doctor",
            "--uri",
            "bolt://127.0.0.1:1",
            "--password",
            "x",
        ])
        .assert()
        .code(10)
        .stderr(predicate::str::contains(
            "Connecting to 127.0.0.1:1: no answer yet; trying again in",
        ));
}

#[test]
fn wrong_password_says_authentication_failed_and_never_shows_it() {
    let t = TestDb::acquire();
    let secret = "Wr0ng-Pa55word-XYZZY";
    for args in [vec!["doctor"], vec!["doctor", "--json"]] {
        let out = t
            .cmd()
            .env("NEO4J_PASSWORD", secret)
            .args(&args)
            .assert()
            .code(11)
            .get_output()
            .clone();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("authentication failed"), "{all}");
        assert!(!all.contains(secret), "password leaked: {all}");
    }
    let out = t
        .cmd()
        .args(["doctor", "--password", secret])
        .assert()
        .code(11)
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(secret), "password leaked: {all}");
    // Three failed logins in a row: Neo4j locks the account for a while, and
    // says so even to the right password.
    t.cmd()
        .arg("doctor")
        .assert()
        .code(11)
        .stderr(predicate::str::contains("too many failed attempts"));
    crate::neo4j::wait_until_login_works(&t);
}

#[test]
fn unknown_database_and_tls_failures_have_their_own_codes() {
    let t = TestDb::acquire();
    t.cmd()
        .args(["doctor", "--database", "no-such-db"])
        .assert()
        .code(12)
        .stderr(predicate::str::contains("does not exist"));
    let tls_uri = t.server.uri.replacen("bolt://", "bolt+s://", 1);
    if tls_uri != t.server.uri {
        t.cmd()
            .args(["doctor", "--uri", &tls_uri])
            .assert()
            .code(13)
            .stderr(predicate::str::contains("TLS"));
    }
}

#[test]
fn routing_scheme_reaches_the_server() {
    let t = TestDb::acquire();
    let routed = t.server.uri.replacen("bolt://", "neo4j://", 1);
    std::fs::set_permissions(
        t.backup_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    t.cmd()
        .args(["doctor", "--uri", &routed])
        .assert()
        .success();
}

#[test]
fn bad_flags_and_config_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    bare_cmd(dir.path())
        .args(["doctor", "--uri", "http://x"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("unsupported scheme"));
    bare_cmd(dir.path()).args(["frobnicate"]).assert().code(2);
    std::fs::write(
        dir.path().join("ign-setup.toml"),
        "[neo4j]\npassword = \"p\"\n",
    )
    .unwrap();
    bare_cmd(dir.path())
        .args(["doctor"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("ign-setup.toml"));
    bare_cmd(dir.path())
        .args(["doctor", "--config", "missing.toml"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("missing.toml"));
}

#[test]
fn help_reads_well() {
    let dir = tempfile::tempdir().unwrap();
    bare_cmd(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("doctor"));
    bare_cmd(dir.path())
        .args(["doctor", "--help"])
        .assert()
        .success();
}
