//! `ign-setup migrations new NAME`: the next migration file, numbered and
//! placed in the right version folder, like `sqlx migrate add`.
//!
//! This reads only names, not contents, so it works while an earlier
//! scaffold is still empty (the catalog refuses empty files until they hold a
//! statement, which keeps an unfinished migration from ever being recorded as
//! applied).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use semver::Version;

use super::catalog::{list_dir, sequence_key, EntryKind};
use super::error::MigrationError;

/// The file `scaffold` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scaffold {
    pub path: PathBuf,
    pub version: Version,
    /// Whether the version folder was created for it.
    pub new_version: bool,
}

/// Writes `<dir>/<version>/<NNN>_<name>.cypher`: the version given, else the
/// newest folder; the number one above the highest in that folder, with as
/// many digits as the widest existing one (at least three). Never overwrites.
pub fn scaffold(
    dir: &Path,
    version: Option<&Version>,
    name: &str,
) -> Result<Scaffold, MigrationError> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(MigrationError::BadMigrationName {
            name: name.to_owned(),
        });
    }
    if !dir.is_dir() {
        return Err(MigrationError::DirMissing {
            path: dir.to_owned(),
        });
    }
    let mut folders: Vec<(Version, PathBuf)> = list_dir(dir)?
        .into_iter()
        .filter(|(_, _, kind)| matches!(kind, EntryKind::Dir))
        .filter_map(|(n, p, _)| Some((Version::parse(n.to_str()?).ok()?, p)))
        .collect();
    folders.sort_by(|a, b| a.0.cmp_precedence(&b.0));
    let newest = folders.last().map(|(v, _)| v.clone());
    let (version, folder, new_version) = match version {
        Some(v) => match folders.iter().find(|(f, _)| f.cmp_precedence(v).is_eq()) {
            Some((f, p)) => (f.clone(), p.clone(), false),
            None => {
                if let Some(newest) = newest.filter(|n| n.cmp_precedence(v).is_gt()) {
                    return Err(MigrationError::OlderVersion {
                        version: v.clone(),
                        newest,
                    });
                }
                (v.clone(), dir.join(v.to_string()), true)
            }
        },
        None => match folders.pop() {
            Some((v, p)) => (v, p, false),
            None => {
                return Err(MigrationError::NoVersionFolder {
                    path: dir.to_owned(),
                })
            }
        },
    };
    let (mut highest, mut width) = (0u64, 3usize);
    if !new_version {
        for (n, _, _) in list_dir(&folder)? {
            let Some(file) = n.to_str() else { continue };
            if sequence_key(file).is_none() {
                continue;
            }
            let digits = file.split('_').next().unwrap_or_default();
            width = width.max(digits.len());
            highest = highest.max(digits.parse().unwrap_or(u64::MAX));
        }
    }
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| MigrationError::Io { path, source }
    };
    if new_version {
        fs::create_dir(&folder).map_err(io_err(&folder))?;
    }
    let path = folder.join(format!(
        "{:0width$}_{name}.cypher",
        highest.saturating_add(1)
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_err(&path))?;
    file.write_all(template(name, &version).as_bytes())
        .map_err(io_err(&path))?;
    Ok(Scaffold {
        path,
        version,
        new_version,
    })
}

fn template(name: &str, version: &Version) -> String {
    format!(
        "// {name}: what this migration changes in release {version}, and why.
//
// Statements end with `;`. Schema statements (CREATE/DROP INDEX or
// CONSTRAINT) run on their own; consecutive data statements run in one
// transaction; `CALL {{ ... }} IN TRANSACTIONS` runs in its own. Write them so
// that running the file twice changes nothing (IF NOT EXISTS, MERGE,
// WHERE ... IS NULL). Until this file holds a statement, the migrations
// folder is refused as a whole, so it can never be recorded half-written.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_the_next_file_in_the_newest_folder() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("1.5.0");
        fs::create_dir_all(&v).unwrap();
        fs::create_dir_all(dir.path().join("1.10.0")).unwrap();
        fs::write(dir.path().join("1.10.0/0009_a.cypher"), "RETURN 1;").unwrap();
        fs::write(dir.path().join("1.10.0/0010_b.cypher"), "RETURN 1;").unwrap();
        fs::write(
            dir.path().join("1.10.0/verify.cypher"),
            "RETURN true AS ok;",
        )
        .unwrap();
        let made = scaffold(dir.path(), None, "add_index").unwrap();
        assert_eq!(made.path, dir.path().join("1.10.0/0011_add_index.cypher"));
        assert!(!made.new_version);
        let text = fs::read_to_string(&made.path).unwrap();
        assert!(text.starts_with("// add_index: what this migration changes in release 1.10.0"));
        // The same name again gets the next number, never an overwrite.
        let again = scaffold(dir.path(), None, "add_index").unwrap();
        assert_eq!(again.path, dir.path().join("1.10.0/0012_add_index.cypher"));
    }

    #[test]
    fn a_new_version_gets_a_folder_and_an_older_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("1.5.0")).unwrap();
        let made = scaffold(dir.path(), Some(&Version::new(1, 6, 0)), "x").unwrap();
        assert_eq!(made.path, dir.path().join("1.6.0/001_x.cypher"));
        assert!(made.new_version);
        let err = scaffold(dir.path(), Some(&Version::new(1, 4, 0)), "x").unwrap_err();
        assert!(matches!(err, MigrationError::OlderVersion { .. }), "{err}");
        assert!(!dir.path().join("1.4.0").exists());
    }

    #[test]
    fn bad_names_and_empty_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "a b", "../x", "a.cypher", "é"] {
            let err = scaffold(dir.path(), None, bad).unwrap_err();
            assert!(
                matches!(err, MigrationError::BadMigrationName { .. }),
                "{bad}: {err}"
            );
        }
        let err = scaffold(dir.path(), None, "x").unwrap_err();
        assert!(
            matches!(err, MigrationError::NoVersionFolder { .. }),
            "{err}"
        );
        let err = scaffold(&dir.path().join("none"), None, "x").unwrap_err();
        assert!(matches!(err, MigrationError::DirMissing { .. }), "{err}");
    }
}
