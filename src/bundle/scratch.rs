//! Private, uniquely named scratch folders that remove themselves.
//!
//! Verification unpacks the backup into one; extraction stages the whole bundle in one
//! inside the target folder, so a failed extraction leaves nothing half-written in place.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A folder created fresh (never reused) and removed with everything in it on drop.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `<parent>/<prefix>-<pid>-<nanos>-<n>`, owner-only on Unix.
    pub(crate) fn new_in(parent: &Path, prefix: &str) -> io::Result<ScratchDir> {
        let mut attempt = 0u32;
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = parent.join(format!("{prefix}-{}-{nanos}-{attempt}", std::process::id()));
            let mut builder = fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            // `create`, not `create_all`: it fails if the folder exists, so the folder is
            // known to be ours and empty.
            match builder.create(&path) {
                Ok(()) => return Ok(ScratchDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // remove_dir_all does not follow symbolic links, so this cannot delete outside.
        let _ = fs::remove_dir_all(&self.path);
    }
}
