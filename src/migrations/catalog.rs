//! The catalog: every migration on disk, validated and ordered, loaded in one go.
//!
//! Loading is strict on purpose. An upgrade plan is built from the catalog
//! before the database is touched, so anything odd about the folder (a
//! misnamed file, two folders for one version, a file that will not split) is
//! refused here, with a message that names the path and the fix, instead of
//! surfacing half-way through an upgrade.

use std::collections::btree_map::{BTreeMap, Entry};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use semver::{BuildMetadata, Version};
use sha2::{Digest, Sha256};

use super::classify::Statement;
use super::error::MigrationError;
use super::split::{split_statements_with_lines, SplitStatement};

/// Largest migration file accepted. Real migrations are a few kilobytes; a
/// bigger file is almost certainly a data dump put in the wrong place.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Name of the optional file of validation queries in a version folder.
pub const VERIFY_FILE: &str = "verify.cypher";

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Version folder the file lives in.
    pub version: Version,
    /// File name, such as `001_function_constraints.cypher`.
    pub name: String,
    /// Path of the file, under the folder given to [`Catalog::load`].
    pub path: PathBuf,
    /// Lowercase hex sha256 of the file's bytes, to notice a migration that
    /// was edited after it ran.
    pub checksum: String,
    /// The statements, in file order.
    pub statements: Vec<Statement>,
}

/// One version folder: the migrations that bring the database to `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionDir {
    /// The version, parsed from the folder name.
    pub version: Version,
    /// Path of the folder.
    pub path: PathBuf,
    /// Migrations in file-name order, which is the order they run in.
    pub migrations: Vec<Migration>,
    /// Queries from `verify.cypher`, empty when there is none. Each must
    /// return exactly one row with a boolean column `ok` that is true.
    pub verify: Vec<String>,
}

/// Every version folder of a migrations folder, in semver order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    dir: PathBuf,
    versions: Vec<VersionDir>,
}

