//! Reading a bundle entry by entry, with every safety check, for both verify and extract.
//!
//! One pass does it all: entry names and declared sizes are checked against the raw
//! central directory before any data is read, then each entry is decompressed through a
//! size/ratio guard and hashed while it streams to wherever the caller wants it. Finally
//! the hashes are compared with `SHA256SUMS` and `manifest.json`.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::central;
use super::error::BundleError;
use super::limits::{GuardedReader, Tripped, VerifyLimits};
use super::manifest::{parse_sums, Manifest};
use super::names::{check_entry_name, display_name, BACKUP_ENTRY, MANIFEST, SHA256SUMS};

/// `manifest.json` and `SHA256SUMS` are held in memory to be parsed; beyond this size they
/// cannot be genuine (10 000 entries need well under a megabyte).
const METADATA_MAX: u64 = 64 << 20;

/// Where the content of one entry goes.
pub(crate) enum Destination {
    /// Only hash it.
    Discard,
    /// Write it to this new file (which must not exist yet).
    File(PathBuf),
}

/// One entry as actually read.
#[derive(Debug)]
pub(crate) struct ScannedEntry {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

/// A bundle that passed every check.
#[derive(Debug)]
pub(crate) struct Scanned {
    pub(crate) manifest: Manifest,
    pub(crate) total_size: u64,
}

/// Checks and reads every entry of the bundle at `zip_path`.
///
/// `place` is asked, once per entry and after its name has been checked, where its content
/// should go; for folder entries it is told `is_dir` and its answer is ignored.
pub(crate) fn scan_bundle(
    zip_path: &Path,
    limits: &VerifyLimits,
    place: &mut dyn FnMut(&str, bool) -> Result<Destination, BundleError>,
) -> Result<Scanned, BundleError> {
    let mut file = open_bundle(zip_path)?;
    let malformed = |e: io::Error| BundleError::MalformedZip {
        path: zip_path.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = central::locate(&mut file).map_err(malformed)?;
    if dir.declared_entries > limits.max_entries as u64 {
        return Err(BundleError::TooManyEntries {
            count: dir.declared_entries,
            limit: limits.max_entries,
        });
    }
    let raw = central::read_entries(&mut file, &dir).map_err(malformed)?;
    let names = check_declared(&raw, limits)?;

    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|source| BundleError::Zip {
            path: zip_path.to_path_buf(),
            source,
        })?;
    if archive.len() != raw.len() {
        // The zip crate keeps one entry per name; a shorter index means a repeated name the
        // raw check somehow missed (e.g. names differing only in their encoding).
        return Err(BundleError::DuplicateEntry {
            entry: "(a name that decodes the same as another)".into(),
        });
    }

    let mut entries = Vec::with_capacity(raw.len());
    let mut total = 0u64;
    let mut sums_bytes = None;
    let mut manifest_bytes = None;
    for (index, (raw_entry, name)) in raw.iter().zip(&names).enumerate() {
        let mut entry = archive.by_index(index).map_err(|source| BundleError::Zip {
            path: zip_path.to_path_buf(),
            source,
        })?;
        let (name, is_dir) = name;
        let zip_name = entry.name().strip_suffix('/').unwrap_or(entry.name());
        if zip_name != name {
            return Err(BundleError::UnsafeEntryName {
                entry: display_name(&raw_entry.name),
                reason: "is not marked as UTF-8, so unzip tools may decode its name differently",
            });
        }
        if *is_dir {
            place(name, true)?;
            entries.push(ScannedEntry {
                name: name.clone(),
                is_dir: true,
                size: 0,
                sha256: String::new(),
            });
            continue;
        }
        let capture = name == MANIFEST || name == SHA256SUMS;
        let destination = place(name, false)?;
        let (size, sha256, captured) = copy_entry(
            &mut entry,
            raw_entry,
            name,
            limits,
            &mut total,
            destination,
            capture,
        )?;
        if name == MANIFEST {
            manifest_bytes = captured;
        } else if name == SHA256SUMS {
            sums_bytes = captured;
        }
        entries.push(ScannedEntry {
            name: name.clone(),
            is_dir: false,
            size,
            sha256,
        });
    }

    let manifest = check_listing(&entries, sums_bytes, manifest_bytes)?;
    Ok(Scanned {
        manifest,
        total_size: total,
    })
}

/// Checks everything the central directory declares; returns each entry's name (without a
/// trailing `/`) and whether it is a folder entry.
fn check_declared(
    raw: &[central::RawEntry],
    limits: &VerifyLimits,
) -> Result<Vec<(String, bool)>, BundleError> {
    let mut seen = HashSet::new();
    let mut declared_total = 0u64;
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let shown = display_name(&r.name);
        let unsafe_name = |reason| BundleError::UnsafeEntryName {
            entry: shown.clone(),
            reason,
        };
        let full = std::str::from_utf8(&r.name).map_err(|_| unsafe_name("is not valid UTF-8"))?;
        let (name, is_dir) = match full.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (full, false),
        };
        check_entry_name(name).map_err(unsafe_name)?;
        if r.is_symlink() {
            return Err(BundleError::SymlinkEntry { entry: shown });
        }
        if r.is_encrypted() {
            return Err(BundleError::EncryptedEntry { entry: shown });
        }
        if !seen.insert(name) {
            return Err(BundleError::DuplicateEntry { entry: shown });
        }
        if is_dir && r.uncompressed_size != 0 {
            return Err(unsafe_name("is a folder entry that carries data"));
        }
        if r.uncompressed_size > limits.max_entry_size {
            return Err(BundleError::EntryTooLarge {
                entry: shown,
                size: r.uncompressed_size,
                limit: limits.max_entry_size,
            });
        }
        if limits.ratio_exceeded(r.uncompressed_size, r.compressed_size) {
            return Err(BundleError::CompressionRatio {
                entry: shown,
                compressed: r.compressed_size,
                ratio: r.uncompressed_size / r.compressed_size.max(1),
                limit: limits.max_ratio,
            });
        }
        declared_total = declared_total.saturating_add(r.uncompressed_size);
        if declared_total > limits.max_total_size {
            return Err(BundleError::BundleTooLarge {
                size: declared_total,
                limit: limits.max_total_size,
            });
        }
        out.push((name.to_string(), is_dir));
    }
    Ok(out)
}

