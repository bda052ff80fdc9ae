//! Streams a backup to disk. Records go to a temporary body file as they arrive
//! (hashed on the way); `finish` writes the metadata line, which needs the
//! final counts and checksum, then the body behind it, fsyncs, and links the
//! file into place. Until that link, nothing in the folder looks like a backup.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::format::{ChecksumMeta, Metadata, Schema, Statistics, CHECKSUM_SCOPE, FORMAT_VERSION};
use super::BackupError;
use crate::fsutil;
use crate::hash::HashingWriter;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Section {
    Start,
    Nodes,
    Relationships,
}

pub struct BackupWriter {
    dir: PathBuf,
    final_name: String,
    body_path: PathBuf,
    body: Option<HashingWriter<BufWriter<File>>>,
    section: Section,
    first_in_section: bool,
    stats: Statistics,
    node_ids: HashSet<u64>,
    scratch: Vec<u8>,
}

/// Node ids are kept as 64-bit hashes: enough to check relationship
/// endpoints without holding every id string in memory.
pub(crate) fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl BackupWriter {
    pub fn create(dir: &Path, final_name: &str) -> Result<BackupWriter, BackupError> {
        let body_path = fsutil::temp_path(dir, &format!("{final_name}.body"));
        let file =
            fsutil::create_new(&body_path).map_err(|e| BackupError::io("create", &body_path, e))?;
        Ok(BackupWriter {
            dir: dir.to_owned(),
            final_name: final_name.to_owned(),
            body_path,
            body: Some(HashingWriter::new(BufWriter::with_capacity(
                256 * 1024,
                file,
            ))),
            section: Section::Start,
            first_in_section: true,
            stats: Statistics::default(),
            node_ids: HashSet::new(),
            scratch: Vec::with_capacity(4096),
        })
    }

    fn out(&mut self) -> &mut HashingWriter<BufWriter<File>> {
        self.body.as_mut().expect("writer used after finish")
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        let path = self.body_path.clone();
        self.out()
            .write_all(bytes)
            .map_err(|e| BackupError::io("write", &path, e))
    }

    /// Must come first.
    pub fn write_schema(&mut self, schema: &Schema) -> Result<(), BackupError> {
        assert_eq!(self.section, Section::Start);
        let mut line = b"\"schema\":".to_vec();
        serde_json::to_writer(&mut line, schema).expect("schema serialises");
        line.extend_from_slice(b",\n\"data\":{\"nodes\":[");
        self.write_bytes(&line)?;
        self.section = Section::Nodes;
        self.first_in_section = true;
        Ok(())
    }

    pub fn write_node(
        &mut self,
        id: &str,
        labels: &[String],
        properties: Map<String, Value>,
    ) -> Result<(), BackupError> {
        assert_eq!(self.section, Section::Nodes, "nodes come after the schema");
        if !self.node_ids.insert(id_hash(id)) {
            return Err(BackupError::Inconsistent(format!(
                "node id `{id}` was read twice"
            )));
        }
        for l in labels {
            *self.stats.label_counts.entry(l.clone()).or_insert(0) += 1;
        }
        self.stats.node_count += 1;
        let record = serde_json::json!({ "id": id, "labels": labels, "properties": properties });
        self.write_record(&record)
    }

    pub fn write_relationship(
        &mut self,
        id: &str,
        rel_type: &str,
        start: &str,
        end: &str,
        properties: Map<String, Value>,
    ) -> Result<(), BackupError> {
        if self.section == Section::Nodes {
            self.write_bytes(b"\n],\"relationships\":[")?;
            self.section = Section::Relationships;
            self.first_in_section = true;
        }
        for endpoint in [start, end] {
            if !self.node_ids.contains(&id_hash(endpoint)) {
                return Err(BackupError::Inconsistent(format!(
                    "relationship `{id}` points at node `{endpoint}`, which was not read: the database changed during the backup; run it again"
                )));
            }
        }
        *self
            .stats
            .relationship_type_counts
            .entry(rel_type.to_owned())
            .or_insert(0) += 1;
        self.stats.relationship_count += 1;
        let record = serde_json::json!({
            "id": id, "type": rel_type, "start": start, "end": end, "properties": properties
        });
        self.write_record(&record)
    }

    fn write_record(&mut self, record: &Value) -> Result<(), BackupError> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(if self.first_in_section { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut buf, record).expect("records serialise");
        self.first_in_section = false;
        let r = self.write_bytes(&buf);
        self.scratch = buf;
        r
    }

    pub fn statistics(&self) -> &Statistics {
        &self.stats
    }

    pub fn label_counts(&self) -> &BTreeMap<String, u64> {
        &self.stats.label_counts
    }

    /// Completes the file and publishes it under its final name.
    pub fn finish(mut self, mut metadata: Metadata) -> Result<PathBuf, BackupError> {
        if self.section == Section::Start {
            self.write_schema(&Schema::default())?;
        }
        if self.section == Section::Nodes {
            self.write_bytes(b"\n],\"relationships\":[")?;
        }
        let mut tail = b"\n],\"statistics\":".to_vec();
        serde_json::to_writer(&mut tail, &self.stats).expect("statistics serialise");
        tail.extend_from_slice(b"}}\n");
        self.write_bytes(&tail)?;
        let body_path = self.body_path.clone();
        let (buffered, sha) = self.body.take().expect("not finished twice").finish();
        let body_file = buffered
            .into_inner()
            .map_err(|e| BackupError::io("write", &body_path, e.into_error()))?;
        drop(body_file);

        metadata.node_count = self.stats.node_count;
        metadata.relationship_count = self.stats.relationship_count;
        metadata.version = FORMAT_VERSION.to_owned();
        metadata.checksum = Some(ChecksumMeta {
            algorithm: "sha256".into(),
            scope: CHECKSUM_SCOPE.into(),
            value: sha,
        });

        let tmp = fsutil::temp_path(&self.dir, &self.final_name);
        let target = self.dir.join(&self.final_name);
        let result = (|| -> io::Result<()> {
            let mut out = BufWriter::with_capacity(256 * 1024, fsutil::create_new(&tmp)?);
            out.write_all(b"{\"metadata\":")?;
            serde_json::to_writer(&mut out, &metadata)?;
            out.write_all(b",\n")?;
            let mut body = File::open(&body_path)?;
            body.rewind()?;
            io::copy(&mut body, &mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok(())
        })();
        let _ = std::fs::remove_file(&body_path);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(BackupError::io("write", &tmp, e));
        }
        if let Err(e) = fsutil::publish_new(&tmp, &target) {
            let _ = std::fs::remove_file(&tmp);
            return Err(BackupError::io("publish", &target, e));
        }
        Ok(target)
    }
}

impl Drop for BackupWriter {
    fn drop(&mut self) {
        // An abandoned writer (error, Ctrl-C) leaves no partial file behind.
        if self.body.is_some() {
            let _ = std::fs::remove_file(&self.body_path);
        }
    }
}
