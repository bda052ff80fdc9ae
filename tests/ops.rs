//! Running it for months: retention (`backup prune`), scheduled backups
//! (`schedule`), the metrics file, and restore drills into a second server.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as StdCommand;

use predicates::prelude::*;
use serde_json::Value;

use crate::support::{bare_cmd, query_db, repo_root, snapshot_dir, PrivateServer, TestDb};

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A backup file as `backup create` names it, with only what retention reads
/// (the metadata line) being real.
fn synthetic_backup(dir: &Path, datetime: &str, kind: &str) -> String {
    let stamp: String = datetime
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let file = format!("ign_scripts_db_backup_{}_{}.json", &stamp[..8], &stamp[8..]);
    let text = format!(
        "{{\"metadata\":{{\"timestamp\":\"{}_{}\",\"datetime\":\"{datetime}\",\"reason\":\"r\",\"node_count\":1,\"relationship_count\":0,\"version\":\"2.0.0\",\"backup_type\":\"{kind}\",\"source\":\"s\"}},\n\"data\":{{}}}}\n",
        &stamp[..8],
        &stamp[8..]
    );
    std::fs::write(dir.join(&file), text).unwrap();
    file
}

fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn prune_dry_run_changes_nothing_and_prune_removes_exactly_the_listed_backups() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("neo4j/fullbackup");
    std::fs::create_dir_all(&dir).unwrap();
    // Full backups twice a day over three weeks, three pre-upgrade backups,
    // one safety backup, an unreadable file, the initial backup, and an old
    // full backup that an unfinished restore's journal names.
    let mut full = Vec::new();
    for day in 1..=21 {
        for hour in ["03", "15"] {
            full.push(synthetic_backup(
                &dir,
                &format!("2026-03-{day:02}T{hour}:00:00.000000Z"),
                "full",
            ));
        }
    }
    let pre: Vec<String> = ["2026-01-10", "2026-02-10", "2026-03-10"]
        .iter()
        .map(|d| synthetic_backup(&dir, &format!("{d}T12:00:00Z"), "pre-upgrade"))
        .collect();
    let safety = synthetic_backup(&dir, "2026-03-05T12:00:00Z", "safety");
    std::fs::write(
        dir.join("ign_scripts_db_backup_20260301_999999.json"),
        "garbage",
    )
    .unwrap();
    std::fs::write(dir.join("initial_backup.json"), "{\"metadata\":{\"timestamp\":\"20250101_000000\",\"datetime\":\"2025-01-01T00:00:00Z\",\"reason\":\"r\",\"node_count\":1,\"relationship_count\":0,\"version\":\"2.0.0\",\"backup_type\":\"initial\",\"source\":\"s\"},\n\"data\":{}}\n").unwrap();
    let journalled = full[0].clone();
    std::fs::write(
        dir.join(".journal.json"),
        format!("{{\"safety_backup\": \"{journalled}\"}}"),
    )
    .unwrap();
    let before = snapshot_dir(&dir);

    let rules = ["--keep-daily", "3", "--keep-weekly", "2"];
    let out = bare_cmd(work.path())
        .args(["backup", "prune", "--dry-run", "--json"])
        .args(rules)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(snapshot_dir(&dir), before, "a dry run changes nothing");
    let doc = json_of(&out);
    let listed = doc["backups"].as_array().unwrap();
    assert_eq!(listed.len(), 42 + 3 + 1 + 1 + 1, "every backup is listed");
    let to_remove: BTreeSet<String> = listed
        .iter()
        .filter(|b| b["keep"] == false)
        .map(|b| b["file"].as_str().unwrap().to_owned())
        .collect();
    let reasons = |file: &str| -> Vec<Value> {
        listed.iter().find(|b| b["file"] == file).unwrap()["reasons"]
            .as_array()
            .unwrap()
            .clone()
    };
    // Full, by hand: daily 3 keeps the 15:00 backups of 03-21, 03-20, 03-19;
    // weekly 2: ISO week 2026-W12 (03-16..22) → 03-21 15:00, W11 → 03-15 15:00.
    let kept_full: BTreeSet<String> = full
        .iter()
        .filter(|f| !to_remove.contains(*f))
        .cloned()
        .collect();
    let expected: BTreeSet<String> = [
        "20260321_150000",
        "20260320_150000",
        "20260319_150000",
        "20260315_150000",
        "20260301_030000", // journalled
    ]
    .iter()
    .map(|s| format!("ign_scripts_db_backup_{s}.json"))
    .collect();
    assert_eq!(kept_full, expected);
    let newest = reasons("ign_scripts_db_backup_20260321_150000.json");
    assert_eq!(
        newest
            .iter()
            .map(|r| format!("{} {}", r["rule"], r["period"]))
            .collect::<Vec<_>>(),
        [r#""daily" "2026-03-21""#, r#""weekly" "2026-W12""#]
    );
    let protection = |file: &str| reasons(file)[0]["protected"].as_str().unwrap().to_owned();
    assert!(protection(&journalled).contains("journal"));
    assert!(protection("initial_backup.json").contains("initial_backup.json"));
    assert_eq!(
        protection("ign_scripts_db_backup_20260301_999999.json"),
        "unreadable"
    );
    // The same rules per kind: pre-upgrade keeps 03-10 (daily, weekly) and
    // 02-10 (daily: the last 3 days that have one) and 01-10; safety its only one.
    for f in pre.iter().chain([&safety]) {
        assert!(!to_remove.contains(f), "{f}: {:?}", reasons(f));
    }
    assert_eq!(to_remove.len(), 42 - 5);

    // The human form says why, for every backup.
    bare_cmd(work.path())
        .args(["backup", "prune", "--dry-run"])
        .args(rules)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "kept because: daily 2026-03-21, weekly 2026-W12",
        ))
        .stdout(predicate::str::contains("would be removed"))
        .stdout(predicate::str::contains(
            "37 of 48 backups would be removed.",
        ));
    assert_eq!(snapshot_dir(&dir), before);

    let out = bare_cmd(work.path())
        .args(["backup", "prune", "--json"])
        .args(rules)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let removed: BTreeSet<String> = json_of(&out)["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(removed, to_remove, "exactly the listed ones");
    let before_names: BTreeSet<String> = before
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut now = files_in(&dir);
    now.remove("backup_metadata.json");
    now.remove(".ign-setup.lock");
    assert_eq!(
        now,
        before_names
            .difference(&to_remove)
            .cloned()
            .collect::<BTreeSet<_>>()
    );

    // --kind prunes one kind and leaves the others alone; the metrics file
    // comes from the environment (or [metrics] file) as well as the flag.
    let prom = work.path().join("env.prom");
    let out = bare_cmd(work.path())
        .env("IGN_SETUP_METRICS_FILE", &prom)
        .args([
            "backup",
            "prune",
            "--json",
            "--kind",
            "pre-upgrade",
            "--keep-last",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc = json_of(&out);
    let removed: Vec<&str> = doc["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(removed, [pre[1].as_str(), pre[0].as_str()]);
    let full_left = doc["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "full" && b["file"] != journalled.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        full_left["reasons"][0]["protected"],
        "a kind not being pruned"
    );
    assert_eq!(
        sample(
            &metrics(&prom),
            "ign_setup_last_success",
            ("operation", "prune")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics(&prom),
            "ign_setup_backups",
            ("kind", "pre-upgrade")
        ),
        Some(1.0)
    );

    // Rules that keep nothing are refused; so are unknown config keys.
    bare_cmd(work.path())
        .args(["backup", "prune", "--keep-last", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("keep nothing"));
    bare_cmd(work.path())
        .args(["backup", "prune", "--keep-within", "3 months"])
        .assert()
        .code(2);
    std::fs::write(
        work.path().join("ign-setup.toml"),
        "[backup.retention]\nkeep_dayly = 7\n",
    )
    .unwrap();
    bare_cmd(work.path())
        .args(["backup", "prune", "--dry-run"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("keep_dayly"));
}

fn systemd_analyze() -> Option<std::path::PathBuf> {
    ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

/// The unit files as key=value lines per section, for when systemd-analyze
/// is missing: every line must be a comment, a section header or a key=value.
fn parse_unit(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_owned();
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {l}"));
        assert!(!section.is_empty(), "key outside a section: {l}");
        out.push((section.clone(), k.to_owned(), v.to_owned()));
    }
    out
}

#[test]
fn schedule_install_writes_units_systemd_accepts_and_refuses_bad_cron() {
    let work = tempfile::tempdir().unwrap();
    let units = work.path().join("units");
    let schedule = |args: &[&str]| {
        let mut c = bare_cmd(work.path());
        c.env("IGN_SETUP_SYSTEMD_DIR", &units)
            .arg("schedule")
            .args(args);
        c
    };
    let out = schedule(&[
        "install",
        "--every",
        "15 2 * * 1-5",
        "--drill-into",
        "bolt://127.0.0.1:7999",
        "--drill-password-file",
        "drill-pw",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc = json_of(&out);
    assert_eq!(doc["on_calendar"], "Mon,Tue,Wed,Thu,Fri *-*-* 02:15:00");
    assert_eq!(doc["next_runs"].as_array().unwrap().len(), 3);
    let service = units.join("ign-setup-backup.service");
    let timer = units.join("ign-setup-backup.timer");
    let timer_text = std::fs::read_to_string(&timer).unwrap();
    let service_text = std::fs::read_to_string(&service).unwrap();
    assert!(timer_text.contains("Persistent=true"));
    assert!(service_text.contains("backup create --auto"));
    assert!(service_text.contains("backup drill --into bolt://127.0.0.1:7999 --into-password-file"));
    assert!(!service_text.contains("password ") && !service_text.contains("--password "));
    match systemd_analyze() {
        Some(sa) => {
            let v = StdCommand::new(&sa)
                .arg("verify")
                .arg(&service)
                .arg(&timer)
                .output()
                .unwrap();
            assert!(
                v.status.success() && v.stderr.is_empty(),
                "systemd-analyze verify: {}",
                String::from_utf8_lossy(&v.stderr)
            );
        }
        None => {
            eprintln!("systemd-analyze not found: checking the units with the parser only");
            let t = parse_unit(&timer_text);
            assert!(t.contains(&("Timer".into(), "Persistent".into(), "true".into())));
            let s = parse_unit(&service_text);
            assert!(s
                .iter()
                .any(|(sec, k, _)| sec == "Service" && k == "ExecStart"));
        }
    }
    schedule(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("15 2 * * 1-5"))
        .stdout(predicate::str::contains("next runs"));

    // A bad expression: exit 2, the reason and the fix, nothing written.
    let before = snapshot_dir(&units);
    for bad in ["61 * * * *", "* * *", "0 0 30 2 *"] {
        schedule(&["install", "--every", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("invalid schedule"))
            .stderr(predicate::str::contains("5-field cron expression"));
    }
    schedule(&["install", "--every", "0 0 L * *"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--cron"));
    assert_eq!(snapshot_dir(&units), before);
    // The same expression is fine as a crontab line.
    schedule(&["install", "--every", "0 0 L * *", "--cron"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 0 L * * cd "));
    // A password on the command line is never written into a schedule.
    schedule(&["--password", "secret", "install"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--password-file"));

    let out = schedule(&["remove", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(json_of(&out)["removed"].as_array().unwrap().len(), 2);
    assert!(!service.exists() && !timer.exists());
}

/// croner (our next runs) and systemd (the timer) agree on when each
/// schedule fires.
#[test]
fn schedule_next_runs_agree_with_systemd() {
    let Some(sa) = systemd_analyze() else {
        eprintln!("systemd-analyze not found: skipped");
        return;
    };
    use chrono::TimeZone;
    let base = chrono::Utc.with_ymd_and_hms(2026, 3, 30, 22, 7, 0).unwrap();
    for every in [
        "daily",
        "hourly",
        "*/20 1-3 * * *",
        "0 4 1,15 * *",
        "30 6 * JAN,JUL SUN",
        "0 9 * * 1-5",
        "5 0 29 2 *",
    ] {
        let s = ign_setup::schedule::Schedule::parse(every).unwrap();
        let cal = s.on_calendar().unwrap();
        let out = StdCommand::new(&sa)
            .env("TZ", "UTC")
            .args([
                "calendar",
                "--iterations=5",
                "--base-time=2026-03-30 22:07:00 UTC",
            ])
            .arg(&cal)
            .output()
            .unwrap();
        assert!(out.status.success(), "{cal}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let systemd: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                l.strip_prefix("Next elapse: ")
                    .or_else(|| {
                        l.split_once(": ")
                            .filter(|(k, _)| k.starts_with("Iter."))
                            .map(|(_, v)| v)
                    })
                    .map(str::to_owned)
            })
            .collect();
        let ours: Vec<String> = s
            .next_runs(&base, 5)
            .iter()
            .map(|t| t.format("%a %Y-%m-%d %H:%M:%S UTC").to_string())
            .collect();
        assert_eq!(ours, systemd, "{every} ({cal})");
    }
}

/// Series and samples of a metrics file, parsed by a Prometheus text parser.
fn metrics(path: &Path) -> prometheus_parse::Scrape {
    let text = std::fs::read_to_string(path).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{text}"));
    // The parser skips what it cannot read: every sample line must have been read.
    let sample_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(scrape.samples.len(), sample_lines, "{text}");
    assert!(
        text.lines()
            .filter(|l| l.starts_with("# TYPE "))
            .all(|l| l.ends_with(" gauge")),
        "{text}"
    );
    scrape
}

fn sample(s: &prometheus_parse::Scrape, name: &str, label: (&str, &str)) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == name && x.labels.get(label.0) == Some(label.1))
        .map(|x| match x.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name}: {other:?}"),
        })
}

#[test]
fn the_metrics_file_parses_and_carries_the_documented_series() {
    let t = TestDb::acquire();
    t.exec(
        "CREATE (:Function {name: 'a'})-[:USES]->(:Function {name: 'b'}), (:Template {name: 't'})",
    );
    // An installed version: reported as an info gauge (and backed up, so
    // the backup holds 4 nodes).
    crate::support::runtime()
        .block_on(ign_setup::state::record_version(
            &t.db,
            &semver::Version::new(1, 5, 0),
        ))
        .unwrap();
    let prom = t.path("textfile/ign-setup.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    std::fs::write(
        t.path("ign-setup.toml"),
        "[backup.retention]\nkeep_last = 2\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        t.cmd()
            .arg("--metrics-file")
            .arg(&prom)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["backup", "create", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let file = json_of(&out)["file"].as_str().unwrap().to_owned();
    let m = metrics(&prom);
    assert_eq!(
        sample(&m, "ign_setup_installed_version_info", ("version", "1.5.0")),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_last_success", ("operation", "create")),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_last_nodes", ("operation", "create")),
        Some(4.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_last_relationships", ("operation", "create")),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_backup_newest_nodes", ("kind", "full")),
        Some(4.0)
    );
    let newest = sample(
        &m,
        "ign_setup_backup_newest_timestamp_seconds",
        ("kind", "full"),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - newest).abs() < 120.0, "{newest} vs {now}");
    assert!(sample(&m, "ign_setup_backup_newest_size_bytes", ("kind", "full")).unwrap() > 100.0);
    assert_eq!(
        sample(
            &m,
            "ign_setup_tool_info",
            ("version", env!("CARGO_PKG_VERSION"))
        ),
        Some(1.0)
    );

    assert!(run(&["backup", "verify", &file]).status.success());
    let out = run(&["backup", "restore", "--yes", "--file", &file]);
    assert!(out.status.success(), "{out:?}");
    // A failed verify records a failure, and leaves the others as they were.
    std::fs::write(t.path("bad.json"), "{\"metadata\": 1}\n").unwrap();
    assert_eq!(
        run(&["backup", "verify", "bad.json"]).status.code(),
        Some(20)
    );
    let m = metrics(&prom);
    assert_eq!(
        sample(&m, "ign_setup_last_success", ("operation", "verify")),
        Some(0.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_last_nodes", ("operation", "verify")),
        Some(4.0),
        "from the last success"
    );
    assert_eq!(
        sample(&m, "ign_setup_last_success", ("operation", "restore")),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_last_nodes", ("operation", "restore")),
        Some(4.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_last_success", ("operation", "create")),
        Some(1.0)
    );
    for op in ["create", "verify", "restore"] {
        assert!(sample(
            &m,
            "ign_setup_last_run_timestamp_seconds",
            ("operation", op)
        )
        .is_some());
        assert!(sample(&m, "ign_setup_last_duration_seconds", ("operation", op)).is_some());
        assert!(sample(
            &m,
            "ign_setup_last_success_timestamp_seconds",
            ("operation", op)
        )
        .is_some());
    }
    // The restore's safety backup is a backup of its own kind.
    assert_eq!(
        sample(&m, "ign_setup_backups", ("kind", "safety")),
        Some(1.0)
    );

    // Every series in the file is documented, and every documented series
    // (but the installed version, which this database has none of) is there.
    let doc = std::fs::read_to_string(repo_root().join("docs/metrics.md")).unwrap();
    let documented: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `ign_setup_"))
        .filter_map(|l| l.split('`').next())
        .map(|n| format!("ign_setup_{}", n.split('{').next().unwrap()))
        .collect();
    let present: BTreeSet<String> = m.samples.iter().map(|s| s.metric.clone()).collect();
    let undocumented: Vec<_> = present.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/metrics.md: {undocumented:?}"
    );
    let missing: Vec<_> = documented
        .difference(&present)
        .filter(|n| *n != "ign_setup_installed_version_info")
        .collect();
    assert!(
        missing.is_empty(),
        "documented but not written: {missing:?}"
    );
    // Written atomically: no temporary file left beside it.
    let left: Vec<String> = files_in(prom.parent().unwrap())
        .into_iter()
        .filter(|f| f.starts_with(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A run that overlaps another on this host (a scheduled one under cron)
    // finds the backup folder's lock taken: exit 30, nothing written.
    let lock = t.backup_dir().join(".ign-setup.lock");
    // --no-fork: the process we kill is the one holding the lock.
    let mut holder = StdCommand::new("flock")
        .arg("--no-fork")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let probe = || {
        StdCommand::new("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap()
            .success()
    };
    while probe() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = snapshot_dir(&t.backup_dir());
    let out = run(&["backup", "create"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(30), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked by"));
    assert_eq!(snapshot_dir(&t.backup_dir()), before);
    assert_eq!(
        sample(
            &metrics(&prom),
            "ign_setup_last_success",
            ("operation", "create")
        ),
        Some(0.0)
    );

    // The configured retention ran after each create: two full backups at most.
    for _ in 0..2 {
        assert!(run(&["backup", "create"]).status.success());
    }
    let full = files_in(&t.backup_dir())
        .into_iter()
        .filter(|f| f.starts_with("ign_scripts_db_backup_"))
        .count();
    assert_eq!(full, 3, "two full backups and the safety backup");
}

fn empty(db: &ign_setup::graph::Db) -> bool {
    let n = query_db(db, "MATCH (n) RETURN count(n) AS c")[0]["c"]
        .as_i64()
        .unwrap();
    let s = query_db(
        db,
        "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN count(name) AS c",
    )[0]["c"]
        .as_i64()
        .unwrap();
    let c = query_db(db, "SHOW CONSTRAINTS YIELD name RETURN count(name) AS c")[0]["c"]
        .as_i64()
        .unwrap();
    n == 0 && s == 0 && c == 0
}

#[test]
fn drills_pass_into_a_second_server_and_refuse_or_fail_safely() {
    let t = TestDb::acquire();
    t.exec(
        "CREATE (a:Function:`Hostile ``) DETACH DELETE n //` {name: 'system.tag.read', usage_count: 5, score: 1.5, tags: ['a','b'], at: datetime('2026-03-01T10:00:00+01:00')}), \
                (b:Function {name: 'system.db.runQuery', usage_count: 9223372036854775807}), \
                (c:Template {name: 'tmpl', `prop with space`: 'ü ✓'}), (:Empty), \
                (a)-[:CO_OCCURS_WITH {confidence: 0.85}]->(b), (c)-[:`USES ``x```]->(a), (b)-[:SELF]->(b)",
    );
    t.exec("UNWIND range(1, 500) AS i CREATE (:Bulk {i: i})-[:NEXT {i: i}]->(:Bulk {i: -i})");
    t.exec(
        "CREATE CONSTRAINT function_name IF NOT EXISTS FOR (f:Function) REQUIRE f.name IS UNIQUE",
    );
    t.exec("CREATE INDEX bulk_i IF NOT EXISTS FOR (b:Bulk) ON (b.i)");
    let created = t
        .cmd()
        .args(["backup", "create", "--json"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let file = json_of(&created)["file"].as_str().unwrap().to_owned();
    let main_before = crate::support::db_content(&t.db);

    let scratch = PrivateServer::start();
    let scratch_db = scratch.connect();
    let prom = t.path("drill.prom");
    let drill = |args: &[&str]| {
        t.cmd()
            .env("IGN_SETUP_DRILL_PASSWORD", &scratch.password)
            .arg("--metrics-file")
            .arg(&prom)
            .args(["backup", "drill", "--json"])
            .args(args)
            .output()
            .unwrap()
    };

    // 1. A good backup into the second server: passes, and the scratch
    //    database is empty again.
    let out = drill(&["--into", &scratch.uri, "--into-database", "neo4j"]);
    assert!(out.status.success(), "{out:?}");
    let doc = json_of(&out);
    assert_eq!(doc["ok"], true, "{doc}");
    let checks = doc["drill"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["load", "counts", "schema", "sample"]);
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    assert_eq!(doc["drill"]["nodes"], 1004);
    assert_eq!(doc["drill"]["relationships"], 503);
    assert_eq!(doc["drill"]["sampled_nodes"], 100);
    assert!(doc["drill"]["sampled_relationships"].as_u64().unwrap() >= 90);
    assert_eq!(doc["drill"]["emptied"], true);
    assert!(empty(&scratch_db), "scratch emptied after a passed drill");
    let m = metrics(&prom);
    assert_eq!(
        sample(&m, "ign_setup_last_success", ("operation", "drill")),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "ign_setup_last_nodes", ("operation", "drill")),
        Some(1004.0)
    );

    // 2. A corrupted backup: exit 20, nothing loaded.
    // One property value changed: still valid JSON, but not what was written.
    let bad = t.path("corrupt.json");
    let text = std::fs::read_to_string(t.backup_dir().join(&file)).unwrap();
    assert!(text.contains("system.tag.read"));
    std::fs::write(&bad, text.replace("system.tag.read", "system.tag.reaX")).unwrap();
    let out = drill(&["--file", bad.to_str().unwrap(), "--into", &scratch.uri]);
    assert_eq!(out.status.code(), Some(20), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum"),
        "{out:?}"
    );
    assert!(empty(&scratch_db), "scratch empty after a corrupt backup");
    assert_eq!(
        sample(
            &metrics(&prom),
            "ign_setup_last_success",
            ("operation", "drill")
        ),
        Some(0.0)
    );

    // 3. The configured database as the target, however it is spelled:
    //    refused (exit 20) before anything is written.
    let port = t.server.uri.rsplit(':').next().unwrap().to_owned();
    for (uri, db) in [
        (t.server.uri.clone(), None),
        (format!("neo4j://localhost:{port}"), Some("NEO4J")),
        (format!("bolt://127.0.0.1:{port}"), Some("neo4j")),
    ] {
        let mut args = vec!["--into", uri.as_str()];
        if let Some(d) = db {
            args.extend(["--into-database", d]);
        }
        let out = t
            .cmd()
            .env("IGN_SETUP_DRILL_PASSWORD", &t.server.password)
            .args(["backup", "drill"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(20), "{uri} {db:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is the configured database"),
            "{out:?}"
        );
    }
    assert_eq!(
        crate::support::db_content(&t.db),
        main_before,
        "the live database untouched"
    );
    assert!(empty(&scratch_db), "scratch still empty");

    // 4. A load that fails part-way (injected after the data is in, before
    //    the count checks; and mid-load): a failed drill, exit 20, and the
    //    scratch database emptied all the same.
    for fault in ["restore.before-verify:1", "restore.batch:2"] {
        let out = t
            .cmd()
            .env("IGN_SETUP_DRILL_PASSWORD", &scratch.password)
            .env("IGN_SETUP_FAULT", fault)
            .args(["backup", "drill", "--json", "--into", &scratch.uri])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(20), "{fault}: {out:?}");
        let doc = json_of(&out);
        assert_eq!(doc["ok"], false);
        assert_eq!(doc["drill"]["checks"][0]["name"], "load");
        assert_eq!(doc["drill"]["checks"][0]["ok"], false);
        assert_eq!(doc["drill"]["emptied"], true);
        assert!(
            empty(&scratch_db),
            "{fault}: scratch emptied after a failed load"
        );
    }

    // 5. A scratch database that holds data is refused and left as it was.
    crate::support::runtime()
        .block_on(scratch_db.run(neo4rs::query("CREATE (:SomeonesData {x: 1})")))
        .unwrap();
    let out = drill(&["--into", &scratch.uri]);
    assert_eq!(out.status.code(), Some(20), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        query_db(&scratch_db, "MATCH (n:SomeonesData) RETURN count(n) AS c")[0]["c"],
        1
    );

    // No password: a configuration error naming both ways to give one.
    t.cmd()
        .args(["backup", "drill", "--into", &scratch.uri])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("IGN_SETUP_DRILL_PASSWORD"));
}
