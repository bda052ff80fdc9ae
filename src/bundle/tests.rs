//! Cross-module tests of building, verifying and extracting bundles, including hostile
//! archives built by hand.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::*;

/// Source files and an output folder for one packaging run.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let f = Fixture { dir };
        f.write_sources();
        f
    }

    fn write_sources(&self) {
        let root = self.dir.path();
        fs::create_dir_all(root.join("migrations/2.0")).unwrap();
        fs::write(
            root.join("backup.json"),
            r#"{"nodes":[{"id":1,"labels":["Lesson"]}],"relationships":[]}"#,
        )
        .unwrap();
        fs::write(
            root.join("migrations/V001__init.cypher"),
            "CREATE (:Lesson);\n",
        )
        .unwrap();
        fs::write(
            root.join("migrations/V002__more.cypher"),
            "MATCH (n) RETURN n;\n",
        )
        .unwrap();
        fs::write(
            root.join("migrations/2.0/V003__later.cypher"),
            "RETURN 1;\n",
        )
        .unwrap();
    }

    fn request(&self, out: &str) -> PackageRequest {
        let root = self.dir.path();
        PackageRequest {
            app_version: semver::Version::new(1, 4, 2),
            backup_path: root.join("backup.json"),
            backup_summary: serde_json::json!({"nodes": 1, "created_at": "2024-05-01T10:00:00Z"}),
            migrations_dir: root.join("migrations"),
            out_dir: root.join(out),
            tool_version: "0.1.0".into(),
            source_date_epoch: Some(1_714_557_600),
        }
    }

    fn build(&self) -> PackageOutcome {
        build_package(&self.request("out")).unwrap()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

fn accept_backup(path: &Path) -> Result<serde_json::Value, String> {
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(serde_json::json!({"checked": true, "nodes": value["nodes"].as_array().map(Vec::len)}))
}

fn verify(zip: &Path) -> Result<BundleReport, BundleError> {
    verify_bundle(zip, &VerifyLimits::default(), &accept_backup)
}

/// Copies a zip entry by entry, letting `edit` change or drop (`None`) each entry, then
/// appends `extra` entries: how a tampered bundle with valid zip structure is made.
fn rewrite(
    src: &Path,
    dst: &Path,
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: &[(&str, &[u8])],
) {
    let mut archive = ZipArchive::new(fs::File::open(src).unwrap()).unwrap();
    let mut out = ZipWriter::new(fs::File::create(dst).unwrap());
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if let Some(bytes) = edit(&name, bytes) {
            out.start_file(name, opts).unwrap();
            out.write_all(&bytes).unwrap();
        }
    }
    for (name, bytes) in extra {
        out.start_file(*name, opts).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap();
}

/// A zip with the given raw entries and nothing else.
fn raw_zip(path: &Path, entries: &[(&str, &[u8])]) {
    rewrite_from_scratch(path, entries);
}

fn rewrite_from_scratch(path: &Path, entries: &[(&str, &[u8])]) {
    let mut out = ZipWriter::new(fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        out.start_file(*name, SimpleFileOptions::default()).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap();
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Extracts `zip` into `<parent>/target`, expecting failure, and checks that neither the
/// parent nor the target gained anything.
fn extract_refused(zip: &Path, limits: &VerifyLimits) -> BundleError {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("target");
    fs::create_dir(&target).unwrap();
    let before = listing(parent.path());
    let err = extract_bundle(zip, &target, limits).unwrap_err();
    assert_eq!(
        listing(parent.path()),
        before,
        "something was written beside the target"
    );
    assert!(
        listing(&target).is_empty(),
        "a failed extraction left files behind"
    );
    err
}

#[test]
fn builds_are_byte_identical() {
    let f = Fixture::new();
    let first = build_package(&f.request("out1")).unwrap();
    // Rewriting the sources changes their modification times but not their content.
    std::thread::sleep(std::time::Duration::from_millis(20));
    f.write_sources();
    let second = build_package(&f.request("out2")).unwrap();
    assert_eq!(
        fs::read(&first.zip_path).unwrap(),
        fs::read(&second.zip_path).unwrap()
    );
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(first.zip_path.file_name().unwrap(), "ign-scripts-1.4.2.zip");
    assert_eq!(first.size, fs::metadata(&first.zip_path).unwrap().len());
    assert_eq!(
        listing(&f.path("out1")),
        ["ign-scripts-1.4.2.zip", "ign-scripts-1.4.2.zip.sha256"]
    );
}

#[test]
fn bundle_layout_and_entry_attributes_are_fixed() {
    let f = Fixture::new();
    let outcome = f.build();
    let mut archive = ZipArchive::new(fs::File::open(&outcome.zip_path).unwrap()).unwrap();
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    assert_eq!(
        names,
        [
            "migrations/2.0/V003__later.cypher",
            "migrations/V001__init.cypher",
            "migrations/V002__more.cypher",
            BACKUP_ENTRY,
            MANIFEST,
            SHA256SUMS,
        ]
    );
    let paths: Vec<&str> = outcome.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, names[..4]);
    for i in 0..archive.len() {
        let entry = archive.by_index(i).unwrap();
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o644));
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
        let t = entry.last_modified().unwrap();
        assert_eq!((t.year(), t.month(), t.day()), (2024, 5, 1));
    }
    let mut backup = String::new();
    archive
        .by_name(BACKUP_ENTRY)
        .unwrap()
        .read_to_string(&mut backup)
        .unwrap();
    assert_eq!(backup, fs::read_to_string(f.path("backup.json")).unwrap());
}

