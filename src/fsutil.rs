//! File-system primitives for crash safety, the one home of every durable
//! write (backups, the index, journals, bundles, metrics, units): write a
//! temporary file in the same folder, fsync it, rename or link it into place,
//! fsync the folder; and permissions (streaming sha256 is `crate::hash`).
//! Every temporary file is named `.tmp-<pid>-<n>-<name>`, so a killed process
//! can leave only such files behind, which no command ever takes for a
//! backup, and which the next run in that folder removes
//! ([`remove_stale_temp_files`]).

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
/// of ours to 0750, as the backup plan recommends.
///
/// A folder that is not ours is left as it is: one owned by another user, or
/// one with the sticky bit (a shared folder such as `/tmp`, mode 1777, whose
/// other users would lose access). Then a warning says what to do instead;
/// the files written into it are 0640 in any case.
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
    if mode & 0o027 == 0 {
        return Ok(());
    }
    match folder_not_ours(&meta) {
        None => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?,
        Some(why) => crate::log::warn(format!(
            "the backup folder `{}` is {why} (mode {mode:04o}), so its mode was left alone; \
             backups there are 0640, but for a private folder use a new one (e.g. \
             `--backup-dir {}/ign-setup-backups`, created 0750)",
            dir.display(),
            dir.display()
        )),
    }
    Ok(())
}

/// Why a folder's mode is not ours to change, if it is not.
fn folder_not_ours(meta: &std::fs::Metadata) -> Option<&'static str> {
    if meta.permissions().mode() & 0o1000 != 0 {
        Some("a shared folder (sticky bit)")
    } else if !owned_by_me(meta) {
        Some("owned by another user")
    } else {
        None
    }
}

/// What to do about a file-system error a person can fix, to finish
/// "cannot read `PATH`: ERROR" (empty when there is nothing to add).
pub fn io_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "; this user may not do that: run ign-setup as the user that owns the backup folder, or give this user access to the folder and its files"
        }
        io::ErrorKind::StorageFull => "; the disk is full: free some space, or use another --backup-dir",
        io::ErrorKind::ReadOnlyFilesystem => {
            "; the file system is read-only: use a writable --backup-dir"
        }
        _ => "",
    }
}

/// What a path is when it is not a regular file, for messages.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Why `path` cannot be opened as a regular file.
#[derive(Debug)]
pub enum OpenRegularError {
    Io(io::Error),
    /// What it is instead (see [`kind_of`]).
    NotRegular(&'static str),
}

/// Opens `path` for reading only if it is a regular file. Looked at before
/// opening (opening a FIFO waits for a writer, reading a device never ends),
/// and again on the open file, opened without blocking, so a path swapped in
/// between cannot make it wait either.
pub fn open_regular(path: &Path) -> Result<File, OpenRegularError> {
    let meta = std::fs::metadata(path).map_err(OpenRegularError::Io)?;
    if !meta.is_file() {
        return Err(OpenRegularError::NotRegular(kind_of(&meta)));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(OpenRegularError::Io)?;
    let meta = file.metadata().map_err(OpenRegularError::Io)?;
    if !meta.is_file() {
        return Err(OpenRegularError::NotRegular(kind_of(&meta)));
    }
    // O_NONBLOCK means nothing for a regular file; nothing to undo.
    Ok(file)
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

/// A temporary path in `dir` for `final_name`, unique in this process, that
/// names our pid so a later run can tell whether its writer is still alive.
pub fn temp_path(dir: &Path, final_name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        "{TEMP_PREFIX}{}-{n}-{final_name}",
        std::process::id()
    ))
}

/// Opens a new file with the backup file mode; fails if it exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    create_new_with_mode(path, FILE_MODE)
}

/// Opens a new file for reading and writing with `mode` (exactly: the umask
/// does not narrow it); fails if it exists.
pub fn create_new_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(file)
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
    sync_dir(parent(target))
}

/// A temporary file beside its final path, removed on drop unless it was
/// published: how every file here is written whole or not at all.
pub struct TempFile {
    path: Option<PathBuf>,
    file: File,
}

