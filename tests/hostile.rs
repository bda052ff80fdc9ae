//! A second actor: another backup folder, another process, a stale journal, a
//! crafted file. The database's operation marker, the tool's reserved labels
//! and the checks on files (docs/reliability.md, "More than one actor").

use std::path::Path;
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
