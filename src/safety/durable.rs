//! Crash-safe small-file writes for the journal and the lock file.
//!
//! A reader must see either the old content or the new, never a torn file, and a
//! write that returned must survive a power cut: the journal is what tells the next
//! run that a database was left half-restored. So every write goes to a temporary
//! file in the same folder, is fsynced, renamed (or linked) into place, and the
//! folder is fsynced so the new name itself is durable.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::SafetyError;

/// Owner read-write, group read: the files name hosts and processes, nothing
/// secret, but other users have no business changing them.
pub(crate) const FILE_MODE: u32 = 0o640;

/// Replaces `path` with `bytes` atomically and durably.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SafetyError> {
    let tmp = write_temp(path, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(SafetyError::io("replace", path, e));
    }
    sync_dir(parent(path))
}

/// Creates `path` with `bytes` only if it does not exist yet; `Ok(false)` if it does.
///
/// A hard link fails when the target exists, so two processes racing here cannot
/// both succeed, and the file appears with its full content or not at all.
pub(crate) fn create_new_atomic(path: &Path, bytes: &[u8]) -> Result<bool, SafetyError> {
    let tmp = write_temp(path, bytes)?;
    let created = match fs::hard_link(&tmp, path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        // Some file systems (FAT, exFAT, some network shares) have no hard links.
        // Check-then-rename is not exclusive, but callers hold the operation lock,
        // so the check only guards against a journal left by a dead process.
        Err(_) => {
            if path.exists() {
                false
            } else {
                fs::rename(&tmp, path).map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    SafetyError::io("create", path, e)
                })?;
                return sync_dir(parent(path)).map(|()| true);
            }
        }
    };
    let _ = fs::remove_file(&tmp);
    if created {
        sync_dir(parent(path))?;
    }
    Ok(created)
}

/// Removes `path` durably; a file that is already gone is not an error.
pub(crate) fn remove_durable(path: &Path) -> Result<(), SafetyError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SafetyError::io("remove", path, e)),
    }
}

/// Makes sure the folder holding these files exists.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), SafetyError> {
    fs::create_dir_all(dir).map_err(|e| SafetyError::io("create folder", dir, e))
}

fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, SafetyError> {
    // Unique per process and call, so concurrent writers never share a temp file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent(path).join(format!(
        "{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        // The umask may have narrowed the mode; group read is part of the contract.
        file.set_permissions(Permissions::from_mode(FILE_MODE))?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(SafetyError::io("write", tmp, e))
        }
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) -> Result<(), SafetyError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SafetyError::io("sync folder", dir, e))
}
