//! Release bundles: building `ign-scripts-X.Y.Z.zip`, verifying one, and unpacking it.
//!
//! A bundle carries the initial database backup (`neo4j/fullbackup/initial_backup.json`),
//! the `migrations/` tree, a `manifest.json` describing the release, and a `SHA256SUMS`
//! that `sha256sum -c` can check by hand. This module is pure file work: it never talks to
//! the database, and the backup's own verification is passed in by the caller.
//!
//! Bundles come from the network and are unpacked by an installer, so reading treats every
//! byte as hostile: names that could escape the target, links, duplicates, and zip bombs
//! are refused before or while reading, never after writing.

mod central;
mod error;
mod extract;
mod limits;
mod manifest;
mod names;
mod package;
mod scan;
mod scratch;
mod verify;

#[cfg(test)]
mod tests;

pub use crate::hash::{sha256_file, HashingReader, HashingWriter};
pub use error::BundleError;
pub use extract::{extract_bundle, ExtractedBundle};
pub use limits::VerifyLimits;
pub use manifest::{Manifest, ManifestEntry, MANIFEST_FORMAT_VERSION};
pub use names::{BACKUP_ENTRY, MANIFEST, MIGRATIONS_DIR, SHA256SUMS};
pub use package::{build_package, bundle_file_name, PackageOutcome, PackageRequest};
pub use verify::{verify_bundle, BundleReport, OuterChecksum};

pub(crate) use scratch::ScratchDir;
