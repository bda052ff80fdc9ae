//! Reliability and security promises (docs/reliability.md): concurrency, a
//! server that goes away mid-restore, a full or read-only disk during a backup,
//! and secrets that never leak.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use predicates::prelude::*;

use crate::support::{db_content, snapshot_dir, timestamped_backups, Hold, PrivateServer, TestDb};

fn spawn(t: &TestDb, args: &[&str]) -> std::process::Child {
    t.std_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_restores_started_together_one_runs_the_other_is_locked() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 8000) AS i CREATE (:Function {name: 'f' + toString(i), i: i})-[:USES]->(:Template {i: i})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    let before = db_content(&t.db);
    let a = spawn(&t, &["backup", "restore", "--yes", "--file", &file]);
    let b = spawn(&t, &["backup", "restore", "--yes", "--file", &file]);
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap_or(-1)).collect();
    let locked = outs.iter().filter(|o| o.status.code() == Some(30)).count();
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        (ok, locked),
        (1, 1),
        "exit codes {codes:?}: {:?}",
        outs.iter()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .collect::<Vec<_>>()
    );
    let refused = outs.iter().find(|o| o.status.code() == Some(30)).unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("locked by"));
    assert_eq!(
        db_content(&t.db),
        before,
        "the restored backup holds the same content"
    );
}

#[test]
fn a_server_stopped_mid_restore_is_recovered_once_it_is_back() {
    let server = PrivateServer::start();
    let work = tempfile::tempdir().unwrap();
    let db = server.connect();
    let run = |cypher: &str| {
        crate::support::runtime()
            .block_on(db.run(neo4rs::query(cypher)))
            .unwrap()
    };
    run("UNWIND range(1, 30000) AS i CREATE (:Function {name: 'f' + toString(i), i: i, d: 'text to make the load take a while'})");
    server
        .cmd(work.path())
        .args(["backup", "create"])
        .assert()
        .success();
    let file = timestamped_backups(&work.path().join("neo4j/fullbackup"))
        .pop()
        .unwrap();
    run("MATCH (n:Function) WHERE n.i > 100 DETACH DELETE n");
    run("CREATE (:Marker {state: 'before'})");
    let before = db_content(&db);
    drop(db);

    let child = server
        .std_cmd(work.path())
        .args(["backup", "restore", "--yes", "--file", &file])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the restore is clearing or loading (the journal says so), then pull the plug.
    let journal = work.path().join("neo4j/fullbackup/.journal.json");
    let mut waited = 0;
    while waited < 600 {
        if std::fs::read_to_string(&journal)
            .map(|j| j.contains("destructive"))
            .unwrap_or(false)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    assert!(
        journal.exists(),
        "the restore never reached its destructive phase"
    );
    server.stop();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the restore cannot have succeeded: {stderr}"
    );
    assert!(
        stderr.contains("ign-setup recover") || stderr.contains("rolled back"),
        "the error says what happened and what to do: {stderr}"
    );
    server.restart();
    if journal.exists() {
        server
            .cmd(work.path())
            .arg("recover")
            .assert()
            .success()
            .stdout(predicate::str::contains("rolled back"));
    }
    assert!(!journal.exists());
    let db = server.connect();
    assert_eq!(
        db_content(&db),
        before,
        "the database is back as it was before the restore"
    );
}

/// Mounts a small tmpfs on `dir` (root only: CI runs as root).
fn mount_tmpfs(dir: &Path, size: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let ok = StdCommand::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0750"),
            "tmpfs",
        ])
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "this test mounts a tmpfs to fill the disk: it needs root (as in CI)"
    );
}

fn umount(dir: &Path) {
    let _ = StdCommand::new("umount").arg(dir).status();
}

