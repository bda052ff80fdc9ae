//! The backup folder: file names, listing, the `backup_metadata.json` index
//! and retention. The files are the truth; the index is rewritten from them
//! atomically after every change, for tools that want one file to read.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::format::{Metadata, BACKUP_PREFIX, BACKUP_SUFFIX, INDEX_FILE, INITIAL_BACKUP};
use super::reader::read_metadata;
use super::BackupError;
use crate::fsutil;
use crate::retention::{decide, Candidate, KeepReason, Policies, Policy};

#[derive(Debug, Clone)]
pub struct BackupStore {
    dir: PathBuf,
    policies: Policies,
}

/// Retention's verdict on one file of the folder (`backup prune` prints one
/// per backup): kept, with every reason, or removed.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionEntry {
    pub file: String,
    pub kind: Option<String>,
    pub datetime: Option<String>,
    pub keep: bool,
    pub reasons: Vec<Kept>,
}

/// Why a file is kept: a rule of its kind's policy, or a protection that
/// no policy overrides.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Kept {
    Rule(KeepReason),
    Protected {
        protected: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::Rule(r) => r.fmt(f),
            Kept::Protected { protected, detail } => match detail {
                Some(d) => write!(f, "{protected} ({d})"),
                None => f.write_str(protected),
            },
        }
    }
}

impl Kept {
    fn protected(what: &'static str) -> Kept {
        Kept::Protected {
            protected: what,
            detail: None,
        }
    }
}

