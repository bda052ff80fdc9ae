//! Verifying a release bundle before anything is installed from it.
//!
//! Checks run from the outside in: the `.sha256` beside the zip, then every entry's name
//! and declared size, then every byte against `SHA256SUMS` and `manifest.json`, and last
//! the backup inside, through the caller's own backup verification.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::BundleError;
use super::limits::VerifyLimits;
use super::manifest::{is_sha256_hex, Manifest};
use super::names::BACKUP_ENTRY;
use super::scan::{scan_bundle, Destination};
use super::scratch::ScratchDir;
use crate::hash::sha256_file;

/// Whether the checksum file beside the bundle was there to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OuterChecksum {
    /// `<zip>.sha256` exists and matches this digest of the zip.
    Matched { sha256: String },
    /// There is no `<zip>.sha256`; only the checksums inside the bundle were checked.
    NotPresent,
}

/// A bundle that passed verification.
#[derive(Debug, Clone)]
pub struct BundleReport {
    pub zip_path: PathBuf,
    pub outer_checksum: OuterChecksum,
    /// The bundle's manifest; `manifest.files` lists every payload entry, all verified.
    pub manifest: Manifest,
    /// Uncompressed size of all entries, in bytes.
    pub total_size: u64,
    /// What the caller's backup verification returned for the bundled backup.
    pub backup_summary: serde_json::Value,
}

/// Verifies the bundle at `zip_path` completely; see the module documentation.
///
/// The bundled backup is unpacked into a private scratch folder under the system temporary
/// folder, handed to `verify_backup` only once every checksum has matched, and removed
/// afterwards.
pub fn verify_bundle(
    zip_path: &Path,
    opts: &VerifyLimits,
    verify_backup: &dyn Fn(&Path) -> Result<serde_json::Value, String>,
) -> Result<BundleReport, BundleError> {
    // Before anything reads it (the outer checksum hashes it first).
    drop(super::scan::open_bundle(zip_path)?);
    let outer_checksum = check_outer_checksum(zip_path)?;

    let temp_root = std::env::temp_dir();
    let scratch = ScratchDir::new_in(&temp_root, "ign-setup-verify")
        .map_err(|e| BundleError::io("create a scratch folder in", &temp_root, e))?;
    let backup_path = scratch.path().join("initial_backup.json");
    let scanned = scan_bundle(zip_path, opts, &mut |name, is_dir| {
        Ok(if name == BACKUP_ENTRY && !is_dir {
            Destination::File(backup_path.clone())
        } else {
            Destination::Discard
        })
    })?;
    let backup_summary =
        verify_backup(&backup_path).map_err(|reason| BundleError::BackupRejected { reason })?;

    Ok(BundleReport {
        zip_path: zip_path.to_path_buf(),
        outer_checksum,
        manifest: scanned.manifest,
        total_size: scanned.total_size,
        backup_summary,
    })
}

/// The path of the checksum file that sits beside `zip_path`.
pub(crate) fn outer_checksum_path(zip_path: &Path) -> PathBuf {
    let mut name = OsString::from(zip_path.as_os_str());
    name.push(".sha256");
    PathBuf::from(name)
}

fn check_outer_checksum(zip_path: &Path) -> Result<OuterChecksum, BundleError> {
    let sum_path = outer_checksum_path(zip_path);
    if matches!(fs::symlink_metadata(&sum_path), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
    {
        return Ok(OuterChecksum::NotPresent);
    }
    let file = super::scan::open_regular(&sum_path, "read")?;
    // One sha256sum line is under 4 KiB even with a long name; never read more.
    let mut text = String::new();
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(|_| BundleError::OuterChecksumMalformed {
            path: sum_path.clone(),
        })?;
    let expected = text
        .lines()
        .next()
        .and_then(|line| line.split_at_checked(64))
        .filter(|(hex, rest)| {
            is_sha256_hex(&hex.to_ascii_lowercase())
                && (rest.starts_with("  ") || rest.starts_with(" *"))
        })
        .map(|(hex, _)| hex.to_ascii_lowercase())
        .ok_or_else(|| BundleError::OuterChecksumMalformed {
            path: sum_path.clone(),
        })?;
    // The name on the line is not compared: a bundle renamed after download is still the
    // same bundle, and its bytes are what matter.
    let actual = sha256_file(zip_path).map_err(|e| BundleError::io("read", zip_path, e))?;
    if actual != expected {
        return Err(BundleError::OuterChecksumMismatch {
            zip: zip_path.to_path_buf(),
            checksum_file: sum_path,
            expected,
            actual,
        });
    }
    Ok(OuterChecksum::Matched { sha256: actual })
}
