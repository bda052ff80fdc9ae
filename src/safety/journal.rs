//! The operation journal: `<backup-dir>/.journal.json` records a destructive
//! operation while it runs, so that if the process is killed the next run of
//! ign-setup finds it and finishes the rollback instead of leaving the database
//! half-restored or half-upgraded.
//!
//! The file exists exactly while an operation is unfinished: [`Journal::begin`]
//! creates it (refusing if one is already there), [`Journal::set_phase`] records
//! progress, and [`Journal::finish`] removes it. Every write is atomic and fsynced.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::durable;
use super::owner::{host_name, pid_alive};
use super::SafetyError;
use crate::state::now_rfc3339;

/// Name of the journal file inside the backup folder.
pub const JOURNAL_FILE: &str = ".journal.json";

/// Which destructive operation the journal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    Restore,
    Upgrade,
    Install,
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OperationKind::Restore => "restore",
            OperationKind::Upgrade => "upgrade",
            OperationKind::Install => "install",
        })
    }
}

/// How far the operation got; recovery decides what to undo from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Nothing has been changed yet.
    Started,
    /// The safety backup of the current database is complete on disk.
    SafetyBackupTaken,
    /// The database is being changed; it may be in any intermediate state.
    Destructive,
    /// The safety backup is being put back.
    RollingBack,
    /// The operation completed (or was rolled back); only cleanup remains.
    Done,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Started => "started",
            Phase::SafetyBackupTaken => "safety-backup-taken",
            Phase::Destructive => "destructive",
            Phase::RollingBack => "rolling-back",
            Phase::Done => "done",
        })
    }
}

/// The content of the journal file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Names the operation; the database's operation marker carries the same
    /// id (see [`super::marker`]). Absent in journals of older releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    pub operation: OperationKind,
    pub phase: Phase,
    pub pid: u32,
    pub host: String,
    pub started_at: String,
    pub updated_at: String,
    /// File name of the safety backup inside the backup folder, once it is complete.
    pub safety_backup: Option<String>,
    /// The sha256 in that backup's metadata line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_sha256: Option<String>,
    /// What the operation works towards: the backup being restored, the version
    /// being upgraded to.
    pub target: Option<String>,
    pub from_version: Option<String>,
    pub detail: Option<String>,
    pub tool_version: String,
}

/// An open journal owned by this process.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    entry: JournalEntry,
}

impl Journal {
    /// Where the journal of `backup_dir` lives.
    pub fn path_in(backup_dir: &Path) -> PathBuf {
        backup_dir.join(JOURNAL_FILE)
    }

    /// Starts journalling a new operation. Refuses with [`SafetyError::Unfinished`]
    /// if an earlier operation left its journal behind: that one must be recovered
    /// first, or its rollback information would be lost.
    pub fn begin(
        backup_dir: &Path,
        operation: OperationKind,
        target: Option<String>,
    ) -> Result<Journal, SafetyError> {
        durable::ensure_dir(backup_dir)?;
        let path = Self::path_in(backup_dir);
        let now = now_rfc3339();
        let entry = JournalEntry {
            operation_id: Some(super::lease::random_token()),
            operation,
            phase: Phase::Started,
            pid: std::process::id(),
            host: host_name(),
            started_at: now.clone(),
            updated_at: now,
            safety_backup: None,
            safety_sha256: None,
            target,
            from_version: None,
            detail: None,
            tool_version: crate::TOOL_VERSION.to_owned(),
        };
        if durable::create_new_atomic(&path, &encode(&entry))? {
            return Ok(Journal { path, entry });
        }
        match Self::load(backup_dir)? {
            Some(existing) => Err(SafetyError::Unfinished {
                entry: Box::new(existing),
            }),
            // Removed between our attempt and our look: someone just finished.
            // Trying once more keeps the refusal exact without looping forever.
            None => {
                if durable::create_new_atomic(&path, &encode(&entry))? {
                    Ok(Journal { path, entry })
                } else {
                    Err(Self::load(backup_dir)?
                        .map(|e| SafetyError::Unfinished { entry: Box::new(e) })
                        .unwrap_or_else(|| SafetyError::CorruptJournal {
                            path: Self::path_in(backup_dir),
                            reason: "it appears and disappears while being read".into(),
                        }))
                }
            }
        }
    }