/// The metadata time of a backup in UTC. The original tool wrote local
/// times without an offset; those are read as UTC.
pub fn backup_time(m: &Metadata) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&m.datetime) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDateTime::parse_from_str(&m.datetime, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&m.timestamp, "%Y%m%d_%H%M%S"))
        .ok()
        .map(|n| n.and_utc())
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
    /// A store keeping the `keep` newest backups of each kind.
    pub fn new(dir: &Path, keep: usize) -> BackupStore {
        BackupStore {
            dir: dir.to_owned(),
            policies: Policies::uniform(Policy::keep_last(
                u32::try_from(keep.max(1)).unwrap_or(u32::MAX),
            )),
        }
    }

    /// The same store with other retention policies.
    pub fn with_retention(mut self, policies: Policies) -> BackupStore {
        self.policies = policies;
        self
    }

    pub fn retention(&self) -> &Policies {
        &self.policies
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
        // `exists()` says "no" to a file it may not look at: a folder the user
        // cannot read must be reported as what it is, not as a missing file.
        let exists = |p: &Path| p.try_exists().map_err(|e| BackupError::io("look up", p, e));
        if is_plain_name && exists(&in_dir)? {
            return Ok(in_dir);
        }
        if exists(&as_path)? {
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

    /// The newest complete *full* backup: what `backup restore` takes without
    /// `--file`. Safety and pre-upgrade backups hold the data a restore or
    /// upgrade replaced, so restoring one must be asked for by name.
    pub fn latest_full(&self) -> Result<BackupEntry, BackupError> {
        let all: Vec<BackupEntry> = self
            .list()?
            .into_iter()
            .filter(|e| e.metadata.is_some() && !e.is_initial())
            .collect();
        let others = all.len();
        all.into_iter()
            .find(|e| {
                e.metadata
                    .as_ref()
                    .is_some_and(|m| m.backup_type == super::BackupType::Full.as_str())
            })
            .ok_or_else(|| {
                if others == 0 {
                    BackupError::NoBackups(self.dir.clone())
                } else {
                    BackupError::NoFullBackup {
                        dir: self.dir.clone(),
                        others,
                    }
                }
            })
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

    /// What retention would do to every backup in the folder, newest first.
    /// Never removes the file just written, a file named in `protected` (the
    /// safety backup of an unfinished operation; `*` protects everything),
    /// `initial_backup.json`, or a file whose metadata or time cannot be
    /// read: that may be a newer ign-setup's format, and is a person's to
    /// judge. With `kinds`, only backups of those kinds are considered.
    pub fn retention_plan(
        &self,
        just_written: Option<&str>,
        protected: &[String],
        kinds: Option<&[String]>,
    ) -> Result<Vec<RetentionEntry>, BackupError> {
        let everything = protected.iter().any(|p| p == "*");
        let mut out = Vec::new();
        let mut candidates = Vec::new();
        for e in self.list()? {
            let kind = e.metadata.as_ref().map(|m| m.backup_type.clone());
            let time = e.metadata.as_ref().and_then(backup_time);
            let mut entry = RetentionEntry {
                file: e.file.clone(),
                kind: kind.clone(),
                datetime: e.metadata.as_ref().map(|m| m.datetime.clone()),
                keep: true,
                reasons: Vec::new(),
            };
            let guard = if e.is_initial() {
                Some(Kept::protected(
                    "initial_backup.json (for new installations)",
                ))
            } else if e.metadata.is_none() {
                Some(Kept::Protected {
                    protected: "unreadable",
                    detail: e.problem.clone(),
                })
            } else if time.is_none() {
                Some(Kept::protected("its timestamp cannot be read"))
            } else if everything {
                Some(Kept::protected(
                    "an unfinished operation's journal cannot be read: retention removes nothing",
                ))
            } else if protected.contains(&e.file) {
                Some(Kept::protected(
                    "named by the journal of an unfinished operation",
                ))
            } else {
                None
            };
            let selected = kinds.is_none_or(|ks| kind.as_ref().is_some_and(|k| ks.contains(k)));
            if let Some(g) = guard {
                entry.reasons.push(g);
            } else if !selected {
                entry
                    .reasons
                    .push(Kept::protected("a kind not being pruned"));
            }
            if just_written == Some(e.file.as_str()) {
                entry.reasons.push(Kept::protected("just written"));
            }
            if let (Some(kind), Some(time), true) = (kind, time, selected) {
                if !e.is_initial() {
                    candidates.push((
                        out.len(),
                        Candidate {
                            name: e.file.clone(),
                            kind,
                            time,
                        },
                    ));
                }
            }
            out.push(entry);
        }
        let by_name: std::collections::HashMap<&str, usize> = candidates
            .iter()
            .map(|(i, c)| (c.name.as_str(), *i))
            .collect();
        let list: Vec<Candidate> = candidates.iter().map(|(_, c)| c.clone()).collect();
        for d in decide(&list, &self.policies) {
            let i = by_name[d.candidate.name.as_str()];
            out[i].reasons.extend(d.reasons.into_iter().map(Kept::Rule));
        }
        for e in &mut out {
            e.keep = !e.reasons.is_empty();
        }
        Ok(out)
    }

    /// Removes the files `plan` does not keep; returns their names.
    pub fn apply_plan(&self, plan: &[RetentionEntry]) -> Result<Vec<String>, BackupError> {
        let files: Vec<&str> = plan
            .iter()
            .filter(|e| !e.keep)
            .map(|e| e.file.as_str())
            .collect();
        self.remove(&files)
    }

    /// Removes backup files of this folder by name; returns those removed
    /// (a file already gone is not an error: another prune took it).
    pub fn remove(&self, files: &[&str]) -> Result<Vec<String>, BackupError> {
        let mut removed = Vec::new();
        for file in files {
            let path = self.dir.join(file);
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push((*file).to_owned()),
                // Gone already (another prune): nothing to do.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(BackupError::io("remove", &path, err)),
            }
        }
        if !removed.is_empty() {
            let _ = fsutil::sync_dir(&self.dir);
        }
        Ok(removed)
    }

    /// Applies the store's retention policies to every kind after a backup;
    /// see [`BackupStore::retention_plan`] for what is never removed.
    pub fn apply_retention(
        &self,
        just_written: &str,
        protected: &[String],
    ) -> Result<Vec<String>, BackupError> {
        let plan = self.retention_plan(Some(just_written), protected, None)?;
        self.apply_plan(&plan)
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
