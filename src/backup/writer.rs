//! Streams a backup to disk. Records go to a temporary body file as they arrive
//! (hashed on the way); `finish` writes the metadata line, which needs the
//! final counts and checksum, then the body behind it, fsyncs, and links the
//! file into place. Until that link, nothing in the folder looks like a backup.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use neo4rs::BoltMap;

use super::format::{ChecksumMeta, Metadata, Schema, Statistics, CHECKSUM_SCOPE, FORMAT_VERSION};
use super::BackupError;
use crate::fsutil;
use crate::graph::escape_name;
use crate::graph::value::{self, CodecError};
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
    node_ids: HashSet<u64, IdHashed>,
    /// Labels, types and keys already known to be restorable.
    checked_names: HashSet<String>,
    scratch: Vec<u8>,
}

/// What `finish` wrote: the file, its metadata line and its statistics.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub metadata: Metadata,
    pub statistics: Statistics,
}

/// Node ids are kept as 64-bit hashes: enough to check relationship
/// endpoints without holding every id string in memory.
pub(crate) fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Hasher for sets of [`id_hash`] values, which are hashes already.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHashed;

impl std::hash::BuildHasher for IdHashed {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64s are hashed here; anything else still spreads.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
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
            node_ids: HashSet::default(),
            checked_names: HashSet::new(),
            scratch: Vec::with_capacity(4096),
        })
    }

    /// A name the database holds but no query could write back (restore
    /// escapes every name) makes the backup useless: refused here, once per name.
    fn check_name(&mut self, name: &str, what: &str) -> Result<(), BackupError> {
        if self.checked_names.contains(name) {
            return Ok(());
        }
        escape_name(name).map_err(|e| BackupError::BadName {
            path: self.dir.join(&self.final_name),
            message: format!("{what} {e}"),
        })?;
        self.checked_names.insert(name.to_owned());
        Ok(())
    }

    fn check_keys(&mut self, properties: &BoltMap) -> Result<(), BackupError> {
        for key in properties.value.keys() {
            self.check_name(&key.value, "property key")?;
        }
        Ok(())
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

    /// Appends one node. Its JSON is written straight from the server's values
    /// (no intermediate JSON tree), keys in the order serde_json would give.
    pub fn write_node(
        &mut self,
        id: &str,
        labels: &[String],
        properties: &BoltMap,
    ) -> Result<(), BackupError> {
        self.write_node_resolved(id, labels, properties, &[])
    }

    /// [`Self::write_node`] with the server's offsets for ambiguous zoned
    /// date-times (see [`value::write_properties_resolved`]).
    pub fn write_node_resolved(
        &mut self,
        id: &str,
        labels: &[String],
        properties: &BoltMap,
        offsets: &[(String, Vec<Option<i32>>)],
    ) -> Result<(), BackupError> {
        assert_eq!(self.section, Section::Nodes, "nodes come after the schema");
        if !self.node_ids.insert(id_hash(id)) {
            return Err(BackupError::Inconsistent(format!(
                "node id `{id}` was read twice"
            )));
        }
        for l in labels {
            self.check_name(l, "label")?;
        }
        self.check_keys(properties)?;
        let mut buf = self.start_record();
        buf.extend_from_slice(b"{\"id\":");
        value::write_json_str(id, &mut buf);
        buf.extend_from_slice(b",\"labels\":[");
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            value::write_json_str(l, &mut buf);
        }
        buf.extend_from_slice(b"],\"properties\":");
        if let Err(e) = value::write_properties_resolved(properties, &mut buf, offsets) {
            self.scratch = buf;
            return Err(property_error(id, e));
        }
        buf.push(b'}');
        for l in labels {
            match self.stats.label_counts.get_mut(l) {
                Some(c) => *c += 1,
                None => {
                    self.stats.label_counts.insert(l.clone(), 1);
                }
            }
        }
        self.stats.node_count += 1;
        self.end_record(buf)
    }

    /// Appends one relationship; both endpoints must have been written.
    pub fn write_relationship(
        &mut self,
        id: &str,
        rel_type: &str,
        start: &str,
        end: &str,
        properties: &BoltMap,
    ) -> Result<(), BackupError> {
        self.write_relationship_resolved(id, rel_type, start, end, properties, &[])
    }

    /// [`Self::write_relationship`] with the server's offsets for ambiguous
    /// zoned date-times.
    pub fn write_relationship_resolved(
        &mut self,
        id: &str,
        rel_type: &str,
        start: &str,
        end: &str,
        properties: &BoltMap,
        offsets: &[(String, Vec<Option<i32>>)],
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
        self.check_name(rel_type, "relationship type")?;
        self.check_keys(properties)?;
        // Keys in serde_json's order, as in every earlier file.
        let mut buf = self.start_record();
        buf.extend_from_slice(b"{\"end\":");
        value::write_json_str(end, &mut buf);
        buf.extend_from_slice(b",\"id\":");
        value::write_json_str(id, &mut buf);
        buf.extend_from_slice(b",\"properties\":");
        if let Err(e) = value::write_properties_resolved(properties, &mut buf, offsets) {
            self.scratch = buf;
            return Err(property_error(id, e));
        }
        buf.extend_from_slice(b",\"start\":");
        value::write_json_str(start, &mut buf);
        buf.extend_from_slice(b",\"type\":");
        value::write_json_str(rel_type, &mut buf);
        buf.push(b'}');
        match self.stats.relationship_type_counts.get_mut(rel_type) {
            Some(c) => *c += 1,
            None => {
                self.stats
                    .relationship_type_counts
                    .insert(rel_type.to_owned(), 1);
            }
        }
        self.stats.relationship_count += 1;
        self.end_record(buf)
    }

    fn start_record(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(if self.first_in_section { b"\n" } else { b",\n" });
        buf
    }

    fn end_record(&mut self, buf: Vec<u8>) -> Result<(), BackupError> {
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
    pub fn finish(mut self, mut metadata: Metadata) -> Result<Written, BackupError> {
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
        Ok(Written {
            path: target,
            metadata,
            statistics: std::mem::take(&mut self.stats),
        })
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

fn property_error(id: &str, e: CodecError) -> BackupError {
    BackupError::Value(format!("entity `{id}`: {}", super::with_causes(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::format::BackupType;
    use crate::backup::verify::{verify_backup, verify_written};
    use neo4rs::{BoltString, BoltType};

    fn metadata() -> Metadata {
        Metadata {
            timestamp: "20260101_000000".into(),
            datetime: "2026-01-01T00:00:00.000000Z".into(),
            reason: "test".into(),
            node_count: 0,
            relationship_count: 0,
            version: String::new(),
            backup_type: BackupType::Full.as_str().into(),
            source: crate::backup::format::SOURCE.into(),
            tool_version: None,
            app_version: None,
            database: None,
            server: None,
            schema_count: Some(0),
            snapshot: None,
            checksum: None,
        }
    }

    fn props(pairs: &[(&str, BoltType)]) -> BoltMap {
        let mut m = BoltMap::new();
        for (k, v) in pairs {
            m.put(BoltString::new(k), v.clone());
        }
        m
    }

    fn write_sample(dir: &Path) -> Written {
        let mut w = BackupWriter::create(dir, "sample.json").unwrap();
        w.write_schema(&Schema::default()).unwrap();
        let p = props(&[("name", BoltType::String("Ada \"L\"\n".into()))]);
        w.write_node("n1", &["Person".into()], &p).unwrap();
        w.write_node("n2", &["Person".into(), "Dev".into()], &BoltMap::new())
            .unwrap();
        w.write_relationship("r1", "KNOWS", "n1", "n2", &p).unwrap();
        w.finish(metadata()).unwrap()
    }

    #[test]
    fn a_written_file_passes_both_verifications_and_agrees_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_sample(dir.path());
        let quick = verify_written(&written, &Schema::default()).unwrap();
        let full = verify_backup(&written.path).unwrap();
        assert_eq!((quick.node_count, quick.relationship_count), (2, 1));
        assert_eq!(quick.node_count, full.node_count);
        assert_eq!(quick.relationship_count, full.relationship_count);
        assert_eq!(quick.label_counts, full.label_counts);
        assert_eq!(
            quick.relationship_type_counts,
            full.relationship_type_counts
        );
        assert!(quick.checksum_verified && full.checksum_verified);
    }

    #[test]
    fn read_back_catches_a_changed_byte_and_a_changed_metadata_line() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_sample(dir.path());
        let original = std::fs::read(&written.path).unwrap();
        let first_line = original.iter().position(|b| *b == b'\n').unwrap();

        let mut body_changed = original.clone();
        let at = body_changed.len() - 10;
        body_changed[at] ^= 0x01;
        std::fs::write(&written.path, &body_changed).unwrap();
        let err = verify_written(&written, &Schema::default()).unwrap_err();
        assert!(matches!(err, BackupError::Checksum { .. }), "{err}");

        let text = String::from_utf8(original.clone()).unwrap();
        let meta_changed = text.replacen("\"reason\":\"test\"", "\"reason\":\"tesT\"", 1);
        assert!(meta_changed.find("tesT").unwrap() < first_line);
        std::fs::write(&written.path, meta_changed).unwrap();
        let err = verify_written(&written, &Schema::default()).unwrap_err();
        assert!(
            err.to_string().contains("metadata read back differs"),
            "{err}"
        );
    }

    #[test]
    fn names_no_query_could_write_back_are_refused_while_writing() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BackupWriter::create(dir.path(), "bad.json").unwrap();
        w.write_schema(&Schema::default()).unwrap();
        let err = w
            .write_node("n1", &["Bad\0Label".into()], &BoltMap::new())
            .unwrap_err();
        assert!(matches!(err, BackupError::BadName { .. }), "{err}");
        let p = props(&[("bad\0key", BoltType::Integer(1.into()))]);
        let err = w.write_node("n2", &["Ok".into()], &p).unwrap_err();
        assert!(err.to_string().contains("property key"), "{err}");
        drop(w);
        // Nothing but the folder is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
