//! `ign-setup schedule install|status|remove`: scheduled backups as systemd
//! units or a crontab line (see `crate::schedule`). ign-setup never runs
//! systemctl itself; it prints the commands to run.

use std::path::{Path, PathBuf};

use super::json;

use super::opt::{ScheduleCommand, ScheduleInstallArgs, ScheduleScopeArgs};
use super::output::Report;
use super::Context;
use crate::config::{process_env, BoltUri, PasswordSource};
use crate::error::{Error, Result};
use crate::schedule::{self, Job, Schedule, ScheduleError, Scope, UNIT_NAME};

pub fn run(ctx: &Context, command: ScheduleCommand) -> Result<Report> {
    match command {
        ScheduleCommand::Install(args) => install(ctx, &args),
        ScheduleCommand::Status(scope) => status(&scope),
        ScheduleCommand::Remove(scope) => remove(&scope),
    }
}

fn scope_of(a: &ScheduleScopeArgs) -> Scope {
    if a.system {
        Scope::System
    } else {
        Scope::User
    }
}

fn unit_dir(scope: Scope) -> Result<(PathBuf, bool)> {
    Ok(schedule::unit_dir(scope, &process_env)?)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::Io(format!("cannot resolve `{}`: {e}", p.display())))
}

/// The global flags given to `schedule install`, for the scheduled command
/// (paths made absolute; never a password).
fn global_flags(ctx: &Context) -> Result<Vec<String>> {
    let g = &ctx.global;
    if g.password.is_some() {
        return Err(ScheduleError::Refused(
            "--password would be written into the schedule for anyone to read; use --password-file FILE or [neo4j] password_file in ign-setup.toml".into(),
        )
        .into());
    }
    let mut out = Vec::new();
    let mut push = |flag: &str, v: String| {
        out.push(flag.to_owned());
        out.push(v);
    };
    if let Some(u) = &g.uri {
        push("--uri", u.clone());
    }
    if let Some(u) = &g.user {
        push("--user", u.clone());
    }
    if let Some(d) = &g.database {
        push("--database", d.clone());
    }
    let config = g
        .config
        .clone()
        .or_else(|| process_env("IGN_SETUP_CONFIG").map(PathBuf::from));
    for (flag, path) in [
        ("--config", &config),
        ("--password-file", &g.password_file),
        ("--backup-dir", &g.backup_dir),
        ("--metrics-file", &g.metrics_file),
    ] {
        if let Some(p) = path {
            push(flag, absolute(p)?.to_string_lossy().into_owned());
        }
    }
    if let Some(t) = g.connect_timeout {
        push("--connect-timeout", t.to_string());
    }
    if let Some(t) = g.query_timeout {
        push("--query-timeout", t.to_string());
    }
    Ok(out)
}

fn next_runs_text(s: &Schedule) -> (String, Vec<String>) {
    let runs: Vec<String> = s
        .next_runs(&chrono::Local::now(), 3)
        .iter()
        .map(|t| t.format("%Y-%m-%d %H:%M %:z").to_string())
        .collect();
    (format!("next runs (local time): {}", runs.join(", ")), runs)
}

