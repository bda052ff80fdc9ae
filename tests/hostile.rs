//! A second actor: another backup folder, another process, a stale journal, a
//! crafted file. The database's operation marker, the tool's reserved labels
//! and the checks on files (docs/reliability.md, "More than one actor").

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::support::{db_content, snapshot_dir, timestamped_backups, TestDb};

/// Waits (polling, bounded) until `ready` holds; panics with `what` otherwise.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn journal_phase(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".journal.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["phase"].as_str().map(str::to_owned)
}

fn marker_count(t: &TestDb) -> u64 {
    t.count("MATCH (m:IgnSetupOperation) RETURN count(m) AS c")
}

/// A restore of `file` that stops after its first batch for a minute; returned
/// once it is loading (journal `destructive`, first batch in).
fn restore_paused_mid_load(t: &TestDb, file: &str, big_label: &str) -> Child {
    let child = t
        .std_cmd()
        .env("IGN_SETUP_PAUSE", "restore.batch:60000")
        .args(["backup", "restore", "--yes", "--file", file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = t.backup_dir();
    wait_until("the restore to be loading", || {
        journal_phase(&dir).as_deref() == Some("destructive")
            && t.count(&format!("MATCH (n:{big_label}) RETURN count(n) AS c")) > 0
    });
    child
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// 20,000 `Big` nodes in a backup of the default folder; returns its name.
/// The database is then emptied and holds `small` again.
fn big_backup_then(t: &TestDb, small: &str) -> String {
    t.exec("UNWIND range(1, 20000) AS i CREATE (:Big {i: i, pad: 'some text to make it heavier'})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.wipe();
    t.exec(small);
    file
}

#[test]
fn a_backup_from_another_folder_is_refused_while_a_restore_is_unfinished() {
    let t = TestDb::acquire();
    let big = big_backup_then(
        &t,
        "UNWIND range(1, 50) AS i CREATE (:Small {i: i})-[:NEXT]->(:Small {j: i})",
    );
    // Another folder (a cron job's) with its one complete backup; keep = 1.
    let other = t.path("cron-backups");
    std::fs::create_dir_all(&other).unwrap();
    let other_arg = other.to_str().unwrap();
    t.cmd()
        .args(["--backup-dir", other_arg, "backup", "create"])
        .assert()
        .success();
    let complete = timestamped_backups(&other);
    assert_eq!(complete.len(), 1);
    let other_before = snapshot_dir(&other);

    let child = restore_paused_mid_load(&t, &big, "Big");
    assert_eq!(marker_count(&t), 1, "the marker is in the database");
    // While the restore runs...
    t.cmd()
        .args(["--backup-dir", other_arg, "backup", "create", "--auto"])
        .assert()
        .code(30)
        .stderr(predicate::str::contains("unfinished restore"));
    kill(child);
    // ...and after it was killed, before anyone recovered it.
    for args in [
        vec!["--backup-dir", other_arg, "backup", "create", "--auto"],
        vec!["--backup-dir", other_arg, "backup", "create"],
    ] {
        t.cmd().args(&args).assert().code(30).stderr(
            predicate::str::contains("unfinished restore")
                .and(predicate::str::contains("ign-setup recover")),
        );
    }
    assert_eq!(
        snapshot_dir(&other),
        other_before,
        "the cron folder is unchanged"
    );

    // The folder the restore used recovers it; then backups work again.
    t.cmd()
        .arg("recover")
        .assert()
        .success()
        .stdout(predicate::str::contains("rolled back"));
    assert_eq!(marker_count(&t), 0);
    assert_eq!(t.count("MATCH (n:Small) RETURN count(n) AS c"), 100);
    t.cmd()
        .args(["--backup-dir", other_arg, "backup", "create"])
        .assert()
        .success();
}

#[test]
fn a_stale_journal_never_destroys_newer_data() {
    let t = TestDb::acquire();
    let big = big_backup_then(&t, "UNWIND range(1, 50) AS i CREATE (:Small {i: i})");
    let before = db_content(&t.db);
    let folder_a = t.backup_dir();
    let folder_b = t.path("folder-b");
    std::fs::create_dir_all(&folder_b).unwrap();
    let b = folder_b.to_str().unwrap();

    // A restore through folder A is killed while loading.
    kill(restore_paused_mid_load(&t, &big, "Big"));
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder_a.join(".journal.json")).unwrap()).unwrap();
    let safety = journal["safety_backup"].as_str().unwrap().to_owned();

    // Folder B has no copy of the safety backup: recovery says which file it needs.
    t.cmd()
        .args(["--backup-dir", b, "recover"])
        .assert()
        .code(32)
        .stderr(predicate::str::contains(&safety).and(predicate::str::contains("sha256")));
    // With the copy, folder B recovers it from the marker.
    std::fs::copy(folder_a.join(&safety), folder_b.join(&safety)).unwrap();
    t.cmd()
        .args(["--backup-dir", b, "recover"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rolled back"));
    assert_eq!(db_content(&t.db), before);
    assert_eq!(marker_count(&t), 0);
    assert!(!folder_b.join(".journal.json").exists());

    // Newer data is written.
    t.exec("CREATE (:Newer {written: 'after the recovery'})");
    let newer = db_content(&t.db);

    // The next command through folder A finds the old journal: stale, never acted on.
    let v = crate::support::run_json(&t, &["recover"], 0);
    let stale = v["recovery"]["stale_journals"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{v}");
    // Relative to the work folder, as the backup folder is.
    let aside = t.work.path().join(stale[0].as_str().unwrap());
    assert!(aside.exists() && aside.starts_with(&folder_a), "{v}");
    assert!(aside
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(".journal.stale-"));
    assert!(
        v["recovery"]["message"]
            .as_str()
            .unwrap()
            .contains("was not acted on"),
        "{v}"
    );
    assert!(!folder_a.join(".journal.json").exists());
    assert_eq!(db_content(&t.db), newer, "the newer data survives");
    // A later command has nothing to do with it.
    t.cmd().args(["backup", "status"]).assert().success();
    t.cmd()
        .arg("recover")
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to recover"));
    assert_eq!(db_content(&t.db), newer);
}

/// Rewrites a backup's records with `edit` and seals the result again (the
/// checksum in the metadata line recomputed), as someone crafting a file would.
fn reseal(path: &Path, edit: impl Fn(&str) -> String) {
    use sha2::{Digest, Sha256};
    let text = std::fs::read_to_string(path).unwrap();
    let (first, body) = text.split_once('\n').unwrap();
    let body = edit(body);
    let head: serde_json::Value =
        serde_json::from_str(&format!("{}}}", first.trim_end_matches(','))).unwrap();
    let old = head["metadata"]["checksum"]["value"].as_str().unwrap();
    let new = hex::encode(Sha256::digest(body.as_bytes()));
    std::fs::write(path, format!("{}\n{body}", first.replace(old, &new))).unwrap();
}

/// A backup of `(:Data {name: 'x'})-[:R]->(:Data {name: 'y'})` in the work
/// folder, then the database holds `(:Keep)` only.
fn crafted_base(t: &TestDb) -> PathBuf {
    t.exec("CREATE (:Data {name: 'x'})-[:R]->(:Data {name: 'y'})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    let path = t.path("crafted.json");
    std::fs::copy(t.backup_dir().join(file), &path).unwrap();
    t.wipe();
    t.exec("CREATE (:Keep {n: 1})");
    path
}

/// `backup verify` and `backup restore` of `path` both refuse with exit 20
/// and `says`; the database and the backup folder stay as they were.
fn refused_everywhere(t: &TestDb, path: &Path, says: &str) {
    let before = db_content(&t.db);
    let folder = snapshot_dir(&t.backup_dir());
    t.cmd()
        .args(["backup", "verify"])
        .arg(path)
        .assert()
        .code(20)
        .stderr(predicate::str::contains(says));
    t.cmd()
        .args(["backup", "restore", "--yes", "--file"])
        .arg(path)
        .assert()
        .code(20)
        .stderr(predicate::str::contains(says));
    assert_eq!(db_content(&t.db), before);
    assert_eq!(snapshot_dir(&t.backup_dir()), folder);
    assert_eq!(
        t.count("MATCH (n) WHERE n:IgnSetupLock OR n:IgnSetupOperation RETURN count(n) AS c"),
        0
    );
}

#[test]
fn a_backup_carrying_the_tools_own_labels_is_refused() {
    let t = TestDb::acquire();
    let base = crafted_base(&t);
    for label in ["IgnSetupLock", "IgnSetupOperation", "IgnSetupRestoring"] {
        let path = t.path(&format!("{label}.json"));
        std::fs::copy(&base, &path).unwrap();
        reseal(&path, |body| {
            body.replace("\"Data\"", &format!("\"{label}\""))
        });
        refused_everywhere(&t, &path, &format!("carries the label `{label}`"));
    }
    // Nothing is left that blocks the next command.
    t.cmd().args(["backup", "create"]).assert().success();
}

#[test]
fn values_neo4j_would_refuse_and_duplicate_members_are_refused_with_their_path() {
    let t = TestDb::acquire();
    let base = crafted_base(&t);
    type Edit = Box<dyn Fn(&str) -> String>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "unknown-srid",
            Box::new(|b: &str| {
                b.replacen(
                    "\"name\":\"x\"",
                    "\"name\":\"x\",\"p\":{\"$type\":\"Point\",\"srid\":1234,\"x\":1.0,\"y\":2.0}",
                    1,
                )
            }),
            "SRID 1234",
        ),
        (
            "srid-dimension",
            Box::new(|b: &str| {
                b.replacen(
                    "\"name\":\"x\"",
                    "\"name\":\"x\",\"p\":{\"$type\":\"Point\",\"srid\":7203,\"x\":1.0,\"y\":2.0,\"z\":3.0}",
                    1,
                )
            }),
            "SRID 7203",
        ),
        (
            "offset",
            Box::new(|b: &str| {
                b.replacen(
                    "\"name\":\"x\"",
                    "\"name\":\"x\",\"t\":{\"$type\":\"Time\",\"value\":\"12:00:00+19:00\"}",
                    1,
                )
            }),
            "Time",
        ),
        (
            "duplicate-labels",
            Box::new(|b: &str| {
                b.replacen(
                    "\"labels\":[\"Data\"]",
                    "\"labels\":[\"Data\"],\"labels\":[\"Other\"]",
                    1,
                )
            }),
            "names the member `labels` twice",
        ),
        (
            "duplicate-property",
            Box::new(|b: &str| b.replacen("\"name\":\"x\"", "\"name\":\"x\",\"name\":\"z\"", 1)),
            ".properties` names the member `name` twice",
        ),
    ];
    for (name, edit, says) in cases {
        let path = t.path(&format!("{name}.json"));
        std::fs::copy(&base, &path).unwrap();
        reseal(&path, |b| edit(b));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_ne!(
            text,
            std::fs::read_to_string(&base).unwrap(),
            "{name}: the edit applied"
        );
        refused_everywhere(&t, &path, says);
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_or_folder_given_as_a_backup_or_bundle_is_refused_without_waiting() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Keep {n: 1})");
    let before = db_content(&t.db);
    let fifo = t.path("backup.fifo");
    mkfifo(&fifo);
    let folder = t.path("a-folder.zip");
    std::fs::create_dir_all(&folder).unwrap();
    for (path, says) in [(&fifo, "is a named pipe (FIFO)"), (&folder, "is a folder")] {
        let runs: Vec<Vec<std::ffi::OsString>> = vec![
            vec!["backup".into(), "verify".into(), path.into()],
            vec![
                "backup".into(),
                "restore".into(),
                "--yes".into(),
                "--file".into(),
                path.into(),
            ],
            vec!["package".into(), "verify".into(), path.into()],
            vec![
                "install".into(),
                "--yes".into(),
                "--bundle".into(),
                path.into(),
            ],
        ];
        for args in runs {
            // A hang fails the test instead of stopping the suite.
            t.cmd()
                .args(&args)
                .timeout(Duration::from_secs(120))
                .assert()
                .code(20)
                .stderr(predicate::str::contains(says));
        }
    }
    assert_eq!(db_content(&t.db), before);
    // A FIFO beside a bundle, where its checksum file belongs, is refused too.
    t.cmd().args(["backup", "create"]).assert().success();
    t.cmd()
        .args([
            "package",
            "--version",
            "1.5.0",
            "--out",
            "rel",
            "--migrations",
        ])
        .arg(crate::support::repo_root().join("migrations"))
        .assert()
        .success();
    let zip = t.path("rel/ign-scripts-1.5.0.zip");
    let sum = t.path("rel/ign-scripts-1.5.0.zip.sha256");
    std::fs::remove_file(&sum).unwrap();
    mkfifo(&sum);
    t.cmd()
        .args(["package", "verify"])
        .arg(&zip)
        .timeout(Duration::from_secs(120))
        .assert()
        .code(20)
        .stderr(predicate::str::contains("is a named pipe (FIFO)"));
    assert_eq!(db_content(&t.db), before);
}

#[test]
fn a_shared_or_foreign_backup_folder_keeps_its_mode_and_a_new_one_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestDb::acquire();
    t.exec("CREATE (:Keep {n: 1})");
    let shared = t.path("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    t.cmd()
        .args(["--backup-dir"])
        .arg(&shared)
        .args(["backup", "create"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("sticky bit").and(predicate::str::contains("--backup-dir")),
        );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode(&shared),
        0o1777,
        "a shared folder's mode is not changed"
    );
    assert_eq!(timestamped_backups(&shared).len(), 1);
    let file = shared.join(timestamped_backups(&shared).pop().unwrap());
    assert_eq!(mode(&file), 0o640);

    let fresh = t.path("new/backups");
    t.cmd()
        .args(["--backup-dir"])
        .arg(&fresh)
        .args(["backup", "create"])
        .assert()
        .success();
    assert_eq!(mode(&fresh), 0o750, "a folder the tool creates is private");
    // One of ours that someone loosened is tightened again.
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o777)).unwrap();
    t.cmd()
        .args(["--backup-dir"])
        .arg(&fresh)
        .args(["backup", "create"])
        .assert()
        .success();
    assert_eq!(mode(&fresh), 0o750);
}

#[test]
fn package_verify_refuses_the_migrations_install_would_refuse() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Keep {n: 1})");
    t.cmd().args(["backup", "create"]).assert().success();
    let migrations = t.path("bad-migrations");
    std::fs::create_dir_all(migrations.join("1.0.0")).unwrap();
    std::fs::write(migrations.join("1.0.0/001_a.cypher"), "CREATE (:A);\n").unwrap();
    std::fs::create_dir_all(migrations.join("latest")).unwrap();
    std::fs::write(migrations.join("latest/001_b.cypher"), "CREATE (:B);\n").unwrap();
    // `package` refuses to build it, before writing anything.
    t.cmd()
        .args([
            "package",
            "--release",
            "1.0.0",
            "--out",
            "rel",
            "--migrations",
        ])
        .arg(&migrations)
        .assert()
        .code(20)
        .stderr(predicate::str::contains("latest"));
    assert!(!t.path("rel").join("ign-scripts-1.0.0.zip").exists());
    // A bundle built without that check (by the library, as another tool
    // could): `package verify` refuses what `install` refuses.
    let backup = t
        .backup_dir()
        .join(timestamped_backups(&t.backup_dir()).pop().unwrap());
    let summary =
        ign_setup::backup::verify::summary_of(&ign_setup::backup::verify_backup(&backup).unwrap());
    let outcome = ign_setup::bundle::build_package(&ign_setup::bundle::PackageRequest {
        app_version: semver::Version::new(1, 0, 0),
        backup_path: backup,
        backup_summary: summary,
        migrations_dir: migrations,
        out_dir: t.path("rel"),
        tool_version: "test".into(),
        source_date_epoch: None,
    })
    .unwrap();
    let zip = outcome.zip_path;
    let before = db_content(&t.db);
    t.cmd()
        .args(["package", "verify"])
        .arg(&zip)
        .assert()
        .code(20)
        .stderr(predicate::str::contains("latest"));
    t.cmd()
        .args(["install", "--yes", "--bundle"])
        .arg(&zip)
        .assert()
        .code(20)
        .stderr(predicate::str::contains("latest"));
    assert_eq!(db_content(&t.db), before);
}

