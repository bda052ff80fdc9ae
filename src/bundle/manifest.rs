//! The two descriptions a bundle carries of itself: `manifest.json` and `SHA256SUMS`.
//!
//! `SHA256SUMS` is for people and standard tools (`sha256sum -c SHA256SUMS` in the unpacked
//! folder); `manifest.json` is for ign-setup and adds the release facts. Both are rendered
//! byte-for-byte deterministically so that the same inputs give the same bundle.

use serde::{Deserialize, Serialize};

use super::error::BundleError;
use super::names::{check_entry_name, SHA256SUMS};

/// The manifest format this tool writes and reads.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

/// One payload file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path inside the bundle, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// The content of `manifest.json`.
///
/// `files` lists every entry except `manifest.json` itself (it cannot hold its own
/// checksum) and `SHA256SUMS`; `SHA256SUMS` in turn covers `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub application_version: semver::Version,
    pub tool_version: String,
    /// Metadata summary of the backup, as given by whoever built the bundle.
    pub backup: serde_json::Value,
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    /// Pretty-printed JSON with object keys sorted at every level, ending in a newline.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self).expect("a manifest always serializes");
        sort_keys(&mut value);
        let mut out = serde_json::to_vec_pretty(&value).expect("a JSON value always serializes");
        out.push(b'\n');
        out
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Manifest, BundleError> {
        // Read the format version on its own first, so a newer manifest gets "unsupported
        // format" rather than a confusing field error.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let version: Version =
            serde_json::from_slice(bytes).map_err(|e| BundleError::MalformedManifest {
                reason: e.to_string(),
            })?;
        if version.format_version != MANIFEST_FORMAT_VERSION {
            return Err(BundleError::UnsupportedFormat {
                found: version.format_version,
                supported: MANIFEST_FORMAT_VERSION,
            });
        }
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| BundleError::MalformedManifest {
                reason: e.to_string(),
            })?;
        for entry in &manifest.files {
            if !is_sha256_hex(&entry.sha256) {
                return Err(BundleError::MalformedManifest {
                    reason: format!("`{}` has a malformed sha256", entry.path),
                });
            }
        }
        Ok(manifest)
    }
}

/// Rebuilds every object with its keys inserted in sorted order, which yields sorted output
/// whether or not serde_json was built to preserve insertion order.
fn sort_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, mut v) in entries {
                sort_keys(&mut v);
                map.insert(key, v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Renders `SHA256SUMS` in the text-mode format of `sha256sum`: `<hex>  <path>\n`.
///
/// Entry names never contain backslashes or newlines (see `check_entry_name`), so the
/// escaped form `sha256sum` uses for such names is never needed.
pub(crate) fn render_sums(entries: &[ManifestEntry]) -> Vec<u8> {
    let mut out = String::new();
    for e in entries {
        out.push_str(&e.sha256);
        out.push_str("  ");
        out.push_str(&e.path);
        out.push('\n');
    }
    out.into_bytes()
}

/// Parses `SHA256SUMS` into (path, sha256) pairs in file order.
pub(crate) fn parse_sums(bytes: &[u8]) -> Result<Vec<(String, String)>, BundleError> {
    let text = std::str::from_utf8(bytes).map_err(|_| BundleError::MalformedChecksums {
        line: 1,
        reason: "not UTF-8",
    })?;
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |reason| BundleError::MalformedChecksums {
            line: i + 1,
            reason,
        };
        if line.is_empty() {
            return Err(bad("empty line"));
        }
        let (hex, rest) = line.split_at_checked(64).ok_or_else(|| bad("too short"))?;
        if !is_sha256_hex(hex) {
            return Err(bad("not a lower-case sha256"));
        }
        // `sha256sum` writes "  " in text mode and " *" in binary mode; both mean the same.
        let path = rest
            .strip_prefix("  ")
            .or_else(|| rest.strip_prefix(" *"))
            .ok_or_else(|| bad("expected two spaces after the checksum"))?;
        check_entry_name(path).map_err(|_| bad("unsafe path"))?;
        if path == SHA256SUMS {
            return Err(bad("lists SHA256SUMS itself"));
        }
        if out.iter().any(|(p, _)| p == path) {
            return Err(bad("lists a path twice"));
        }
        out.push((path.to_string(), hex.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.into(),
            size: 3,
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn sums_round_trip() {
        let entries = [entry("a"), entry("migrations/b.cypher")];
        let text = render_sums(&entries);
        assert_eq!(
            String::from_utf8(text.clone()).unwrap(),
            format!("{h}  a\n{h}  migrations/b.cypher\n", h = "ab".repeat(32))
        );
        let parsed = parse_sums(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].0, "migrations/b.cypher");
    }

    #[test]
    fn sums_refuse_garbage() {
        assert!(parse_sums(b"xyz  a\n").is_err());
        let h = "ab".repeat(32);
        assert!(parse_sums(format!("{h} a\n").as_bytes()).is_err());
        assert!(parse_sums(format!("{h}  ../a\n").as_bytes()).is_err());
        assert!(parse_sums(format!("{h}  a\n{h}  a\n").as_bytes()).is_err());
    }

    #[test]
    fn manifest_json_is_canonical_and_round_trips() {
        let m = Manifest {
            format_version: MANIFEST_FORMAT_VERSION,
            application_version: semver::Version::new(1, 2, 3),
            tool_version: "0.1.0".into(),
            backup: serde_json::json!({"z": 1, "a": {"y": 2, "b": 3}}),
            files: vec![entry("a")],
        };
        let json = m.to_canonical_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.find("\"a\"").unwrap() < text.find("\"z\"").unwrap());
        assert!(text.find("\"b\"").unwrap() < text.find("\"y\"").unwrap());
        assert_eq!(Manifest::parse(&json).unwrap(), m);
    }

    proptest::proptest! {
        #[test]
        fn sums_round_trip_for_any_safe_name(
            paths in proptest::collection::btree_set("[a-zA-Z0-9_.é-]{1,12}(/[a-zA-Z0-9_. -]{1,12}){0,3}", 1..8),
            digest in "[0-9a-f]{64}",
        ) {
            let entries: Vec<ManifestEntry> = paths
                .into_iter()
                .filter(|p| check_entry_name(p).is_ok() && p != SHA256SUMS)
                .map(|path| ManifestEntry { path, size: 0, sha256: digest.clone() })
                .collect();
            let parsed = parse_sums(&render_sums(&entries)).unwrap();
            let expected: Vec<(String, String)> =
                entries.iter().map(|e| (e.path.clone(), e.sha256.clone())).collect();
            proptest::prop_assert_eq!(parsed, expected);
        }
    }

    #[test]
    fn newer_manifest_format_is_reported_as_such() {
        let err = Manifest::parse(br#"{"format_version": 99}"#).unwrap_err();
        assert!(matches!(
            err,
            BundleError::UnsupportedFormat { found: 99, .. }
        ));
    }
}
