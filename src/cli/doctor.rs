//! `ign-setup doctor`: can we reach the server, which one is it, is the backup
//! folder usable, and which application version is installed. Exit 0 only when
//! everything is well.

use std::path::Path;

use serde_json::json;

use super::output::{mark, Report};
use super::Context;
use crate::error::Result;
use crate::exit;

pub async fn run(ctx: &Context) -> Result<Report> {
    let db = ctx.connect().await?;
    let server = db.server().clone();
    let database = db.database().unwrap_or("(server default)").to_owned();
    let folder = check_folder(&ctx.settings.backup_dir);
    let version = crate::state::installed_version(&db).await;
    let (version_text, version_ok, version_json) = match &version {
        Ok(Some(v)) => (v.version.to_string(), true, json!(v)),
        Ok(None) => (
            "none recorded (run `ign-setup install`)".to_owned(),
            true,
            json!(null),
        ),
        Err(e) => (e.to_string(), false, json!({ "error": e.to_string() })),
    };
    let ok = folder.ok && version_ok;
    let human = format!(
        "Server:            {} {} ({}) at {}\nDatabase:          {}\nBackup folder:     {} {}\nInstalled version: {} {}\n{}",
        server.agent,
        server.version,
        server.edition,
        db.address(),
        database,
        mark(folder.ok),
        folder.summary,
        mark(version_ok),
        version_text,
        if ok { "All checks passed." } else { "Some checks failed." }
    );
    let doc = json!({
        "ok": ok,
        "server": { "address": db.address(), "agent": server.agent, "version": server.version, "edition": server.edition },
        "database": database,
        "backup_dir": {
            "path": ctx.settings.backup_dir.display().to_string(),
            "ok": folder.ok,
            "exists": folder.exists,
            "writable": folder.writable,
            "mode": folder.mode.map(|m| format!("{m:04o}")),
            "problem": folder.problem,
        },
        "installed_version": version_json,
    });
    Ok(Report::new(human, doc).with_exit_code(if ok { exit::OK } else { exit::UNHEALTHY }))
}

struct FolderCheck {
    ok: bool,
    exists: bool,
    writable: bool,
    mode: Option<u32>,
    problem: Option<String>,
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
        Err(_) => {
            return FolderCheck::failed(
                false,
                format!("{shown} does not exist: create it with `mkdir -p -m 750 {shown}` or pass --backup-dir"),
            )
        }
    };
    let mode = meta.permissions().mode() & 0o7777;
    let probe = dir.join(format!(".ign-setup-doctor-{}", std::process::id()));
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let (ok, problem) = if !writable {
        (
            false,
            Some(format!(
                "{shown} is not writable by this user: fix its owner or permissions"
            )),
        )
    } else if mode & 0o027 != 0 {
        (
            false,
            Some(format!(
                "{shown} has permissions {mode:04o}, looser than the documented 0750: run `chmod 750 {shown}`"
            )),
        )
    } else {
        (true, None)
    };
    let summary = match &problem {
        Some(p) => p.clone(),
        None => format!("{shown} (writable, mode {mode:04o})"),
    };
    FolderCheck {
        ok,
        exists: true,
        writable,
        mode: Some(mode),
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
            summary: problem.clone(),
            problem: Some(problem),
        }
    }
}
