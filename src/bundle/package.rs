//! Building a release bundle: `ign-scripts-X.Y.Z.zip` and its `.sha256` beside it.
//!
//! The bundle is reproducible: the same inputs give a byte-identical zip, so a release can
//! be rebuilt and compared. That is why entries are in a fixed order, every entry carries
//! the same timestamp and Unix mode 0644 (plain, non-executable data, whatever the mode of
//! the source files), there are no directory entries, and deflate runs at a fixed level.
//!
//! Payload entries (`migrations/…`, `neo4j/…`) are written sorted by path; `manifest.json`
//! and then `SHA256SUMS` follow them, because they hold the checksums of everything before
//! them and can only be written once the payload has been streamed (reading each input
//! exactly once, whatever its size).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::error::BundleError;
use super::manifest::{render_sums, Manifest, ManifestEntry, MANIFEST_FORMAT_VERSION};
use super::names::{check_entry_name, BACKUP_ENTRY, MANIFEST, MIGRATIONS_DIR, SHA256SUMS};
use crate::fsutil::TempFile;
use crate::hash::{sha256_file, HashingReader};

/// Deflate level of every entry; fixed so that output does not depend on defaults.
const DEFLATE_LEVEL: i64 = 6;
/// Unix mode of every entry.
const ENTRY_MODE: u32 = 0o644;
/// Entries at or above this size need zip64 headers.
const ZIP64_THRESHOLD: u64 = 0xFFFF_FFFF;

/// Everything needed to build one bundle, already validated by the caller.
#[derive(Debug, Clone)]
pub struct PackageRequest {
    pub app_version: semver::Version,
    /// The (already verified) backup the release installs from.
    pub backup_path: PathBuf,
    /// Metadata summary of that backup, copied into the manifest.
    pub backup_summary: serde_json::Value,
    pub migrations_dir: PathBuf,
    pub out_dir: PathBuf,
    pub tool_version: String,
    /// Timestamp given to every entry (seconds since the Unix epoch, as in the
    /// `SOURCE_DATE_EPOCH` convention); 1980-01-01T00:00:00 when absent. Zip timestamps
    /// cannot express earlier or later than 1980–2107, so values are clamped to that range.
    pub source_date_epoch: Option<i64>,
}

/// What [`build_package`] produced.
#[derive(Debug, Clone)]
pub struct PackageOutcome {
    pub zip_path: PathBuf,
    /// Lower-case hex SHA-256 of the whole zip (also written to `<zip>.sha256`).
    pub sha256: String,
    /// The payload entries, as listed in `manifest.json`.
    pub entries: Vec<ManifestEntry>,
    /// Size of the zip in bytes.
    pub size: u64,
}

/// The file name of the bundle for `version`.
pub fn bundle_file_name(version: &semver::Version) -> String {
    format!("ign-scripts-{version}.zip")
}

/// Bundles and their `.sha256` are meant to be shipped: readable by all.
const BUNDLE_MODE: u32 = 0o644;

