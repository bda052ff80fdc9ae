//! Reads a backup as a stream: records are handed to a [`RecordSink`] one at a
//! time, so memory stays flat whatever the file's size. Reads the current
//! format and the original tool's format "1.0.0". While parsing it hashes
//! every byte after the first line, to compare with the recorded checksum.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::format::{
    Metadata, NodeRecord, RelRecord, Schema, Statistics, FORMAT_VERSION, FULL_SCHEMA_MAJOR,
    LEGACY_FORMAT_VERSION,
};
use super::strict::{JsonPath, Strict};
use super::{with_causes, BackupError};
use crate::graph::value;

/// Receives records while a backup is read.
pub trait RecordSink {
    fn metadata(&mut self, _m: &Metadata) -> Result<(), BackupError> {
        Ok(())
    }
    fn schema(&mut self, _s: &Schema) -> Result<(), BackupError> {
        Ok(())
    }
    fn node(&mut self, n: NodeRecord) -> Result<(), BackupError>;
    fn relationship(&mut self, r: RelRecord) -> Result<(), BackupError>;
}

/// What a complete read found.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub metadata: Metadata,
    pub schema: Schema,
    pub statistics: Option<Statistics>,
    pub nodes: u64,
    pub relationships: u64,
    /// sha256 of the bytes after the first line, as read.
    pub content_sha256: String,
}

/// Hashes everything after the first newline.
struct HashAfterFirstLine<R> {
    inner: R,
    seen_newline: bool,
    hasher: Sha256,
}

impl<R: Read> Read for HashAfterFirstLine<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut chunk = &buf[..n];
        if !self.seen_newline {
            match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.seen_newline = true;
                    chunk = &chunk[i + 1..];
                }
                None => chunk = &[],
            }
        }
        self.hasher.update(chunk);
        Ok(n)
    }
}

/// Opens a path that must be a regular, readable file.
pub(crate) fn open_regular(path: &Path) -> Result<File, BackupError> {
    crate::fsutil::open_regular(path).map_err(|e| match e {
        crate::fsutil::OpenRegularError::Io(e) => BackupError::io("open", path, e),
        crate::fsutil::OpenRegularError::NotRegular(kind) => BackupError::NotAFile {
            path: path.to_owned(),
            kind,
        },
    })
}

/// Reads only the metadata (the first JSON member) — cheap, for `list` and `info`.
pub fn read_metadata(path: &Path) -> Result<Metadata, BackupError> {
    let file = open_regular(path)?;
    let mut reader = BufReader::new(file);
    // Format 2 keeps the metadata alone on the first line.
    let mut first = Vec::new();
    (&mut reader)
        .take(1 << 20)
        .read_until(b'\n', &mut first)
        .map_err(|e| BackupError::io("read", path, e))?;
    if let Some(text) = first.strip_prefix(b"{\"metadata\":") {
        let text = text.strip_suffix(b",\n").unwrap_or(text);
        if let Ok(m) = serde_json::from_slice::<Metadata>(text) {
            check_version(path, &m)?;
            return Ok(m);
        }
    }
    // Otherwise (the original tool's pretty-printed files) parse until the metadata is read.
    let file = open_regular(path)?;
    let slot: RefCell<Option<Metadata>> = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    let seed = MetaOnly { path, slot: &slot };
    let res = seed.deserialize(&mut de);
    if let Some(m) = slot.into_inner() {
        return Ok(m);
    }
    match res {
        Err(e) => Err(BackupError::json(path, &e)),
        Ok(()) => Err(BackupError::structure(path, "no `metadata` object")),
    }
}

struct MetaOnly<'a> {
    path: &'a Path,
    slot: &'a RefCell<Option<Metadata>>,
}

