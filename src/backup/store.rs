//! The backup folder: file names, listing, the `backup_metadata.json` index
//! and retention. The files are the truth; the index is rewritten from them
//! atomically after every change, for tools that want one file to read.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::format::{Metadata, BACKUP_PREFIX, BACKUP_SUFFIX, INDEX_FILE, INITIAL_BACKUP};
use super::reader::read_metadata;
use super::BackupError;
use crate::fsutil;

#[derive(Debug, Clone)]
pub struct BackupStore {
    dir: PathBuf,
    keep: usize,
}

/// One file in the folder, with its metadata or the reason it can't be read.
#[derive(Debug, Clone, Serialize)]
pub struct BackupEntry {
    pub file: String,
    pub path: PathBuf,
    pub size: u64,
    pub metadata: Option<Metadata>,
    pub problem: Option<String>,
}

impl BackupEntry {
    pub fn is_initial(&self) -> bool {
        self.file == INITIAL_BACKUP
    }
}

impl BackupStore {
    pub fn new(dir: &Path, keep: usize) -> BackupStore {
        BackupStore {
            dir: dir.to_owned(),
            keep: keep.max(1),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the folder (0750) and clears temporary files of dead writers.
    pub fn prepare(&self) -> Result<(), BackupError> {
        fsutil::ensure_private_dir(&self.dir)
            .map_err(|e| BackupError::io("create folder", &self.dir, e))?;
        fsutil::remove_stale_temp_files(&self.dir);
        Ok(())
    }

    /// A name in the folder, or a path to a file anywhere.
    pub fn resolve(&self, name_or_path: &str) -> Result<PathBuf, BackupError> {
        let as_path = PathBuf::from(name_or_path);
        let in_dir = self.dir.join(name_or_path);
        let is_plain_name = !name_or_path.contains('/') && !name_or_path.starts_with('.');
        if is_plain_name && in_dir.exists() {
            return Ok(in_dir);
        }
        if as_path.exists() {
            return Ok(as_path);
        }
        Err(BackupError::NotFound {
            name: name_or_path.to_owned(),
            dir: self.dir.clone(),
        })
    }

    /// A fresh `ign_scripts_db_backup_YYYYMMDD_HHMMSS.json` name (UTC); a second
    /// backup in the same second gets `_1`, `_2`, ...
    pub fn new_backup_name(&self, stamp: &str) -> String {
        let base = format!("{BACKUP_PREFIX}{stamp}");
        let mut name = format!("{base}{BACKUP_SUFFIX}");
        let mut n = 1;
        while self.dir.join(&name).exists() {
            name = format!("{base}_{n}{BACKUP_SUFFIX}");
            n += 1;
        }
        name
    }

    fn is_backup_name(name: &str) -> bool {
        name == INITIAL_BACKUP || (name.starts_with(BACKUP_PREFIX) && name.ends_with(BACKUP_SUFFIX))
    }

    /// Every backup in the folder, newest first. Unreadable files are listed
    /// with their problem rather than hidden.
    pub fn list(&self) -> Result<Vec<BackupEntry>, BackupError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BackupError::io("list", &self.dir, e)),
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if !Self::is_backup_name(&file) {
                continue;
            }
            let path = e.path();
            let meta = match e.metadata() {
                Ok(m) if m.is_file() => m,
                _ => continue,
            };
            let (metadata, problem) = match read_metadata(&path) {
                Ok(m) => (Some(m), None),
                Err(err) => (None, Some(err.to_string())),
            };
            out.push(BackupEntry {
                file,
                path,
                size: meta.len(),
                metadata,
                problem,
            });
        }
        out.sort_by(|a, b| {
            let key = |e: &BackupEntry| {
                e.metadata
                    .as_ref()
                    .map(|m| m.datetime.clone())
                    .unwrap_or_default()
            };
            key(b).cmp(&key(a)).then_with(|| b.file.cmp(&a.file))
        });
        Ok(out)
    }

    /// The newest readable timestamped backup (not `initial_backup.json`).
    pub fn latest(&self) -> Result<BackupEntry, BackupError> {
        self.list()?
            .into_iter()
            .find(|e| e.metadata.is_some() && !e.is_initial())
            .ok_or_else(|| BackupError::NoBackups(self.dir.clone()))
    }

    /// Rewrites `backup_metadata.json` atomically from the folder's contents.
    pub fn write_index(&self) -> Result<(), BackupError> {
        let list = self.list()?;
        let doc = serde_json::json!({
            "updated_at": crate::state::now_rfc3339(),
            "tool_version": crate::TOOL_VERSION,
            "backups": list.iter().map(|e| serde_json::json!({
                "file": e.file,
                "size": e.size,
                "metadata": e.metadata,
                "problem": e.problem,
            })).collect::<Vec<_>>(),
        });
        let path = self.dir.join(INDEX_FILE);
        let bytes = serde_json::to_vec_pretty(&doc).expect("index serialises");
        fsutil::write_atomic(&path, &bytes).map_err(|e| BackupError::io("write", &path, e))
    }

    /// Keeps the newest `keep` timestamped backups. Never removes the file just
    /// written, a file named in `protected` (the safety backup of an unfinished
    /// operation), `initial_backup.json`, or a file whose metadata cannot be
    /// read: that may be a newer ign-setup's format, and is a person's to judge.
    pub fn apply_retention(
        &self,
        just_written: &str,
        protected: &[String],
    ) -> Result<Vec<String>, BackupError> {
        // Counted per kind (full, safety, pre-upgrade): a routine backup never
        // pushes out the newest copy of the data as it was before an upgrade
        // or a restore.
        let mut kept: std::collections::HashMap<String, usize> = Default::default();
        let mut removed = Vec::new();
        for e in self.list()? {
            let Some(kind) = e.metadata.as_ref().map(|m| m.backup_type.clone()) else {
                continue;
            };
            if e.is_initial() {
                continue;
            }
            let kept = kept.entry(kind).or_insert(0);
            if e.file == just_written
                || protected.contains(&e.file)
                || protected.iter().any(|p| p == "*")
            {
                *kept += 1;
                continue;
            }
            if *kept < self.keep {
                *kept += 1;
                continue;
            }
            std::fs::remove_file(&e.path).map_err(|err| BackupError::io("remove", &e.path, err))?;
            removed.push(e.file);
        }
        Ok(removed)
    }
}

