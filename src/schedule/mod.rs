//! Scheduled backups without a daemon: a systemd timer and a oneshot
//! service (or a crontab line) that run `ign-setup backup create --auto`
//! and, if asked, `ign-setup backup drill` after it.
//!
//! A schedule is a 5-field cron expression (`daily` and `hourly` are
//! `0 0 * * *` and `0 * * * *`), validated by `croner`, which also computes
//! the next runs. For systemd it becomes an `OnCalendar=` line built from the
//! sets of minutes, hours, days and months croner's parsed pattern matches,
//! so both agree on every run. Two cron features have no `OnCalendar` form
//! and are refused for systemd (they work with `--cron`): `L`, `W` and `#`
//! in the day fields, and a day-of-month *and* a day-of-week together (cron
//! runs when either matches, systemd only when both do).
//!
//! ign-setup never runs `systemctl`: it writes the unit files and prints the
//! `systemctl` commands to run, so the same command works in a test, a
//! package build or a container without a service manager.
//! `IGN_SETUP_SYSTEMD_DIR` replaces the unit folder (for tests).
//!
//! Overlapping runs: systemd never starts a service that is still running;
//! under cron, the second run finds the backup folder's lock taken and exits 30.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, TimeZone, Weekday};

use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// Base name of the units: `ign-setup-backup.service` and `.timer`.
pub const UNIT_NAME: &str = "ign-setup-backup";
/// The environment variable that replaces the unit folder.
pub const DIR_ENV: &str = "IGN_SETUP_SYSTEMD_DIR";
/// Written into the timer, so `schedule status` can show the schedule as given.
const SCHEDULE_MARK: &str = "# ign-setup schedule: ";

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid schedule `{expr}`: {reason}; use daily, hourly or a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. \"30 2 * * *\"")]
    BadCron { expr: String, reason: String },
    #[error("the schedule `{expr}` has no systemd OnCalendar form: {reason}; use --cron for a crontab line, or a simpler expression")]
    NotForSystemd { expr: String, reason: String },
    #[error("cannot {action} `{path}`: {source}; check the folder's permissions (system units need root; set {DIR_ENV} to write elsewhere)")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot find the user unit folder: HOME is not set; set HOME, XDG_CONFIG_HOME or {DIR_ENV}"
    )]
    NoHome,
    #[error("{0}")]
    Refused(String),
}

impl ScheduleError {
    pub fn fault(&self) -> crate::exit::Fault {
        use crate::exit::Fault;
        match self {
            // A schedule is a command-line value: a bad one is a usage error.
            ScheduleError::BadCron { .. }
            | ScheduleError::NotForSystemd { .. }
            | ScheduleError::Refused(_) => Fault::Usage,
            ScheduleError::Io { .. } | ScheduleError::NoHome => Fault::Io,
        }
    }