impl<'de> DeserializeSeed<'de> for MetaOnly<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MetaOnly<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a backup object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "metadata" {
                let m: Metadata = map.next_value()?;
                check_version(self.path, &m).map_err(de::Error::custom)?;
                *self.slot.borrow_mut() = Some(m);
                // Stop here: the rest of the file is not needed.
                return Err(de::Error::custom("metadata read"));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// Formats read: the original tool's 1.0.0, 2.x and 3.x.
fn check_version(path: &Path, m: &Metadata) -> Result<(), BackupError> {
    let supported = m.version == LEGACY_FORMAT_VERSION
        || semver::Version::parse(&m.version)
            .map(|v| v.major == 2 || v.major == FULL_SCHEMA_MAJOR)
            .unwrap_or(false);
    if supported {
        Ok(())
    } else {
        Err(BackupError::UnknownFormat {
            path: path.to_owned(),
            version: m.version.clone(),
        })
    }
}

/// sha256 of everything after the first line, as `metadata.checksum` covers it.
pub fn content_sha256(path: &Path) -> Result<String, BackupError> {
    let mut hashing = HashAfterFirstLine {
        inner: open_regular(path)?,
        seen_newline: false,
        hasher: Sha256::new(),
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match hashing.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(BackupError::io("read", path, e)),
        }
    }
    Ok(hex::encode(hashing.hasher.finalize()))
}

/// Reads the whole file, handing each record to `sink`.
pub fn read_backup(path: &Path, sink: &mut dyn RecordSink) -> Result<ReadOutcome, BackupError> {
    let file = open_regular(path)?;
    let mut hashing = HashAfterFirstLine {
        inner: file,
        seen_newline: false,
        hasher: Sha256::new(),
    };
    let state = RefCell::new(State::default());
    let sink_err: RefCell<Option<BackupError>> = RefCell::new(None);
    {
        let buffered = BufReader::with_capacity(256 * 1024, &mut hashing);
        let mut de = serde_json::Deserializer::from_reader(buffered);
        let ctx = Ctx {
            path,
            state: &state,
            sink: RefCell::new(sink),
            err: &sink_err,
        };
        let res = Top(&ctx).deserialize(&mut de).and_then(|_| de.end());
        if let Some(e) = sink_err.borrow_mut().take() {
            return Err(e);
        }
        res.map_err(|e| BackupError::json(path, &e))?;
    }
    // Hash whatever the buffer had not pulled in (only whitespace can remain).
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| BackupError::io("read", path, e))?;
    let state = state.into_inner();
    let metadata = state
        .metadata
        .ok_or_else(|| BackupError::structure(path, "no `metadata` object"))?;
    if !state.saw_nodes {
        return Err(BackupError::structure(path, "no `data.nodes` array"));
    }
    if !state.saw_relationships && !metadata.is_legacy() && state.nodes > 0 {
        return Err(BackupError::structure(
            path,
            "no `data.relationships` array",
        ));
    }
    Ok(ReadOutcome {
        metadata,
        schema: state.schema.unwrap_or_default(),
        statistics: state.statistics,
        nodes: state.nodes,
        relationships: state.relationships,
        content_sha256: hex::encode(hashing.hasher.finalize()),
    })
}

#[derive(Default)]
struct State {
    metadata: Option<Metadata>,
    schema: Option<Schema>,
    statistics: Option<Statistics>,
    nodes: u64,
    relationships: u64,
    saw_nodes: bool,
    saw_relationships: bool,
}

struct Ctx<'a, 's> {
    path: &'a Path,
    state: &'a RefCell<State>,
    sink: RefCell<&'s mut dyn RecordSink>,
    err: &'a RefCell<Option<BackupError>>,
}

impl Ctx<'_, '_> {
    /// Parks our own error and returns a serde error that stops the parse.
    fn fail<E: de::Error>(&self, e: BackupError) -> E {
        *self.err.borrow_mut() = Some(e);
        E::custom("stopped")
    }

    fn legacy(&self) -> bool {
        self.state
            .borrow()
            .metadata
            .as_ref()
            .map(Metadata::is_legacy)
            .unwrap_or(false)
    }
}