/// Builds `<out_dir>/ign-scripts-X.Y.Z.zip` and `<zip>.sha256`.
///
/// The zip is written to a temporary file in `out_dir`, synced and renamed into place, so a
/// crash or error never leaves a partial bundle under the final name.
pub fn build_package(req: &PackageRequest) -> Result<PackageOutcome, BundleError> {
    let sources = collect_sources(req)?;
    fs::create_dir_all(&req.out_dir)
        .map_err(|e| BundleError::io("create the output folder", &req.out_dir, e))?;

    let file_name = bundle_file_name(&req.app_version);
    let zip_path = req.out_dir.join(&file_name);
    // Temporary files of killed runs in the output folder go first.
    crate::fsutil::remove_stale_temp_files(&req.out_dir);
    let mut tmp = TempFile::beside(&zip_path, BUNDLE_MODE)
        .map_err(|e| BundleError::io("create a temporary file in", &req.out_dir, e))?;
    let tmp_path = tmp.path().to_path_buf();
    let file = tmp
        .file()
        .try_clone()
        .map_err(|e| BundleError::io("write the bundle", &tmp_path, e))?;
    let entries = write_zip(req, &sources, file, &tmp_path)?;
    tmp.replace(&zip_path)
        .map_err(|e| BundleError::io("move the finished bundle to", &zip_path, e))?;

    let sha256 = sha256_file(&zip_path).map_err(|e| BundleError::io("read back", &zip_path, e))?;
    let size = fs::metadata(&zip_path)
        .map_err(|e| BundleError::io("read back", &zip_path, e))?
        .len();
    let sum_path = req.out_dir.join(format!("{file_name}.sha256"));
    crate::fsutil::write_atomic_with_mode(
        &sum_path,
        format!("{sha256}  {file_name}\n").as_bytes(),
        BUNDLE_MODE,
    )
    .map_err(|e| BundleError::io("write", &sum_path, e))?;

    Ok(PackageOutcome {
        zip_path,
        sha256,
        entries,
        size,
    })
}

/// One file to put in the bundle.
struct Source {
    entry: String,
    path: PathBuf,
    len: u64,
}

fn collect_sources(req: &PackageRequest) -> Result<Vec<Source>, BundleError> {
    let backup_meta = fs::metadata(&req.backup_path)
        .map_err(|e| BundleError::io("read the backup", &req.backup_path, e))?;
    if !backup_meta.is_file() {
        return Err(BundleError::BadInput {
            what: "backup",
            path: req.backup_path.clone(),
            problem: "is not a regular file",
            fix: "pass a backup file with `--backup`",
        });
    }
    let dir_meta = fs::metadata(&req.migrations_dir)
        .map_err(|e| BundleError::io("read the migrations folder", &req.migrations_dir, e))?;
    if !dir_meta.is_dir() {
        return Err(BundleError::BadInput {
            what: "migrations folder",
            path: req.migrations_dir.clone(),
            problem: "is not a folder",
            fix: "run `ign-setup package` from the project checkout that holds `migrations/`",
        });
    }

    let mut sources = vec![Source {
        entry: BACKUP_ENTRY.to_string(),
        path: req.backup_path.clone(),
        len: backup_meta.len(),
    }];
    walk_migrations(&req.migrations_dir, MIGRATIONS_DIR, &mut sources)?;
    sources.sort_by(|a, b| a.entry.cmp(&b.entry));
    Ok(sources)
}

fn walk_migrations(dir: &Path, prefix: &str, out: &mut Vec<Source>) -> Result<(), BundleError> {
    let listing =
        fs::read_dir(dir).map_err(|e| BundleError::io("list the migrations folder", dir, e))?;
    for item in listing {
        let item = item.map_err(|e| BundleError::io("list the migrations folder", dir, e))?;
        let path = item.path();
        let name = item.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| BundleError::UnpackageableName {
                path: path.clone(),
                reason: "its name is not UTF-8".into(),
            })?;
        let entry = format!("{prefix}/{name}");
        check_entry_name(&entry).map_err(|reason| BundleError::UnpackageableName {
            path: path.clone(),
            reason: format!("its bundle entry name {reason}"),
        })?;
        // symlink_metadata: a link is never followed, so the bundle cannot pick up files
        // from outside the migrations folder.
        let meta = fs::symlink_metadata(&path)
            .map_err(|e| BundleError::io("read the migration file", &path, e))?;
        if meta.is_dir() {
            walk_migrations(&path, &entry, out)?;
        } else if meta.is_file() {
            out.push(Source {
                entry,
                path,
                len: meta.len(),
            });
        } else {
            return Err(BundleError::BadInput {
                what: "migration file",
                path,
                problem: "is a symbolic link or special file, and bundles carry only regular files",
                fix: "replace it with a copy of the file it stands for",
            });
        }
    }
    Ok(())
}

