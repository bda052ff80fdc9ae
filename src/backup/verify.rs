//! `backup verify`: everything that must hold before a file may touch a
//! database: structure, format version, checksum, counts, label and type
//! counts, unique ids, every relationship endpoint present, every value
//! decodable and every name escapable.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::format::{Metadata, NodeRecord, RelRecord, Schema, Statistics};
use super::reader::{read_backup, RecordSink};
use super::writer::{id_hash, IdHashed};
use super::BackupError;
use crate::graph::escape_name;

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub path: PathBuf,
    pub metadata: Metadata,
    pub node_count: u64,
    pub relationship_count: u64,
    pub label_counts: BTreeMap<String, u64>,
    pub relationship_type_counts: BTreeMap<String, u64>,
    pub schema_count: usize,
    pub checksum_verified: bool,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub schema: Schema,
}

struct VerifySink<'p> {
    path: &'p Path,
    node_ids: HashSet<u64, IdHashed>,
    label_counts: BTreeMap<String, u64>,
    type_counts: BTreeMap<String, u64>,
    checked_names: HashSet<String>,
}

impl VerifySink<'_> {
    fn check_name(&mut self, name: &str, what: &str) -> Result<(), BackupError> {
        if self.checked_names.contains(name) {
            return Ok(());
        }
        escape_name(name).map_err(|e| BackupError::BadName {
            path: self.path.to_owned(),
            message: format!("{what} {e}"),
        })?;
        self.checked_names.insert(name.to_owned());
        Ok(())
    }
}

impl RecordSink for VerifySink<'_> {
    fn node(&mut self, n: NodeRecord) -> Result<(), BackupError> {
        if !self.node_ids.insert(id_hash(&n.id)) {
            return Err(BackupError::DuplicateId {
                path: self.path.to_owned(),
                id: n.id,
            });
        }
        for l in &n.labels {
            self.check_name(l, "label")?;
            if crate::graph::reserved::is_reserved(l) {
                return Err(BackupError::ReservedLabel {
                    path: self.path.to_owned(),
                    id: n.id.clone(),
                    label: l.clone(),
                });
            }
            *self.label_counts.entry(l.clone()).or_insert(0) += 1;
        }
        for k in n.properties.value.keys() {
            self.check_name(&k.value, "property key")?;
        }
        Ok(())
    }

    fn relationship(&mut self, r: RelRecord) -> Result<(), BackupError> {
        for endpoint in [&r.start, &r.end] {
            if !self.node_ids.contains(&id_hash(endpoint)) {
                return Err(BackupError::DanglingEndpoint {
                    path: self.path.to_owned(),
                    rel: r.id.clone(),
                    node: endpoint.clone(),
                });
            }
        }
        self.check_name(&r.rel_type, "relationship type")?;
        for k in r.properties.value.keys() {
            self.check_name(&k.value, "property key")?;
        }
        *self.type_counts.entry(r.rel_type).or_insert(0) += 1;
        Ok(())
    }
}

/// Verifies a backup file completely; any failure is an error naming the problem.
pub fn verify_backup(path: &Path) -> Result<VerifyReport, BackupError> {
    let mut sink = VerifySink {
        path,
        node_ids: HashSet::default(),
        label_counts: BTreeMap::new(),
        type_counts: BTreeMap::new(),
        checked_names: HashSet::new(),
    };
    let outcome = read_backup(path, &mut sink)?;
    let m = &outcome.metadata;
    let mut warnings = Vec::new();
    let mismatch = |what: &str, declared: u64, actual: u64| BackupError::CountMismatch {
        path: path.to_owned(),
        what: what.to_owned(),
        declared,
        actual,
    };
    if m.node_count != outcome.nodes {
        return Err(mismatch("metadata.node_count", m.node_count, outcome.nodes));
    }
    if m.relationship_count != outcome.relationships {
        return Err(mismatch(
            "metadata.relationship_count",
            m.relationship_count,
            outcome.relationships,
        ));
    }
    let checksum_verified = if m.is_legacy() {
        warnings.push(
            "format 1.0.0 files carry no checksum; only structure and counts were verified".into(),
        );
        false
    } else {
        let recorded = m
            .checksum
            .as_ref()
            .ok_or_else(|| BackupError::structure(path, "`metadata.checksum` is missing"))?;
        if recorded.algorithm != "sha256" {
            return Err(BackupError::structure(
                path,
                &format!("unknown checksum algorithm `{}`", recorded.algorithm),
            ));
        }
        if !recorded.value.eq_ignore_ascii_case(&outcome.content_sha256) {
            return Err(BackupError::Checksum {
                path: path.to_owned(),
                expected: recorded.value.clone(),
                actual: outcome.content_sha256.clone(),
            });
        }
        true
    };
    match &outcome.statistics {
        Some(stats) => {
            check_statistics(path, stats, &sink, &outcome, m.is_legacy(), &mut warnings)?
        }
        None if m.is_legacy() => warnings.push(
            "no statistics in the file; counts were checked against the metadata only".into(),
        ),
        None => return Err(BackupError::structure(path, "`data.statistics` is missing")),
    }
    if let Some(n) = m.schema_count {
        if n != outcome.schema.len() as u64 {
            return Err(mismatch(
                "metadata.schema_count",
                n,
                outcome.schema.len() as u64,
            ));
        }
    }
    for item in outcome
        .schema
        .indexes
        .iter()
        .chain(&outcome.schema.constraints)
    {
        for l in &item.labels_or_types {
            sink.check_name(l, "schema label")?;
        }
        for p in &item.properties {
            sink.check_name(p, "schema property")?;
        }
    }
    Ok(VerifyReport {
        path: path.to_owned(),
        node_count: outcome.nodes,
        relationship_count: outcome.relationships,
        label_counts: sink.label_counts,
        relationship_type_counts: sink.type_counts,
        schema_count: outcome.schema.len(),
        checksum_verified,
        warnings,
        schema: outcome.schema,
        metadata: outcome.metadata,
    })
}