    fn io(action: &'static str, path: &Path, source: std::io::Error) -> ScheduleError {
        ScheduleError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// A validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// As given (`daily`, `hourly`, or the expression).
    pub given: String,
    /// The 5-field cron expression.
    pub expr: String,
    cron: Cron,
}

impl Schedule {
    pub fn parse(every: &str) -> Result<Schedule, ScheduleError> {
        let given = every.trim().to_owned();
        let expr = match given.to_ascii_lowercase().as_str() {
            "daily" | "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "hourly" | "@hourly" => "0 * * * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            other if other.starts_with('@') => {
                return Err(ScheduleError::BadCron {
                    expr: given.clone(),
                    reason: "unknown @name (known: @hourly, @daily, @weekly, @monthly, @yearly)"
                        .into(),
                })
            }
            _ => given.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        if expr.split(' ').count() != 5 {
            return Err(ScheduleError::BadCron {
                expr: given,
                reason: format!(
                    "expected 5 fields, found {}",
                    expr.split(' ').filter(|f| !f.is_empty()).count()
                ),
            });
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&expr)
            .map_err(|e| ScheduleError::BadCron {
                expr: given.clone(),
                reason: e.to_string(),
            })?;
        let s = Schedule { given, expr, cron };
        // A pattern that never fires (February 30th) is as wrong as a typo.
        if s.next_runs(&chrono::Utc::now(), 1).is_empty() {
            return Err(ScheduleError::BadCron {
                expr: s.given,
                reason: "it never matches a real date".into(),
            });
        }
        Ok(s)
    }

    /// The next `n` runs after `from`, in `from`'s time zone (cron and
    /// systemd both read the schedule in the machine's local time).
    pub fn next_runs<Tz: TimeZone>(&self, from: &DateTime<Tz>, n: usize) -> Vec<DateTime<Tz>>
    where
        DateTime<Tz>: croner::time::CronDateTime,
    {
        let mut out = Vec::with_capacity(n);
        let mut t = from.clone();
        while out.len() < n {
            match self.cron.find_next_occurrence(&t, false) {
                Ok(next) => {
                    t = next.clone();
                    out.push(next);
                }
                Err(_) => break,
            }
        }
        out
    }

    /// The systemd `OnCalendar=` value for this schedule.
    pub fn on_calendar(&self) -> Result<String, ScheduleError> {
        let fields: Vec<&str> = self.expr.split(' ').collect();
        let refuse = |reason: &str| ScheduleError::NotForSystemd {
            expr: self.given.clone(),
            reason: reason.to_owned(),
        };
        for f in [fields[2], fields[4]] {
            if f.chars().any(|c| matches!(c, 'L' | 'l' | 'W' | 'w' | '#')) && !is_weekday_name(f) {
                return Err(refuse("L, W and # in the day fields"));
            }
        }
        let p = &self.cron.pattern;
        let (dom_any, dow_any) = (p.is_dom_wildcard(), p.is_dow_wildcard());
        if !dom_any && !dow_any {
            return Err(refuse(
                "it names days of the month and days of the week together (cron runs when either matches, systemd only when both do)",
            ));
        }
        let minutes: Vec<u32> = (0..60)
            .filter(|&m| p.minute_match(m).unwrap_or(false))
            .collect();
        let hours: Vec<u32> = (0..24)
            .filter(|&h| p.hour_match(h).unwrap_or(false))
            .collect();
        let months: Vec<u32> = (1..=12)
            .filter(|&m| p.month_match(m).unwrap_or(false))
            .collect();
        // January 2024 starts on a Monday: the 7th to the 13th are Sunday to Saturday.
        let day = |d: u32| {
            let date = chrono::NaiveDate::from_ymd_opt(2024, 1, d).expect("a January day");
            let wd = croner::Weekday::from_days_from_sunday(date.weekday().num_days_from_sunday());
            p.day_match(2024, 1, d, wd).unwrap_or(false)
        };
        let doms: Vec<u32> = if dom_any {
            (1..=31).collect()
        } else {
            (1..=31).filter(|&d| day(d)).collect()
        };
        let dows: Vec<u32> = if dow_any {
            (0..7).collect()
        } else {
            (0..7).filter(|&k| day(7 + k)).collect()
        };
        if [&minutes, &hours, &months, &doms, &dows]
            .iter()
            .any(|s| s.is_empty())
        {
            return Err(refuse("a field matches nothing"));
        }
        let list = |v: &[u32], full: usize| {
            if v.len() == full {
                "*".to_owned()
            } else {
                v.iter()
                    .map(|n| format!("{n:02}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        };
        let mut out = String::new();
        if dows.len() < 7 {
            const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
            let names: Vec<&str> = dows.iter().map(|&d| NAMES[d as usize]).collect();
            out.push_str(&names.join(","));
            out.push(' ');
        }
        let _ = write!(
            out,
            "*-{}-{} {}:{}:00",
            list(&months, 12),
            list(&doms, 31),
            list(&hours, 24),
            list(&minutes, 60)
        );
        Ok(out)
    }
}

fn is_weekday_name(field: &str) -> bool {
    // `WED` has a W and `SAT,SUN` no L-as-last: names are not the special characters.
    field
        .split([',', '-', '/'])
        .all(|part| part.parse::<u32>().is_ok() || part == "*" || part.parse::<Weekday>().is_ok())
}

/// Which unit folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    System,
}

impl Scope {
    /// `systemctl` or `systemctl --user`.
    pub fn systemctl(self) -> &'static str {
        match self {
            Scope::User => "systemctl --user",
            Scope::System => "systemctl",
        }
    }
}

/// The unit folder for `scope`, and whether `IGN_SETUP_SYSTEMD_DIR` chose it.
pub fn unit_dir(
    scope: Scope,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(PathBuf, bool), ScheduleError> {
    if let Some(d) = env(DIR_ENV) {
        return Ok((PathBuf::from(d), true));
    }
    Ok((
        match scope {
            Scope::System => PathBuf::from("/etc/systemd/system"),
            Scope::User => match env("XDG_CONFIG_HOME") {
                Some(x) => PathBuf::from(x).join("systemd/user"),
                None => PathBuf::from(env("HOME").ok_or(ScheduleError::NoHome)?)
                    .join(".config/systemd/user"),
            },
        },
        false,
    ))
}

/// What the scheduled service runs.
#[derive(Debug, Clone)]
pub struct Job {
    /// The ign-setup binary, absolute.
    pub exe: PathBuf,
    /// Where it runs: `ign-setup.toml` and relative paths resolve here.
    pub workdir: PathBuf,
    /// Global flags to pass (absolute paths; never a password).
    pub global: Vec<String>,
    /// `backup drill` arguments after the global flags, if a drill follows.
    pub drill: Option<Vec<String>>,
}

impl Job {
    fn backup_args(&self) -> Vec<String> {
        let mut v = self.global.clone();
        v.extend(["backup", "create", "--auto"].map(String::from));
        v
    }

    fn drill_args(&self) -> Option<Vec<String>> {
        self.drill.as_ref().map(|d| {
            let mut v = self.global.clone();
            v.extend(["backup", "drill"].map(String::from));
            v.extend(d.iter().cloned());
            v
        })
    }
}

/// One word of an `ExecStart=` line: quoted when needed, with systemd's
/// specifier (`%`) and variable (`$`) characters doubled.
fn exec_word(w: &str) -> String {
    let w = w.replace('%', "%%").replace('$', "$$");
    if !w.is_empty()
        && !w
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        return w;
    }
    format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""))
}

fn exec_line(exe: &Path, args: &[String]) -> String {
    let mut words = vec![exec_word(&exe.to_string_lossy())];
    words.extend(args.iter().map(|a| exec_word(a)));
    words.join(" ")
}

pub fn service_text(job: &Job) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by ign-setup {}: `ign-setup schedule remove` removes it.",
        crate::TOOL_VERSION
    );
    t.push_str("[Unit]\nDescription=ign-setup: back up the IGN Scripts Neo4j database (backup create --auto)\n");
    t.push_str(
        "Wants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\n",
    );
    let _ = writeln!(
        t,
        "WorkingDirectory={}",
        job.workdir.to_string_lossy().replace('%', "%%")
    );
    let _ = writeln!(t, "ExecStart={}", exec_line(&job.exe, &job.backup_args()));
    if let Some(d) = job.drill_args() {
        let _ = writeln!(t, "ExecStart={}", exec_line(&job.exe, &d));
    }
    // Exit 4: no backup was needed. Not a failure, and the drill still runs.
    t.push_str("SuccessExitStatus=4\n");
    t
}

