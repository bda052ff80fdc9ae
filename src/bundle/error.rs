//! The one error type of the release-bundle module.
//!
//! Every variant names the bundle entry or file involved and ends with what the person at
//! the terminal should do next, because a bundle problem is usually met by someone
//! installing a release who did not build it.

use std::io;
use std::path::PathBuf;

/// Advice for a bundle that cannot be trusted as it is.
const REBUILD: &str = "the bundle is unsafe; rebuild it with `ign-setup package`";
/// Advice for a bundle whose contents do not match its own checksums.
const REDOWNLOAD: &str =
    "the bundle is damaged or was altered; download it again or rebuild it with `ign-setup package`";

/// Everything that can go wrong while packaging, verifying or extracting a release bundle.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file or folder on disk could not be read or written.
    #[error("could not {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A packaging input is missing or of the wrong kind.
    #[error("{what} `{}` {problem}: {fix}", path.display())]
    BadInput {
        what: &'static str,
        path: PathBuf,
        problem: &'static str,
        fix: &'static str,
    },

    /// A file under the migrations folder cannot be carried in a bundle under its name.
    #[error("migration file `{}` cannot be packaged: {reason}; rename it to plain UTF-8 without `\\` or `:`", path.display())]
    UnpackageableName { path: PathBuf, reason: String },

    /// The file is not a zip archive the tool can read.
    #[error("`{}` is not a readable bundle ({source}); download it again or rebuild it with `ign-setup package`", path.display())]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },

    /// The bundle path is a folder, a FIFO, a device: never opened, so it
    /// cannot make the tool wait.
    #[error("`{}` is {kind}, not a bundle file; name the .zip file itself", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },

    /// The zip's central directory could not be parsed.
    #[error("`{}` is not a readable bundle: {reason}; download it again or rebuild it with `ign-setup package`", path.display())]
    MalformedZip { path: PathBuf, reason: String },

    /// The `<zip>.sha256` file beside the bundle does not match the bundle.
    #[error("`{}` has sha256 {actual} but `{}` expects {expected}: {REDOWNLOAD}", zip.display(), checksum_file.display())]
    OuterChecksumMismatch {
        zip: PathBuf,
        checksum_file: PathBuf,
        expected: String,
        actual: String,
    },

    /// The `<zip>.sha256` file beside the bundle is not in `sha256sum` format.
    #[error("`{}` is not a sha256sum line (`<64 hex digits>  <file name>`): delete it or fetch it again with the bundle", path.display())]
    OuterChecksumMalformed { path: PathBuf },

    /// An entry name could write outside the extraction folder or is otherwise unsafe.
    #[error("bundle entry `{entry}` {reason}: {REBUILD}")]
    UnsafeEntryName { entry: String, reason: &'static str },

    /// An entry is a symbolic link, which could redirect later writes.
    #[error("bundle entry `{entry}` is a symbolic link, which bundles never contain: {REBUILD}")]
    SymlinkEntry { entry: String },

    /// Two entries share a name, so which one is used would depend on the unzip tool.
    #[error("bundle entry `{entry}` appears more than once: {REBUILD}")]
    DuplicateEntry { entry: String },

    /// An entry is encrypted and so cannot be checked.
    #[error("bundle entry `{entry}` is encrypted and cannot be checked: {REBUILD}")]
    EncryptedEntry { entry: String },

    /// The bundle has more entries than the limits allow.
    #[error("the bundle has {count} entries, more than the limit of {limit}: {REBUILD}")]
    TooManyEntries { count: u64, limit: usize },

    /// One entry is larger than the limits allow.
    #[error("bundle entry `{entry}` is {size} bytes, more than the limit of {limit}: {REBUILD}")]
    EntryTooLarge {
        entry: String,
        size: u64,
        limit: u64,
    },

    /// All entries together are larger than the limits allow.
    #[error(
        "the bundle unpacks to at least {size} bytes, more than the limit of {limit}: {REBUILD}"
    )]
    BundleTooLarge { size: u64, limit: u64 },

    /// An entry expands far more than real data does: the mark of a zip bomb.
    #[error("bundle entry `{entry}` expands {ratio}x from {compressed} compressed bytes, more than the limit of {limit}x (zip bomb?): {REBUILD}")]
    CompressionRatio {
        entry: String,
        compressed: u64,
        ratio: u64,
        limit: u64,
    },

    /// An entry unpacked to a different size than its header declares.
    #[error("bundle entry `{entry}` declares {declared} bytes but unpacks to {actual}{}: {REBUILD}", if *.more { " or more" } else { "" })]
    DeclaredSizeMismatch {
        entry: String,
        declared: u64,
        actual: u64,
        more: bool,
    },

    /// An entry could not be decompressed (bad deflate data or CRC).
    #[error("bundle entry `{entry}` is corrupt ({source}): {REDOWNLOAD}")]
    CorruptEntry {
        entry: String,
        #[source]
        source: io::Error,
    },

    /// `SHA256SUMS`, `manifest.json` or the initial backup is not in the bundle.
    #[error("the bundle has no `{entry}`: it was not made by `ign-setup package`; rebuild it with `ign-setup package`")]
    RequiredEntryMissing { entry: &'static str },

    /// `SHA256SUMS` is not in `sha256sum` format.
    #[error("`SHA256SUMS` line {line} is malformed ({reason}): {REDOWNLOAD}")]
    MalformedChecksums { line: usize, reason: &'static str },

    /// `manifest.json` is not a valid manifest.
    #[error("`manifest.json` is malformed ({reason}): {REDOWNLOAD}")]
    MalformedManifest { reason: String },

    /// `manifest.json` is of a format this tool does not know.
    #[error("`manifest.json` has format version {found}, this ign-setup reads version {supported}: use an ign-setup release that matches the bundle")]
    UnsupportedFormat { found: u32, supported: u32 },

    /// An entry's content does not match its checksum.
    #[error("bundle entry `{entry}` has sha256 {actual} but `{listed_in}` expects {expected}: {REDOWNLOAD}")]
    ChecksumMismatch {
        entry: String,
        listed_in: &'static str,
        expected: String,
        actual: String,
    },

    /// An entry's size does not match the manifest.
    #[error("bundle entry `{entry}` is {actual} bytes but `manifest.json` expects {expected}: {REDOWNLOAD}")]
    SizeMismatch {
        entry: String,
        expected: u64,
        actual: u64,
    },

    /// The bundle holds an entry its checksum lists do not mention.
    #[error("bundle entry `{entry}` is not listed in `{listed_in}`: {REDOWNLOAD}")]
    UnlistedEntry {
        entry: String,
        listed_in: &'static str,
    },

    /// A checksum list mentions an entry the bundle does not hold.
    #[error("`{listed_in}` lists `{entry}` but the bundle has no such entry: {REDOWNLOAD}")]
    MissingEntry {
        entry: String,
        listed_in: &'static str,
    },

    /// The backup inside the bundle failed its own verification.
    #[error("the backup inside the bundle failed verification: {reason}; rebuild the bundle from a good backup with `ign-setup package`")]
    BackupRejected { reason: String },

    /// Extraction would replace something already in the target folder.
    #[error("`{}` already exists: extract the bundle into an empty folder, or move it away first", path.display())]
    TargetExists { path: PathBuf },
}

impl BundleError {
    /// Every bundle problem is invalid input except the disk's.
    pub fn fault(&self) -> crate::exit::Fault {
        use crate::exit::Fault;
        match self {
            BundleError::Io { .. } => Fault::Io,
            BundleError::BackupRejected { .. } => Fault::InvalidBackup,
            BundleError::BadInput { .. }
            | BundleError::NotAFile { .. }
            | BundleError::UnpackageableName { .. }
            | BundleError::Zip { .. }
            | BundleError::MalformedZip { .. }
            | BundleError::OuterChecksumMismatch { .. }
            | BundleError::OuterChecksumMalformed { .. }
            | BundleError::UnsafeEntryName { .. }
            | BundleError::SymlinkEntry { .. }
            | BundleError::DuplicateEntry { .. }
            | BundleError::EncryptedEntry { .. }
            | BundleError::TooManyEntries { .. }
            | BundleError::EntryTooLarge { .. }
            | BundleError::BundleTooLarge { .. }
            | BundleError::CompressionRatio { .. }
            | BundleError::DeclaredSizeMismatch { .. }
            | BundleError::CorruptEntry { .. }
            | BundleError::RequiredEntryMissing { .. }
            | BundleError::MalformedChecksums { .. }
            | BundleError::MalformedManifest { .. }
            | BundleError::UnsupportedFormat { .. }
            | BundleError::ChecksumMismatch { .. }
            | BundleError::SizeMismatch { .. }
            | BundleError::UnlistedEntry { .. }
            | BundleError::MissingEntry { .. }
            | BundleError::TargetExists { .. } => Fault::InvalidBundle,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        BundleError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