/// Streams one entry through the guard and the hasher to its destination.
fn copy_entry(
    entry: &mut impl Read,
    raw: &central::RawEntry,
    name: &str,
    limits: &VerifyLimits,
    total: &mut u64,
    destination: Destination,
    capture: bool,
) -> Result<(u64, String, Option<Vec<u8>>), BundleError> {
    let mut out = match &destination {
        Destination::Discard => None,
        Destination::File(path) => {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
            Some((
                options
                    .open(path)
                    .map_err(|e| BundleError::io("create", path, e))?,
                path,
            ))
        }
    };
    let mut captured = capture.then(Vec::new);
    let mut guard = GuardedReader::new(entry, limits, raw.uncompressed_size, raw.compressed_size);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match guard.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(match guard.tripped {
                    Some(Tripped::BeyondDeclared) => BundleError::DeclaredSizeMismatch {
                        entry: name.to_string(),
                        declared: raw.uncompressed_size,
                        actual: guard.produced(),
                        more: true,
                    },
                    Some(Tripped::Ratio) => BundleError::CompressionRatio {
                        entry: name.to_string(),
                        compressed: raw.compressed_size,
                        ratio: guard.produced() / raw.compressed_size.max(1),
                        limit: limits.max_ratio,
                    },
                    None => BundleError::CorruptEntry {
                        entry: name.to_string(),
                        source,
                    },
                })
            }
        };
        *total += n as u64;
        if *total > limits.max_total_size {
            return Err(BundleError::BundleTooLarge {
                size: *total,
                limit: limits.max_total_size,
            });
        }
        hasher.update(&buf[..n]);
        if let Some((file, path)) = &mut out {
            file.write_all(&buf[..n])
                .map_err(|e| BundleError::io("write", path.as_path(), e))?;
        }
        if let Some(bytes) = &mut captured {
            if (bytes.len() + n) as u64 > METADATA_MAX {
                return Err(BundleError::EntryTooLarge {
                    entry: name.to_string(),
                    size: (bytes.len() + n) as u64,
                    limit: METADATA_MAX,
                });
            }
            bytes.extend_from_slice(&buf[..n]);
        }
    }
    if guard.produced() != raw.uncompressed_size {
        return Err(BundleError::DeclaredSizeMismatch {
            entry: name.to_string(),
            declared: raw.uncompressed_size,
            actual: guard.produced(),
            more: false,
        });
    }
    Ok((guard.produced(), hex::encode(hasher.finalize()), captured))
}