/// Backups named by the journal of an unfinished restore or upgrade: the only
/// copy of the data as it was before, so retention must leave them alone.
pub fn protected_by_journal(dir: &Path) -> Vec<String> {
    let path = dir.join(".journal.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => v
            .get("safety_backup")
            .and_then(|s| s.as_str())
            .map(|s| vec![s.to_owned()])
            .unwrap_or_default(),
        // An unreadable journal protects everything: retention removes nothing.
        Err(_) => vec!["*".to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_backup(dir: &Path, stamp: &str, kind: &str) -> String {
        let file = format!("{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}");
        let text = format!(
            "{{\"metadata\":{{\"timestamp\":\"{stamp}\",\"datetime\":\"2026-01-01T00:00:00Z\",\"reason\":\"r\",\"node_count\":0,\"relationship_count\":0,\"version\":\"2.0.0\",\"backup_type\":\"{kind}\",\"source\":\"s\"}},\n\"data\":{{}}}}\n"
        );
        std::fs::write(dir.join(&file), text).unwrap();
        file
    }

    #[test]
    fn retention_keeps_the_newest_of_each_kind() {
        let dir = tempfile::tempdir().unwrap();
        let pre = write_backup(dir.path(), "20260101_000000", "pre-upgrade");
        let old_pre = write_backup(dir.path(), "20250101_000000", "pre-upgrade");
        let safety = write_backup(dir.path(), "20260102_000000", "safety");
        let full1 = write_backup(dir.path(), "20260103_000000", "full");
        let full2 = write_backup(dir.path(), "20260104_000000", "full");
        let store = BackupStore::new(dir.path(), 1);
        let mut removed = store.apply_retention(&full2, &[]).unwrap();
        removed.sort();
        let mut expected = vec![full1, old_pre];
        expected.sort();
        assert_eq!(removed, expected);
        for f in [pre, safety, full2] {
            assert!(dir.path().join(f).exists());
        }
    }
}
