//! The metrics file: a Prometheus text file (the format node_exporter's
//! textfile collector reads) written after every command that touches
//! backups, so monitoring can alert when backups stop or fail without
//! ign-setup running as a daemon. `docs/metrics.md` lists every series.
//!
//! The file is rewritten whole each time, atomically (temp file, fsync,
//! rename in the same folder): the collector never reads half a file. Each
//! command knows only its own operation; the last results of the others are
//! kept in `<file>.state.json` beside it (read, updated, written back under an
//! flock on `<file>.lock`, so two commands finishing together lose nothing).
//! The collector only reads `*.prom` files, so neither side file is exported.
//!
//! Encoded with `prometheus-client`. Its OpenMetrics `info` type is not used:
//! the classic text parser in node_exporter refuses unknown types, so the
//! installed version is the classic form of an info metric, a gauge of 1
//! with the version as a label.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

/// The operations whose outcome is recorded (the `operation` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Verify,
    Restore,
    Upgrade,
    Install,
    Drill,
    Prune,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Verify => "verify",
            Operation::Restore => "restore",
            Operation::Upgrade => "upgrade",
            Operation::Install => "install",
            Operation::Drill => "drill",
            Operation::Prune => "prune",
        }
    }
}

/// What one command run did, for its operation's series.
#[derive(Debug, Clone)]
pub struct Run {
    pub operation: Operation,
    /// Seconds since the Unix epoch when the command started.
    pub started: f64,
    pub duration_seconds: f64,
    pub success: bool,
    /// Nodes and relationships the operation handled (backed up, verified,
    /// restored, drilled), when it says.
    pub nodes: Option<u64>,
    pub relationships: Option<u64>,
    /// The application version installed in the database, when known.
    pub installed_version: Option<String>,
}

/// The newest backup of one kind, from the folder.
#[derive(Debug, Clone, Default)]
pub struct NewestBackup {
    pub timestamp: f64,
    pub size: u64,
    pub nodes: u64,
    pub relationships: u64,
}

/// The folder as the metrics show it.
#[derive(Debug, Clone, Default)]
pub struct FolderFacts {
    pub newest: BTreeMap<String, NewestBackup>,
    pub count: BTreeMap<String, u64>,
    pub unreadable: u64,
}

