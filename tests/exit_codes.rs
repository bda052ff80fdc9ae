//! One test per exit code of the README's "Exit codes" table (`exit::TABLE`
//! is its source): each provokes its code through the real binary on the
//! real database, the way the table says it happens, and checks the `--json`
//! document that goes with it (`ok: false` and `error.kind` for a failure).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::operator::Tmux;
use crate::support::{db_content, run_json, timestamped_backups, Hold, TestDb};

/// The codes the tests below provoke, one test each; kept equal to the table.
const TESTED: &[i32] = &[
    0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 20, 30, 31, 32, 40, 130,
];

#[test]
fn exit_every_code_of_the_table_has_a_test_here() {
    let table: Vec<i32> = ign_setup::exit::TABLE.iter().map(|(c, _)| *c).collect();
    assert_eq!(table, TESTED, "add a test for each new exit code");
}

/// The error document of a failed run: `ok: false`, the kind, the code.
fn assert_error(doc: &Value, code: i32, kind: &str) {
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["error"]["kind"], kind, "{doc}");
    assert_eq!(doc["error"]["exit_code"], code, "{doc}");
    assert!(
        !doc["error"]["message"].as_str().unwrap_or("").is_empty(),
        "{doc}"
    );
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON on stdout ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Runs `cmd` (already given its arguments and `--json`), checks the exit
/// code and the error document, and returns the document.
fn fails_with(cmd: &mut assert_cmd::Command, code: i32, kind: &str) -> Value {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{out:?}");
    let doc = json_of(&out);
    assert_error(&doc, code, kind);
    doc
}

/// A backup of 3,000 nodes (more than a fetch of rows), then a database of
/// 10 of them: what a restore replaces and what a rollback brings back.
fn backup_then_change(t: &TestDb) -> (String, Vec<String>) {
    t.exec("UNWIND range(1, 3000) AS i CREATE (:Function {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.exec("MATCH (f:Function) WHERE f.i > 10 DELETE f");
    (file, db_content(&t.db))
}

/// `ign-setup ARGS --json` spawned with its stderr read line by line on a
/// thread (the lines arrive on the receiver), stdout kept for the end.
fn spawn_json(mut cmd: Command, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a stderr line containing `text` (the program's own output is
/// the synchronisation; the limit only stops a broken test from hanging).
fn wait_line(rx: &mpsc::Receiver<String>, text: &str) {
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains(text) => return,
            Ok(_) => {}
            Err(e) => panic!("never saw {text:?} on stderr ({e})"),
        }
    }
}

fn interrupt(child: &Child) {
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

#[test]
fn exit_0_success() {
    let t = TestDb::acquire();
    let doc = run_json(&t, &["doctor"], 0);
    assert_eq!(doc["ok"], true, "{doc}");
    assert!(doc.get("error").is_none(), "{doc}");
}

#[test]
fn exit_1_other_failure_disk() {
    let t = TestDb::acquire();
    // The backup folder's parent is a file: the disk refuses the folder.
    std::fs::write(t.path("a-file"), b"x").unwrap();
    let doc = run_json(&t, &["backup", "create", "--backup-dir", "a-file/sub"], 1);
    assert_error(&doc, 1, "io");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a-file/sub"),
        "{doc}"
    );
}

#[test]
fn exit_2_bad_command_line() {
    let t = TestDb::acquire();
    // `package` without a release is clap's "required argument".
    let doc = run_json(&t, &["package"], 2);
    assert_error(&doc, 2, "usage");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--release"),
        "{doc}"
    );
    // A backup named twice, positionally and with --file.
    let doc = run_json(&t, &["backup", "restore", "a.json", "--file", "b.json"], 2);
    assert_error(&doc, 2, "usage");
}

#[test]
fn exit_3_bad_configuration() {
    let t = TestDb::acquire();
    fails_with(
        t.cmd()
            .env("NEO4J_URI", "localhost:7687")
            .args(["doctor", "--json"]),
        3,
        "config",
    );
    // A password in the config file is refused by name.
    std::fs::write(t.path("ign-setup.toml"), "password = \"secret\"\n").unwrap();
    let doc = run_json(&t, &["doctor"], 3);
    assert_error(&doc, 3, "config");
    assert!(
        !doc["error"]["message"].as_str().unwrap().contains("secret"),
        "{doc}"
    );
}