impl TempFile {
    /// A new temporary file in `target`'s folder, with `mode`.
    pub fn beside(target: &Path, mode: u32) -> io::Result<TempFile> {
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file");
        let path = temp_path(parent(target), name);
        let file = create_new_with_mode(&path, mode)?;
        Ok(TempFile {
            path: Some(path),
            file,
        })
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("an unpublished temporary file")
    }

    /// fsyncs the file and renames it over `target` (replacing it), then
    /// fsyncs the folder.
    pub fn replace(mut self, target: &Path) -> io::Result<()> {
        self.file.sync_all()?;
        let path = self.path.take().expect("an unpublished temporary file");
        if let Err(e) = std::fs::rename(&path, target) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        sync_dir(parent(target))
    }

    /// fsyncs the file and links it to `target` only if `target` does not
    /// exist: `Ok(false)` when it does (and the temporary file is removed).
    /// On file systems without hard links (FAT, some network shares) it
    /// falls back to check-then-rename, which callers holding a lock accept.
    pub fn create_new(mut self, target: &Path) -> io::Result<bool> {
        self.file.sync_all()?;
        let path = self.path.take().expect("an unpublished temporary file");
        let created = match std::fs::hard_link(&path, target) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(_) if target.exists() => false,
            Err(_) => {
                if let Err(e) = std::fs::rename(&path, target) {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
                sync_dir(parent(target))?;
                return Ok(true);
            }
        };
        let _ = std::fs::remove_file(&path);
        if created {
            sync_dir(parent(target))?;
        }
        Ok(created)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Atomically replaces `target` with `bytes` (temp file, fsync, rename, fsync
/// folder); the new file has [`FILE_MODE`].
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with_mode(target, bytes, FILE_MODE)
}

/// [`write_atomic`] with another mode.
pub fn write_atomic_with_mode(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut tmp = TempFile::beside(target, mode)?;
    tmp.file().write_all(bytes)?;
    tmp.replace(target)
}

/// Creates `target` holding `bytes` only if it does not exist yet (`Ok(false)`
/// if it does); it appears with its whole content or not at all.
pub fn create_new_atomic(target: &Path, bytes: &[u8]) -> io::Result<bool> {
    let mut tmp = TempFile::beside(target, FILE_MODE)?;
    tmp.file().write_all(bytes)?;
    tmp.create_new(target)
}

/// Removes `path` durably; a file that is already gone is not an error.
pub fn remove_durable(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The folder of `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Folders this process writes temporary files into (a backup being written).
static OWN_TEMP_DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Notes that this process writes temporary files in `dir`, so an interrupt
/// (which exits without unwinding) removes them: see
/// [`remove_own_temp_files`].
pub fn note_temp_dir(dir: &Path) {
    let mut dirs = OWN_TEMP_DIRS.lock().unwrap_or_else(|p| p.into_inner());
    if !dirs.iter().any(|d| d == dir) {
        dirs.push(dir.to_owned());
    }
}

/// Removes this process's `.tmp-<pid>-*` files from every folder noted with
/// [`note_temp_dir`]. Only files that were never published: a backup is
/// linked to its final name before its temporary name goes away.
pub fn remove_own_temp_files() {
    let own = format!("{TEMP_PREFIX}{}-", std::process::id());
    // try_lock: the interrupt must never wait on a thread it interrupted.
    let Ok(dirs) = OWN_TEMP_DIRS.try_lock() else {
        return;
    };
    for dir in dirs.iter() {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_name().to_str().is_some_and(|n| n.starts_with(&own)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
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
    fn a_temp_file_is_published_whole_or_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(d.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let target = d.path().join("journal.json");
        // Dropped unpublished (a failed write): nothing is left.
        let mut tmp = TempFile::beside(&target, FILE_MODE).unwrap();
        tmp.file().write_all(b"half").unwrap();
        drop(tmp);
        assert!(names().is_empty());
        // Created once; a second create leaves the first and no temp file.
        assert!(create_new_atomic(&target, b"first").unwrap());
        assert!(!create_new_atomic(&target, b"second").unwrap());
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        assert_eq!(names(), ["journal.json"]);
        // Replaced, with the mode asked for whatever the umask.
        write_atomic_with_mode(&target, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(names(), ["journal.json"]);
        remove_durable(&target).unwrap();
        remove_durable(&target).unwrap();
        assert!(names().is_empty());
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