struct Top<'c, 'a, 's>(&'c Ctx<'a, 's>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a backup object with `metadata` and `data`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.0;
        let mut seen = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            once(ctx, &mut seen, &key, "")?;
            match key.as_str() {
                "metadata" => {
                    let v = map.next_value_seed(Strict(JsonPath::Root("metadata")))?;
                    let m: Metadata = serde_json::from_value(v).map_err(|e| {
                        ctx.fail(BackupError::structure(
                            ctx.path,
                            &format!("bad `metadata`: {e}"),
                        ))
                    })?;
                    check_version(ctx.path, &m).map_err(|e| ctx.fail(e))?;
                    ctx.sink
                        .borrow_mut()
                        .metadata(&m)
                        .map_err(|e| ctx.fail(e))?;
                    ctx.state.borrow_mut().metadata = Some(m);
                }
                "schema" => {
                    let v = map.next_value_seed(Strict(JsonPath::Root("schema")))?;
                    let mut s: Schema = serde_json::from_value(v).map_err(|e| {
                        ctx.fail(BackupError::structure(
                            ctx.path,
                            &format!("bad `schema`: {e}"),
                        ))
                    })?;
                    s.lookups_recorded = ctx
                        .state
                        .borrow()
                        .metadata
                        .as_ref()
                        .is_some_and(Metadata::records_full_schema);
                    ctx.sink.borrow_mut().schema(&s).map_err(|e| ctx.fail(e))?;
                    ctx.state.borrow_mut().schema = Some(s);
                }
                "data" => {
                    if ctx.state.borrow().metadata.is_none() {
                        return Err(ctx.fail(BackupError::structure(
                            ctx.path,
                            "`metadata` must come before `data`",
                        )));
                    }
                    map.next_value_seed(Data(ctx))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Refuses a member of the file's outer objects that appears twice: the
/// second `data` or `metadata` would otherwise be read on top of the first.
fn once<E: de::Error>(
    ctx: &Ctx<'_, '_>,
    seen: &mut Vec<String>,
    key: &str,
    prefix: &str,
) -> Result<(), E> {
    if seen.iter().any(|k| k == key) {
        return Err(ctx.fail(BackupError::structure(
            ctx.path,
            &format!("`{prefix}{key}` appears twice; a backup never names a member twice (the file was crafted or edited) — use another backup"),
        )));
    }
    seen.push(key.to_owned());
    Ok(())
}

struct Data<'c, 'a, 's>(&'c Ctx<'a, 's>);

impl<'de> DeserializeSeed<'de> for Data<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Data<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a `data` object with `nodes` and `relationships`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.0;
        let mut seen = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            once(ctx, &mut seen, &key, "data.")?;
            match key.as_str() {
                "nodes" => {
                    ctx.state.borrow_mut().saw_nodes = true;
                    map.next_value_seed(Records { ctx, nodes: true })?;
                }
                "relationships" => {
                    ctx.state.borrow_mut().saw_relationships = true;
                    map.next_value_seed(Records { ctx, nodes: false })?;
                }
                "statistics" => {
                    let v = map.next_value_seed(Strict(JsonPath::Root("data.statistics")))?;
                    match serde_json::from_value::<Statistics>(v) {
                        Ok(s) => ctx.state.borrow_mut().statistics = Some(s),
                        Err(e) if ctx.legacy() => {
                            crate::log::debug(format!("ignoring unreadable legacy statistics: {e}"))
                        }
                        Err(e) => {
                            return Err(ctx.fail(BackupError::structure(
                                ctx.path,
                                &format!("bad `data.statistics`: {e}"),
                            )))
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Records<'c, 'a, 's> {
    ctx: &'c Ctx<'a, 's>,
    nodes: bool,
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let legacy = ctx.legacy();
        let root = JsonPath::Root(if self.nodes {
            "data.nodes"
        } else {
            "data.relationships"
        });
        let mut i = 0;
        while let Some(v) = seq.next_element_seed(Strict(JsonPath::Index(&root, i)))? {
            i += 1;
            let Value::Object(obj) = v else {
                return Err(ctx.fail(BackupError::structure(
                    ctx.path,
                    "a record is not a JSON object",
                )));
            };
            let mut st = ctx.state.borrow_mut();
            if self.nodes {
                let index = st.nodes;
                st.nodes += 1;
                drop(st);
                let rec = node_record(obj, legacy)
                    .map_err(|m| ctx.fail(BackupError::record(ctx.path, "node", index, &m)))?;
                ctx.sink.borrow_mut().node(rec).map_err(|e| ctx.fail(e))?;
            } else {
                let index = st.relationships;
                st.relationships += 1;
                drop(st);
                let rec = rel_record(obj, legacy).map_err(|m| {
                    ctx.fail(BackupError::record(ctx.path, "relationship", index, &m))
                })?;
                ctx.sink
                    .borrow_mut()
                    .relationship(rec)
                    .map_err(|e| ctx.fail(e))?;
            }
        }
        Ok(())
    }
}

fn id_of(v: Option<Value>, field: &str) -> Result<String, String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(_) => Err(format!("`{field}` must be a string or an integer")),
        None => Err(format!("`{field}` is missing")),
    }
}

fn string_list(v: Option<Value>, field: &str) -> Result<Vec<String>, String> {
    match v {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(format!("`{field}` must hold only strings")),
            })
            .collect(),
        Some(_) => Err(format!("`{field}` must be an array of strings")),
        None => Err(format!("`{field}` is missing")),
    }
}