#[test]
fn exit_4_nothing_done() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 20) AS i CREATE (:Function {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    let before = timestamped_backups(&t.backup_dir());
    // Nothing changed since: no backup is made. Not a failure: no error.
    let doc = run_json(&t, &["backup", "create", "--auto"], 4);
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["created"], false, "{doc}");
    assert!(doc.get("error").is_none(), "{doc}");
    assert_eq!(timestamped_backups(&t.backup_dir()), before);
}

#[test]
fn exit_5_doctor_found_a_problem() {
    let t = TestDb::acquire();
    std::fs::write(t.path("a-file"), b"x").unwrap();
    let doc = run_json(&t, &["doctor", "--backup-dir", "a-file"], 5);
    assert_error(&doc, 5, "unhealthy");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a-file is not a folder"),
        "{doc}"
    );
    assert_eq!(doc["backup_dir"]["ok"], false, "{doc}");
}

#[test]
fn exit_10_server_unreachable() {
    let t = TestDb::acquire();
    // Nothing listens on port 1.
    let doc = run_json(&t, &["doctor", "--uri", "bolt://127.0.0.1:1"], 10);
    assert_error(&doc, 10, "unreachable");
}

#[test]
fn exit_11_authentication_failed() {
    let t = TestDb::acquire();
    let doc = fails_with(
        t.cmd()
            .env("NEO4J_PASSWORD", "not-the-password")
            .args(["doctor", "--json"]),
        11,
        "auth_failed",
    );
    assert!(
        !doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not-the-password"),
        "{doc}"
    );
}

#[test]
fn exit_12_unknown_database() {
    let t = TestDb::acquire();
    fails_with(
        t.cmd()
            .env("NEO4J_DATABASE", "nosuchdb")
            .args(["doctor", "--json"]),
        12,
        "unknown_database",
    );
}

#[test]
fn exit_13_tls_failure() {
    let t = TestDb::acquire();
    // The test server speaks plain Bolt: a TLS handshake with it fails.
    let tls = t.server.uri.replacen("bolt://", "bolt+s://", 1);
    let doc = run_json(&t, &["doctor", "--uri", &tls], 13);
    assert_error(&doc, 13, "tls");
}

/// The server ends the backup's reading transaction while the backup is
/// being written (`TERMINATE TRANSACTIONS`, as an operator would): the
/// server refused the rest, exit 14, and no file is left.
#[test]
fn exit_14_the_server_refused_a_query() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 3000) AS i CREATE (:Function {i: i})");
    let hold = Hold::at("backup.node");
    let mut cmd = t.std_cmd();
    hold.apply(&mut cmd);
    let (mut child, _stderr) = spawn_json(cmd, &["backup", "create"]);
    hold.wait_reached(&mut child);
    let backups = t.query(
        "SHOW TRANSACTIONS YIELD transactionId, currentQuery WHERE currentQuery STARTS WITH 'MATCH (n) WHERE' RETURN transactionId AS id",
    );
    assert_eq!(backups.len(), 1, "the backup's transaction: {backups:?}");
    let id = backups[0]["id"].as_str().unwrap().to_owned();
    t.exec(&format!("TERMINATE TRANSACTIONS '{id}'"));
    hold.release();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(14), "{out:?}");
    assert_error(&json_of(&out), 14, "database");
    assert_eq!(timestamped_backups(&t.backup_dir()), Vec::<String>::new());
}

#[test]
fn exit_20_invalid_input_no_backup_to_restore() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Function {name: 'kept'})");
    let before = db_content(&t.db);
    let doc = run_json(&t, &["backup", "restore", "--yes"], 20);
    assert_error(&doc, 20, "refused");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("backup create"),
        "{doc}"
    );
    assert_eq!(db_content(&t.db), before);
    // A damaged backup named explicitly is invalid input too.
    std::fs::write(t.backup_dir().join("broken.json"), "{ not json").unwrap();
    let doc = run_json(&t, &["backup", "restore", "--yes", "broken.json"], 20);
    assert_error(&doc, 20, "invalid_backup");
    assert_eq!(db_content(&t.db), before);
    // So is a bundle that is not there.
    let doc = run_json(&t, &["package", "verify", "missing.zip"], 20);
    assert_error(&doc, 20, "invalid_bundle");
}