impl Catalog {
    /// Reads and validates `dir` and everything in it.
    pub fn load(dir: &Path) -> Result<Catalog, MigrationError> {
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(MigrationError::NotADirectory {
                    path: dir.to_owned(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(MigrationError::DirMissing {
                    path: dir.to_owned(),
                })
            }
            Err(source) => {
                return Err(MigrationError::Io {
                    path: dir.to_owned(),
                    source,
                })
            }
        }

        // Keyed by the version without build metadata: `1.5.0` and
        // `1.5.0+build` have the same precedence, so which one runs first
        // would be arbitrary. Without build metadata the map's order is
        // semver precedence, the order versions must run in.
        let mut folders: BTreeMap<Version, (Version, PathBuf)> = BTreeMap::new();
        for (name, path, kind) in list_dir(dir)? {
            match kind {
                EntryKind::Symlink => return Err(MigrationError::Symlink { path }),
                // Top-level files (a README, notes) are not part of the catalog.
                EntryKind::File | EntryKind::Other => continue,
                EntryKind::Dir => {}
            }
            let version = name
                .to_str()
                .and_then(|n| Version::parse(n).ok())
                .ok_or_else(|| MigrationError::NotSemver {
                    example: example_version(&name.to_string_lossy()),
                    path: path.clone(),
                })?;
            let key = Version {
                build: BuildMetadata::EMPTY,
                ..version.clone()
            };
            match folders.entry(key) {
                Entry::Occupied(seen) => {
                    return Err(MigrationError::DuplicateVersion {
                        first: seen.get().1.clone(),
                        second: path,
                        version: seen.key().clone(),
                    })
                }
                Entry::Vacant(slot) => {
                    slot.insert((version, path));
                }
            }
        }

        let versions = folders
            .into_values()
            .map(|(version, path)| load_version(version, path))
            .collect::<Result<_, _>>()?;
        Ok(Catalog {
            dir: dir.to_owned(),
            versions,
        })
    }

    /// The folder the catalog was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All versions, oldest first.
    pub fn versions(&self) -> &[VersionDir] {
        &self.versions
    }

    /// The newest version, if there is any.
    pub fn latest(&self) -> Option<&VersionDir> {
        self.versions.last()
    }

    /// The folder for `version`, compared by semver precedence so build
    /// metadata is ignored.
    pub fn get(&self, version: &Version) -> Option<&VersionDir> {
        self.versions
            .iter()
            .find(|v| v.version.cmp_precedence(version).is_eq())
    }

    /// Whether there is a folder for `version`, ignoring build metadata.
    pub fn contains(&self, version: &Version) -> bool {
        self.get(version).is_some()
    }

    /// The versions that take a database from `from` to `to`, oldest first:
    /// those newer than `from` (all of them when `from` is `None`, a fresh
    /// database) and no newer than `to`.
    ///
    /// Pre-releases in that range are included, since their migrations are
    /// part of the path to the release that follows them.
    pub fn pending(&self, from: Option<&Version>, to: &Version) -> Vec<&VersionDir> {
        self.versions
            .iter()
            .filter(|v| from.is_none_or(|from| v.version.cmp_precedence(from).is_gt()))
            .filter(|v| v.version.cmp_precedence(to).is_le())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Lists a folder's entries sorted by name, without following symlinks and
/// skipping hidden entries (editor swap files, `.DS_Store`, `.gitkeep`).
///
/// Sorting makes loading deterministic, so the same broken folder always
/// yields the same error.
pub(super) fn list_dir(
    dir: &Path,
) -> Result<Vec<(std::ffi::OsString, PathBuf, EntryKind)>, MigrationError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| MigrationError::Io { path, source }
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_err(&path))?;
        let kind = if file_type.is_symlink() {
            EntryKind::Symlink
        } else if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        entries.push((name, path, kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// A version to suggest for a folder name that is not one: `1.5` and
/// `v1.5.0` become `1.5.0`; anything unrecognisable gets a generic example.
fn example_version(name: &str) -> String {
    let core = name.strip_prefix(['v', 'V']).unwrap_or(name);
    let parts: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    match parts.as_deref() {
        Some([major]) => format!("{major}.0.0"),
        Some([major, minor]) => format!("{major}.{minor}.0"),
        Some([major, minor, patch]) => format!("{major}.{minor}.{patch}"),
        _ => "1.5.0".to_owned(),
    }
}

/// The sequence number of a file named `NNN_name.cypher`, as a key that
/// compares numerically (`(digit count, digits)` with leading zeros removed)
/// without overflowing on absurdly long numbers.
pub(super) fn sequence_key(file_name: &str) -> Option<(usize, String)> {
    let stem = file_name.strip_suffix(".cypher")?;
    let (digits, name) = stem.split_once('_')?;
    let valid_digits = digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit());
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !(valid_digits && valid_name) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    Some((significant.len(), significant.to_owned()))
}

fn load_version(version: Version, dir: PathBuf) -> Result<VersionDir, MigrationError> {
    let mut files: Vec<(String, PathBuf, (usize, String))> = Vec::new();
    let mut verify_path = None;
    for (name, path, kind) in list_dir(&dir)? {
        match kind {
            EntryKind::Symlink => return Err(MigrationError::Symlink { path }),
            EntryKind::Dir => return Err(MigrationError::UnexpectedDirectory { path }),
            EntryKind::File | EntryKind::Other => {}
        }
        // Matching the extension case-insensitively means `001_x.CYPHER` is
        // refused with a rename hint rather than silently never run.
        let lossy = name.to_string_lossy();
        if !lossy.to_ascii_lowercase().ends_with(".cypher") {
            continue;
        }
        if kind == EntryKind::Other {
            return Err(MigrationError::Io {
                path,
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            });
        }
        if lossy == VERIFY_FILE {
            verify_path = Some(path);
            continue;
        }
        match name.to_str().and_then(sequence_key) {
            Some(key) => files.push((lossy.into_owned(), path, key)),
            None => return Err(MigrationError::BadFileName { path }),
        }
    }

    let mut by_number: HashMap<&(usize, String), &PathBuf> = HashMap::new();
    for (_, path, key) in &files {
        if let Some(first) = by_number.insert(key, path) {
            return Err(MigrationError::DuplicateSequence {
                first: first.clone(),
                second: path.clone(),
            });
        }
    }
    // Files run in name order, so name order must agree with number order or
    // `1000_b` would silently run before `999_a`.
    for pair in files.windows(2) {
        if pair[1].2 < pair[0].2 {
            return Err(MigrationError::SequenceOrder {
                first: pair[0].1.clone(),
                second: pair[1].1.clone(),
            });
        }
    }

    if files.is_empty() && verify_path.is_none() {
        return Err(MigrationError::EmptyVersion { path: dir });
    }

    let migrations = files
        .into_iter()
        .map(|(name, path, _)| {
            let (checksum, statements) = read_statements(&path)?;
            Ok(Migration {
                version: version.clone(),
                name,
                checksum,
                statements: statements
                    .into_iter()
                    .map(|s| Statement::new(s.text, s.line))
                    .collect(),
                path,
            })
        })
        .collect::<Result<_, MigrationError>>()?;
    let verify = match verify_path {
        Some(path) => read_statements(&path)?
            .1
            .into_iter()
            .map(|s| s.text)
            .collect(),
        None => Vec::new(),
    };
    Ok(VersionDir {
        version,
        path: dir,
        migrations,
        verify,
    })
}

/// Reads a `.cypher` file and returns its checksum and statements.
fn read_statements(path: &Path) -> Result<(String, Vec<SplitStatement>), MigrationError> {
    let io_err = |source| MigrationError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let too_large = |size| MigrationError::TooLarge {
        path: path.to_owned(),
        size,
        limit: MAX_FILE_SIZE,
    };
    if size > MAX_FILE_SIZE {
        return Err(too_large(size));
    }
    // The whole file is needed in memory to split it, so hashing those same
    // bytes costs nothing extra; the limit keeps that memory bounded even if
    // the file grows between the size check and the read.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(bytes.len() as u64));
    }
    let checksum = hex::encode(Sha256::digest(&bytes));

    let text = std::str::from_utf8(&bytes).map_err(|e| MigrationError::NotUtf8 {
        path: path.to_owned(),
        line: bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1,
    })?;
    // Editors on Windows often add a byte-order mark, which Neo4j would
    // reject as the start of the first statement.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let statements = split_statements_with_lines(text).map_err(|error| MigrationError::Split {
        path: path.to_owned(),
        error,
    })?;
    if statements.is_empty() {
        return Err(MigrationError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok((checksum, statements))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{StatementKind, Unterminated};
    use tempfile::TempDir;

    const CONSTRAINT: &str =
        "CREATE CONSTRAINT function_name IF NOT EXISTS FOR (f:Function) REQUIRE f.name IS UNIQUE;\n";

    /// Builds a migrations folder from `(relative path, contents)` pairs.
    fn tree(files: &[(&str, &[u8])]) -> TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for (rel, contents) in files {
            let path = tmp.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }
        tmp
    }

    fn load_err(tmp: &TempDir) -> MigrationError {
        Catalog::load(tmp.path()).expect_err("the folder should be refused")
    }

    /// Asserts that the message names `path` and contains `fix`.
    fn assert_message(err: &MigrationError, path: &Path, fix: &str) {
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()),
            "message should name {}: {msg}",
            path.display()
        );
        assert!(msg.contains(fix), "message should say {fix:?}: {msg}");
    }

    #[test]
    fn loads_versions_in_semver_order_and_files_in_name_order() {
        let tmp = tree(&[
            ("1.10.0/001_a.cypher", CONSTRAINT.as_bytes()),
            ("1.9.0/002_b.cypher", b"MATCH (n) SET n.x = 1;"),
            ("1.9.0/001_a.cypher", CONSTRAINT.as_bytes()),
            ("1.9.0/010_c.cypher", b"RETURN 1"),
            ("2.0.0-rc.1/001_a.cypher", b"RETURN 1"),
            ("2.0.0/001_a.cypher", b"RETURN 1"),
            ("1.2.3/verify.cypher", b"RETURN true AS ok"),
        ]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        let versions: Vec<String> = catalog
            .versions()
            .iter()
            .map(|v| v.version.to_string())
            .collect();
        assert_eq!(
            versions,
            ["1.2.3", "1.9.0", "1.10.0", "2.0.0-rc.1", "2.0.0"]
        );

        let v19 = catalog.get(&Version::new(1, 9, 0)).unwrap();
        let names: Vec<&str> = v19.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["001_a.cypher", "002_b.cypher", "010_c.cypher"]);
        assert_eq!(v19.path, tmp.path().join("1.9.0"));
        assert_eq!(
            v19.migrations[0].path,
            tmp.path().join("1.9.0/001_a.cypher")
        );
        assert_eq!(v19.migrations[0].version, Version::new(1, 9, 0));
        assert_eq!(v19.migrations[0].statements[0].kind, StatementKind::Schema);
        assert_eq!(v19.migrations[1].statements[0].kind, StatementKind::Data);
        assert!(v19.verify.is_empty());

        let only_verify = catalog.get(&Version::new(1, 2, 3)).unwrap();
        assert!(only_verify.migrations.is_empty());
        assert_eq!(only_verify.verify, ["RETURN true AS ok"]);
        assert_eq!(catalog.latest().unwrap().version, Version::new(2, 0, 0));
        assert_eq!(catalog.dir(), tmp.path());
    }

    #[test]
    fn checksum_is_sha256_of_the_file_bytes() {
        let tmp = tree(&[("1.0.0/001_a.cypher", b"RETURN 1;\n")]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        assert_eq!(
            catalog.versions()[0].migrations[0].checksum,
            hex::encode(Sha256::digest(b"RETURN 1;\n"))
        );
    }

    #[test]
    fn statements_carry_their_line_numbers() {
        let tmp = tree(&[(
            "1.0.0/001_a.cypher",
            b"// header\n\nCREATE INDEX i IF NOT EXISTS FOR (n:A) ON (n.x);\nMATCH (n:A)\nSET n.y = 1;\n",
        )]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        let lines: Vec<usize> = catalog.versions()[0].migrations[0]
            .statements
            .iter()
            .map(|s| s.line)
            .collect();
        assert_eq!(lines, [3, 4]);
    }

    #[test]
    fn byte_order_mark_is_dropped_but_counted_in_the_checksum() {
        let contents = b"\xef\xbb\xbfRETURN 1;";
        let tmp = tree(&[("1.0.0/001_a.cypher", contents)]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        let m = &catalog.versions()[0].migrations[0];
        assert_eq!(m.statements[0].text, "RETURN 1");
        assert_eq!(m.checksum, hex::encode(Sha256::digest(contents)));
    }

    #[test]
    fn ignores_hidden_entries_readmes_and_other_files() {
        let tmp = tree(&[
            ("README.md", b"notes"),
            (".hidden/whatever", b""),
            ("1.0.0/001_a.cypher", b"RETURN 1"),
            ("1.0.0/README.md", b"notes"),
            ("1.0.0/.001_a.cypher.swp", b"\xff"),
            ("1.0.0/.gitkeep", b""),
            ("1.0.0/notes.txt", b"anything"),
            ("1.0.0/001_a.cypher.bak", b""),
        ]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        assert_eq!(catalog.versions().len(), 1);
        assert_eq!(catalog.versions()[0].migrations.len(), 1);
    }

    #[test]
    fn an_empty_migrations_folder_is_an_empty_catalog() {
        let tmp = tempfile::tempdir().unwrap();
        let catalog = Catalog::load(tmp.path()).unwrap();
        assert!(catalog.versions().is_empty());
        assert!(catalog.latest().is_none());
        assert!(catalog.pending(None, &Version::new(1, 0, 0)).is_empty());
    }

    #[test]
    fn pending_selects_versions_after_from_up_to_to() {
        let tmp = tree(&[
            ("1.4.0/001_a.cypher", b"RETURN 1"),
            ("1.5.0/001_a.cypher", b"RETURN 1"),
            ("1.6.0-rc.1/001_a.cypher", b"RETURN 1"),
            ("1.6.0/001_a.cypher", b"RETURN 1"),
            ("1.10.0+build.7/001_a.cypher", b"RETURN 1"),
        ]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        let pending = |from: Option<Version>, to: Version| -> Vec<String> {
            catalog
                .pending(from.as_ref(), &to)
                .iter()
                .map(|v| v.version.to_string())
                .collect()
        };
        let v = Version::parse;
        assert_eq!(
            pending(None, v("1.6.0").unwrap()),
            ["1.4.0", "1.5.0", "1.6.0-rc.1", "1.6.0"]
        );
        assert_eq!(
            pending(Some(v("1.4.0").unwrap()), v("1.5.0").unwrap()),
            ["1.5.0"]
        );
        assert_eq!(
            pending(Some(v("1.5.0").unwrap()), v("1.10.0").unwrap()),
            ["1.6.0-rc.1", "1.6.0", "1.10.0+build.7"]
        );
        assert!(pending(Some(v("1.6.0").unwrap()), v("1.6.0").unwrap()).is_empty());
        assert!(pending(Some(v("1.6.0").unwrap()), v("1.5.0").unwrap()).is_empty());
        // A database between catalog versions still gets everything after it.
        assert_eq!(
            pending(Some(v("1.4.5").unwrap()), v("1.5.0").unwrap()),
            ["1.5.0"]
        );
    }

    #[test]
    fn get_and_contains_ignore_build_metadata() {
        let tmp = tree(&[("1.5.0+abc/001_a.cypher", b"RETURN 1")]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        assert!(catalog.contains(&Version::new(1, 5, 0)));
        assert!(catalog.contains(&Version::parse("1.5.0+other").unwrap()));
        assert!(!catalog.contains(&Version::new(1, 5, 1)));
        assert!(!catalog.contains(&Version::parse("1.5.0-rc.1").unwrap()));
        assert_eq!(
            catalog
                .get(&Version::new(1, 5, 0))
                .unwrap()
                .version
                .to_string(),
            "1.5.0+abc"
        );
    }

    #[test]
    fn refuses_a_missing_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("migrations");
        let err = Catalog::load(&missing).unwrap_err();
        assert!(matches!(err, MigrationError::DirMissing { .. }), "{err:?}");
        assert_message(&err, &missing, "create it");
    }

    #[test]
    fn refuses_a_file_instead_of_a_folder() {
        let tmp = tree(&[("migrations", b"")]);
        let path = tmp.path().join("migrations");
        let err = Catalog::load(&path).unwrap_err();
        assert!(
            matches!(err, MigrationError::NotADirectory { .. }),
            "{err:?}"
        );
        assert_message(&err, &path, "point to the folder");
    }

    #[test]
    fn refuses_folders_that_are_not_semver() {
        for (name, example) in [
            ("1.5", "1.5.0"),
            ("v1.5.0", "1.5.0"),
            ("V2", "2.0.0"),
            ("01.5.0", "1.5.0"),
            ("latest", "1.5.0"),
            ("1.5.0.1", "1.5.0"),
        ] {
            let tmp = tree(&[(&format!("{name}/001_a.cypher"), b"RETURN 1")]);
            let err = load_err(&tmp);
            assert!(
                matches!(err, MigrationError::NotSemver { .. }),
                "{name}: {err:?}"
            );
            assert_message(&err, &tmp.path().join(name), "rename it to X.Y.Z");
            assert_message(
                &err,
                &tmp.path().join(name),
                &format!("for example {example})"),
            );
        }
    }

    #[test]
    fn refuses_two_folders_for_one_version() {
        let tmp = tree(&[
            ("1.5.0/001_a.cypher", b"RETURN 1"),
            ("1.5.0+build/001_a.cypher", b"RETURN 1"),
        ]);
        let err = load_err(&tmp);
        assert!(
            matches!(err, MigrationError::DuplicateVersion { .. }),
            "{err:?}"
        );
        assert_message(&err, &tmp.path().join("1.5.0"), "merge them");
        assert_message(&err, &tmp.path().join("1.5.0+build"), "version 1.5.0");
    }

    #[test]
    fn a_pre_release_is_a_different_version() {
        let tmp = tree(&[
            ("1.5.0/001_a.cypher", b"RETURN 1"),
            ("1.5.0-rc.1/001_a.cypher", b"RETURN 1"),
        ]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        assert_eq!(catalog.versions()[0].version.to_string(), "1.5.0-rc.1");
    }

    #[test]
    fn refuses_empty_and_comment_only_files() {
        for contents in [&b""[..], b"  \n\t", b"// nothing yet\n/* later; */\n;;"] {
            let tmp = tree(&[("1.0.0/001_a.cypher", contents)]);
            let err = load_err(&tmp);
            assert!(matches!(err, MigrationError::EmptyFile { .. }), "{err:?}");
            assert_message(
                &err,
                &tmp.path().join("1.0.0/001_a.cypher"),
                "delete the file",
            );
        }
    }

    #[test]
    fn refuses_an_empty_verify_file() {
        let tmp = tree(&[("1.0.0/verify.cypher", b"// todo\n")]);
        let err = load_err(&tmp);
        assert!(matches!(err, MigrationError::EmptyFile { .. }), "{err:?}");
        assert_message(
            &err,
            &tmp.path().join("1.0.0/verify.cypher"),
            "add the statements",
        );
    }

    #[test]
    fn refuses_a_file_that_is_not_utf8() {
        let tmp = tree(&[("1.0.0/001_a.cypher", b"RETURN 1;\nRETURN '\xff\xfe';")]);
        let err = load_err(&tmp);
        assert!(
            matches!(err, MigrationError::NotUtf8 { line: 2, .. }),
            "{err:?}"
        );
        assert_message(
            &err,
            &tmp.path().join("1.0.0/001_a.cypher"),
            "save it as UTF-8",
        );
    }

    #[test]
    fn refuses_a_file_that_does_not_split() {
        let tmp = tree(&[("1.0.0/001_a.cypher", b"RETURN 1;\nRETURN 'oops;\n")]);
        let err = load_err(&tmp);
        assert!(
            matches!(
                &err,
                MigrationError::Split {
                    error: crate::migrations::SplitError {
                        kind: Unterminated::SingleQuotedString,
                        line: 2,
                        ..
                    },
                    ..
                }
            ),
            "{err:?}"
        );
        assert_message(&err, &tmp.path().join("1.0.0/001_a.cypher"), "line 2");
        assert_message(
            &err,
            &tmp.path().join("1.0.0/001_a.cypher"),
            "add the closing `'`",
        );

        let tmp = tree(&[("1.0.0/verify.cypher", b"/* never closed")]);
        let err = load_err(&tmp);
        assert!(matches!(err, MigrationError::Split { .. }), "{err:?}");
        assert_message(&err, &tmp.path().join("1.0.0/verify.cypher"), "`*/`");
    }

    #[test]
    fn refuses_an_empty_version_folder() {
        let tmp = tree(&[("1.0.0/README.md", b"nothing here yet")]);
        let err = load_err(&tmp);
        assert!(
            matches!(err, MigrationError::EmptyVersion { .. }),
            "{err:?}"
        );
        assert_message(&err, &tmp.path().join("1.0.0"), "or delete the folder");

        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("2.0.0")).unwrap();
        assert!(matches!(
            load_err(&tmp),
            MigrationError::EmptyVersion { .. }
        ));
    }

    #[test]
    fn refuses_badly_named_cypher_files() {
        for name in [
            "1_a.cypher",
            "01_a.cypher",
            "001.cypher",
            "001_.cypher",
            "001-a.cypher",
            "a_001.cypher",
            "001_a b.cypher",
            "001_a.b.cypher",
            "001_a.CYPHER",
            "Verify.cypher",
            "verify_001.cypher",
            "x01_a.cypher",
        ] {
            let tmp = tree(&[(&format!("1.0.0/{name}"), b"RETURN 1")]);
            let err = load_err(&tmp);
            assert!(
                matches!(err, MigrationError::BadFileName { .. }),
                "{name}: {err:?}"
            );
            assert_message(&err, &tmp.path().join("1.0.0").join(name), "rename it");
            assert_message(
                &err,
                &tmp.path().join("1.0.0").join(name),
                "001_add_constraints.cypher",
            );
        }
    }

    #[test]
    fn accepts_long_sequence_numbers_and_dashes() {
        let tmp = tree(&[
            ("1.0.0/0001_first-step.cypher", b"RETURN 1"),
            ("1.0.0/0002_Second_Step.cypher", b"RETURN 2"),
        ]);
        let catalog = Catalog::load(tmp.path()).unwrap();
        assert_eq!(catalog.versions()[0].migrations.len(), 2);
    }

    #[test]
    fn refuses_duplicate_sequence_numbers() {
        for (a, b) in [
            ("001_a.cypher", "001_b.cypher"),
            ("001_a.cypher", "0001_b.cypher"),
        ] {
            let tmp = tree(&[
                (&format!("1.0.0/{a}"), b"RETURN 1"),
                (&format!("1.0.0/{b}"), b"RETURN 2"),
            ]);
            let err = load_err(&tmp);
            assert!(
                matches!(err, MigrationError::DuplicateSequence { .. }),
                "{err:?}"
            );
            assert_message(&err, &tmp.path().join("1.0.0").join(a), "renumber one");
            assert_message(
                &err,
                &tmp.path().join("1.0.0").join(b),
                "same sequence number",
            );
        }
    }

    #[test]
    fn refuses_numbers_whose_name_order_disagrees() {
        let tmp = tree(&[
            ("1.0.0/999_a.cypher", b"RETURN 1"),
            ("1.0.0/1000_b.cypher", b"RETURN 2"),
        ]);
        let err = load_err(&tmp);
        assert!(
            matches!(err, MigrationError::SequenceOrder { .. }),
            "{err:?}"
        );
        assert_message(
            &err,
            &tmp.path().join("1.0.0/1000_b.cypher"),
            "pad the numbers",
        );
        assert_message(&err, &tmp.path().join("1.0.0/999_a.cypher"), "same width");
    }

    #[test]
    fn refuses_subfolders_in_a_version_folder() {
        let tmp = tree(&[
            ("1.0.0/001_a.cypher", b"RETURN 1"),
            ("1.0.0/extra/002_b.cypher", b"RETURN 2"),
        ]);
        let err = load_err(&tmp);
        assert!(
            matches!(err, MigrationError::UnexpectedDirectory { .. }),
            "{err:?}"
        );
        assert_message(&err, &tmp.path().join("1.0.0/extra"), "move its files");
    }

    #[test]
    fn refuses_files_over_the_size_limit() {
        let tmp = tree(&[("1.0.0/001_a.cypher", b"")]);
        let path = tmp.path().join("1.0.0/001_a.cypher");
        // A sparse file: the size check must trip before anything is read.
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(MAX_FILE_SIZE + 1)
            .unwrap();
        let err = load_err(&tmp);
        assert!(
            matches!(err, MigrationError::TooLarge { size, .. } if size == MAX_FILE_SIZE + 1),
            "{err:?}"
        );
        assert_message(&err, &path, "split it into several smaller migrations");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks() {
        use std::os::unix::fs::symlink;

        let tmp = tree(&[
            ("real/001_a.cypher", b"RETURN 1"),
            ("1.0.0/001_a.cypher", b"RETURN 1"),
        ]);
        symlink(
            tmp.path().join("real/001_a.cypher"),
            tmp.path().join("1.0.0/002_b.cypher"),
        )
        .unwrap();
        fs::remove_dir_all(tmp.path().join("real")).ok();
        let err = load_err(&tmp);
        assert!(matches!(err, MigrationError::Symlink { .. }), "{err:?}");
        assert_message(
            &err,
            &tmp.path().join("1.0.0/002_b.cypher"),
            "replace it with a copy",
        );

        let tmp = tree(&[("1.0.0/001_a.cypher", b"RETURN 1")]);
        symlink(tmp.path().join("1.0.0"), tmp.path().join("1.1.0")).unwrap();
        let err = load_err(&tmp);
        assert!(matches!(err, MigrationError::Symlink { .. }), "{err:?}");
        assert_message(&err, &tmp.path().join("1.1.0"), "replace it with a copy");
    }

    #[test]
    fn loads_the_shipped_migrations() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let catalog = Catalog::load(&dir).unwrap();
        let versions: Vec<String> = catalog
            .versions()
            .iter()
            .map(|v| v.version.to_string())
            .collect();
        assert_eq!(versions, ["1.4.0", "1.5.0"]);

        let v14 = &catalog.versions()[0];
        let names: Vec<&str> = v14.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["001_core_constraints.cypher", "002_core_indexes.cypher"]
        );
        for m in &v14.migrations {
            assert!(
                m.statements.iter().all(|s| s.kind == StatementKind::Schema),
                "{} should only change the schema",
                m.name
            );
        }
        assert_eq!(v14.migrations[0].statements.len(), 3);

        let v15 = &catalog.versions()[1];
        let names: Vec<&str> = v15.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "001_function_constraints.cypher",
                "002_backfill_function_module.cypher"
            ]
        );
        assert!(v15.migrations[0]
            .statements
            .iter()
            .all(|s| s.kind == StatementKind::Schema));
        assert!(v15.migrations[1]
            .statements
            .iter()
            .all(|s| s.kind == StatementKind::Data));
        assert!(!v15.verify.is_empty());
        for query in &v15.verify {
            assert!(
                query.contains("AS ok"),
                "verify query must return `ok`: {query}"
            );
            assert_eq!(crate::migrations::classify(query), StatementKind::Data);
        }
        for m in catalog.versions().iter().flat_map(|v| &v.migrations) {
            assert_eq!(m.checksum.len(), 64);
        }
    }
}