/// Compares what was read with `SHA256SUMS` and `manifest.json`, in both directions.
fn check_listing(
    entries: &[ScannedEntry],
    sums_bytes: Option<Vec<u8>>,
    manifest_bytes: Option<Vec<u8>>,
) -> Result<Manifest, BundleError> {
    let sums_bytes = sums_bytes.ok_or(BundleError::RequiredEntryMissing { entry: SHA256SUMS })?;
    let manifest_bytes =
        manifest_bytes.ok_or(BundleError::RequiredEntryMissing { entry: MANIFEST })?;
    let files: HashMap<&str, &ScannedEntry> = entries
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| (e.name.as_str(), e))
        .collect();

    // SHA256SUMS first: it covers manifest.json, so an edited manifest shows up here as a
    // checksum mismatch on `manifest.json` rather than as a confusing payload mismatch.
    let sums: HashMap<String, String> = parse_sums(&sums_bytes)?.into_iter().collect();
    for e in entries.iter().filter(|e| !e.is_dir && e.name != SHA256SUMS) {
        let expected = sums
            .get(&e.name)
            .ok_or_else(|| BundleError::UnlistedEntry {
                entry: e.name.clone(),
                listed_in: SHA256SUMS,
            })?;
        if *expected != e.sha256 {
            return Err(BundleError::ChecksumMismatch {
                entry: e.name.clone(),
                listed_in: SHA256SUMS,
                expected: expected.clone(),
                actual: e.sha256.clone(),
            });
        }
    }
    let mut listed: Vec<&String> = sums.keys().collect();
    listed.sort();
    if let Some(missing) = listed.into_iter().find(|p| !files.contains_key(p.as_str())) {
        return Err(BundleError::MissingEntry {
            entry: missing.clone(),
            listed_in: SHA256SUMS,
        });
    }

    let manifest = Manifest::parse(&manifest_bytes)?;
    let mut by_path = HashMap::new();
    for f in &manifest.files {
        if f.path == MANIFEST
            || f.path == SHA256SUMS
            || by_path.insert(f.path.as_str(), f).is_some()
        {
            return Err(BundleError::MalformedManifest {
                reason: format!(
                    "`{}` is listed more than once or should not be listed",
                    f.path
                ),
            });
        }
    }
    for e in entries
        .iter()
        .filter(|e| !e.is_dir && e.name != SHA256SUMS && e.name != MANIFEST)
    {
        let expected = by_path
            .get(e.name.as_str())
            .ok_or_else(|| BundleError::UnlistedEntry {
                entry: e.name.clone(),
                listed_in: MANIFEST,
            })?;
        if expected.size != e.size {
            return Err(BundleError::SizeMismatch {
                entry: e.name.clone(),
                expected: expected.size,
                actual: e.size,
            });
        }
        if expected.sha256 != e.sha256 {
            return Err(BundleError::ChecksumMismatch {
                entry: e.name.clone(),
                listed_in: MANIFEST,
                expected: expected.sha256.clone(),
                actual: e.sha256.clone(),
            });
        }
    }
    if let Some(missing) = manifest
        .files
        .iter()
        .find(|f| !files.contains_key(f.path.as_str()))
    {
        return Err(BundleError::MissingEntry {
            entry: missing.path.clone(),
            listed_in: MANIFEST,
        });
    }
    if !files.contains_key(BACKUP_ENTRY) {
        return Err(BundleError::RequiredEntryMissing {
            entry: BACKUP_ENTRY,
        });
    }
    Ok(manifest)
}

/// Opens a file the bundle code reads (the zip, its `.sha256`) only if it is
/// a regular file: a FIFO or a device would make the tool wait forever.
/// The bundle a person named: a path that does not exist is invalid input
/// (exit 20), as a missing backup is, not a disk failure.
pub(crate) fn open_bundle(zip_path: &Path) -> Result<File, BundleError> {
    open_regular(zip_path, "open the bundle").map_err(|e| match e {
        BundleError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            BundleError::BadInput {
                what: "bundle",
                path: zip_path.to_path_buf(),
                problem: "does not exist",
                fix:
                    "name a release zip (`ign-setup package` writes release/ign-scripts-X.Y.Z.zip)",
            }
        }
        e => e,
    })
}

pub(crate) fn open_regular(path: &Path, action: &'static str) -> Result<File, BundleError> {
    crate::fsutil::open_regular(path).map_err(|e| match e {
        crate::fsutil::OpenRegularError::Io(e) => BundleError::io(action, path, e),
        crate::fsutil::OpenRegularError::NotRegular(kind) => BundleError::NotAFile {
            path: path.to_path_buf(),
            kind,
        },
    })
}