#[test]
fn a_full_disk_or_read_only_folder_during_create_leaves_earlier_backups_intact() {
    let t = TestDb::acquire();
    let dir = t.backup_dir();
    mount_tmpfs(&dir, "512k");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            umount(self.0);
        }
    }
    let _guard = Unmount(&dir);
    t.exec("CREATE (:Function {name: 'small'})");
    t.cmd().args(["backup", "create"]).assert().success();
    let first = timestamped_backups(&dir);
    assert_eq!(first.len(), 1);
    let folder = snapshot_dir(&dir);

    // Disk full: a backup far larger than the 512 KiB the folder has.
    t.exec("UNWIND range(1, 20000) AS i CREATE (:Function {name: 'f' + toString(i), d: 'padding padding padding padding'})");
    t.cmd()
        .args(["backup", "create"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("No space left").or(predicate::str::contains("space")));
    assert_eq!(
        snapshot_dir(&dir),
        folder,
        "nothing half written is left; earlier files unchanged"
    );
    t.cmd()
        .args(["backup", "verify", &first[0]])
        .assert()
        .success();

    // Read-only folder.
    t.exec("MATCH (n:Function) WHERE n.name <> 'small' DELETE n");
    let remount = StdCommand::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(remount.success());
    t.cmd()
        .args(["backup", "create"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("Read-only").or(predicate::str::contains("read-only")));
    assert_eq!(snapshot_dir(&dir), folder);
}

/// A folder on a disk that is already full: `backup create`, `restore` and
/// `upgrade` fail with the reason and leave nothing behind, not even the
/// lock file they created.
#[test]
fn a_full_disk_leaves_no_new_file_not_even_a_lock_file() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 200) AS i CREATE (:Function {name: 'f' + toString(i)})");
    // A good backup elsewhere, for the restore whose safety backup cannot be written.
    t.cmd().args(["backup", "create"]).assert().success();
    let good = t
        .backup_dir()
        .join(timestamped_backups(&t.backup_dir()).pop().unwrap());
    t.exec("CREATE (:Function {name: 'newer'})");
    let dir = t.path("full");
    mount_tmpfs(&dir, "64k");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            umount(self.0);
        }
    }
    let _guard = Unmount(&dir);
    // Fill it to the last byte.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(dir.join("filler")).unwrap();
        while f.write_all(&[0u8; 4096]).is_ok() {}
        let _ = f.write_all(&[0u8; 1]);
    }
    // Names and sizes (the filler is not worth printing on a failure).
    let listing = |dir: &Path| -> Vec<(PathBuf, usize)> {
        snapshot_dir(dir)
            .into_iter()
            .map(|(p, bytes)| (p, bytes.len()))
            .collect()
    };
    let folder = listing(&dir);
    let before = db_content(&t.db);
    let dir_arg = dir.to_str().unwrap();
    for args in [
        &["backup", "create"][..],
        &[
            "backup",
            "restore",
            "--yes",
            "--file",
            good.to_str().unwrap(),
        ][..],
    ] {
        let out = t
            .cmd()
            .arg("--backup-dir")
            .arg(dir_arg)
            .args(args)
            .assert()
            .failure()
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("No space left"), "{args:?}: {stderr}");
        assert_eq!(listing(&dir), folder, "{args:?}: {stderr}");
        assert_eq!(db_content(&t.db), before, "{args:?}");
    }
}