#[test]
fn a_damaged_journal_is_handled_by_recover() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Keep {n: 1})");
    let before = db_content(&t.db);
    let journal = t.backup_dir().join(".journal.json");
    std::fs::write(&journal, "{\"operation\": \"rest").unwrap();
    t.cmd()
        .args(["backup", "status"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("ign-setup recover"));
    let v = crate::support::run_json(&t, &["recover"], 0);
    let aside = v["recovery"]["stale_journals"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(aside.contains(".journal.damaged-"), "{v}");
    assert!(t.work.path().join(&aside).exists(), "{v}");
    assert!(
        v["recovery"]["message"]
            .as_str()
            .unwrap()
            .contains("records no unfinished operation"),
        "{v}"
    );
    assert!(!journal.exists());
    t.cmd().args(["backup", "status"]).assert().success();
    assert_eq!(db_content(&t.db), before);
}

#[test]
fn control_characters_are_escaped_and_an_empty_password_file_is_named() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Keep {n: 1})");
    t.cmd()
        .args([
            "backup",
            "create",
            "--reason",
            "nightly\u{1b}[2J\rforged line",
        ])
        .assert()
        .success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    for args in [
        vec!["backup", "list", "--detailed"],
        vec!["backup", "info", file.as_str()],
    ] {
        let out = t.cmd().args(&args).assert().success().get_output().clone();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(
            text.contains("nightly\\u{1b}[2J\\u{d}forged line"),
            "{text}"
        );
    }
    // JSON keeps the text as it is.
    let v = crate::support::run_json(&t, &["backup", "list"], 0);
    assert_eq!(
        v["backups"][0]["metadata"]["reason"], "nightly\u{1b}[2J\rforged line",
        "{v}"
    );

    let empty = t.path("empty-password");
    std::fs::write(&empty, "\n").unwrap();
    t.cmd()
        .env_remove("NEO4J_PASSWORD")
        .env("NEO4J_PASSWORD_FILE", &empty)
        .args(["backup", "status"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("is empty"));
}