#[test]
fn extracted_bundle_passes_real_sha256sum() {
    let f = Fixture::new();
    let outcome = f.build();
    let target = f.path("unpacked");
    let extracted = extract_bundle(&outcome.zip_path, &target, &VerifyLimits::default()).unwrap();
    assert_eq!(
        extracted.backup_path,
        target.join("neo4j/fullbackup/initial_backup.json")
    );
    assert!(extracted
        .migrations_dir
        .join("2.0/V003__later.cypher")
        .is_file());
    assert_eq!(
        extracted.manifest.application_version,
        semver::Version::new(1, 4, 2)
    );
    assert_eq!(
        listing(&target),
        ["SHA256SUMS", "manifest.json", "migrations", "neo4j"]
    );

    let inner = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&target)
        .output()
        .unwrap();
    assert!(
        inner.status.success(),
        "{}",
        String::from_utf8_lossy(&inner.stdout)
    );
    let outer = Command::new("sha256sum")
        .args(["-c", "--strict", "ign-scripts-1.4.2.zip.sha256"])
        .current_dir(f.path("out"))
        .output()
        .unwrap();
    assert!(
        outer.status.success(),
        "{}",
        String::from_utf8_lossy(&outer.stdout)
    );

    let again = extract_bundle(&outcome.zip_path, &target, &VerifyLimits::default()).unwrap_err();
    assert!(matches!(again, BundleError::TargetExists { .. }), "{again}");
}

#[test]
fn good_bundle_verifies_with_outer_checksum_and_backup_summary() {
    let f = Fixture::new();
    let outcome = f.build();
    let report = verify(&outcome.zip_path).unwrap();
    assert_eq!(
        report.outer_checksum,
        OuterChecksum::Matched {
            sha256: outcome.sha256.clone()
        }
    );
    assert_eq!(report.manifest.files, outcome.entries);
    assert_eq!(report.manifest.backup["nodes"], 1);
    assert_eq!(
        report.backup_summary,
        serde_json::json!({"checked": true, "nodes": 1})
    );

    let sum_file = f.path("out/ign-scripts-1.4.2.zip.sha256");
    fs::write(
        &sum_file,
        format!("{}  ign-scripts-1.4.2.zip\n", "0".repeat(64)),
    )
    .unwrap();
    let err = verify(&outcome.zip_path).unwrap_err();
    assert!(
        matches!(err, BundleError::OuterChecksumMismatch { .. }),
        "{err}"
    );
    fs::remove_file(&sum_file).unwrap();
    assert_eq!(
        verify(&outcome.zip_path).unwrap().outer_checksum,
        OuterChecksum::NotPresent
    );

    let err = verify_bundle(&outcome.zip_path, &VerifyLimits::default(), &|_| {
        Err("no nodes".to_string())
    })
    .unwrap_err();
    assert!(matches!(err, BundleError::BackupRejected { .. }), "{err}");
}

#[test]
fn a_flipped_byte_in_any_entry_is_caught() {
    let f = Fixture::new();
    let outcome = f.build();
    let names: Vec<String> = ZipArchive::new(fs::File::open(&outcome.zip_path).unwrap())
        .unwrap()
        .file_names()
        .map(str::to_string)
        .collect();
    for target in &names {
        let tampered = f.path("tampered.zip");
        rewrite(
            &outcome.zip_path,
            &tampered,
            |name, mut bytes| {
                if name == target {
                    let mid = bytes.len() / 2;
                    bytes[mid] ^= 0x01;
                }
                Some(bytes)
            },
            &[],
        );
        let err = verify(&tampered).unwrap_err();
        if target != SHA256SUMS {
            assert!(
                matches!(&err, BundleError::ChecksumMismatch { entry, listed_in: "SHA256SUMS", .. } if entry == target),
                "{target}: {err}"
            );
        }
        let err = extract_refused(&tampered, &VerifyLimits::default());
        assert!(!matches!(err, BundleError::TargetExists { .. }), "{err}");
    }
}