#[test]
fn the_password_appears_nowhere() {
    let t = TestDb::acquire();
    let pw = t.server.password.clone();
    t.exec("UNWIND range(1, 50) AS i CREATE (:Function {i: i})");
    let mut outputs = Vec::new();
    let mut run = |args: &[&str], env_pw: Option<&str>| {
        let mut c = t.cmd();
        if let Some(p) = env_pw {
            c.env("NEO4J_PASSWORD", p);
        }
        let out = c.args(args).output().unwrap();
        outputs.push(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    };
    run(&["backup", "create", "--json"], None);
    run(&["backup", "init"], None);
    run(&["-v", "backup", "status", "--json"], None);
    run(&["backup", "restore", "--yes"], None);
    run(&["doctor", "--json"], None);
    run(&["package", "--version", "1.0.0"], None);
    // Failure paths, with the password given on the command line and in the environment.
    run(
        &[
            "doctor",
            "--password",
            &pw,
            "--uri",
            "bolt://127.0.0.1:1",
            "--connect-timeout",
            "1",
        ],
        None,
    );
    run(
        &[
            "-v",
            "backup",
            "create",
            "--uri",
            "bolt://127.0.0.1:1",
            "--connect-timeout",
            "1",
        ],
        None,
    );
    run(
        &["backup", "restore", "--yes", "--file", "missing.json"],
        None,
    );
    std::fs::write(t.path("bad.json"), b"{\"metadata\": 1}").unwrap();
    run(&["backup", "restore", "--yes", "--file", "bad.json"], None);
    let wrong = "Wr0ng-and-Secret-pw";
    run(&["-v", "doctor"], Some(wrong));
    for o in &outputs {
        assert!(!o.contains(&pw), "password in output: {o}");
        assert!(!o.contains(wrong), "wrong password in output: {o}");
    }
    for (path, bytes) in snapshot_dir(t.work.path()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&pw), "password in {}", path.display());
    }
    // Backups exist and are 0640, the folder 0750, the bundle readable.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&t.backup_dir()), 0o750);
    for f in timestamped_backups(&t.backup_dir()) {
        assert_eq!(mode(&t.backup_dir().join(&f)), 0o640, "{f}");
    }
    assert_eq!(mode(&t.backup_dir().join("backup_metadata.json")), 0o640);
}

#[test]
fn ctrl_c_during_a_restore_rolls_back() {
    let t = TestDb::acquire();
    t.exec("UNWIND range(1, 30000) AS i CREATE (:Function {name: 'f' + toString(i), i: i, d: 'text to make the load take a while'})");
    t.cmd().args(["backup", "create"]).assert().success();
    let file = timestamped_backups(&t.backup_dir()).pop().unwrap();
    t.exec("MATCH (n:Function) WHERE n.i > 10 DETACH DELETE n");
    let before = db_content(&t.db);
    // Held after the first batch of the load, so the signal always lands
    // while the database is being replaced.
    let hold = Hold::at("restore.batch");
    let mut child = hold
        .apply(&mut t.std_cmd())
        .args(["backup", "restore", "--yes", "--file", &file])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    hold.wait_reached(&mut child);
    let journal = t.backup_dir().join(".journal.json");
    assert!(std::fs::read_to_string(&journal)
        .unwrap()
        .contains("destructive"));
    // Released only once the handler has taken the request (it says so).
    let (code, stderr) = crate::support::interrupt_held(&hold, child);
    // Interrupted during the load: rolled back and verified.
    assert_eq!(code, Some(31), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("rolled back"),
        "{stderr}"
    );
    assert_eq!(db_content(&t.db), before);
    assert!(!journal.exists());
}