#[test]
fn two_backups_started_together_both_succeed() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 5000) AS i CREATE (:Item {i: i})");
    let spawn = || {
        t.std_cmd()
            .args(["backup", "create"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    for o in &outs {
        assert!(
            o.status.success(),
            "{:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let files = timestamped_backups(&t.backup_dir());
    // keep = 1 leaves the newer; both were written under distinct names.
    assert_eq!(files.len(), 1, "{files:?}");
    let names: Vec<String> = outs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .collect();
    assert_ne!(names[0], names[1]);
}

/// A backup the user may not read (a folder it cannot enter, or a file it
/// cannot open) is reported as a permission problem with what to do, never
/// as a missing file. Run as `nobody` (the tests run as root, who may read
/// everything), with a copy of the binary in a folder every user may enter.
#[test]
fn a_backup_the_user_may_not_read_is_a_permission_problem_not_a_missing_file() {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "this test runs the binary as `nobody` with setpriv: it needs root (as in CI)"
    );
    use std::os::unix::fs::PermissionsExt;
    let t = TestDb::acquire();
    t.exec("CREATE (:Function {name: 'kept'})");
    t.cmd().args(["backup", "create"]).assert().success();
    let name = timestamped_backups(&t.backup_dir()).pop().unwrap();
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = open.path().join("ign-setup");
    std::fs::copy(env!("CARGO_BIN_EXE_ign-setup"), &exe).unwrap();
    let folder = open.path().join("backups");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(t.backup_dir().join(&name), folder.join(&name)).unwrap();
    let as_nobody = |args: &[&str]| {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .arg("--backup-dir")
            .arg(&folder)
            .args(args)
            .current_dir(open.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let before = snapshot_dir(&folder);
    for (setup, folder_mode, file_mode) in [
        ("a folder it cannot enter", 0o700, 0o640),
        ("a file it cannot open", 0o755, 0o600),
    ] {
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(folder_mode)).unwrap();
        std::fs::set_permissions(
            folder.join(&name),
            std::fs::Permissions::from_mode(file_mode),
        )
        .unwrap();
        for cmd in ["info", "verify"] {
            let (code, stdout) = as_nobody(&["backup", cmd, &name, "--json"]);
            let doc: serde_json::Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{setup}, {cmd}: {e}: {stdout}"));
            let message = doc["error"]["message"].as_str().unwrap_or_default();
            assert_eq!(code, Some(1), "{setup}, {cmd}: {doc}");
            assert_eq!(doc["error"]["kind"], "io", "{setup}, {cmd}: {doc}");
            assert!(
                message.contains("Permission denied"),
                "{setup}, {cmd}: {message}"
            );
            assert!(
                message.contains("run ign-setup as the user that owns the backup folder"),
                "{setup}, {cmd}: {message}"
            );
            assert!(
                !message.contains("no backup named"),
                "{setup}, {cmd}: {message}"
            );
        }
    }
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::set_permissions(folder.join(&name), std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(snapshot_dir(&folder), before);
}