fn install(ctx: &Context, args: &ScheduleInstallArgs) -> Result<Report> {
    let schedule = Schedule::parse(&args.every)?;
    let global = global_flags(ctx)?;
    let drill = match &args.drill_into {
        Some(uri) => {
            BoltUri::parse(uri)?;
            let Some(pw) = &args.drill_password_file else {
                return Err(ScheduleError::Refused(
                    "a scheduled drill runs without a terminal and no password is written into the schedule: pass --drill-password-file FILE".into(),
                )
                .into());
            };
            let mut d = vec!["--into".to_owned(), uri.clone()];
            if let Some(db) = &args.drill_database {
                d.extend(["--into-database".to_owned(), db.clone()]);
            }
            if let Some(u) = &args.drill_user {
                d.extend(["--into-user".to_owned(), u.clone()]);
            }
            d.extend([
                "--into-password-file".to_owned(),
                absolute(pw)?.to_string_lossy().into_owned(),
            ]);
            Some(d)
        }
        None => None,
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::Io(format!("cannot find the ign-setup binary: {e}")))?;
    let workdir = std::env::current_dir()
        .map_err(|e| Error::Io(format!("cannot read the working folder: {e}")))?;
    let job = Job {
        exe,
        workdir: workdir.clone(),
        global,
        drill,
    };
    let (next, runs) = next_runs_text(&schedule);
    let mut notes = Vec::new();
    if let Some(pw) = &args.drill_password_file {
        if !pw.is_file() {
            notes.push(format!(
                "the drill password file {} does not exist yet; the drill fails until it does",
                pw.display()
            ));
        }
    }
    if matches!(ctx.settings.connect.password, PasswordSource::Given(_))
        && ctx.global.password_file.is_none()
    {
        notes.push("the password now comes from NEO4J_PASSWORD, which the scheduled run will not have: set [neo4j] password_file in ign-setup.toml or pass --password-file".to_owned());
    }
    if args.cron {
        let line = schedule::crontab_line(&job, &schedule);
        let mut human = format!(
            "Add this line to the crontab (`crontab -e`) of the user that owns the backup folder:\n\n{line}\n\n{next}"
        );
        for n in &notes {
            human.push_str(&format!("\nnote: {n}"));
        }
        return Ok(Report::done(
            human,
            json::CronLine {
                cron: true,
                schedule: &schedule.given,
                cron_expression: &schedule.expr,
                crontab_line: &line,
                next_runs: &runs,
                notes: &notes,
            },
        ));
    }
    let scope = scope_of(&args.scope);
    let (dir, overridden) = unit_dir(scope)?;
    let files = schedule::install(&dir, &job, &schedule)?;
    let systemctl = scope.systemctl();
    let commands = vec![
        format!("{systemctl} daemon-reload"),
        format!("{systemctl} enable --now {UNIT_NAME}.timer"),
    ];
    let mut human = format!(
        "Wrote {} and {}\n  schedule: {} (OnCalendar={}, Persistent=true: a run missed while the machine was off happens at the next boot)\n  runs: backup create --auto{} in {}\n  {next}\n\nTo start the timer, run:\n  {}",
        files.service.display(),
        files.timer.display(),
        schedule.given,
        schedule.on_calendar()?,
        if job.drill.is_some() { ", then backup drill" } else { "" },
        workdir.display(),
        commands.join("\n  ")
    );
    if scope == Scope::User {
        human.push_str(
            "\n  (and `loginctl enable-linger` so it also runs while you are logged out)",
        );
    }
    if overridden {
        human.push_str(&format!("\n(unit folder set by {})", schedule::DIR_ENV));
    }
    for n in &notes {
        human.push_str(&format!("\nnote: {n}"));
    }
    Ok(Report::done(
        human,
        json::TimerInstalled {
            cron: false,
            scope: format!("{scope:?}").to_lowercase(),
            dir: &dir,
            files: &files,
            schedule: &schedule.given,
            cron_expression: &schedule.expr,
            on_calendar: schedule.on_calendar()?,
            next_runs: &runs,
            systemctl: &commands,
            notes: &notes,
        },
    ))
}

fn status(scope: &ScheduleScopeArgs) -> Result<Report> {
    let scope = scope_of(scope);
    let (dir, _) = unit_dir(scope)?;
    let st = schedule::status(&dir);
    if !st.installed {
        return Ok(Report::done(
            format!(
                "No scheduled backup installed in {} (`ign-setup schedule install` writes one; a crontab line is not visible here).",
                dir.display()
            ),
            json::NoTimer {
                installed: false,
                dir: &dir,
            },
        ));
    }
    let parsed = st
        .schedule
        .as_deref()
        .map(Schedule::parse)
        .transpose()
        .ok()
        .flatten();
    let runs = parsed.as_ref().map(next_runs_text);
    let human = format!(
        "Scheduled backup: {} ({})\n  OnCalendar={}\n  enabled (timers.target.wants link): {}\n  runs:\n    {}\n  {}\n  (`{} status {UNIT_NAME}.timer` shows what systemd has loaded)",
        st.schedule.as_deref().unwrap_or("?"),
        dir.display(),
        st.on_calendar.as_deref().unwrap_or("?"),
        if st.enabled { "yes" } else { "no" },
        st.exec_start.join("\n    "),
        runs.as_ref().map(|r| r.0.clone()).unwrap_or_default(),
        scope.systemctl(),
    );
    Ok(Report::done(
        human,
        json::TimerStatus {
            installed: true,
            status: &st,
            next_runs: runs.as_ref().map(|r| r.1.as_slice()),
        },
    ))
}

fn remove(scope: &ScheduleScopeArgs) -> Result<Report> {
    let scope = scope_of(scope);
    let (dir, _) = unit_dir(scope)?;
    let removed = schedule::remove(&dir)?;
    let systemctl = scope.systemctl();
    let commands = vec![
        format!("{systemctl} stop {UNIT_NAME}.timer"),
        format!("{systemctl} daemon-reload"),
    ];
    let human = if removed.is_empty() {
        format!("No scheduled backup in {}; nothing removed.", dir.display())
    } else {
        format!(
            "Removed {}\nTo stop a timer systemd still has loaded, run:\n  {}",
            removed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            commands.join("\n  ")
        )
    };
    Ok(Report::done(
        human,
        json::TimerRemoved {
            removed: &removed,
            systemctl: &commands,
        },
    ))
}