impl FolderFacts {
    /// Newest backup and count per kind; `initial_backup.json` is not a
    /// backup of the running database and is left out.
    pub fn of(entries: &[crate::backup::store::BackupEntry]) -> FolderFacts {
        let mut facts = FolderFacts::default();
        for e in entries.iter().filter(|e| !e.is_initial()) {
            let Some(m) = &e.metadata else {
                facts.unreadable += 1;
                continue;
            };
            *facts.count.entry(m.backup_type.clone()).or_insert(0) += 1;
            let Some(t) = crate::backup::store::backup_time(m) else {
                continue;
            };
            let ts = t.timestamp_micros() as f64 / 1e6;
            let newest = facts.newest.entry(m.backup_type.clone()).or_default();
            if ts > newest.timestamp {
                *newest = NewestBackup {
                    timestamp: ts,
                    size: e.size,
                    nodes: m.node_count,
                    relationships: m.relationship_count,
                };
            }
        }
        facts
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct OpState {
    last_run: f64,
    last_success: Option<f64>,
    success: bool,
    duration_seconds: f64,
    nodes: Option<u64>,
    relationships: Option<u64>,
}

/// What is kept between commands.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct State {
    operations: BTreeMap<String, OpState>,
    installed_version: Option<String>,
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot write the metrics file `{path}`: {source}; check that its folder exists and is writable (--metrics-file / [metrics] file)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Updates the metrics file at `path`: `run` (if any) replaces its
/// operation's series, the folder facts replace the backup series, and the
/// other operations keep their previous values.
pub fn record(path: &Path, run: Option<&Run>, folder: &FolderFacts) -> Result<(), MetricsError> {
    let io = |source| MetricsError::Io {
        path: path.to_owned(),
        source,
    };
    let lock_path = side_file(path, ".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io)?;
    flock_exclusive(&lock).map_err(io)?;
    let state_path = side_file(path, ".state.json");
    // A damaged or missing state file only loses the other operations' past
    // values; the current run is still written.
    let mut state: State = std::fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(run) = run {
        let entry = state
            .operations
            .entry(run.operation.as_str().to_owned())
            .or_default();
        entry.last_run = run.started;
        entry.success = run.success;
        entry.duration_seconds = run.duration_seconds;
        if run.success {
            entry.last_success = Some(run.started + run.duration_seconds);
            entry.nodes = run.nodes.or(entry.nodes);
            entry.relationships = run.relationships.or(entry.relationships);
        }
        if let Some(v) = &run.installed_version {
            state.installed_version = Some(v.clone());
        }
    }
    let text = encode(&state, folder, now());
    let state_bytes = serde_json::to_vec_pretty(&state).expect("the state serialises");
    crate::fsutil::write_atomic(&state_path, &state_bytes).map_err(io)?;
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(io)?;
    // Written files are read by the collector, often as another user.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
    drop(lock);
    Ok(())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn flock_exclusive(file: &std::fs::File) -> std::io::Result<()> {
    loop {
        #[allow(unsafe_code)]
        // SAFETY: `file` owns an open descriptor for the duration of the call;
        // flock has no other memory-safety preconditions.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

type Labels = Vec<(String, String)>;
type FGauge = Gauge<f64, AtomicU64>;

/// One family of float gauges, registered under `ign_setup_<name>`.
fn family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, FGauge> {
    let f = Family::<Labels, FGauge>::default();
    registry.register(name, help, f.clone());
    f
}

fn label(key: &str, value: &str) -> Labels {
    vec![(key.to_owned(), value.to_owned())]
}

fn encode(state: &State, folder: &FolderFacts, now: f64) -> String {
    let mut registry = Registry::with_prefix("ign_setup");
    let written = FGauge::default();
    registry.register(
        "metrics_written_timestamp_seconds",
        "When ign-setup last wrote this file (Unix time)",
        written.clone(),
    );
    written.set(now);
    let tool = family(
        &mut registry,
        "tool_info",
        "The ign-setup release that wrote this file (always 1)",
    );
    tool.get_or_create(&label("version", crate::TOOL_VERSION))
        .set(1.0);
    let installed = family(
        &mut registry,
        "installed_version_info",
        "The application version installed in the database, as last seen (always 1)",
    );
    if let Some(v) = &state.installed_version {
        installed.get_or_create(&label("version", v)).set(1.0);
    }

    let newest_ts = family(
        &mut registry,
        "backup_newest_timestamp_seconds",
        "Metadata time of the newest readable backup of each kind (Unix time)",
    );
    let newest_age = family(
        &mut registry,
        "backup_newest_age_seconds",
        "Age of the newest backup of each kind when this file was written",
    );
    let newest_size = family(
        &mut registry,
        "backup_newest_size_bytes",
        "Size of the newest backup of each kind",
    );
    let newest_nodes = family(
        &mut registry,
        "backup_newest_nodes",
        "Nodes in the newest backup of each kind",
    );
    let newest_rels = family(
        &mut registry,
        "backup_newest_relationships",
        "Relationships in the newest backup of each kind",
    );
    for (kind, b) in &folder.newest {
        let l = label("kind", kind);
        newest_ts.get_or_create(&l).set(b.timestamp);
        newest_age
            .get_or_create(&l)
            .set((now - b.timestamp).max(0.0));
        newest_size.get_or_create(&l).set(b.size as f64);
        newest_nodes.get_or_create(&l).set(b.nodes as f64);
        newest_rels.get_or_create(&l).set(b.relationships as f64);
    }
    let count = family(
        &mut registry,
        "backups",
        "Readable backups in the backup folder, per kind",
    );
    for (kind, n) in &folder.count {
        count.get_or_create(&label("kind", kind)).set(*n as f64);
    }
    let unreadable = FGauge::default();
    registry.register(
        "backups_unreadable",
        "Files in the backup folder that look like backups but cannot be read",
        unreadable.clone(),
    );
    unreadable.set(folder.unreadable as f64);

    let last_run = family(
        &mut registry,
        "last_run_timestamp_seconds",
        "When the last run of each operation started (Unix time)",
    );
    let last_success_ts = family(
        &mut registry,
        "last_success_timestamp_seconds",
        "When the last successful run of each operation ended (Unix time)",
    );
    let last_success = family(
        &mut registry,
        "last_success",
        "Outcome of the last run of each operation: 1 success, 0 failure",
    );
    let duration = family(
        &mut registry,
        "last_duration_seconds",
        "Duration of the last run of each operation",
    );
    let nodes = family(
        &mut registry,
        "last_nodes",
        "Nodes handled by the last successful run of each operation",
    );
    let rels = family(
        &mut registry,
        "last_relationships",
        "Relationships handled by the last successful run of each operation",
    );
    for (op, s) in &state.operations {
        let l = label("operation", op);
        last_run.get_or_create(&l).set(s.last_run);
        if let Some(t) = s.last_success {
            last_success_ts.get_or_create(&l).set(t);
        }
        last_success
            .get_or_create(&l)
            .set(if s.success { 1.0 } else { 0.0 });
        duration.get_or_create(&l).set(s.duration_seconds);
        if let Some(n) = s.nodes {
            nodes.get_or_create(&l).set(n as f64);
        }
        if let Some(n) = s.relationships {
            rels.get_or_create(&l).set(n as f64);
        }
    }
    let mut out = String::new();
    encode_registry(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: Operation, success: bool) -> Run {
        Run {
            operation: op,
            started: 1_700_000_000.0,
            duration_seconds: 2.5,
            success,
            nodes: Some(10),
            relationships: Some(20),
            installed_version: None,
        }
    }

    #[test]
    fn other_operations_keep_their_values_and_failures_keep_the_last_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ign-setup.prom");
        let mut folder = FolderFacts::default();
        folder.newest.insert(
            "full".into(),
            NewestBackup {
                timestamp: 1_700_000_000.0,
                size: 1234,
                nodes: 10,
                relationships: 20,
            },
        );
        record(&path, Some(&run(Operation::Create, true)), &folder).unwrap();
        record(&path, Some(&run(Operation::Verify, false)), &folder).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("ign_setup_last_success{operation=\"create\"} 1"),
            "{text}"
        );
        assert!(text.contains("ign_setup_last_success{operation=\"verify\"} 0"));
        assert!(text.contains("ign_setup_last_success_timestamp_seconds{operation=\"create\"}"));
        assert!(
            !text.contains("ign_setup_last_success_timestamp_seconds{operation=\"verify\"}"),
            "never succeeded"
        );
        assert!(text.contains("ign_setup_backup_newest_size_bytes{kind=\"full\"} 1234"));
        // A failed create keeps the time of the last successful one.
        record(&path, Some(&run(Operation::Create, false)), &folder).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("ign_setup_last_success{operation=\"create\"} 0"));
        assert!(text.contains(
            "ign_setup_last_success_timestamp_seconds{operation=\"create\"} 1700000002.5"
        ));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with(".tmp-")),
            "no temp file left: {names:?}"
        );
    }
}