    /// Records the phase the operation has reached.
    pub fn set_phase(&mut self, phase: Phase) -> Result<(), SafetyError> {
        self.update(|e| e.phase = phase)
    }

    /// Records the completed safety backup and the sha256 of its metadata
    /// line; recovery restores from it.
    pub fn set_safety_backup(
        &mut self,
        file_name: &str,
        sha256: Option<&str>,
    ) -> Result<(), SafetyError> {
        self.update(|e| {
            e.safety_backup = Some(file_name.to_owned());
            e.safety_sha256 = sha256.map(str::to_owned);
        })
    }

    /// Records the version the database had before an upgrade.
    pub fn set_from_version(&mut self, version: &str) -> Result<(), SafetyError> {
        self.update(|e| e.from_version = Some(version.to_owned()))
    }

    /// Records free-form progress for the person reading the journal.
    pub fn set_detail(&mut self, detail: &str) -> Result<(), SafetyError> {
        self.update(|e| e.detail = Some(detail.to_owned()))
    }

    pub fn entry(&self) -> &JournalEntry {
        &self.entry
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ends the operation: the journal is removed, durably.
    pub fn finish(self) -> Result<(), SafetyError> {
        durable::remove_durable(&self.path)
    }

    /// The backup folder this journal lives in.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Starts a journal in `backup_dir` for finishing an operation that the
    /// database's marker names but whose journal is elsewhere (another folder,
    /// another host): from now on a killed recovery is resumed from here.
    pub fn adopt(
        backup_dir: &Path,
        marker: &super::marker::Marker,
    ) -> Result<Journal, SafetyError> {
        let mut journal = Journal::begin(backup_dir, OperationKind::Restore, None)?;
        let operation = match marker.kind.as_str() {
            "upgrade" => OperationKind::Upgrade,
            "install" => OperationKind::Install,
            _ => OperationKind::Restore,
        };
        journal.update(|e| {
            e.operation_id = Some(marker.operation_id.clone());
            e.operation = operation;
            e.phase = Phase::RollingBack;
            e.started_at = marker.started_at.clone();
            e.safety_backup = marker.safety_backup.clone();
            e.safety_sha256 = marker.safety_sha256.clone();
            e.detail = Some(format!(
                "recovery of the operation begun on host {} (pid {}) with backup folder `{}`",
                marker.host, marker.pid, marker.backup_dir
            ));
        })?;
        Ok(journal)
    }

    /// Moves a journal that cannot be read aside, to
    /// `.journal.damaged-<time>.json`, kept for people to read.
    pub fn set_aside_damaged(backup_dir: &Path) -> Result<PathBuf, SafetyError> {
        let from = Self::path_in(backup_dir);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let to = backup_dir.join(format!(".journal.damaged-{stamp}.json"));
        std::fs::rename(&from, &to).map_err(|e| SafetyError::io("move aside", &from, e))?;
        let _ = crate::fsutil::sync_dir(backup_dir);
        Ok(to)
    }

    /// Moves a journal that describes no unfinished operation of the database
    /// aside, to `.journal.stale-<id>.json`, so it is kept for people to read
    /// but never acted on. Returns the new path.
    pub fn set_aside(backup_dir: &Path, entry: &JournalEntry) -> Result<PathBuf, SafetyError> {
        let from = Self::path_in(backup_dir);
        let id = entry
            .operation_id
            .clone()
            .unwrap_or_else(|| entry.started_at.replace(':', ""));
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .collect();
        let to = backup_dir.join(format!(".journal.stale-{id}.json"));
        std::fs::rename(&from, &to).map_err(|e| SafetyError::io("move aside", &from, e))?;
        let _ = crate::fsutil::sync_dir(backup_dir);
        Ok(to)
    }

    /// The journal left in `backup_dir`, if any. A file that cannot be read as a
    /// journal is an error, never ignored: it may be the only record of a
    /// half-finished restore.
    pub fn load(backup_dir: &Path) -> Result<Option<JournalEntry>, SafetyError> {
        let path = Self::path_in(backup_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SafetyError::io("read", path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SafetyError::CorruptJournal {
                path,
                reason: if bytes.is_empty() {
                    "the file is empty".to_owned()
                } else {
                    e.to_string()
                },
            })
    }

    /// Takes over the journal left in `backup_dir` so that this process can finish
    /// its rollback. The entry is rewritten with this process as owner, so a second
    /// `recover` sees a live owner. Refuses with [`SafetyError::StillRunning`] if
    /// the recorded owner is still alive.
    pub fn resume(backup_dir: &Path) -> Result<Option<Journal>, SafetyError> {
        let Some(entry) = Self::load(backup_dir)? else {
            return Ok(None);
        };
        let ours = entry.pid == std::process::id() && entry.host == host_name();
        if !ours && Self::is_owner_alive(&entry) {
            return Err(SafetyError::StillRunning {
                entry: Box::new(entry),
            });
        }
        let mut journal = Journal {
            path: Self::path_in(backup_dir),
            entry,
        };
        journal.update(|e| {
            e.pid = std::process::id();
            e.host = host_name();
        })?;
        Ok(Some(journal))
    }

    /// Whether the process that wrote `entry` is still running on this host. Such a
    /// journal belongs to a running operation and must not be recovered. An owner on
    /// another host cannot be checked from here and counts as gone; the database
    /// lease is what protects against a second host.
    pub fn is_owner_alive(entry: &JournalEntry) -> bool {
        entry.host == host_name() && pid_alive(entry.pid)
    }

    fn update(&mut self, change: impl FnOnce(&mut JournalEntry)) -> Result<(), SafetyError> {
        let mut next = self.entry.clone();
        change(&mut next);
        next.updated_at = now_rfc3339();
        durable::write_atomic(&self.path, &encode(&next))?;
        // Only once the file says so does our copy change, so the two never disagree.
        self.entry = next;
        Ok(())
    }
}

fn encode(entry: &JournalEntry) -> Vec<u8> {
    let mut bytes =
        serde_json::to_vec_pretty(entry).expect("a journal entry always serializes to JSON");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn begin_phase_finish_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut j =
            Journal::begin(dir.path(), OperationKind::Restore, Some("b.zip".into())).unwrap();
        assert_eq!(j.entry().phase, Phase::Started);
        j.set_safety_backup("safety-1.zip", Some("abc")).unwrap();
        j.set_phase(Phase::Destructive).unwrap();

        let on_disk = Journal::load(dir.path()).unwrap().unwrap();
        assert_eq!(&on_disk, j.entry());
        assert_eq!(on_disk.operation, OperationKind::Restore);
        assert_eq!(on_disk.phase, Phase::Destructive);
        assert_eq!(on_disk.safety_backup.as_deref(), Some("safety-1.zip"));
        assert_eq!(on_disk.target.as_deref(), Some("b.zip"));
        assert_eq!(on_disk.pid, std::process::id());

        j.finish().unwrap();
        assert!(Journal::load(dir.path()).unwrap().is_none());
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_stale_journal_is_set_aside_under_its_id_and_an_adopted_one_takes_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), OperationKind::Restore, None).unwrap();
        j.set_safety_backup("s.json", Some("ab12")).unwrap();
        let entry = j.entry().clone();
        let id = entry.operation_id.clone().unwrap();
        assert_eq!(id.len(), 32);
        let marker = super::super::marker::Marker::of(&entry, dir.path()).unwrap();
        assert!(marker.matches(&entry));
        assert_eq!(marker.safety_sha256.as_deref(), Some("ab12"));