#[test]
fn missing_and_extra_entries_are_caught() {
    let f = Fixture::new();
    let outcome = f.build();
    let tampered = f.path("tampered.zip");

    rewrite(
        &outcome.zip_path,
        &tampered,
        |name, bytes| (name != "migrations/V002__more.cypher").then_some(bytes),
        &[],
    );
    let err = verify(&tampered).unwrap_err();
    assert!(
        matches!(&err, BundleError::MissingEntry { entry, .. } if entry == "migrations/V002__more.cypher"),
        "{err}"
    );

    rewrite(
        &outcome.zip_path,
        &tampered,
        |_, bytes| Some(bytes),
        &[(
            "migrations/V999__sneaky.cypher",
            b"MATCH (n) DETACH DELETE n;",
        )],
    );
    let err = verify(&tampered).unwrap_err();
    assert!(
        matches!(&err, BundleError::UnlistedEntry { entry, .. } if entry == "migrations/V999__sneaky.cypher"),
        "{err}"
    );
    extract_refused(&tampered, &VerifyLimits::default());

    rewrite(
        &outcome.zip_path,
        &tampered,
        |name, bytes| (name != MANIFEST).then_some(bytes),
        &[],
    );
    assert!(matches!(
        verify(&tampered).unwrap_err(),
        BundleError::RequiredEntryMissing { entry: MANIFEST }
    ));
}

#[test]
fn an_edited_manifest_is_caught() {
    let f = Fixture::new();
    let outcome = f.build();
    let tampered = f.path("tampered.zip");
    let edit_manifest = |name: &str, bytes: Vec<u8>| {
        if name != MANIFEST {
            return Some(bytes);
        }
        let text = String::from_utf8(bytes).unwrap();
        Some(text.replace("\"1.4.2\"", "\"9.9.9\"").into_bytes())
    };
    rewrite(&outcome.zip_path, &tampered, edit_manifest, &[]);
    let err = verify(&tampered).unwrap_err();
    assert!(
        matches!(&err, BundleError::ChecksumMismatch { entry, listed_in: "SHA256SUMS", .. } if entry == MANIFEST),
        "{err}"
    );

    // An attacker who also fixes SHA256SUMS is still caught by the manifest itself when
    // a payload file is swapped: the manifest and SHA256SUMS must both agree with it.
    let new_backup = b"{\"nodes\":[]}".to_vec();
    let new_sum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&new_backup));
    let old_sum = &outcome
        .entries
        .iter()
        .find(|e| e.path == BACKUP_ENTRY)
        .unwrap()
        .sha256;
    rewrite(
        &outcome.zip_path,
        &tampered,
        |name, bytes| match name {
            BACKUP_ENTRY => Some(new_backup.clone()),
            SHA256SUMS => Some(
                String::from_utf8(bytes)
                    .unwrap()
                    .replace(old_sum.as_str(), &new_sum)
                    .into_bytes(),
            ),
            _ => Some(bytes),
        },
        &[],
    );
    let err = verify(&tampered).unwrap_err();
    assert!(
        matches!(&err, BundleError::SizeMismatch { entry, .. } if entry == BACKUP_ENTRY),
        "{err}"
    );
}

#[test]
fn zip_slip_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["../x", "/abs", "a/../../x", "C:\\evil", "a\\..\\b"] {
        let zip = dir.path().join("slip.zip");
        raw_zip(&zip, &[("ok.txt", b"fine"), (bad, b"pwned")]);
        let err = verify(&zip).unwrap_err();
        assert!(
            matches!(err, BundleError::UnsafeEntryName { .. }),
            "{bad}: {err}"
        );
        let err = extract_refused(&zip, &VerifyLimits::default());
        assert!(
            matches!(err, BundleError::UnsafeEntryName { .. }),
            "{bad}: {err}"
        );
    }
    let zip = dir.path().join("slip.zip");
    raw_zip(&zip, &[("../evil", b"x")]);
    let message = verify(&zip).unwrap_err().to_string();
    assert!(
        message.contains("`../evil` escapes the extraction folder"),
        "{message}"
    );
    assert!(message.contains("ign-setup package"), "{message}");
}

#[test]
fn symlink_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("link.zip");
    let mut out = ZipWriter::new(fs::File::create(&zip).unwrap());
    out.add_symlink("migrations", "/etc", SimpleFileOptions::default())
        .unwrap();
    out.start_file("migrations/x.cypher", SimpleFileOptions::default())
        .unwrap();
    out.write_all(b"x").unwrap();
    out.finish().unwrap();
    assert!(matches!(
        verify(&zip).unwrap_err(),
        BundleError::SymlinkEntry { .. }
    ));
    let err = extract_refused(&zip, &VerifyLimits::default());
    assert!(matches!(err, BundleError::SymlinkEntry { .. }), "{err}");
}

