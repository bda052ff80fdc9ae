//! Unpacking a verified release bundle into a folder.
//!
//! Everything is first written into a fresh staging folder inside the target, with the
//! same checks as verification, and only moved into place once the whole bundle has
//! unpacked and matched its checksums. Nothing is written outside the target folder, and
//! nothing already in it is replaced.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::BundleError;
use super::limits::VerifyLimits;
use super::manifest::Manifest;
use super::names::{BACKUP_ENTRY, MIGRATIONS_DIR};
use super::scan::{scan_bundle, Destination};
use super::scratch::ScratchDir;

/// Where an extracted bundle's parts are.
#[derive(Debug, Clone)]
pub struct ExtractedBundle {
    /// The target folder the bundle was extracted into.
    pub root: PathBuf,
    /// The initial backup (`neo4j/fullbackup/initial_backup.json` under `root`).
    pub backup_path: PathBuf,
    /// The migrations folder under `root`; it exists even when the release has none.
    pub migrations_dir: PathBuf,
    pub manifest: Manifest,
}

/// Extracts the bundle at `zip_path` into `target_dir` (created if missing).
///
/// Every entry is checked as in [`verify_bundle`](super::verify_bundle) (names, sizes,
/// ratios, checksums) while it is written; the bundled backup's own verification is left to
/// the caller. Fails with [`BundleError::TargetExists`] rather than replace anything.
pub fn extract_bundle(
    zip_path: &Path,
    target_dir: &Path,
    opts: &VerifyLimits,
) -> Result<ExtractedBundle, BundleError> {
    fs::create_dir_all(target_dir)
        .map_err(|e| BundleError::io("create the target folder", target_dir, e))?;
    let staging = ScratchDir::new_in(target_dir, ".ign-setup-extract")
        .map_err(|e| BundleError::io("create a staging folder in", target_dir, e))?;
    let stage = staging.path().to_path_buf();

    let scanned = scan_bundle(zip_path, opts, &mut |name, is_dir| {
        // `name` has passed check_entry_name: relative, no `.`/`..`, no empty parts. The
        // staging folder is new and holds only what this loop made (never a link), so
        // joining its parts cannot leave it.
        let path = name.split('/').fold(stage.clone(), |p, part| p.join(part));
        let folder = if is_dir {
            path.as_path()
        } else {
            path.parent().unwrap_or(&stage)
        };
        fs::create_dir_all(folder).map_err(|e| BundleError::io("create", folder, e))?;
        Ok(if is_dir {
            Destination::Discard
        } else {
            Destination::File(path)
        })
    })?;
    let staged_migrations = stage.join(MIGRATIONS_DIR);
    fs::create_dir_all(&staged_migrations)
        .map_err(|e| BundleError::io("create", &staged_migrations, e))?;

    let mut top_level = Vec::new();
    for item in fs::read_dir(&stage).map_err(|e| BundleError::io("list", &stage, e))? {
        let item = item.map_err(|e| BundleError::io("list", &stage, e))?;
        let destination = target_dir.join(item.file_name());
        if fs::symlink_metadata(&destination).is_ok() {
            return Err(BundleError::TargetExists { path: destination });
        }
        top_level.push((item.path(), destination));
    }
    top_level.sort();
    for (from, to) in &top_level {
        fs::rename(from, to).map_err(|e| BundleError::io("move into place", to, e))?;
    }
    drop(staging);

    let backup_path = BACKUP_ENTRY
        .split('/')
        .fold(target_dir.to_path_buf(), |p, part| p.join(part));
    Ok(ExtractedBundle {
        root: target_dir.to_path_buf(),
        backup_path,
        migrations_dir: target_dir.join(MIGRATIONS_DIR),
        manifest: scanned.manifest,
    })
}