fn entry_options(req: &PackageRequest, len: u64) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(zip_timestamp(req.source_date_epoch))
        .unix_permissions(ENTRY_MODE)
        .large_file(len >= ZIP64_THRESHOLD)
}

/// Streams every source into the zip, then the manifest and `SHA256SUMS`, and syncs it.
fn write_zip(
    req: &PackageRequest,
    sources: &[Source],
    file: File,
    tmp_path: &Path,
) -> Result<Vec<ManifestEntry>, BundleError> {
    let zip_err = |e: zip::result::ZipError| BundleError::Io {
        action: "write the bundle",
        path: tmp_path.to_path_buf(),
        source: io::Error::other(e),
    };
    let mut zip = ZipWriter::new(BufWriter::new(file));
    let mut entries = Vec::with_capacity(sources.len());
    for source in sources {
        let input =
            File::open(&source.path).map_err(|e| BundleError::io("open", &source.path, e))?;
        zip.start_file(source.entry.as_str(), entry_options(req, source.len))
            .map_err(zip_err)?;
        let mut reader = HashingReader::new(input);
        io::copy(&mut reader, &mut zip)
            .map_err(|e| BundleError::io("read and compress", &source.path, e))?;
        let size = reader.byte_count();
        entries.push(ManifestEntry {
            path: source.entry.clone(),
            size,
            sha256: reader.finish().1,
        });
    }

    let manifest = Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        application_version: req.app_version.clone(),
        tool_version: req.tool_version.clone(),
        backup: req.backup_summary.clone(),
        files: entries.clone(),
    };
    let manifest_json = manifest.to_canonical_json();
    let mut summed = entries.clone();
    summed.push(ManifestEntry {
        path: MANIFEST.to_string(),
        size: manifest_json.len() as u64,
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&manifest_json)),
    });
    summed.sort_by(|a, b| a.path.cmp(&b.path));
    let sums = render_sums(&summed);

    for (name, bytes) in [(MANIFEST, &manifest_json), (SHA256SUMS, &sums)] {
        zip.start_file(name, entry_options(req, bytes.len() as u64))
            .map_err(zip_err)?;
        zip.write_all(bytes)
            .map_err(|e| BundleError::io("write the bundle", tmp_path, e))?;
    }

    let file = zip
        .finish()
        .map_err(zip_err)?
        .into_inner()
        .map_err(|e| BundleError::io("write the bundle", tmp_path, e.into_error()))?;
    file.sync_all()
        .map_err(|e| BundleError::io("sync the bundle", tmp_path, e))?;
    Ok(entries)
}

/// Converts seconds since the epoch into a zip timestamp, clamped to what zip can hold.
fn zip_timestamp(epoch: Option<i64>) -> zip::DateTime {
    use chrono::{Datelike, Timelike};
    let Some(secs) = epoch else {
        return zip::DateTime::default();
    };
    let Some(t) = chrono::DateTime::from_timestamp(secs, 0) else {
        return zip::DateTime::default();
    };
    if t.year() < 1980 {
        return zip::DateTime::default();
    }
    if t.year() > 2107 {
        return zip::DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58)
            .expect("a valid zip date");
    }
    zip::DateTime::from_date_and_time(
        t.year() as u16,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_clamped_to_the_zip_range() {
        assert_eq!(zip_timestamp(None), zip::DateTime::default());
        assert_eq!(zip_timestamp(Some(0)), zip::DateTime::default());
        let t = zip_timestamp(Some(1_700_000_000)); // 2023-11-14T22:13:20Z
        assert_eq!((t.year(), t.month(), t.day()), (2023, 11, 14));
        assert_eq!(zip_timestamp(Some(i64::MAX)), zip::DateTime::default());
        assert_eq!(zip_timestamp(Some(5_000_000_000)).year(), 2107);
    }
}