pub fn timer_text(schedule: &Schedule) -> Result<String, ScheduleError> {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by ign-setup {}: `ign-setup schedule remove` removes it.",
        crate::TOOL_VERSION
    );
    let _ = writeln!(t, "{SCHEDULE_MARK}{}", schedule.given);
    let _ = writeln!(
        t,
        "[Unit]\nDescription=ign-setup: scheduled backup ({})\n\n[Timer]\nOnCalendar={}\n\
         Persistent=true\nUnit={UNIT_NAME}.service\n\n[Install]\nWantedBy=timers.target",
        schedule.given,
        schedule.on_calendar()?
    );
    Ok(t)
}

/// One crontab line; `%` is special to cron and escaped.
pub fn crontab_line(job: &Job, schedule: &Schedule) -> String {
    let q = |w: &str| format!("'{}'", w.replace('\'', "'\\''"));
    let cmd = |args: &[String]| {
        let mut words = vec![q(&job.exe.to_string_lossy())];
        words.extend(args.iter().map(|a| q(a)));
        words.join(" ")
    };
    let mut line = format!(
        "{} cd {} && {}",
        schedule.expr,
        q(&job.workdir.to_string_lossy()),
        cmd(&job.backup_args())
    );
    if let Some(d) = job.drill_args() {
        // Exit 4 (no backup needed) still drills the newest backup.
        let _ = write!(
            line,
            "; rc=$?; if [ $rc -eq 0 ] || [ $rc -eq 4 ]; then {}; fi",
            cmd(&d)
        );
    }
    line.replace('%', "\\%")
}

/// The files `schedule install` writes, and where.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Installed {
    pub service: PathBuf,
    pub timer: PathBuf,
}

pub fn service_path(dir: &Path) -> PathBuf {
    dir.join(format!("{UNIT_NAME}.service"))
}

pub fn timer_path(dir: &Path) -> PathBuf {
    dir.join(format!("{UNIT_NAME}.timer"))
}

/// Writes the service and timer into `dir` (each atomically).
pub fn install(dir: &Path, job: &Job, schedule: &Schedule) -> Result<Installed, ScheduleError> {
    let timer = timer_text(schedule)?;
    let service = service_text(job);
    std::fs::create_dir_all(dir).map_err(|e| ScheduleError::io("create", dir, e))?;
    let (sp, tp) = (service_path(dir), timer_path(dir));
    for (path, text) in [(&sp, &service), (&tp, &timer)] {
        crate::fsutil::write_atomic(path, text.as_bytes())
            .map_err(|e| ScheduleError::io("write", path, e))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
    }
    Ok(Installed {
        service: sp,
        timer: tp,
    })
}

/// What `schedule status` finds in a unit folder.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub dir: PathBuf,
    pub installed: bool,
    /// Linked into timers.target.wants (by `systemctl enable`).
    pub enabled: bool,
    pub schedule: Option<String>,
    pub on_calendar: Option<String>,
    pub exec_start: Vec<String>,
}