fn props(v: Option<Value>) -> Result<Map<String, Value>, String> {
    match v {
        Some(Value::Object(m)) => Ok(m),
        None => Ok(Map::new()),
        Some(_) => Err("`properties` must be an object".into()),
    }
}

/// Decoded properties, with the zoned date-times Bolt 4.4 cannot carry
/// replaced by their text (see [`NodeRecord::server_zoned`]).
fn decode_exact(
    p: &Map<String, Value>,
) -> Result<(neo4rs::BoltMap, Vec<String>), value::CodecError> {
    let mut properties = value::decode_properties(p)?;
    let mut server_zoned = Vec::new();
    for (key, json) in p {
        if value::needs_server_zone(json) {
            if let Some(text) = value::zoned_text(json) {
                properties.put(neo4rs::BoltString::from(key.as_str()), text);
                server_zoned.push(key.clone());
            }
        }
    }
    Ok((properties, server_zoned))
}

fn node_record(mut obj: Map<String, Value>, legacy: bool) -> Result<NodeRecord, String> {
    if legacy {
        let id = id_of(obj.remove("_id"), "_id")?;
        let labels = string_list(obj.remove("_labels"), "_labels")?;
        let properties = value::decode_properties_legacy(&obj).map_err(|e| with_causes(&e))?;
        return Ok(NodeRecord {
            id,
            labels,
            properties,
            server_zoned: Vec::new(),
        });
    }
    let id = id_of(obj.remove("id"), "id")?;
    let labels = string_list(obj.remove("labels"), "labels")?;
    let p = props(obj.remove("properties"))?;
    let (properties, server_zoned) =
        decode_exact(&p).map_err(|e| format!("node `{id}`: {}", with_causes(&e)))?;
    Ok(NodeRecord {
        id,
        labels,
        properties,
        server_zoned,
    })
}

fn rel_record(mut obj: Map<String, Value>, legacy: bool) -> Result<RelRecord, String> {
    let (id, t, s, e) = if legacy {
        ("_id", "_type", "_start_id", "_end_id")
    } else {
        ("id", "type", "start", "end")
    };
    let id = id_of(obj.remove(id), id)?;
    let rel_type = match obj.remove(t) {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err(format!("`{t}` must be a non-empty string")),
    };
    let start = id_of(obj.remove(s), s)?;
    let end = id_of(obj.remove(e), e)?;
    let (properties, server_zoned) = if legacy {
        (
            value::decode_properties_legacy(&obj).map_err(|e| with_causes(&e))?,
            Vec::new(),
        )
    } else {
        let p = props(obj.remove("properties"))?;
        decode_exact(&p).map_err(|e| format!("relationship `{id}`: {}", with_causes(&e)))?
    };
    Ok(RelRecord {
        id,
        rel_type,
        start,
        end,
        properties,
        server_zoned,
    })
}

/// The current format version, for messages.
pub fn current_format() -> &'static str {
    FORMAT_VERSION
}
