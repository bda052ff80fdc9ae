//! The local layer of the operation lock: an advisory `flock` on
//! `<backup-dir>/.ign-setup.lock`.
//!
//! It stops two ign-setup processes on this host from working on the same backup
//! folder at once, before either talks to the database. The kernel drops the lock
//! when the process dies, so a killed run never leaves it stuck. The file's content
//! only names the holder for the "locked by" message; it is not the lock itself.
//! A holder checks, once locked, that the path still names the file it locked
//! (and starts again if not), so the one case where the file is deleted is
//! safe: a run that created it and then cannot write its name (a full disk)
//! removes it while still holding the lock, leaving the folder as it was.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::durable::{self, FILE_MODE};
use super::owner::host_name;
use super::SafetyError;
use crate::state::now_rfc3339;

/// Name of the lock file inside the backup folder.
pub const LOCK_FILE: &str = ".ign-setup.lock";

/// Who holds a lock, as written in the lock file and the database lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub host: String,
    pub pid: u32,
    pub operation: String,
    pub since: String,
}

impl Holder {
    pub(crate) fn this_process(operation: &str) -> Holder {
        Holder {
            host: host_name(),
            pid: std::process::id(),
            operation: operation.to_owned(),
            since: now_rfc3339(),
        }
    }

    /// `host/pid (operation)`.
    pub(crate) fn describe(&self) -> String {
        format!("{}/{} ({})", self.host, self.pid, self.operation)
    }

    pub(crate) fn locked(&self) -> SafetyError {
        SafetyError::Locked {
            holder: self.describe(),
            since: self.since.clone(),
        }
    }
}

/// A held local lock; dropping it (or the process dying) releases it.
#[derive(Debug)]
pub(crate) struct LocalLock {
    file: File,
    path: PathBuf,
}

impl LocalLock {
    /// Takes the lock without waiting, or says who holds it.
    pub(crate) fn acquire(backup_dir: &Path, operation: &str) -> Result<LocalLock, SafetyError> {
        durable::ensure_dir(backup_dir)?;
        let path = backup_dir.join(LOCK_FILE);
        let (mut file, created) = loop {
            let (file, created) = open_rw(&path)?;
            if !try_lock_exclusive(&file).map_err(|e| SafetyError::io("lock", &path, e))? {
                return Err(read_holder(&path).locked());
            }
            // Locked what the path names now? If the file was removed (or
            // replaced) between our open and our lock, the lock is worthless:
            // open again.
            if names_same_file(&path, &file) {
                break (file, created);
            }
        };
        // The umask may have narrowed the mode; a file created by another user
        // cannot be changed by us, and that is fine.
        let _ = file.set_permissions(Permissions::from_mode(FILE_MODE));
        let holder = serde_json::to_vec(&Holder::this_process(operation))
            .expect("a lock holder always serializes to JSON");
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(&holder))
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            // A full disk: leave the folder as it was (still locked, so no
            // other run can be using this file).
            if created {
                let _ = std::fs::remove_file(&path);
            }
            return Err(SafetyError::io("write", &path, e));
        }
        Ok(LocalLock { file, path })
    }

    /// Takes the lock, waiting while another process holding it runs the same
    /// `operation` (two overlapping `backup create`: the second waits its turn
    /// instead of failing); refused at once, as [`LocalLock::acquire`], when
    /// the holder does something else. `waiting` is told the holder once.
    pub(crate) fn acquire_behind_same(
        backup_dir: &Path,
        operation: &str,
        waiting: &dyn Fn(&Holder),
    ) -> Result<LocalLock, SafetyError> {
        let mut told = false;
        loop {
            match Self::acquire(backup_dir, operation) {
                Err(SafetyError::Locked { .. }) => {
                    let holder = read_holder(&backup_dir.join(LOCK_FILE));
                    if holder.operation != operation {
                        return Err(holder.locked());
                    }
                    if !told {
                        waiting(&holder);
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    /// Whether some process currently holds the lock of `backup_dir`, and who.
    /// Takes and drops the lock to find out.
    pub(crate) fn probe(backup_dir: &Path) -> Result<Option<Holder>, SafetyError> {
        let path = backup_dir.join(LOCK_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let (file, _) = open_rw(&path)?;
        if try_lock_exclusive(&file).map_err(|e| SafetyError::io("lock", &path, e))? {
            Ok(None)
        } else {
            Ok(Some(read_holder(&path)))
        }
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        // Empty the file while still holding the lock, so nobody reads our name as
        // the holder after we are gone. Closing the file releases the lock.
        if self.file.set_len(0).is_err() {
            crate::log::debug(format!("could not empty {}", self.path.display()));
        }
    }
}

/// Opens the lock file, creating it with [`FILE_MODE`] if needed; says
/// whether this call created it.
fn open_rw(path: &Path) -> Result<(File, bool), SafetyError> {
    let open = |create_new: bool| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(create_new)
            .mode(FILE_MODE)
            .open(path)
    };
    loop {
        match open(true) {
            Ok(f) => return Ok((f, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(SafetyError::io("open", path, e)),
        }
        match open(false) {
            Ok(f) => return Ok((f, false)),
            // Removed in between (a run that could not write it): again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SafetyError::io("open", path, e)),
        }
    }
}

/// Whether `path` still names the open `file` (same device and inode).
fn names_same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    loop {
        #[allow(unsafe_code)]
        // SAFETY: `file` owns an open descriptor for the duration of the call;
        // flock has no other memory-safety preconditions.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// The holder named in the lock file. The holder writes its name right after
/// taking the lock, so an empty file gets a few short retries.
fn read_holder(path: &Path) -> Holder {
    for _ in 0..5 {
        let mut text = String::new();
        if File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .is_ok()
        {
            if let Ok(holder) = serde_json::from_str::<Holder>(&text) {
                return holder;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Holder {
        host: "an unknown host".into(),
        pid: 0,
        operation: "unknown operation".into(),
        since: "an unknown time".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalLock::acquire(dir.path(), "restore").unwrap();

        // Same process, separate open file description: flock treats it as a rival.
        let err = LocalLock::acquire(dir.path(), "upgrade").unwrap_err();
        let SafetyError::Locked { holder, since } = &err else {
            panic!("expected Locked, got {err:?}");
        };
        assert_eq!(
            holder,
            &format!("{}/{} (restore)", host_name(), std::process::id())
        );
        assert!(!since.is_empty());
        assert_eq!(
            err.to_string(),
            format!(
                "locked by {holder} since {since}; wait for it to finish, or if that process is gone run `ign-setup recover`"
            )
        );
        assert_eq!(
            LocalLock::probe(dir.path()).unwrap().map(|h| h.operation),
            Some("restore".to_owned())
        );

        drop(first);
        assert_eq!(LocalLock::probe(dir.path()).unwrap(), None);
        let again = LocalLock::acquire(dir.path(), "upgrade").unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(text.contains("\"upgrade\""), "{text}");
        drop(again);
    }

    #[test]
    fn lock_file_mode_is_0640() {
        let dir = tempfile::tempdir().unwrap();
        let _lock = LocalLock::acquire(dir.path(), "install").unwrap();
        let meta = std::fs::metadata(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    }
}