pub fn status(dir: &Path) -> Status {
    let timer = std::fs::read_to_string(timer_path(dir)).ok();
    let service = std::fs::read_to_string(service_path(dir)).ok();
    let find = |text: &Option<String>, prefix: &str| -> Vec<String> {
        text.as_deref()
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            .collect()
    };
    Status {
        dir: dir.to_owned(),
        installed: timer.is_some() && service.is_some(),
        enabled: dir
            .join("timers.target.wants")
            .join(format!("{UNIT_NAME}.timer"))
            .exists(),
        schedule: find(&timer, SCHEDULE_MARK).into_iter().next(),
        on_calendar: find(&timer, "OnCalendar=").into_iter().next(),
        exec_start: find(&service, "ExecStart="),
    }
}

/// Removes the units (and the enable link, if any); returns what was removed.
pub fn remove(dir: &Path) -> Result<Vec<PathBuf>, ScheduleError> {
    let mut removed = Vec::new();
    for path in [
        dir.join("timers.target.wants")
            .join(format!("{UNIT_NAME}.timer")),
        timer_path(dir),
        service_path(dir),
    ] {
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ScheduleError::io("remove", &path, e)),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn schedules_become_on_calendar_lines() {
        for (every, expected) in [
            ("daily", "*-*-* 00:00:00"),
            ("hourly", "*-*-* *:00:00"),
            ("30 2 * * *", "*-*-* 02:30:00"),
            (
                "*/15 8-17 * * 1-5",
                "Mon,Tue,Wed,Thu,Fri *-*-* 08,09,10,11,12,13,14,15,16,17:00,15,30,45:00",
            ),
            ("0 3 1,15 * *", "*-*-01,15 03:00:00"),
            ("0 4 * JAN,JUL SUN", "Sun *-01,07-* 04:00:00"),
            ("0 0 * * 7", "Sun *-*-* 00:00:00"),
            ("@weekly", "Sun *-*-* 00:00:00"),
        ] {
            let s = Schedule::parse(every).unwrap();
            assert_eq!(s.on_calendar().unwrap(), expected, "{every}");
        }
    }

    #[test]
    fn bad_and_systemd_incompatible_schedules_are_refused_with_the_fix() {
        for bad in [
            "",
            "61 * * * *",
            "* * *",
            "0 0 * * * *",
            "every day",
            "@reboot",
            "0 0 30 2 *",
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(matches!(e, ScheduleError::BadCron { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("5-field cron expression"), "{e}");
        }
        for odd in ["0 0 L * *", "0 0 * * 5#2", "0 0 1 * MON"] {
            let s = Schedule::parse(odd).unwrap();
            let e = s.on_calendar().unwrap_err();
            assert!(e.to_string().contains("--cron"), "{odd}: {e}");
        }
    }

    #[test]
    fn next_runs_follow_the_expression() {
        let s = Schedule::parse("30 2 * * *").unwrap();
        let from = Utc.with_ymd_and_hms(2026, 3, 31, 10, 0, 0).unwrap();
        let next = s.next_runs(&from, 2);
        assert_eq!(next[0], Utc.with_ymd_and_hms(2026, 4, 1, 2, 30, 0).unwrap());
        assert_eq!(next[1], Utc.with_ymd_and_hms(2026, 4, 2, 2, 30, 0).unwrap());
    }

    #[test]
    fn exec_words_are_quoted_and_escaped_for_systemd() {
        assert_eq!(exec_word("/usr/bin/ign-setup"), "/usr/bin/ign-setup");
        assert_eq!(exec_word("/my dir/x"), "\"/my dir/x\"");
        assert_eq!(exec_word("100%"), "100%%");
        assert_eq!(exec_word("$HOME"), "$$HOME");
        assert_eq!(exec_word("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn crontab_lines_escape_percent_and_chain_the_drill() {
        let job = Job {
            exe: "/opt/ign setup/ign-setup".into(),
            workdir: "/srv/ign".into(),
            global: vec!["--metrics-file".into(), "/var/lib/m%.prom".into()],
            drill: Some(vec!["--into".into(), "bolt://127.0.0.1:7688".into()]),
        };
        let line = crontab_line(&job, &Schedule::parse("daily").unwrap());
        assert_eq!(
            line,
            "0 0 * * * cd '/srv/ign' && '/opt/ign setup/ign-setup' '--metrics-file' '/var/lib/m\\%.prom' 'backup' 'create' '--auto'; rc=$?; if [ $rc -eq 0 ] || [ $rc -eq 4 ]; then '/opt/ign setup/ign-setup' '--metrics-file' '/var/lib/m\\%.prom' 'backup' 'drill' '--into' 'bolt://127.0.0.1:7688'; fi"
        );
    }
}