/// A `backup create` of this host holds the backup folder's lock (held
/// mid-file): a prune of the same folder is refused, exit 30.
#[test]
fn exit_30_locked() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 50) AS i CREATE (:Function {i: i})");
    let hold = Hold::at("backup.node");
    let mut cmd = t.std_cmd();
    hold.apply(&mut cmd);
    let mut child = cmd
        .args(["backup", "create"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    hold.wait_reached(&mut child);
    let doc = run_json(&t, &["backup", "prune"], 30);
    hold.release();
    assert!(child.wait().unwrap().success());
    assert_error(&doc, 30, "locked");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("backup create"),
        "{doc}"
    );
}

#[test]
fn exit_31_rolled_back() {
    let t = TestDb::acquire();
    let (file, before) = backup_then_change(&t);
    fails_with(
        t.cmd()
            .env("IGN_SETUP_FAULT", "restore.after-clear:1")
            .args(["backup", "restore", "--yes", &file, "--json"]),
        31,
        "rolled_back",
    );
    assert_eq!(db_content(&t.db), before);
}

/// Two Ctrl-C during a restore's load: the second stops it midway (exit 32,
/// the JSON says so as well), and `recover` puts the data back.
#[test]
fn exit_32_recovery_needed() {
    let t = TestDb::acquire();
    let (file, before) = backup_then_change(&t);
    let hold = Hold::at("restore.batch");
    let mut cmd = t.std_cmd();
    hold.apply(&mut cmd);
    let (mut child, stderr) = spawn_json(cmd, &["backup", "restore", "--yes", &file]);
    hold.wait_reached(&mut child);
    interrupt(&child);
    wait_line(&stderr, "press Ctrl-C again");
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(32), "{out:?}");
    let doc = json_of(&out);
    assert_error(&doc, 32, "recovery_needed");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ign-setup recover"),
        "{doc}"
    );
    t.cmd().arg("recover").assert().success();
    assert_eq!(db_content(&t.db), before);
}

#[test]
fn exit_40_not_confirmed() {
    let t = TestDb::acquire();
    let (file, before) = backup_then_change(&t);
    // No terminal to ask on, and no --yes.
    fails_with(
        t.cmd().args(["backup", "restore", &file, "--json"]),
        40,
        "not_confirmed",
    );
    assert_eq!(db_content(&t.db), before);
}

/// Ctrl-C at the restore's prompt, in a real terminal: exit 130 with the
/// JSON error document, and the database untouched.
#[test]
fn exit_130_interrupted_at_a_prompt() {
    assert!(
        Tmux::available(),
        "tmux is needed for the terminal tests (apt-get install tmux)"
    );
    let t = TestDb::acquire();
    let (file, before) = backup_then_change(&t);
    let bin = env!("CARGO_BIN_EXE_ign-setup");
    let env = [
        ("NEO4J_URI", t.server.uri.as_str()),
        ("NEO4J_USERNAME", t.server.user.as_str()),
        ("NEO4J_PASSWORD", t.server.password.as_str()),
        ("NEO4J_DATABASE", t.server.database.as_str()),
        ("NO_COLOR", "1"),
    ];
    let cmd = format!("{bin} backup restore {file} --json > out.json; echo EXIT=$?; sleep 60");
    let tm = Tmux::start(&t.path(""), &env, &cmd);
    tm.wait_for("with this backup? [y/N]");
    tm.send(&["C-c"]);
    let screen = tm.wait_for("EXIT=");
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert!(
        screen.contains("interrupted; nothing was changed"),
        "{screen}"
    );
    let stdout = std::fs::read_to_string(t.path("out.json")).unwrap();
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert_error(&doc, 130, "interrupted");
    assert_eq!(db_content(&t.db), before);
}