/// A zip with the given (name, bytes) entries, written with the zip crate as is.
fn write_zip(path: &Path, entries: &[(&str, Vec<u8>)]) {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn bad_bundles_migrations_and_flags_change_nothing() {
    let t = TestDb::acquire();
    t.exec("CREATE (:Function {name: 'keep-me'})");
    t.cmd().args(["backup", "create"]).assert().success();
    // A good bundle to damage.
    let repo = crate::support::repo_root();
    t.cmd()
        .args([
            "package",
            "--version",
            "1.5.0",
            "--out",
            "rel",
            "--migrations",
        ])
        .arg(repo.join("migrations"))
        .assert()
        .success();
    let good = std::fs::read(t.path("rel/ign-scripts-1.5.0.zip")).unwrap();
    let before_db = db_content(&t.db);
    let before_dir = snapshot_dir(&t.backup_dir());
    let check_unchanged = |what: &str| {
        assert_eq!(db_content(&t.db), before_db, "database changed by {what}");
        assert_eq!(
            snapshot_dir(&t.backup_dir()),
            before_dir,
            "backup folder changed by {what}"
        );
    };

    // Bundles, each through `package verify` and `install --bundle`.
    let mut flipped = good.clone();
    let mid = flipped.len() / 3;
    flipped[mid] ^= 0x5a;
    let bundles: Vec<(&str, Vec<u8>)> = vec![
        ("flipped byte", flipped),
        ("truncated zip", good[..good.len() / 2].to_vec()),
        ("empty file", Vec::new()),
    ];
    let dir = t.path("bad-bundles");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cases: Vec<(String, std::path::PathBuf)> = Vec::new();
    for (i, (what, bytes)) in bundles.iter().enumerate() {
        let p = dir.join(format!("b{i}.zip"));
        std::fs::write(&p, bytes).unwrap();
        // With the published checksum beside it, as a release is downloaded.
        std::fs::copy(
            t.path("rel/ign-scripts-1.5.0.zip.sha256"),
            dir.join(format!("b{i}.zip.sha256")),
        )
        .unwrap();
        cases.push((what.to_string(), p));
    }
    for (i, (what, name)) in [
        ("zip-slip", "../evil.txt"),
        ("absolute path", "/tmp/ign-setup-evil.txt"),
        ("manifest only", "manifest.json"),
    ]
    .iter()
    .enumerate()
    {
        let p = dir.join(format!("z{i}.zip"));
        write_zip(&p, &[(name, b"{}".to_vec())]);
        cases.push((what.to_string(), p));
    }
    for (what, p) in &cases {
        t.cmd().args(["package", "verify"]).arg(p).assert().code(20);
        let out = t
            .cmd()
            .args(["install", "--yes", "--bundle"])
            .arg(p)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{what}: install --bundle accepted it"
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
            "{what}: no message"
        );
        check_unchanged(what);
    }
    assert!(!Path::new("/tmp/ign-setup-evil.txt").exists());
    assert!(!t.work.path().join("evil.txt").exists());

    // Migration folders, each refused by `migrations status` and `upgrade`.
    let mig_cases: Vec<(&str, &str, &str)> = vec![
        ("non-semver folder", "1.5", "001_a.cypher"),
        ("v-prefixed folder", "v1.5.0", "001_a.cypher"),
        ("bad file name", "1.5.0", "a.cypher"),
        ("empty file", "1.5.0", "001_empty.cypher"),
        ("unterminated string", "1.5.0", "001_open.cypher"),
    ];
    for (what, folder, file) in mig_cases {
        let root = t.path(&format!("mig-{}", what.replace(' ', "-")));
        std::fs::create_dir_all(root.join(folder)).unwrap();
        let text = match what {
            "empty file" => "// nothing here\n",
            "unterminated string" => "MATCH (n) SET n.x = 'open;\n",
            _ => "MATCH (n:Function) SET n.touched = true;\n",
        };
        std::fs::write(root.join(folder).join(file), text).unwrap();
        for args in [
            vec!["migrations", "status"],
            vec!["upgrade", "--to", "1.5.0", "--yes"],
        ] {
            t.cmd()
                .args(&args)
                .arg("--migrations")
                .arg(&root)
                .assert()
                .failure()
                .stderr(predicate::str::is_empty().not());
            check_unchanged(what);
        }
    }

    // Invalid flags.
    for args in [
        vec!["upgrade", "--to", "one.five"],
        vec!["backup", "create", "--frobnicate"],
        vec!["package", "--version", "1.x"],
    ] {
        t.cmd().args(&args).assert().code(2);
        check_unchanged(&args.join(" "));
    }
    let long_reason = "x".repeat(1001);
    t.cmd()
        .args(["backup", "create", "--reason", &long_reason])
        .assert()
        .failure()
        .stderr(predicate::str::contains("too long"));
    check_unchanged("a reason of 1001 characters");
}
