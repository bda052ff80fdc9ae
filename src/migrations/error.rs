//! Everything that can be wrong with a migrations folder.
//!
//! A broken catalog is found before any database is touched, and the person
//! who sees the error is usually the one who just edited the folder, so every
//! message names the offending path and says what to change.

use std::io;
use std::path::PathBuf;

use semver::Version;

use super::split::SplitError;

/// Why a migrations folder could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The migrations folder does not exist.
    #[error(
        "migrations folder `{path}` does not exist: create it, or point to the folder that holds the X.Y.Z version folders"
    )]
    DirMissing { path: PathBuf },

    /// `migrations new` was given a name that cannot be part of a file name.
    #[error(
        "`{name}` cannot name a migration: use letters, digits, `_` or `-` (for example add_session_index)"
    )]
    BadMigrationName { name: String },

    /// `migrations new` has no version folder to add to.
    #[error(
        "`{path}` has no version folder yet: pass --version X.Y.Z for the release this migration belongs to"
    )]
    NoVersionFolder { path: PathBuf },

    /// `migrations new --version` names a new folder older than the newest one.
    #[error(
        "version {version} would be a new folder older than the newest one ({newest}): migrations of a new release need a version above {newest}"
    )]
    OlderVersion {
        version: semver::Version,
        newest: semver::Version,
    },

    /// The migrations folder path names something other than a folder.
    #[error(
        "migrations folder `{path}` is not a folder: point to the folder that holds the X.Y.Z version folders"
    )]
    NotADirectory { path: PathBuf },

    /// Reading a file or folder failed.
    #[error("cannot read `{path}`: check that it exists and is readable")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A version folder's name is not a semantic version.
    #[error(
        "migration folder `{path}` is not a semantic version: rename it to X.Y.Z (for example {example})"
    )]
    NotSemver { path: PathBuf, example: String },

    /// Two version folders name the same version once build metadata is
    /// ignored, so their order would be arbitrary.
    #[error(
        "migration folders `{first}` and `{second}` are both version {version} (build metadata after `+` does not count): merge them into one folder or give one a different version"
    )]
    DuplicateVersion {
        first: PathBuf,
        second: PathBuf,
        version: Version,
    },

    /// A version folder holds neither migrations nor a verify file.
    #[error(
        "migration folder `{path}` holds no migration files: add NNN_name.cypher files or a verify.cypher, or delete the folder"
    )]
    EmptyVersion { path: PathBuf },

    /// A symbolic link inside the migrations folder.
    #[error(
        "`{path}` is a symbolic link: migrations must be plain files and folders, so replace it with a copy of its target"
    )]
    Symlink { path: PathBuf },

    /// A folder inside a version folder.
    #[error(
        "`{path}` is a folder inside a version folder: version folders hold only .cypher files, so move its files up or out"
    )]
    UnexpectedDirectory { path: PathBuf },

    /// A `.cypher` file whose name does not follow `NNN_name.cypher`.
    #[error(
        "migration file `{path}` is not named NNN_name.cypher: rename it to three or more digits, an underscore and a name of letters, digits, `_` or `-`, ending in lowercase .cypher (for example 001_add_constraints.cypher)"
    )]
    BadFileName { path: PathBuf },

    /// Two files in one version folder share a sequence number.
    #[error(
        "migration files `{first}` and `{second}` have the same sequence number: renumber one of them"
    )]
    DuplicateSequence { first: PathBuf, second: PathBuf },

    /// Files sort by name in a different order than by number, as with
    /// `999_a.cypher` and `1000_b.cypher`.
    #[error(
        "migration file `{second}` sorts after `{first}` by name but has a smaller sequence number: pad the numbers in this folder to the same width (for example 0999 and 1000)"
    )]
    SequenceOrder { first: PathBuf, second: PathBuf },

    /// A file larger than the limit.
    #[error(
        "migration file `{path}` is {size} bytes, more than the {limit}-byte limit: split it into several smaller migrations"
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    /// A file that is not UTF-8 text.
    #[error("migration file `{path}` is not valid UTF-8 (first bad byte on line {line}): save it as UTF-8")]
    NotUtf8 { path: PathBuf, line: usize },

    /// A file whose statements cannot be told apart.
    ///
    /// The split error is part of the message rather than a `source`, because
    /// it carries the line and the fix and must not be printed twice.
    #[error("cannot split migration file `{path}` into statements: {error}")]
    Split { path: PathBuf, error: SplitError },

    /// A `.cypher` file with no statements in it.
    #[error(
        "migration file `{path}` contains no statements, only whitespace or comments: add the statements or delete the file"
    )]
    EmptyFile { path: PathBuf },
}
