//! File-system primitives for crash safety: write to a temporary file in the
//! same folder, fsync, then link into place; permissions (streaming sha256
//! is `crate::hash`).
//! A killed process can leave only `.tmp-<pid>-*` files behind, which no
//! command ever takes for a backup, and which the next run removes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Backup files and journals: owner read/write, group read.
pub const FILE_MODE: u32 = 0o640;
/// The backup folder: owner all, group read/enter.
pub const DIR_MODE: u32 = 0o750;
pub const TEMP_PREFIX: &str = ".tmp-";

/// Creates `dir` (and parents) with mode 0750, or tightens an existing folder
/// we own to 0750, as the backup plan recommends.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
        return Ok(());
    }
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other(format!(
            "{} exists and is not a folder",
            dir.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o027 != 0 && owned_by_me(&meta) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

fn owned_by_me(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.uid() == effective_uid()
}

fn effective_uid() -> u32 {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe {
        libc::geteuid()
    }
}

/// A temporary path in `dir` that names our pid, so a later run can tell
/// whether its writer is still alive.
pub fn temp_path(dir: &Path, final_name: &str) -> PathBuf {
    dir.join(format!("{TEMP_PREFIX}{}-{final_name}", std::process::id()))
}

/// Opens a new file with the backup file mode; fails if it exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// fsyncs a folder so a rename or link in it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Moves a fully written, fsynced temporary file to `target`, refusing to
/// replace an existing file (hard link then unlink: atomic and no-clobber).
pub fn publish_new(tmp: &Path, target: &Path) -> io::Result<()> {
    std::fs::hard_link(tmp, target)?;
    std::fs::remove_file(tmp)?;
    if let Some(dir) = target.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Atomically replaces `target` with `bytes` (temp file, fsync, rename, fsync folder).
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file");
    let tmp = temp_path(dir, name);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes `.tmp-<pid>-*` files in `dir` whose writer process is gone.
pub fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            continue;
        };
        let pid: Option<i32> = rest.split('-').next().and_then(|p| p.parse().ok());
        if let Some(pid) = pid {
            if !process_alive(pid) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Whether a process with this pid exists on this machine.
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    #[allow(unsafe_code)]
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_new_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        std::fs::write(&a, b"old").unwrap();
        let tmp = temp_path(d.path(), "a");
        std::fs::write(&tmp, b"new").unwrap();
        assert!(publish_new(&tmp, &a).is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let dead = d.path().join(format!("{TEMP_PREFIX}999999999-x.json"));
        let mine = temp_path(d.path(), "y.json");
        std::fs::write(&dead, b"").unwrap();
        std::fs::write(&mine, b"").unwrap();
        remove_stale_temp_files(d.path());
        assert!(!dead.exists());
        assert!(mine.exists());
    }
}