        let aside = Journal::set_aside(dir.path(), &entry).unwrap();
        assert_eq!(
            aside.file_name().unwrap().to_string_lossy(),
            format!(".journal.stale-{id}.json")
        );
        assert!(Journal::load(dir.path()).unwrap().is_none());
        assert_eq!(
            serde_json::from_slice::<JournalEntry>(&std::fs::read(&aside).unwrap()).unwrap(),
            entry
        );

        let adopted = Journal::adopt(dir.path(), &marker).unwrap();
        assert!(marker.matches(adopted.entry()));
        assert_eq!(adopted.entry().phase, Phase::RollingBack);
        assert_eq!(adopted.entry().safety_backup.as_deref(), Some("s.json"));
        // A journal of an older release (no id) matches no marker.
        let mut legacy = entry.clone();
        legacy.operation_id = None;
        assert!(!marker.matches(&legacy));
        assert!(super::super::marker::Marker::of(&legacy, dir.path()).is_none());
    }

    #[test]
    fn serialized_names_are_kebab_case() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), OperationKind::Upgrade, None).unwrap();
        j.set_phase(Phase::SafetyBackupTaken).unwrap();
        let text = std::fs::read_to_string(j.path()).unwrap();
        assert!(text.contains(r#""operation": "upgrade""#), "{text}");
        assert!(text.contains(r#""phase": "safety-backup-taken""#), "{text}");
    }

    #[test]
    fn second_begin_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = Journal::begin(dir.path(), OperationKind::Restore, None).unwrap();
        let err = Journal::begin(dir.path(), OperationKind::Upgrade, None).unwrap_err();
        let SafetyError::Unfinished { entry } = &err else {
            panic!("expected Unfinished, got {err:?}");
        };
        assert_eq!(entry.operation, OperationKind::Restore);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "an unfinished restore from {} (pid {} on host {})",
                first.entry().started_at,
                std::process::id(),
                host_name()
            )),
            "{msg}"
        );
        assert!(
            msg.ends_with("must be recovered first: run `ign-setup recover`"),
            "{msg}"
        );
        // The refused attempt did not disturb the journal.
        assert_eq!(&Journal::load(dir.path()).unwrap().unwrap(), first.entry());
    }

    #[test]
    fn corrupt_journal_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = Journal::path_in(dir.path());
        for content in ["{\"operation\": \"rest", ""] {
            std::fs::write(&path, content).unwrap();
            let err = Journal::load(dir.path()).unwrap_err();
            assert!(matches!(err, SafetyError::CorruptJournal { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains("`ign-setup recover`"), "{msg}");
            // begin does not overwrite what it cannot read.
            let err = Journal::begin(dir.path(), OperationKind::Install, None).unwrap_err();
            assert!(matches!(err, SafetyError::CorruptJournal { .. }), "{err:?}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        }
    }

    #[test]
    fn dead_owner_is_not_alive_and_can_be_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), OperationKind::Restore, None).unwrap();
        assert!(Journal::is_owner_alive(j.entry()));
        // Pretend the journal was written by a process that has since died.
        j.update(|e| e.pid = 999_999_999).unwrap();
        let entry = Journal::load(dir.path()).unwrap().unwrap();
        assert!(!Journal::is_owner_alive(&entry));

        let resumed = Journal::resume(dir.path()).unwrap().unwrap();
        assert_eq!(resumed.entry().pid, std::process::id());
        assert_eq!(resumed.entry().started_at, entry.started_at);
        resumed.finish().unwrap();
        assert!(Journal::resume(dir.path()).unwrap().is_none());
    }

    #[test]
    fn owner_on_another_host_is_not_alive_here() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), OperationKind::Install, None).unwrap();
        j.update(|e| e.host = format!("{}-elsewhere", e.host))
            .unwrap();
        assert!(!Journal::is_owner_alive(j.entry()));
    }

    #[test]
    fn live_foreign_owner_cannot_be_resumed() {
        let dir = tempfile::tempdir().unwrap();
        // A live process that is not us and is named like the tool: `sleep`
        // started through a link named `ign-setup` (a link, not a copy, so there is
        // no freshly written executable to trip over "text file busy").
        let sleep = ["/bin/sleep", "/usr/bin/sleep"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("a sleep binary");
        let fake = dir.path().join("ign-setup");
        std::os::unix::fs::symlink(sleep, &fake).unwrap();
        let mut child = std::process::Command::new(&fake).arg("30").spawn().unwrap();

        let backups = dir.path().join("backups");
        let mut j = Journal::begin(&backups, OperationKind::Upgrade, None).unwrap();
        j.update(|e| e.pid = child.id()).unwrap();
        assert!(Journal::is_owner_alive(j.entry()));
        let err = Journal::resume(&backups).unwrap_err();
        assert!(matches!(err, SafetyError::StillRunning { .. }), "{err:?}");
        assert!(err.to_string().contains("wait for it to finish"), "{err}");

        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!Journal::is_owner_alive(j.entry()));
        assert!(Journal::resume(&backups).unwrap().is_some());
    }

    #[test]
    fn journal_file_mode_is_0640() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), OperationKind::Restore, None).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(j.path()), 0o640);
        j.set_phase(Phase::RollingBack).unwrap();
        assert_eq!(mode(j.path()), 0o640);
    }
}
