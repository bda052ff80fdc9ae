//! `ign-setup doctor`: can we reach the server, which one is it, is the backup
//! folder usable, and which application version is installed. Exit 0 only when
//! everything is well.

use std::path::Path;

use super::json::{Doctor, DoctorFolder, DoctorServer, InstalledVersion};
use super::output::{mark, warn_mark, Report};
use super::Context;
use crate::error::Result;
use crate::exit;

pub async fn run(ctx: &Context) -> Result<Report> {
    // Looks only: an interrupted operation is reported, not rolled back.
    let (db, unfinished) = ctx.connect_to_look().await?;
    let server = db.server().clone();
    let database = db.database().unwrap_or("(server default)").to_owned();
    let folder = check_folder(&ctx.settings.backup_dir);
    let version = crate::state::installed_version(&db).await;
    let (version_text, version_ok, version_json) = match &version {
        Ok(Some(v)) => (v.version.to_string(), true, InstalledVersion::Recorded(v)),
        Ok(None) => (
            "none recorded (run `ign-setup install`)".to_owned(),
            true,
            InstalledVersion::None,
        ),
        Err(e) => (
            e.to_string(),
            false,
            InstalledVersion::Unreadable {
                error: e.to_string(),
            },
        ),
    };
    let unfinished_text = unfinished.as_ref().map(|u| u.describe());
    let ok = folder.ok && version_ok && unfinished.is_none();
    let human = format!(
        "Server:            {} {} ({}) at {}\nDatabase:          {}\nBackup folder:     {} {}\nInstalled version: {} {}\nOperations:        {} {}\n{}",
        server.agent,
        server.version,
        server.edition,
        db.address(),
        database,
        if folder.warning.is_some() { warn_mark() } else { mark(folder.ok) },
        folder.summary,
        mark(version_ok),
        version_text,
        mark(unfinished.is_none()),
        unfinished_text
            .clone()
            .unwrap_or_else(|| "none unfinished".to_owned()),
        if !ok {
            "Some checks failed."
        } else if folder.warning.is_some() {
            "All checks passed (with a warning)."
        } else {
            "All checks passed."
        }
    );
    let doc = Doctor {
        ok,
        server: DoctorServer {
            address: db.address(),
            agent: &server.agent,
            version: &server.version,
            edition: &server.edition,
        },
        database: &database,
        backup_dir: DoctorFolder {
            path: ctx.settings.backup_dir.display().to_string(),
            ok: folder.ok,
            exists: folder.exists,
            writable: folder.writable,
            mode: folder.mode.map(|m| format!("{m:04o}")),
            problem: folder.problem.as_deref(),
            warning: folder.warning.as_deref(),
        },
        installed_version: version_json,
        unfinished_operation: unfinished_text.clone(),
    };
    let report = Report::new(human, doc);
    if ok {
        return Ok(report.with_exit_code(exit::OK));
    }
    let mut problems = Vec::new();
    if !folder.ok {
        problems.push(format!(
            "backup folder: {}",
            folder.problem.as_deref().unwrap_or(&folder.summary)
        ));
    }
    if !version_ok {
        problems.push(format!("installed version: {version_text}"));
    }
    if let Some(u) = &unfinished_text {
        problems.push(format!("operations: {u}"));
    }
    Ok(report.failed(
        crate::exit::Fault::Unhealthy,
        format!("doctor found a problem: {}", problems.join("; ")),
    ))
}

struct FolderCheck {
    ok: bool,
    exists: bool,
    writable: bool,
    mode: Option<u32>,
    problem: Option<String>,
    /// Not a failure: something the operator may want to change.
    warning: Option<String>,
    summary: String,
}

fn check_folder(dir: &Path) -> FolderCheck {
    use std::os::unix::fs::PermissionsExt;
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => {
            return FolderCheck::failed(false, format!("{shown} is not a folder: move that file away"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return FolderCheck {
                ok: true,
                exists: false,
                writable: false,
                mode: None,
                warning: Some(format!(
                    "{shown} does not exist yet: the first command that writes creates it with mode 0750 (or pass --backup-dir)"
                )),
                problem: None,
                summary: format!("{shown} (not created yet)"),
            }
        }
        Err(e) => {
            return FolderCheck::failed(
                false,
                format!("{shown} cannot be read ({e}): fix its owner or permissions, or pass --backup-dir"),
            )
        }
    };
    let mode = meta.permissions().mode() & 0o7777;
    let probe = dir.join(format!(".ign-setup-doctor-{}", std::process::id()));
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let problem = (!writable)
        .then(|| format!("{shown} is not writable by this user: fix its owner or permissions"));
    // A fresh clone has the folder at 0755 (git keeps no folder modes); every
    // command that writes tightens it to 0750, so a looser mode is only a warning.
    let warning = (writable && mode & 0o027 != 0).then(|| {
        format!(
            "{shown} has mode {mode:04o}, looser than 0750: the next write tightens it, or run `chmod 750 {shown}` now"
        )
    });
    let summary = match (&problem, &warning) {
        (Some(p), _) => p.clone(),
        (None, Some(w)) => w.clone(),
        (None, None) => format!("{shown} (writable, mode {mode:04o})"),
    };
    FolderCheck {
        ok: problem.is_none(),
        exists: true,
        writable,
        mode: Some(mode),
        warning,
        problem,
        summary,
    }
}

impl FolderCheck {
    fn failed(exists: bool, problem: String) -> FolderCheck {
        FolderCheck {
            ok: false,
            exists,
            writable: false,
            mode: None,
            warning: None,
            summary: problem.clone(),
            problem: Some(problem),
        }
    }
}