/// The check `backup create` makes of a file it has just written. Everything
/// [`verify_backup`] checks record by record was checked as the records were
/// written (unique ids, endpoints, names, counts), and the records were
/// encoded by the same code whose output [`verify_backup`] decodes; what is
/// left is whether the file holds those bytes: its metadata line is read back
/// and must equal the one written, and the sha256 of everything after it,
/// read back from the file, must equal the one computed while writing.
pub fn verify_written(
    written: &super::writer::Written,
    schema: &Schema,
) -> Result<VerifyReport, BackupError> {
    let path = &written.path;
    let on_disk = super::reader::read_metadata(path)?;
    if on_disk != written.metadata {
        return Err(BackupError::Inconsistent(format!(
            "`{}`: the metadata read back differs from what was written; the disk or file system \
             may be failing — check it and create the backup again",
            path.display()
        )));
    }
    let expected = written
        .metadata
        .checksum
        .as_ref()
        .map(|c| c.value.clone())
        .unwrap_or_default();
    let actual = super::reader::content_sha256(path)?;
    if !expected.eq_ignore_ascii_case(&actual) {
        return Err(BackupError::Checksum {
            path: path.clone(),
            expected,
            actual,
        });
    }
    let stats = &written.statistics;
    Ok(VerifyReport {
        path: path.clone(),
        metadata: on_disk,
        node_count: stats.node_count,
        relationship_count: stats.relationship_count,
        label_counts: stats.label_counts.clone(),
        relationship_type_counts: stats.relationship_type_counts.clone(),
        schema_count: schema.len(),
        checksum_verified: true,
        warnings: Vec::new(),
        schema: schema.clone(),
    })
}

fn check_statistics(
    path: &Path,
    stats: &Statistics,
    sink: &VerifySink,
    outcome: &super::reader::ReadOutcome,
    legacy: bool,
    warnings: &mut Vec<String>,
) -> Result<(), BackupError> {
    let mismatch = |what: String, declared: u64, actual: u64| BackupError::CountMismatch {
        path: path.to_owned(),
        what,
        declared,
        actual,
    };
    if legacy && stats.label_counts.is_empty() && stats.node_count == 0 && outcome.nodes > 0 {
        warnings.push(
            "the file's statistics are empty; counts were checked against the metadata only".into(),
        );
        return Ok(());
    }
    if stats.node_count != outcome.nodes {
        return Err(mismatch(
            "statistics.node_count".into(),
            stats.node_count,
            outcome.nodes,
        ));
    }
    if stats.relationship_count != outcome.relationships {
        return Err(mismatch(
            "statistics.relationship_count".into(),
            stats.relationship_count,
            outcome.relationships,
        ));
    }
    let compare = |declared: &BTreeMap<String, u64>, actual: &BTreeMap<String, u64>, what: &str| {
        for key in declared.keys().chain(actual.keys()) {
            let d = declared.get(key).copied().unwrap_or(0);
            let a = actual.get(key).copied().unwrap_or(0);
            if d != a {
                return Err(mismatch(format!("the {what} count of `{key}`"), d, a));
            }
        }
        Ok(())
    };
    if legacy && stats.label_counts.is_empty() {
        warnings.push("the file has no label counts".into());
    } else {
        compare(&stats.label_counts, &sink.label_counts, "label")?;
    }
    if legacy && stats.relationship_type_counts.is_empty() {
        // Format 1.0.0 never recorded relationship type counts.
    } else {
        compare(
            &stats.relationship_type_counts,
            &sink.type_counts,
            "relationship type",
        )?;
    }
    Ok(())
}

struct NullSink;

impl RecordSink for NullSink {
    fn node(&mut self, _n: NodeRecord) -> Result<(), BackupError> {
        Ok(())
    }
    fn relationship(&mut self, _r: RelRecord) -> Result<(), BackupError> {
        Ok(())
    }
}

/// Counts per label and type recorded in a backup's statistics (read as a
/// stream, since the statistics close the file).
pub fn statistics_of(path: &Path) -> Result<crate::backup::status::Counts, BackupError> {
    let outcome = read_backup(path, &mut NullSink)?;
    let stats = outcome.statistics.unwrap_or_default();
    Ok(crate::backup::status::Counts {
        node_count: outcome.nodes,
        relationship_count: outcome.relationships,
        label_counts: stats.label_counts,
        relationship_type_counts: stats.relationship_type_counts,
    })
}

/// Verifies `path` completely and summarises it as a release bundle records
/// it (`manifest.json`'s `backup`); the error is the whole message.
pub fn bundle_summary(path: &Path) -> Result<serde_json::Value, String> {
    let r = verify_backup(path).map_err(|e| e.to_string())?;
    Ok(summary_of(&r))
}

/// What a bundle's manifest records of its verified backup.
pub fn summary_of(r: &VerifyReport) -> serde_json::Value {
    serde_json::json!({
        "node_count": r.node_count,
        "relationship_count": r.relationship_count,
        "label_counts": r.label_counts,
        "relationship_type_counts": r.relationship_type_counts,
        "schema_count": r.schema_count,
        "format": r.metadata.version,
        "datetime": r.metadata.datetime,
        "reason": r.metadata.reason,
        "app_version": r.metadata.app_version,
        "checksum": r.metadata.checksum.as_ref().map(|c| c.value.clone()),
    })
}
