//! What operators expect from a command-line tool: completions and man pages,
//! `migrations new`, `config show`, `--version`, `--quiet`, `IGN_SETUP_YES`,
//! restore's choice of backup and its plan, and prompts driven through a real
//! terminal (tmux).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::support::{bare_cmd, repo_root, run_json, timestamped_backups, TestDb};

#[test]
fn completions_and_man_pages_come_from_the_command_definitions() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _ign__setup"),
        ("zsh", "#compdef ign-setup"),
        ("fish", "complete -c ign-setup"),
    ] {
        // A broken config file does not matter: nothing is resolved.
        let out = bare_cmd(dir.path())
            .env("IGN_SETUP_CONFIG", "/nonexistent/ign-setup.toml")
            .args(["completions", shell])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains(marker), "{shell}: {script:.200}");
        for word in ["backup", "restore", "backup-dir", "upgrade"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    if Path::new("/bin/bash").exists() {
        // The bash script loads and completes a subcommand.
        let script = String::from_utf8(
            bare_cmd(dir.path())
                .args(["completions", "bash"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        std::fs::write(dir.path().join("c.bash"), script).unwrap();
        let out = Command::new("bash")
            .arg("-c")
            .arg("source c.bash && complete -p ign-setup")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let registered = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && registered.contains("_ign__setup"),
            "bash did not load the script: {registered} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bare_cmd(dir.path()).arg("man").assert().success().stdout(
        predicate::str::starts_with(".ie \\n(.g .ds Aq")
            .or(predicate::str::contains(".TH ign-setup 1")),
    );
    bare_cmd(dir.path())
        .args(["man", "--out", "man1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("manual pages"));
    for page in [
        "ign-setup.1",
        "ign-setup-backup.1",
        "ign-setup-backup-restore.1",
        "ign-setup-upgrade.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join("man1").join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    // `man` renders it.
    if Path::new("/usr/bin/man").exists() {
        let out = Command::new("man")
            .args(["-l", "man1/ign-setup-backup-restore.1"])
            .env("MANPAGER", "cat")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("allow-schema-loss"));
    }
}

#[test]
fn version_names_the_commit_and_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare_cmd(dir.path()).arg("--version").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        text.starts_with(&format!("ign-setup {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("neo4rs 0.9.0-rc.11"), "{text}");
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    if head.status.success() {
        let head = String::from_utf8(head.stdout).unwrap();
        assert!(text.contains(head.trim()), "{text} lacks {head}");
    }
}

#[test]
fn migrations_new_scaffolds_the_next_file_and_the_folder_refuses_it_until_written() {
    let t = TestDb::acquire();
    let m = t.path("migrations");
    std::fs::create_dir_all(m.join("1.4.0")).unwrap();
    for f in ["001_core_constraints.cypher", "002_core_indexes.cypher"] {
        std::fs::copy(
            repo_root().join("migrations/1.4.0").join(f),
            m.join("1.4.0").join(f),
        )
        .unwrap();
    }
    let doc = run_json(&t, &["migrations", "new", "add_session_index"], 0);
    let path = t.path(doc["path"].as_str().unwrap());
    assert_eq!(path, m.join("1.4.0/003_add_session_index.cypher"));
    assert_eq!(doc["new_version"], false);
    // A new release gets its folder.
    let doc = run_json(
        &t,
        &[
            "migrations",
            "--migrations",
            "migrations",
            "new",
            "backfill",
            "--version",
            "1.6.0",
        ],
        0,
    );
    assert_eq!(doc["path"], "migrations/1.6.0/001_backfill.cypher");
    // Empty (comments only), the folder is refused, naming the file.
    t.cmd()
        .args(["migrations", "status"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("003_add_session_index.cypher"))
        .stderr(predicate::str::contains("contains no statements"));
    std::fs::write(
        &path,
        "CREATE INDEX s IF NOT EXISTS FOR (s:Session) ON (s.id);\n",
    )
    .unwrap();
    std::fs::write(
        m.join("1.6.0/001_backfill.cypher"),
        "MATCH (f:Function) WHERE f.module IS NULL SET f.module = 'x';\n",
    )
    .unwrap();
    t.cmd().args(["migrations", "status"]).assert().code(4);
    // Bad names and older new versions change nothing.
    let before = crate::support::snapshot_dir(&m);
    t.cmd()
        .args(["migrations", "new", "../escape"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains("cannot name a migration"));
    t.cmd()
        .args(["migrations", "new", "x", "--version", "1.0.0"])
        .assert()
        .code(20)
        .stderr(predicate::str::contains(
            "older than the newest one (1.6.0)",
        ));
    assert_eq!(crate::support::snapshot_dir(&m), before);
}

#[test]
fn config_show_names_the_source_of_every_setting_and_never_the_password() {
    let t = TestDb::acquire();
    std::fs::write(
        t.path("ign-setup.toml"),
        "[neo4j]\nquery_timeout_secs = 90\n[backup]\nnode_threshold = 7\n",
    )
    .unwrap();
    let secret = t.server.password.clone();
    let out = t
        .cmd()
        .args(["config", "show", "--json", "--backup-dir", "elsewhere"])
        .env("IGN_SETUP_CONNECT_TIMEOUT", "42")
        .assert()
        .success()
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(&secret), "the password was printed");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &doc["settings"];
    let src = |k: &str| s[k]["source"].clone();
    assert_eq!(
        src("uri"),
        serde_json::json!({"from": "env", "name": "NEO4J_URI"})
    );
    assert_eq!(
        src("backup_dir"),
        serde_json::json!({"from": "flag", "name": "--backup-dir"})
    );
    assert_eq!(s["backup_dir"]["value"], "elsewhere");
    assert_eq!(
        src("connect_timeout"),
        serde_json::json!({"from": "env", "name": "IGN_SETUP_CONNECT_TIMEOUT"})
    );
    assert_eq!(s["connect_timeout"]["value"], "42 s");
    assert_eq!(
        src("query_timeout"),
        serde_json::json!({"from": "file", "name": "[neo4j] query_timeout_secs"})
    );
    assert_eq!(
        src("thresholds.nodes"),
        serde_json::json!({"from": "file", "name": "[backup] node_threshold"})
    );
    assert_eq!(
        src("migrations_dir"),
        serde_json::json!({"from": "default"})
    );
    assert_eq!(
        src("password"),
        serde_json::json!({"from": "env", "name": "NEO4J_PASSWORD"})
    );
    assert_eq!(s["password"]["value"], "(set, not shown)");
    assert_eq!(doc["config_file"]["path"], "ign-setup.toml");
    // The human table says the same.
    t.cmd()
        .args(["config", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("environment NEO4J_URI"))
        .stdout(predicate::str::contains(
            "config file [neo4j] query_timeout_secs",
        ));
    // It resolves offline: no server needed.
    bare_cmd(&t.path(""))
        .args(["config", "show", "--uri", "bolt://127.0.0.1:1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("flag --uri"));
}

#[test]
fn quiet_and_ign_setup_yes_are_for_scripts() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 20) AS i CREATE (:Function {i: i})");
    let out = t
        .cmd()
        .args(["-q", "backup", "create"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Backup created"));
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    // No terminal, no --yes: refused, naming both ways to say yes.
    t.cmd()
        .args(["backup", "restore", "--file", &file])
        .assert()
        .code(40)
        .stderr(predicate::str::contains("IGN_SETUP_YES=1"));
    t.cmd()
        .env("IGN_SETUP_YES", "1")
        .args(["backup", "restore", "--file", &file])
        .assert()
        .success();
    t.cmd()
        .env("IGN_SETUP_YES", "perhaps")
        .args(["backup", "restore", "--file", &file])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("IGN_SETUP_YES"));
    t.cmd()
        .env("IGN_SETUP_YES", "0")
        .args(["backup", "restore", "--file", &file])
        .assert()
        .code(40);
}

#[test]
fn restore_without_file_takes_the_newest_full_backup_never_a_safety_one() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Function {name: 'first'})");
    t.cmd().args(["backup", "create"]).assert().success();
    let full = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.exec("CREATE (:Function {name: 'second'})");
    // This restore takes a safety backup of the two-node database: newer than
    // `full`, and not what a bare `restore` may pick.
    t.cmd()
        .args(["backup", "restore", "--yes"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "taking the newest full backup, {full}"
        )));
    assert_eq!(t.count("MATCH (n) RETURN count(n) AS c"), 1);
    t.exec("CREATE (:Function {name: 'third'})");
    let out = t
        .cmd()
        .args(["backup", "restore", "--yes"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("newest full backup, {full}")),
        "{err}"
    );
    assert!(err.contains("into:    database `"), "{err}");
    assert_eq!(t.count("MATCH (n) RETURN count(n) AS c"), 1);
    // Only safety backups left: refused, naming --file.
    std::fs::remove_file(t.backup_dir().join(&full)).unwrap();
    let _ = std::fs::remove_file(t.backup_dir().join("backup_metadata.json"));
    t.cmd()
        .args(["backup", "restore", "--yes"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no full backup"))
        .stderr(predicate::str::contains("--file NAME"));
}

/// The backup is named the same way in `info`, `verify` and `restore`:
/// positionally, with `--file` kept as the old spelling; both at once is a
/// usage error that changes nothing.
#[test]
fn restore_takes_the_backup_positionally_or_by_file_and_not_both() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Function {name: 'first'})");
    t.cmd().args(["backup", "create"]).assert().success();
    // Retention keeps one full backup: the older one is kept outside the folder.
    let name = timestamped_backups(&t.backup_dir()).pop().unwrap();
    let first = t.path("first.json").display().to_string();
    std::fs::copy(t.backup_dir().join(&name), &first).unwrap();
    t.exec("CREATE (:Function {name: 'second'})");
    t.cmd().args(["backup", "create"]).assert().success();
    let second = timestamped_backups(&t.backup_dir()).pop().unwrap();
    assert_ne!(name, second);
    // Positional, a path: the older backup, although a newer full one exists.
    let out = t
        .cmd()
        .args(["backup", "restore", "--yes", &first])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("newest full backup"), "{err}");
    assert_eq!(
        t.query("MATCH (f:Function) RETURN f.name AS n ORDER BY n")
            .iter()
            .map(|r| r["n"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ["first"]
    );
    // The old flag, a name in the backup folder: the newer one.
    t.cmd()
        .args(["backup", "restore", "--yes", "--file", &second])
        .assert()
        .success();
    assert_eq!(t.count("MATCH (f:Function) RETURN count(f) AS c"), 2);
    // Both: exit 2, in JSON too, and nothing changed (no safety backup, same data).
    let before = crate::support::snapshot_dir(&t.backup_dir());
    t.cmd()
        .args(["backup", "restore", "--yes", &first, "--file", &second])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--file"));
    let doc = run_json(
        &t,
        &["backup", "restore", "--yes", "--file", &second, &first],
        2,
    );
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["error"]["kind"], "usage");
    assert_eq!(doc["error"]["exit_code"], 2);
    assert_eq!(crate::support::snapshot_dir(&t.backup_dir()), before);
    assert_eq!(t.count("MATCH (f:Function) RETURN count(f) AS c"), 2);
}

#[test]
fn upgrade_without_to_goes_to_the_newest_release_and_versions_are_explained() {
    let t = TestDb::acquire();
    let m = t.path("migrations");
    for v in ["1.4.0", "1.5.0"] {
        std::fs::create_dir_all(m.join(v)).unwrap();
        for e in std::fs::read_dir(repo_root().join("migrations").join(v))
            .unwrap()
            .flatten()
        {
            std::fs::copy(e.path(), m.join(v).join(e.file_name())).unwrap();
        }
    }
    t.cmd().args(["install", "--yes"]).assert().success();
    // `install` ran every migration: already at the newest.
    t.cmd()
        .args(["upgrade", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Already at 1.5.0"));
    t.cmd()
        .args(["upgrade", "--to", "1.5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("for example 1.5.0"));
}

/// A command in a real terminal: tmux runs it, the test types and reads the screen.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub(crate) fn start(dir: &Path, env: &[(&str, &str)], command: &str) -> Tmux {
        let socket = format!(
            "ign-setup-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], "");
        let mut args = vec![
            "-L".to_owned(),
            socket.clone(),
            "-f".to_owned(),
            "/dev/null".to_owned(),
            "new-session".to_owned(),
            "-d".to_owned(),
            "-x".to_owned(),
            "200".to_owned(),
            "-y".to_owned(),
            "50".to_owned(),
            "-c".to_owned(),
            dir.display().to_string(),
        ];
        for (k, v) in env {
            args.push("-e".to_owned());
            args.push(format!("{k}={v}"));
        }
        args.push(command.to_owned());
        let st = Command::new("tmux").args(&args).status().unwrap();
        assert!(st.success(), "tmux did not start");
        Tmux { socket }
    }

    pub(crate) fn send(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    pub(crate) fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                "0",
                "-S",
                "-200",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` (the program's own output is the
    /// synchronisation; the limit only stops a broken test from hanging).
    pub(crate) fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "never saw {text:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn in_a_terminal_the_restore_prompt_names_the_target_and_a_bare_y_does_not_confirm() {
    assert!(
        Tmux::available(),
        "tmux is needed for the terminal tests (apt-get install tmux)"
    );
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 1500) AS i CREATE (:Function {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.exec("CREATE (:Function {i: -1})");
    let bin = env!("CARGO_BIN_EXE_ign-setup");
    let env = [
        ("NEO4J_URI", t.server.uri.as_str()),
        ("NEO4J_USERNAME", t.server.user.as_str()),
        ("NEO4J_PASSWORD", t.server.password.as_str()),
        ("NEO4J_DATABASE", t.server.database.as_str()),
        ("NO_COLOR", "1"),
    ];
    let cmd = format!("{bin} backup restore --file {file}; echo EXIT=$?; sleep 60");
    let tm = Tmux::start(&t.path(""), &env, &cmd);
    let screen = tm.wait_for("with this backup? [y/N]");
    assert!(
        screen.contains(&format!(
            "Replace all 1,501 nodes and 0 relationships of database `{}` on",
            t.server.database
        )),
        "{screen}"
    );
    assert!(screen.contains("backup:  1,500 nodes"), "{screen}");
    // One keystroke is not an answer.
    tm.send(&["y"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !tm.screen().contains("EXIT="),
        "a bare y was taken as an answer"
    );
    assert_eq!(t.count("MATCH (n) RETURN count(n) AS c"), 1501);
    // `y` then Enter is.
    tm.send(&["Enter"]);
    let screen = tm.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(t.count("MATCH (n) RETURN count(n) AS c"), 1500);
    // Every phase said what it did, with counts people read.
    for step in [
        "Taking a verified safety backup",
        "Restore: dropping the current indexes and constraints",
        "Restore: loading 1,500 nodes and 0 relationships",
        "Restore: verifying counts",
        "1,500/1,500",
        "Restored 1,500 nodes",
    ] {
        assert!(
            screen.contains(step),
            "no {step:?} on the screen:\n{screen}"
        );
    }
}

#[test]
fn in_a_terminal_ctrl_c_at_the_password_prompt_leaves_echo_on() {
    assert!(
        Tmux::available(),
        "tmux is needed for the terminal tests (apt-get install tmux)"
    );
    let t = TestDb::acquire();
    let bin = env!("CARGO_BIN_EXE_ign-setup");
    let env = [("NEO4J_URI", t.server.uri.as_str()), ("NO_COLOR", "1")];
    let cmd = format!(
        "{bin} doctor; echo EXIT=$?; echo \"TTY[$(stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?echo')]\"; sleep 60"
    );
    let tm = Tmux::start(&t.path(""), &env, &cmd);
    tm.wait_for("password");
    tm.send(&["C-c"]);
    let screen = tm.wait_for("echo]");
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert!(
        screen.contains("TTY[echo]"),
        "echo is off after Ctrl-C at the password prompt:\n{screen}"
    );
}

#[test]
fn backup_list_is_a_table_delete_asks_and_init_asks_before_replacing_the_release_data() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 1234) AS i CREATE (:Function {i: i})");
    t.cmd()
        .args([
            "backup",
            "create",
            "--reason",
            "evil\u{1b}]0;title\u{7}reason",
        ])
        .assert()
        .success();
    let first = timestamped_backups(&t.backup_dir()).pop().unwrap();
    let out = t
        .cmd()
        .args(["backup", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("NAME"), "{text}");
    let row = lines.next().unwrap();
    // Columns line up under the header.
    for col in ["CREATED", "KIND", "NODES", "SIZE", "REASON"] {
        let at = header.find(col).unwrap();
        assert_ne!(&row[at..at + 1], " ", "{col} is not aligned:\n{text}");
    }
    assert!(row.contains("1,234"), "{text}");
    assert!(row.contains("just now"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "an escape sequence reached the terminal: {text:?}"
    );
    assert!(text.contains("evil\\u{1b}]0;title\\u{7}reason"), "{text}");

    // delete: a dry run changes nothing; without a terminal or --yes it refuses.
    let before = crate::support::snapshot_dir(&t.backup_dir());
    t.cmd()
        .args(["backup", "delete", "--dry-run", &first])
        .assert()
        .success()
        .stdout(predicate::str::contains("Would delete"))
        .stdout(predicate::str::contains("1,234 nodes"));
    t.cmd().args(["backup", "delete", &first]).assert().code(40);
    t.cmd()
        .args(["backup", "delete", "--yes", "nope.json"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("nope.json"));
    t.cmd()
        .args(["backup", "delete", "--yes", "../etc/passwd"])
        .assert()
        .failure();
    assert_eq!(crate::support::snapshot_dir(&t.backup_dir()), before);
    let doc = run_json(&t, &["backup", "delete", "--yes", &first], 0);
    assert_eq!(doc["deleted"], serde_json::json!([first]));
    assert!(timestamped_backups(&t.backup_dir()).is_empty());
    let index = std::fs::read_to_string(t.backup_dir().join("backup_metadata.json")).unwrap();
    assert!(
        !index.contains(&first),
        "the index still lists the deleted backup"
    );

    // init over an existing initial backup asks first.
    t.cmd().args(["backup", "init"]).assert().success();
    let initial = std::fs::read(t.backup_dir().join("initial_backup.json")).unwrap();
    t.exec("CREATE (:Function {i: 0})");
    t.cmd()
        .args(["backup", "init"])
        .assert()
        .code(40)
        .stderr(predicate::str::contains(
            "initial_backup.json already exists (1,234 nodes",
        ));
    assert_eq!(
        std::fs::read(t.backup_dir().join("initial_backup.json")).unwrap(),
        initial
    );
    t.cmd().args(["backup", "init", "--yes"]).assert().success();
    assert_ne!(
        std::fs::read(t.backup_dir().join("initial_backup.json")).unwrap(),
        initial
    );
}

#[test]
fn backup_status_reads_like_the_plan() {
    let t = TestDb::acquire();
    // An empty database with no backup needs none.
    t.cmd()
        .args(["backup", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "no backup needed: the database is empty",
        ));
    t.exec("UNWIND range(1, 1245) AS i CREATE (:Function {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    t.exec("UNWIND range(1, 60) AS i CREATE (:Template {i: i})");
    t.exec("MATCH (f:Function) WHERE f.i <= 10 DELETE f");
    let out = t
        .cmd()
        .args(["backup", "status"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Current database:\n  • Nodes: 1,295\n",
        "  • Nodes: 1,245\n",
        "  • Nodes: +50 (70 added or removed, counted per label)",
        "  • By label: Template +60, Function -10",
        "Backup recommendation: ⚠ backup recommended: 70 nodes added or removed, threshold 50",
        "  • Nodes: 50 new or removed nodes",
        "  • Percentage: 10.0% increase or decrease",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        text.contains("Last backup: ign_scripts_db_backup_"),
        "{text}"
    );
    assert!(text.contains("just now)"), "{text}");
}

#[test]
fn usage_errors_have_the_json_shape_and_package_counts_entries_one_way() {
    let t = TestDb::acquire();
    let dir = t.path("");
    // A usage error with --json: exit 2 and the one error document.
    let out = bare_cmd(&dir)
        .args(["upgrade", "--to", "1.5", "--json"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["error"]["kind"], "usage");
    assert_eq!(doc["error"]["exit_code"], 2);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("for example 1.5.0"),
        "{doc}"
    );
    // --help and --version are not errors.
    bare_cmd(&dir).args(["--help", "--json"]).assert().success();
    // `package` without a release is a usage error too.
    bare_cmd(&dir)
        .args(["package"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--release"));
    t.exec("UNWIND range(1, 1200) AS i CREATE (:Function {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    std::fs::create_dir_all(t.path("migrations/1.4.0")).unwrap();
    std::fs::copy(
        repo_root().join("migrations/1.4.0/001_core_constraints.cypher"),
        t.path("migrations/1.4.0/001_core_constraints.cypher"),
    )
    .unwrap();
    let built = run_json(&t, &["package", "--release", "1.4.0"], 0);
    // The old spelling still works.
    run_json(&t, &["package", "--version", "1.4.0", "--out", "old"], 0);
    let checked = run_json(
        &t,
        &["package", "verify", "release/ign-scripts-1.4.0.zip"],
        0,
    );
    assert_eq!(built["entries"], checked["entries"]);
    assert_eq!(
        built["files"].as_array().unwrap().len(),
        checked["files"].as_array().unwrap().len()
    );
    assert_eq!(built["application_version"], checked["application_version"]);
    assert_eq!(checked["outer_checksum"]["checked"], true);
    assert_eq!(checked["outer_checksum"]["sha256"], built["sha256"]);
    let entries = built["entries"].as_u64().unwrap();
    let files = built["files"].as_array().unwrap().len() as u64;
    assert_eq!(entries, files + 2);
    let human = |args: &[&str]| {
        String::from_utf8(
            t.cmd()
                .args(args)
                .assert()
                .success()
                .get_output()
                .stdout
                .clone(),
        )
        .unwrap()
    };
    let line = format!("entries: {entries} ({files} files + manifest.json + SHA256SUMS)");
    assert!(human(&["package", "--release", "1.4.0", "--out", "again"]).contains(&line));
    assert!(human(&["package", "verify", "release/ign-scripts-1.4.0.zip"]).contains(&line));
}

/// A backup of 3,000 nodes, then a database of 10 of them: what a restore
/// replaces and what a rollback must bring back.
fn backup_then_change(t: &TestDb) -> (String, Vec<String>) {
    t.exec("UNWIND range(1, 3000) AS i CREATE (:Function {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.exec("MATCH (f:Function) WHERE f.i > 10 DELETE f");
    (file, crate::support::db_content(&t.db))
}

#[test]
fn doctor_and_status_report_an_interrupted_restore_and_leave_it_to_recover() {
    let t = TestDb::acquire();
    let (file, before) = backup_then_change(&t);
    let mut child = crate::support::restore_held_mid_load(&t, &file);
    let _ = child.kill();
    let _ = child.wait();
    let half = crate::support::db_content(&t.db);
    assert_ne!(half, before, "the held restore had changed nothing yet");
    // doctor reports it (exit 5) and names recover; status refuses (exit 30).
    let doc = run_json(&t, &["doctor"], 5);
    let text = doc["unfinished_operation"].as_str().unwrap();
    assert!(text.contains("ign-setup recover"), "{doc}");
    t.cmd()
        .args(["backup", "status"])
        .assert()
        .code(30)
        .stderr(predicate::str::contains("ign-setup recover"));
    assert_eq!(
        crate::support::db_content(&t.db),
        half,
        "a look-only command changed the database"
    );
    assert!(t.backup_dir().join(".journal.json").exists());
    // recover puts it back.
    t.cmd().arg("recover").assert().success();
    assert_eq!(crate::support::db_content(&t.db), before);
    run_json(&t, &["doctor"], 0);
}

#[test]
fn a_second_ctrl_c_during_a_restore_says_the_data_is_safe_and_recover_puts_it_back() {
    let t = TestDb::acquire();
    let (file, before) = backup_then_change(&t);
    let child = crate::support::restore_held_mid_load(&t, &file);
    let pid = child.id().to_string();
    for _ in 0..2 {
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(32), "{stderr}");
    assert!(stderr.contains("Nothing is lost"), "{stderr}");
    assert!(stderr.contains("ign-setup recover"), "{stderr}");
    t.cmd().arg("recover").assert().success();
    assert_eq!(crate::support::db_content(&t.db), before);
}

/// Ctrl-C while `backup create` is writing its file (held after the first
/// node): exit 130 with the JSON error document, and the backup folder holds
/// what it held before, with no temporary or partial file.
#[test]
fn ctrl_c_during_backup_create_leaves_no_temp_file() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 3000) AS i CREATE (:Function {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    // The lock file stays by design (its content names the last holder).
    let folder = || -> Vec<(std::path::PathBuf, Vec<u8>)> {
        crate::support::snapshot_dir(&t.backup_dir())
            .into_iter()
            .filter(|(p, _)| !p.ends_with(".ign-setup.lock"))
            .collect()
    };
    let names = || -> Vec<String> {
        std::fs::read_dir(t.backup_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let before = folder();
    let hold = crate::support::Hold::at("backup.node");
    let mut child = hold
        .apply(&mut t.std_cmd())
        .args(["backup", "create", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    hold.wait_reached(&mut child);
    // Mid-file: its temporary files are there now.
    assert!(
        names().iter().any(|n| n.starts_with(".tmp-")),
        "{:?}",
        names()
    );
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted; nothing was changed"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["error"]["kind"], "interrupted");
    assert_eq!(doc["error"]["exit_code"], 130);
    assert_eq!(
        names().iter().filter(|n| n.starts_with(".tmp-")).count(),
        0,
        "{:?}",
        names()
    );
    assert_eq!(folder(), before);
}