#[test]
fn duplicate_entry_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("dup.zip");
    // The zip crate refuses to write duplicates, so write two names of equal length and
    // rename the second in both its local and central headers.
    raw_zip(&zip, &[("dup_a.txt", b"first"), ("dup_b.txt", b"second")]);
    let mut bytes = fs::read(&zip).unwrap();
    let mut replaced = 0;
    for i in 0..bytes.len() - 9 {
        if &bytes[i..i + 9] == b"dup_b.txt" {
            bytes[i..i + 9].copy_from_slice(b"dup_a.txt");
            replaced += 1;
        }
    }
    assert_eq!(replaced, 2);
    fs::write(&zip, bytes).unwrap();
    // The zip crate itself sees only one of the two.
    assert_eq!(
        ZipArchive::new(fs::File::open(&zip).unwrap())
            .unwrap()
            .len(),
        1
    );

    let err = verify(&zip).unwrap_err();
    assert!(
        matches!(&err, BundleError::DuplicateEntry { entry } if entry == "dup_a.txt"),
        "{err}"
    );
    extract_refused(&zip, &VerifyLimits::default());
}

/// Writes a zip whose only entry is `size` zero bytes, streamed so it is never in memory.
fn zero_bomb(path: &Path, name: &str, size: usize) {
    let mut out = ZipWriter::new(fs::File::create(path).unwrap());
    out.start_file(
        name,
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(9)),
    )
    .unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..size / chunk.len() {
        out.write_all(&chunk).unwrap();
    }
    out.finish().unwrap();
}

#[test]
fn zip_bombs_are_refused_even_when_headers_lie() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bomb.zip");
    zero_bomb(&zip, BACKUP_ENTRY, 64 << 20);

    let err = verify(&zip).unwrap_err();
    assert!(matches!(err, BundleError::CompressionRatio { .. }), "{err}");
    let err = extract_refused(&zip, &VerifyLimits::default());
    assert!(matches!(err, BundleError::CompressionRatio { .. }), "{err}");

    // Make the headers claim 1000 bytes: the declared checks pass, so only counting the
    // real output while decompressing can catch it.
    let mut bytes = fs::read(&zip).unwrap();
    let declared = 1000u32.to_le_bytes();
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    bytes[22..26].copy_from_slice(&declared);
    let central = (0..bytes.len() - 4)
        .rev()
        .find(|&i| &bytes[i..i + 4] == b"PK\x01\x02")
        .unwrap();
    bytes[central + 24..central + 28].copy_from_slice(&declared);
    fs::write(&zip, bytes).unwrap();

    let err = verify(&zip).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::DeclaredSizeMismatch {
                declared: 1000,
                more: true,
                ..
            }
        ),
        "{err}"
    );
    let err = extract_refused(&zip, &VerifyLimits::default());
    assert!(
        matches!(err, BundleError::DeclaredSizeMismatch { .. }),
        "{err}"
    );
}

#[test]
fn size_and_count_limits_are_enforced() {
    let f = Fixture::new();
    let outcome = f.build();
    let tight = |limits: VerifyLimits| verify_bundle(&outcome.zip_path, &limits, &accept_backup);
    let err = tight(VerifyLimits {
        max_entries: 3,
        ..VerifyLimits::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, BundleError::TooManyEntries { count: 6, .. }),
        "{err}"
    );
    let err = tight(VerifyLimits {
        max_entry_size: 10,
        ..VerifyLimits::default()
    })
    .unwrap_err();
    assert!(matches!(err, BundleError::EntryTooLarge { .. }), "{err}");
    let err = tight(VerifyLimits {
        max_total_size: 100,
        ..VerifyLimits::default()
    })
    .unwrap_err();
    assert!(matches!(err, BundleError::BundleTooLarge { .. }), "{err}");
}

#[test]
fn packaging_refuses_links_and_leaves_no_temp_files() {
    let f = Fixture::new();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", f.path("migrations/V004__link.cypher")).unwrap();
        let err = build_package(&f.request("out")).unwrap_err();
        assert!(matches!(err, BundleError::BadInput { .. }), "{err}");
        fs::remove_file(f.path("migrations/V004__link.cypher")).unwrap();
    }
    let mut req = f.request("out");
    req.backup_path = f.path("no-such-backup.json");
    let err = build_package(&req).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    let out = f.path("out");
    assert!(!out.exists() || listing(&out).is_empty());
}
