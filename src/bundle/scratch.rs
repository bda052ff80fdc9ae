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
    /// First removes the folders of this prefix that a killed run left (their
    /// pid no longer runs): nothing else ever would.
    pub(crate) fn new_in(parent: &Path, prefix: &str) -> io::Result<ScratchDir> {
        remove_stale(parent, prefix);
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

/// Removes `<parent>/<prefix>-<pid>-…` folders whose process is gone.
fn remove_stale(parent: &Path, prefix: &str) {
    let Ok(listing) = fs::read_dir(parent) else {
        return;
    };
    let lead = format!("{prefix}-");
    for item in listing.flatten() {
        let name = item.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&lead))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = item.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && pid != std::process::id() && !crate::safety::pid_alive(pid) {
            crate::log::debug(format!(
                "removing `{}`, left by a run that is gone",
                item.path().display()
            ));
            let _ = fs::remove_dir_all(item.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_dead_runs_are_removed_and_live_ones_kept() {
        let parent = tempfile::tempdir().unwrap();
        let dead = parent.path().join("p-999999999-1-0");
        let live = parent.path().join(format!("p-{}-1-0", std::process::id()));
        let other = parent.path().join("q-999999999-1-0");
        for d in [&dead, &live, &other] {
            fs::create_dir_all(d.join("bundle")).unwrap();
        }
        let fresh = ScratchDir::new_in(parent.path(), "p").unwrap();
        assert!(!dead.exists());
        assert!(live.exists() && other.exists() && fresh.path().exists());
    }
}
