//! Which entry names a bundle may hold, and the fixed names of its well-known entries.
//!
//! The same rules apply when packaging and when reading: a bundle the tool builds must be
//! one the tool accepts, and a name that could land outside the extraction folder on any
//! platform (Unix or Windows) is refused before a single byte is written.

/// The checksum list, in the format `sha256sum -c` reads.
pub const SHA256SUMS: &str = "SHA256SUMS";
/// The manifest describing the release and every payload file.
pub const MANIFEST: &str = "manifest.json";
/// The copy of the database backup the release installs from.
pub const BACKUP_ENTRY: &str = "neo4j/fullbackup/initial_backup.json";
/// The folder holding the migration scripts.
pub const MIGRATIONS_DIR: &str = "migrations";

/// The longest file name (one path component) ext4, XFS, APFS and NTFS store.
const MAX_COMPONENT_BYTES: usize = 255;
/// The longest entry name a bundle may hold; ours are far shorter.
const MAX_NAME_BYTES: usize = 1024;

/// Checks one entry name (without a trailing `/`) and says what is wrong with it.
pub(crate) fn check_entry_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("has an empty name");
    }
    if name.contains('\0') {
        return Err("contains a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if name.contains('\\') {
        return Err("contains a backslash, which Windows reads as a folder separator");
    }
    if name.starts_with('/') {
        return Err("is an absolute path and escapes the extraction folder");
    }
    if name.contains(':') {
        return Err("contains `:`, which Windows reads as a drive letter or data stream");
    }
    if name.len() > MAX_NAME_BYTES {
        return Err("is longer than 1,024 bytes");
    }
    for component in name.split('/') {
        match component {
            "" => return Err("has an empty path component"),
            "." => return Err("has a `.` path component"),
            ".." => return Err("escapes the extraction folder"),
            c if c.len() > MAX_COMPONENT_BYTES => {
                return Err(
                    "has a path component longer than 255 bytes, which file systems do not store",
                )
            }
            _ => {}
        }
    }
    Ok(())
}

/// Renders raw name bytes for messages: lossy UTF-8 with control characters escaped, so a
/// hostile name cannot rewrite the terminal.
pub(crate) fn display_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escaping_and_ambiguous_names() {
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/abs",
            "C:\\x",
            "C:/x",
            "\\\\server\\share",
            "a\\b",
            "a//b",
            "./a",
            "a/",
            "a\0b",
            "a\nb",
        ] {
            assert!(check_entry_name(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("migrations/1.0.0/{}.cypher", "a".repeat(5000));
        assert!(check_entry_name(&long).is_err());
        let component = format!("migrations/{}/001_a.cypher", "1".repeat(256));
        assert!(check_entry_name(&component).is_err());
        assert!(check_entry_name(&format!("migrations/{}", "a".repeat(255))).is_ok());
        for good in [
            SHA256SUMS,
            MANIFEST,
            BACKUP_ENTRY,
            "migrations/V1__a.cypher",
            "a..b",
        ] {
            assert!(
                check_entry_name(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
    }

    #[test]
    fn display_escapes_control_characters() {
        assert_eq!(display_name(b"a\nb"), "a\\nb");
        assert_eq!(display_name(b"../evil"), "../evil");
    }
}
