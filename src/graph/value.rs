//! Lossless conversion between Neo4j property values and the JSON of a backup file.
//!
//! A restore must put back exactly what the backup read, so every property
//! value has one JSON form that decodes to the same value again, down to the
//! nanosecond, the offset and the float bit pattern (NaN payloads aside).
//! Values that JSON already expresses plainly stay plain, so a backup file can
//! be read and diffed by a person:
//!
//! | Neo4j type      | JSON                                                               |
//! |-----------------|--------------------------------------------------------------------|
//! | Boolean         | `true`                                                             |
//! | Integer         | `42` (never written with a fraction or an exponent)                 |
//! | Float           | `1.0`, `1e+300` (always with a fraction or an exponent)              |
//! | Float NaN, ±∞   | `{"$type":"Float","value":"NaN"}` (`"Infinity"`, `"-Infinity"`)     |
//! | String          | `"text"`                                                           |
//! | List            | `[1, 2]`; flat and of one element type, as Neo4j stores them       |
//! | ByteArray       | `{"$type":"Bytes","value":"<standard base64>"}`                    |
//! | Date            | `{"$type":"Date","value":"2024-01-02"}`                            |
//! | LocalTime       | `{"$type":"LocalTime","value":"12:00:00.000000001"}`               |
//! | Time            | `{"$type":"Time","value":"12:00:00+01:00"}`                        |
//! | LocalDateTime   | `{"$type":"LocalDateTime","value":"2024-01-02T03:04:05.123456789"}` |
//! | DateTime        | `{"$type":"DateTime","value":"2024-01-02T03:04:05.123+01:00"}`     |
//! | DateTime (zone) | `{"$type":"DateTime","value":"2024-01-02T03:04:05+01:00[Europe/Paris]"}` |
//! | Duration        | `{"$type":"Duration","months":1,"days":2,"seconds":3,"nanoseconds":500000000,"value":"P1M2DT3.5S"}` |
//! | Point           | `{"$type":"Point","srid":7203,"x":1.0,"y":2.0}` (`"z"` for 3D)     |
//!
//! Fractions of a second are printed in groups of three digits, as Neo4j
//! prints them. Offsets with seconds (historical local mean time) are printed
//! as `+00:09:21`. A zoned date-time stores the local time and the zone; the
//! offset is there for the reader and is checked on decoding when the zone is
//! one chrono-tz knows. For a Duration the four components are authoritative;
//! `"value"` is for reading and must agree with them when present.
//!
//! Decoding is strict: anything the encoder would not have written (an integer
//! beyond 64 bits, a list mixing types or holding lists, an object without a
//! known `$type`, an unknown field) is an error naming the problem, not a guess.
//! Files of the original tool (format 1.0.0) go through [`decode_legacy`]
//! instead, which knows only plain JSON values.
//!
//! Relies on serde_json's `arbitrary_precision` feature: without it an integer
//! literal beyond 64 bits would silently become a float, and float literals
//! would not always parse back to the same bits.

use std::fmt::Debug;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike,
};
use neo4rs::{
    BoltBoolean, BoltBytes, BoltDate, BoltDateTime, BoltDateTimeZoneId, BoltDuration, BoltFloat,
    BoltInteger, BoltList, BoltLocalDateTime, BoltLocalTime, BoltMap, BoltNull, BoltPoint2D,
    BoltPoint3D, BoltString, BoltTime, BoltType,
};
use serde::de::IntoDeserializer;
use serde::Deserialize;
use serde_json::{Map, Number, Value};

const TYPE_KEY: &str = "$type";
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

/// Why a value cannot be written to, or read from, a backup file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("a {kind} cannot be stored as a Neo4j property value")]
    NotAProperty { kind: &'static str },
    #[error("a list property cannot contain another list (Neo4j properties hold only flat lists)")]
    NestedList,
    #[error("a list property cannot contain {kind} elements")]
    BadListElement { kind: &'static str },
    #[error(
        "a list property must hold values of one type, but element {index} is a {found} \
         and element 0 is a {expected}"
    )]
    MixedList {
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("list element {index}")]
    InList {
        index: usize,
        #[source]
        source: Box<CodecError>,
    },
    #[error("integer {literal} does not fit a Neo4j Integer (64-bit)")]
    IntegerOutOfRange { literal: String },
    #[error(
        "number {literal} does not fit a Neo4j Float (64-bit); infinities are written as \
         {{\"$type\":\"Float\",\"value\":\"Infinity\"}}"
    )]
    FloatOutOfRange { literal: String },
    #[error(
        "a JSON object in a property needs a \"$type\" field naming its Neo4j type \
         (Float, Bytes, Date, LocalTime, Time, LocalDateTime, DateTime, Duration or Point)"
    )]
    MissingType,
    #[error(
        "unknown \"$type\" {type_name}; expected Float, Bytes, Date, LocalTime, Time, \
         LocalDateTime, DateTime, Duration or Point"
    )]
    UnknownType { type_name: String },
    #[error("{type_name} value is missing the field \"{field}\"")]
    MissingField {
        type_name: &'static str,
        field: &'static str,
    },
    #[error("{type_name} value has an unexpected field {field:?}")]
    UnexpectedField {
        type_name: &'static str,
        field: String,
    },
    #[error("{type_name} value has an invalid \"{field}\": {problem}")]
    InvalidField {
        type_name: &'static str,
        field: &'static str,
        problem: String,
    },
    #[error("{type_name} value {detail} is outside the range this tool can represent")]
    OutOfRange {
        type_name: &'static str,
        detail: String,
    },
    #[error(
        "backups in format 1.0.0 hold only booleans, numbers, strings and flat lists of them, \
         but this value is {found}"
    )]
    LegacyUnsupported { found: &'static str },
    #[error(
        "the server holds a {original_type} value here, which it sends only to clients \
         speaking a newer Bolt version than this one (4.4); it sent a placeholder instead \
         ({reason}), so the value is not backed up rather than written wrong. Store it in a \
         type Bolt 4.4 carries (for example a LIST<FLOAT>) or remove it, then back up again"
    )]
    UnsupportedByClient {
        original_type: String,
        reason: String,
    },
    #[error("offset {offset} is not an offset of {local} in {zone}")]
    BadZoneOffset {
        offset: String,
        local: String,
        zone: String,
    },
    #[error("property {key:?}")]
    Property {
        key: String,
        #[source]
        source: Box<CodecError>,
    },
}

type Result<T, E = CodecError> = std::result::Result<T, E>;

/// Encodes one property value. A list is checked to be flat and of one element
/// type, so that everything written here can be read back by [`decode`].
/// `Null` encodes as JSON `null`, but property maps skip it
/// ([`encode_properties`]): Neo4j does not store null properties.
pub fn encode(v: &BoltType) -> Result<Value> {
    match v {
        BoltType::Null(_) => Ok(Value::Null),
        BoltType::List(list) => {
            check_list(&list.value)?;
            list.value
                .iter()
                .enumerate()
                .map(|(index, item)| encode_scalar(item).map_err(|e| in_list(index, e)))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array)
        }
        other => encode_scalar(other),
    }
}

/// Decodes one property value written by [`encode`]. JSON `null` decodes to
/// `Null`; property maps refuse it ([`decode_properties`]).
pub fn decode(v: &Value) -> Result<BoltType> {
    match v {
        Value::Null => Ok(BoltType::Null(BoltNull)),
        Value::Array(items) => decode_list(items, decode_scalar),
        other => decode_scalar(other),
    }
}

/// Decodes one property value from a backup in the original tool's format
/// 1.0.0, which dumped properties as plain JSON. Temporal values were written
/// there as strings, so they come back as strings.
pub fn decode_legacy(v: &Value) -> Result<BoltType> {
    match v {
        Value::Null => Ok(BoltType::Null(BoltNull)),
        Value::Array(items) => decode_list(items, decode_legacy_scalar),
        other => decode_legacy_scalar(other),
    }
}

/// Encodes a node's or relationship's properties, leaving out null values.
/// Keys come out sorted, so the same properties always give the same text.
pub fn encode_properties(map: &BoltMap) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (key, value) in &map.value {
        if matches!(value, BoltType::Null(_)) {
            continue;
        }
        let encoded = encode(value).map_err(|e| in_property(&key.value, e))?;
        out.insert(key.value.clone(), encoded);
    }
    Ok(out)
}

/// Appends the JSON text of `encode_properties(map)` to `out`, byte for byte
/// the same, without building the intermediate JSON values: backup create
/// writes every property of the database through here. Plain values (the
/// bulk of any graph) are written directly; tagged ones go through
/// [`encode`].
pub fn write_properties(map: &BoltMap, out: &mut Vec<u8>) -> Result<()> {
    write_properties_resolved(map, out, &[])
}

/// The offsets (seconds east of UTC) the server reported for the zoned
/// date-times of one property: one for a single value, one per element for
/// a list (`None` for elements that need none).
pub type ResolvedOffsets = Vec<(String, Vec<Option<i32>>)>;

/// [`write_properties`], with the real offsets of zoned date-times whose
/// local time is ambiguous in their zone (see [`ambiguous_zoned`]): Bolt 4.4
/// carries a zoned value as local time and zone only, so in the hour
/// repeated when clocks go back it cannot say which of the two instants it
/// is; the caller asks the server and passes the answer here.
pub fn write_properties_resolved(
    map: &BoltMap,
    out: &mut Vec<u8>,
    resolved: &[(String, Vec<Option<i32>>)],
) -> Result<()> {
    let mut entries: Vec<(&str, &BoltType)> = map
        .value
        .iter()
        .filter(|(_, v)| !matches!(v, BoltType::Null(_)))
        .map(|(k, v)| (k.value.as_str(), v))
        .collect();
    // serde_json's map is ordered by key bytes: so is this.
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(key, out);
        out.push(b':');
        let offsets = resolved
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, o)| o.as_slice());
        write_value(value, out, offsets).map_err(|e| in_property(key, e))?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it.
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to memory cannot fail");
}

fn write_value(v: &BoltType, out: &mut Vec<u8>, offsets: Option<&[Option<i32>]>) -> Result<()> {
    let offset = |i: usize| offsets.and_then(|o| o.get(i).copied().flatten());
    match v {
        BoltType::List(list) => {
            check_list(&list.value)?;
            out.push(b'[');
            for (index, item) in list.value.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_scalar(item, out, offset(index)).map_err(|e| in_list(index, e))?;
            }
            out.push(b']');
            Ok(())
        }
        BoltType::Null(_) => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        other => write_scalar(other, out, offset(0)),
    }
}

fn write_scalar(v: &BoltType, out: &mut Vec<u8>, offset: Option<i32>) -> Result<()> {
    let to_memory = "writing to memory cannot fail";
    match v {
        BoltType::DateTimeZoneId(t) if offset.is_some() => {
            let encoded = encode_zoned(t, offset)?;
            serde_json::to_writer(&mut *out, &encoded).expect(to_memory)
        }
        BoltType::Boolean(b) => out.extend_from_slice(if b.value { b"true" } else { b"false" }),
        BoltType::Integer(i) => serde_json::to_writer(&mut *out, &i.value).expect(to_memory),
        // Both print the shortest text that reads back to the same bits.
        BoltType::Float(f) if f.value.is_finite() => {
            serde_json::to_writer(&mut *out, &f.value).expect(to_memory)
        }
        BoltType::String(s) => write_json_str(&s.value, out),
        other => serde_json::to_writer(&mut *out, &encode_scalar(other)?).expect(to_memory),
    }
    Ok(())
}

/// Decodes properties written by [`encode_properties`].
pub fn decode_properties(obj: &Map<String, Value>) -> Result<BoltMap> {
    decode_properties_with(obj, decode)
}

/// Decodes properties from a backup in format 1.0.0 (see [`decode_legacy`]).
pub fn decode_properties_legacy(obj: &Map<String, Value>) -> Result<BoltMap> {
    decode_properties_with(obj, decode_legacy)
}

fn decode_properties_with(
    obj: &Map<String, Value>,
    decode_one: fn(&Value) -> Result<BoltType>,
) -> Result<BoltMap> {
    let mut map = BoltMap::with_capacity(obj.len());
    for (key, value) in obj {
        // Setting a property to null removes it, so a null here would restore
        // something other than what the file says.
        let decoded = match value {
            Value::Null => Err(CodecError::NotAProperty { kind: "null" }),
            other => decode_one(other),
        }
        .map_err(|e| in_property(key, e))?;
        map.put(BoltString::from(key.as_str()), decoded);
    }
    Ok(map)
}

fn in_property(key: &str, source: CodecError) -> CodecError {
    CodecError::Property {
        key: key.to_owned(),
        source: Box::new(source),
    }
}

fn in_list(index: usize, source: CodecError) -> CodecError {
    CodecError::InList {
        index,
        source: Box::new(source),
    }
}

/// The Neo4j type name used both in messages and for the one-type-per-list
/// rule. Both kinds of DateTime share a name because Neo4j lets a DateTime list
/// mix zone ids and offsets.
fn kind_name(v: &BoltType) -> &'static str {
    match v {
        BoltType::String(_) => "String",
        BoltType::Boolean(_) => "Boolean",
        BoltType::Map(_) => "Map",
        BoltType::Null(_) => "Null",
        BoltType::Integer(_) => "Integer",
        BoltType::Float(_) => "Float",
        BoltType::List(_) => "List",
        BoltType::Node(_) => "Node",
        BoltType::Relation(_) | BoltType::UnboundedRelation(_) => "Relationship",
        BoltType::Point2D(_) => "2D Point",
        BoltType::Point3D(_) => "3D Point",
        BoltType::Bytes(_) => "ByteArray",
        BoltType::Path(_) => "Path",
        BoltType::Duration(_) => "Duration",
        BoltType::Date(_) => "Date",
        BoltType::Time(_) => "Time",
        BoltType::LocalTime(_) => "LocalTime",
        BoltType::DateTime(_) | BoltType::DateTimeZoneId(_) => "DateTime",
        BoltType::LocalDateTime(_) => "LocalDateTime",
    }
}

/// Neo4j stores a list property as an array of one primitive type, so a list
/// that is nested, holds nulls or byte arrays, or mixes types cannot be stored.
fn check_list(items: &[BoltType]) -> Result<()> {
    let Some(first) = items.first() else {
        return Ok(());
    };
    let expected = kind_name(first);
    for (index, item) in items.iter().enumerate() {
        match item {
            BoltType::List(_) => return Err(in_list(index, CodecError::NestedList)),
            BoltType::Null(_) | BoltType::Bytes(_) => {
                return Err(in_list(
                    index,
                    CodecError::BadListElement {
                        kind: kind_name(item),
                    },
                ))
            }
            _ => {}
        }
        let found = kind_name(item);
        if found != expected {
            return Err(CodecError::MixedList {
                index,
                expected,
                found,
            });
        }
    }
    Ok(())
}

fn encode_scalar(v: &BoltType) -> Result<Value> {
    Ok(match v {
        BoltType::Boolean(b) => Value::Bool(b.value),
        BoltType::Integer(i) => Value::from(i.value),
        BoltType::Float(f) => encode_float(f.value),
        BoltType::String(s) => Value::String(s.value.clone()),
        BoltType::Bytes(b) => tagged("Bytes", BASE64.encode(&b.value)),
        BoltType::Date(d) => {
            let date = NaiveDate::try_from(d).map_err(|_| out_of_range("Date", d))?;
            tagged("Date", format_date(date))
        }
        BoltType::LocalTime(t) => {
            let [nanos] = raw_fields::<1>(t)?;
            tagged("LocalTime", format_time_of_day(nanos, "LocalTime")?)
        }
        BoltType::Time(t) => {
            let [nanos, offset] = raw_fields::<2>(t)?;
            let offset = i32::try_from(offset)
                .ok()
                .and_then(FixedOffset::east_opt)
                .ok_or_else(|| out_of_range("Time", t))?;
            let time = format_time_of_day(nanos, "Time")?;
            tagged("Time", format!("{time}{}", format_offset(offset)))
        }
        BoltType::LocalDateTime(t) => {
            let local = NaiveDateTime::try_from(t).map_err(|_| out_of_range("LocalDateTime", t))?;
            tagged(
                "LocalDateTime",
                format_local_date_time(local, "LocalDateTime")?,
            )
        }
        BoltType::DateTime(t) => {
            let dt =
                DateTime::<FixedOffset>::try_from(t).map_err(|_| out_of_range("DateTime", t))?;
            let local = format_local_date_time(dt.naive_local(), "DateTime")?;
            tagged(
                "DateTime",
                format!("{local}{}", format_offset(*dt.offset())),
            )
        }
        BoltType::DateTimeZoneId(t) => encode_zoned(t, None)?,
        BoltType::Duration(_) => {
            let [months, days, seconds, nanoseconds] = duration_fields(v)?;
            let mut obj = Map::new();
            obj.insert(TYPE_KEY.into(), "Duration".into());
            obj.insert("months".into(), months.into());
            obj.insert("days".into(), days.into());
            obj.insert("seconds".into(), seconds.into());
            obj.insert("nanoseconds".into(), nanoseconds.into());
            obj.insert(
                "value".into(),
                format_duration(months, days, seconds, nanoseconds).into(),
            );
            Value::Object(obj)
        }
        BoltType::Point2D(p) => point(p.sr_id.value, &[("x", &p.x), ("y", &p.y)]),
        BoltType::Point3D(p) => point(p.sr_id.value, &[("x", &p.x), ("y", &p.y), ("z", &p.z)]),
        BoltType::List(_) => return Err(CodecError::NestedList),
        BoltType::Map(m) if placeholder(m).is_some() => {
            return Err(placeholder(m).expect("checked"))
        }
        BoltType::Null(_)
        | BoltType::Map(_)
        | BoltType::Node(_)
        | BoltType::Relation(_)
        | BoltType::UnboundedRelation(_)
        | BoltType::Path(_) => return Err(CodecError::NotAProperty { kind: kind_name(v) }),
    })
}

/// A zoned date-time: local time, offset, zone. Bolt 4 carries it as local
/// time plus zone id (neo4rs's NaiveDateTime conversion returns that local
/// time as is); the offset is the zone's for that local time, the earlier
/// one in a repeated hour (as the server resolves it) unless the server said
/// otherwise (`offset`, seconds east of UTC, checked against the zone).
fn encode_zoned(t: &BoltDateTimeZoneId, offset: Option<i32>) -> Result<Value> {
    let local = NaiveDateTime::try_from(t).map_err(|_| out_of_range("DateTime", t))?;
    let zone = t.tz_id();
    let valid = zone_offsets(zone, &local);
    let chosen = match offset {
        Some(seconds) => {
            let o = FixedOffset::east_opt(seconds).ok_or_else(|| out_of_range("DateTime", t))?;
            if valid.as_ref().is_some_and(|v| !v.contains(&o)) {
                return Err(CodecError::BadZoneOffset {
                    offset: format_offset(o),
                    local: local.to_string(),
                    zone: zone.to_owned(),
                });
            }
            Some(o)
        }
        None => valid.and_then(|offsets| offsets.first().copied()),
    };
    let offset = chosen.map(format_offset).unwrap_or_default();
    let local = format_local_date_time(local, "DateTime")?;
    Ok(tagged("DateTime", format!("{local}{offset}[{zone}]")))
}

/// Whether a property value holds a zoned date-time whose local time occurs
/// twice in its zone (the hour repeated when clocks go back), so that Bolt
/// 4.4 cannot say which instant it is.
pub fn ambiguous_zoned(v: &BoltType) -> bool {
    let one = |v: &BoltType| match v {
        BoltType::DateTimeZoneId(t) => NaiveDateTime::try_from(t)
            .ok()
            .and_then(|local| zone_offsets(t.tz_id(), &local))
            .is_some_and(|o| o.len() > 1),
        _ => false,
    };
    match v {
        BoltType::List(l) => l.value.iter().any(one),
        other => one(other),
    }
}

/// Whether a property's JSON holds a zoned date-time at the later of the two
/// offsets of a repeated hour: written back as local time and zone over Bolt
/// 4.4, the server would take the earlier one, an hour off. Such a value is
/// sent as its text ([`zoned_text`]) and built by the server with
/// `datetime()`, which keeps the offset.
pub fn needs_server_zone(json: &Value) -> bool {
    let one = |v: &Value| -> bool {
        let Some(obj) = v.as_object() else {
            return false;
        };
        if obj.get(TYPE_KEY).and_then(Value::as_str) != Some("DateTime") {
            return false;
        }
        let Some(text) = obj.get("value").and_then(Value::as_str) else {
            return false;
        };
        let mut scanner = Scanner(text);
        let parsed = (|| {
            let local = scanner.date_time()?;
            let offset = scanner.optional_offset()??;
            let zone = scanner.optional_zone()??;
            Some((local, offset, zone))
        })();
        match parsed {
            Some((local, offset, zone)) => zone_offsets(zone, &local)
                .is_some_and(|valid| valid.len() > 1 && valid.first() != Some(&offset)),
            None => false,
        }
    };
    match json {
        Value::Array(items) => items.iter().any(one),
        other => one(other),
    }
}

/// The `"value"` texts of a (list of) DateTime JSON values, for `datetime()`.
pub fn zoned_text(json: &Value) -> Option<BoltType> {
    let one = |v: &Value| {
        v.get("value")
            .and_then(Value::as_str)
            .map(|s| BoltType::String(BoltString::from(s)))
    };
    match json {
        Value::Array(items) => items
            .iter()
            .map(one)
            .collect::<Option<Vec<_>>>()
            .map(|v| BoltType::List(BoltList::from(v))),
        other => one(other),
    }
}

/// A value the server replaced by a placeholder map, because this client's
/// Bolt version cannot carry it (a 2025.10+ VECTOR over Bolt 4.4):
/// `{originalType: "VECTOR(3, FLOAT32)", reason: "UNKNOWN_TYPE"}`.
fn placeholder(m: &BoltMap) -> Option<CodecError> {
    let text = |k: &str| match m.value.get(k) {
        Some(BoltType::String(s)) => Some(s.value.clone()),
        _ => None,
    };
    Some(CodecError::UnsupportedByClient {
        original_type: text("originalType")?,
        reason: text("reason").unwrap_or_default(),
    })
}

/// A finite float always carries a fraction or an exponent (`1.0`, `1e+300`),
/// so it cannot be read back as an Integer. JSON has no NaN or infinities.
fn encode_float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => {
            let name = if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            tagged("Float", name)
        }
    }
}

fn tagged(type_name: &str, value: impl Into<Value>) -> Value {
    let mut obj = Map::new();
    obj.insert(TYPE_KEY.into(), type_name.into());
    obj.insert("value".into(), value.into());
    Value::Object(obj)
}

fn point(srid: i64, coordinates: &[(&str, &BoltFloat)]) -> Value {
    let mut obj = Map::new();
    obj.insert(TYPE_KEY.into(), "Point".into());
    obj.insert("srid".into(), srid.into());
    for (name, c) in coordinates {
        obj.insert((*name).into(), encode_float(c.value));
    }
    Value::Object(obj)
}

/// For values chrono cannot hold. Neo4j's own range is years ±999,999,999.
fn out_of_range(type_name: &'static str, v: &impl Debug) -> CodecError {
    CodecError::OutOfRange {
        type_name,
        detail: format!(
            "{v:?} (only years -262143 to 262142 and offsets within ±24 hours are supported)"
        ),
    }
}

/// The raw integer fields of a neo4rs time value. neo4rs keeps them private,
/// and its conversion to chrono panics on values outside a day or on offsets
/// beyond ±24 h; a backup must report such a value from the server, not
/// crash on it. The Debug form of these structs (neo4rs is pinned to one
/// version) lists each field as `BoltInteger { value: N }`, in declaration order.
fn raw_fields<const N: usize>(v: &impl Debug) -> Result<[i64; N]> {
    let text = format!("{v:?}");
    let numbers: Vec<i64> = text
        .split("value: ")
        .skip(1)
        .filter_map(|rest| {
            let end = rest
                .find(|c: char| c != '-' && !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect();
    numbers.try_into().map_err(|_| CodecError::OutOfRange {
        type_name: "time",
        detail: text,
    })
}

/// The four components of a Duration exactly as they travel in Bolt. neo4rs
/// offers them only through its serde deserializer, as a 4-tuple.
fn duration_fields(v: &BoltType) -> Result<[i64; 4]> {
    let (months, days, seconds, nanos) = <(i64, i64, i64, i64)>::deserialize(v.into_deserializer())
        .map_err(|e| CodecError::OutOfRange {
            type_name: "Duration",
            detail: e.to_string(),
        })?;
    Ok([months, days, seconds, nanos])
}

fn format_date(date: NaiveDate) -> String {
    let year = date.year();
    if (0..=9999).contains(&year) {
        format!("{year:04}-{:02}-{:02}", date.month(), date.day())
    } else {
        // ISO 8601 expanded years carry a sign, as Neo4j prints them.
        format!("{year:+05}-{:02}-{:02}", date.month(), date.day())
    }
}

fn format_time_of_day(nanos_of_day: i64, type_name: &'static str) -> Result<String> {
    if !(0..NANOS_PER_DAY).contains(&nanos_of_day) {
        return Err(CodecError::OutOfRange {
            type_name,
            detail: format!("of {nanos_of_day} nanoseconds since midnight"),
        });
    }
    let seconds = nanos_of_day / NANOS_PER_SECOND;
    let fraction = nanos_of_day % NANOS_PER_SECOND;
    Ok(format!(
        "{:02}:{:02}:{:02}{}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        format_fraction(fraction)
    ))
}

/// Fraction digits in groups of three, only as many as the value needs.
fn format_fraction(nanos: i64) -> String {
    if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    }
}

fn format_local_date_time(local: NaiveDateTime, type_name: &'static str) -> Result<String> {
    let nanos = i64::from(local.nanosecond());
    if nanos >= NANOS_PER_SECOND {
        // chrono's leap-second form; Neo4j has no leap seconds.
        return Err(CodecError::OutOfRange {
            type_name,
            detail: format!("{local} (a leap second)"),
        });
    }
    let time = i64::from(local.num_seconds_from_midnight()) * NANOS_PER_SECOND + nanos;
    Ok(format!(
        "{}T{}",
        format_date(local.date()),
        format_time_of_day(time, type_name)?
    ))
}

fn format_offset(offset: FixedOffset) -> String {
    let total = offset.local_minus_utc();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// An ISO 8601 form for people; the separate components stay authoritative.
fn format_duration(months: i64, days: i64, seconds: i64, nanos: i64) -> String {
    let total = i128::from(seconds) * i128::from(NANOS_PER_SECOND) + i128::from(nanos);
    let sign = if total < 0 { "-" } else { "" };
    let abs = total.unsigned_abs();
    let whole = abs / NANOS_PER_SECOND as u128;
    let fraction = (abs % NANOS_PER_SECOND as u128) as i64;
    let mut fraction = format_fraction(fraction);
    while fraction.ends_with('0') {
        fraction.pop();
    }
    format!("P{months}M{days}DT{sign}{whole}{fraction}S")
}

/// The offsets `local` can have in `zone`, earliest instant first: one
/// normally, two in the hour repeated when clocks go back, none in the hour
/// skipped when they go forward. `None` when chrono-tz does not know the zone.
fn zone_offsets(zone: &str, local: &NaiveDateTime) -> Option<Vec<FixedOffset>> {
    let tz: chrono_tz::Tz = zone.parse().ok()?;
    Some(match tz.offset_from_local_datetime(local) {
        chrono::LocalResult::Single(o) => vec![o.fix()],
        chrono::LocalResult::Ambiguous(a, b) => vec![a.fix(), b.fix()],
        chrono::LocalResult::None => vec![],
    })
}

fn decode_list(items: &[Value], decode_item: fn(&Value) -> Result<BoltType>) -> Result<BoltType> {
    let decoded = items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Array(_) => Err(in_list(index, CodecError::NestedList)),
            Value::Null => Err(in_list(index, CodecError::BadListElement { kind: "null" })),
            other => decode_item(other).map_err(|e| in_list(index, e)),
        })
        .collect::<Result<Vec<_>>>()?;
    check_list(&decoded)?;
    Ok(BoltType::List(BoltList::from(decoded)))
}

fn decode_scalar(v: &Value) -> Result<BoltType> {
    match v {
        Value::Object(obj) => decode_tagged(obj),
        other => decode_legacy_scalar(other),
    }
}

fn decode_legacy_scalar(v: &Value) -> Result<BoltType> {
    match v {
        Value::Bool(b) => Ok(BoltType::Boolean(BoltBoolean::new(*b))),
        Value::Number(n) => decode_number(n),
        Value::String(s) => Ok(BoltType::String(BoltString::from(s.as_str()))),
        Value::Array(_) => Err(CodecError::NestedList),
        Value::Null => Err(CodecError::NotAProperty { kind: "null" }),
        Value::Object(_) => Err(CodecError::LegacyUnsupported {
            found: "a JSON object",
        }),
    }
}

/// The literal's form decides the type: `1` is an Integer and `1.0` a Float,
/// matching how [`encode`] writes them.
fn decode_number(n: &Number) -> Result<BoltType> {
    if let Some(i) = n.as_i64() {
        return Ok(BoltType::Integer(BoltInteger::new(i)));
    }
    if n.is_f64() {
        if let Some(f) = n.as_f64() {
            return Ok(BoltType::Float(BoltFloat::new(f)));
        }
    }
    let literal = n.to_string();
    if literal.contains(['.', 'e', 'E']) {
        Err(CodecError::FloatOutOfRange { literal })
    } else {
        Err(CodecError::IntegerOutOfRange { literal })
    }
}

/// The fields of one `$type` object, checked against what the type allows.
struct Tagged<'a> {
    type_name: &'static str,
    obj: &'a Map<String, Value>,
}

impl<'a> Tagged<'a> {
    fn new(
        type_name: &'static str,
        obj: &'a Map<String, Value>,
        allowed: &[&'static str],
    ) -> Result<Self> {
        if let Some(field) = obj
            .keys()
            .find(|k| *k != TYPE_KEY && !allowed.contains(&k.as_str()))
        {
            return Err(CodecError::UnexpectedField {
                type_name,
                field: field.clone(),
            });
        }
        Ok(Tagged { type_name, obj })
    }

    fn get(&self, field: &'static str) -> Result<&'a Value> {
        self.obj.get(field).ok_or(CodecError::MissingField {
            type_name: self.type_name,
            field,
        })
    }

    fn invalid(&self, field: &'static str, problem: impl Into<String>) -> CodecError {
        CodecError::InvalidField {
            type_name: self.type_name,
            field,
            problem: problem.into(),
        }
    }

    fn str(&self, field: &'static str) -> Result<&'a str> {
        self.get(field)?
            .as_str()
            .ok_or_else(|| self.invalid(field, "expected a string"))
    }

    fn int(&self, field: &'static str) -> Result<i64> {
        match self.get(field)? {
            Value::Number(n) => match decode_number(n) {
                Ok(BoltType::Integer(i)) => Ok(i.value),
                Ok(_) => Err(self.invalid(field, format!("expected an integer, found {n}"))),
                Err(e) => Err(self.invalid(field, e.to_string())),
            },
            other => Err(self.invalid(field, format!("expected an integer, found {other}"))),
        }
    }

    /// Coordinates are always floats, so an integer literal is taken as one.
    fn float(&self, field: &'static str) -> Result<BoltFloat> {
        let v = self.get(field)?;
        let f = match v {
            Value::Number(n) => n.as_f64(),
            Value::Object(obj) => match decode_tagged(obj) {
                Ok(BoltType::Float(f)) => Some(f.value),
                _ => None,
            },
            _ => None,
        };
        f.map(BoltFloat::new)
            .ok_or_else(|| self.invalid(field, format!("expected a float, found {v}")))
    }

    /// Parses the `"value"` string with `parse`, which consumes the whole text.
    fn parse_value<T>(&self, parse: impl FnOnce(&mut Scanner<'a>) -> Option<T>) -> Result<T> {
        let text = self.str("value")?;
        let mut scanner = Scanner(text);
        match parse(&mut scanner) {
            Some(v) if scanner.0.is_empty() => Ok(v),
            _ => Err(self.invalid(
                "value",
                format!("{text:?} is not a valid {}", self.type_name),
            )),
        }
    }
}

fn decode_tagged(obj: &Map<String, Value>) -> Result<BoltType> {
    let type_name = match obj.get(TYPE_KEY) {
        None => return Err(CodecError::MissingType),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(CodecError::UnknownType {
                type_name: other.to_string(),
            })
        }
    };
    match type_name {
        "Float" => {
            let t = Tagged::new("Float", obj, &["value"])?;
            let f = match t.str("value")? {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                other => {
                    return Err(t.invalid(
                        "value",
                        format!(
                            "{other:?} is not one of \"NaN\", \"Infinity\", \"-Infinity\" \
                             (finite floats are written as plain numbers)"
                        ),
                    ))
                }
            };
            Ok(BoltType::Float(BoltFloat::new(f)))
        }
        "Bytes" => {
            let t = Tagged::new("Bytes", obj, &["value"])?;
            let bytes = BASE64
                .decode(t.str("value")?)
                .map_err(|e| t.invalid("value", format!("not standard base64: {e}")))?;
            Ok(BoltType::Bytes(BoltBytes::new(bytes.into())))
        }
        "Date" => {
            let t = Tagged::new("Date", obj, &["value"])?;
            let date = t.parse_value(Scanner::date)?;
            Ok(BoltType::Date(BoltDate::from(date)))
        }
        "LocalTime" => {
            let t = Tagged::new("LocalTime", obj, &["value"])?;
            let time = t.parse_value(Scanner::time)?;
            Ok(BoltType::LocalTime(BoltLocalTime::from(time)))
        }
        "Time" => {
            let t = Tagged::new("Time", obj, &["value"])?;
            let (time, offset) = t.parse_value(|s| Some((s.time()?, s.offset()?)))?;
            Ok(BoltType::Time(BoltTime::from((time, offset))))
        }
        "LocalDateTime" => {
            let t = Tagged::new("LocalDateTime", obj, &["value"])?;
            let local = t.parse_value(Scanner::date_time)?;
            Ok(BoltType::LocalDateTime(BoltLocalDateTime::from(local)))
        }
        "DateTime" => decode_date_time(&Tagged::new("DateTime", obj, &["value"])?),
        "Duration" => {
            let t = Tagged::new(
                "Duration",
                obj,
                &["months", "days", "seconds", "nanoseconds", "value"],
            )?;
            let (months, days) = (t.int("months")?, t.int("days")?);
            let (seconds, nanos) = (t.int("seconds")?, t.int("nanoseconds")?);
            if t.obj.contains_key("value") {
                let expected = format_duration(months, days, seconds, nanos);
                let text = t.str("value")?;
                if text != expected {
                    return Err(t.invalid(
                        "value",
                        format!(
                            "{text:?} disagrees with the months, days, seconds and nanoseconds \
                             fields, which say {expected:?}; fix or remove \"value\""
                        ),
                    ));
                }
            }
            Ok(BoltType::Duration(BoltDuration::new(
                months.into(),
                days.into(),
                seconds.into(),
                nanos.into(),
            )))
        }
        "Point" => {
            let t = Tagged::new("Point", obj, &["srid", "x", "y", "z"])?;
            let srid = t.int("srid")?;
            let three_d = t.obj.contains_key("z");
            check_srid(srid, three_d).map_err(|problem| t.invalid("srid", problem))?;
            let sr_id = BoltInteger::new(srid);
            let (x, y) = (t.float("x")?, t.float("y")?);
            Ok(if three_d {
                let z = t.float("z")?;
                BoltType::Point3D(BoltPoint3D { sr_id, x, y, z })
            } else {
                BoltType::Point2D(BoltPoint2D { sr_id, x, y })
            })
        }
        other => Err(CodecError::UnknownType {
            type_name: format!("{other:?}"),
        }),
    }
}

/// The coordinate systems Neo4j knows, by dimension. A point with any other
/// SRID is stored by the server as given and then cannot be read back, so
/// the database could no longer be backed up.
fn check_srid(srid: i64, three_d: bool) -> std::result::Result<(), String> {
    match (srid, three_d) {
        (7203 | 4326, false) | (9157 | 4979, true) => Ok(()),
        (7203 | 4326, true) => Err(format!(
            "SRID {srid} is a 2D coordinate system but the point has a `z`"
        )),
        (9157 | 4979, false) => Err(format!(
            "SRID {srid} is a 3D coordinate system but the point has no `z`"
        )),
        _ => Err(format!(
            "SRID {srid} is not a coordinate system Neo4j knows (7203 cartesian, 9157 cartesian-3d, 4326 wgs-84, 4979 wgs-84-3d)"
        )),
    }
}

fn decode_date_time(t: &Tagged<'_>) -> Result<BoltType> {
    let (local, offset, zone) =
        t.parse_value(|s| Some((s.date_time()?, s.optional_offset()?, s.optional_zone()?)))?;
    match (offset, zone) {
        (Some(offset), None) => {
            let dt = offset
                .from_local_datetime(&local)
                .single()
                .ok_or_else(|| t.invalid("value", "the instant is outside the supported range"))?;
            Ok(BoltType::DateTime(BoltDateTime::from(dt)))
        }
        (offset, Some(zone)) => {
            if let (Some(offset), Some(valid)) = (offset, zone_offsets(zone, &local)) {
                if !valid.contains(&offset) {
                    let valid: Vec<String> = valid.into_iter().map(format_offset).collect();
                    return Err(t.invalid(
                        "value",
                        format!(
                            "offset {} is not the offset of {local} in {zone} (that is {})",
                            format_offset(offset),
                            if valid.is_empty() {
                                "none: the clocks skip that time".to_owned()
                            } else {
                                valid.join(" or ")
                            }
                        ),
                    ));
                }
            }
            Ok(BoltType::DateTimeZoneId(BoltDateTimeZoneId::from((
                local, zone,
            ))))
        }
        (None, None) => Err(t.invalid(
            "value",
            "a DateTime needs an offset or a [zone id]; zoneless values are LocalDateTime",
        )),
    }
}

/// A strict reader for the temporal strings [`encode`] writes. Each method
/// consumes what it recognises and returns `None` on anything else.
struct Scanner<'a>(&'a str);

impl<'a> Scanner<'a> {
    fn eat(&mut self, c: char) -> Option<()> {
        self.0 = self.0.strip_prefix(c)?;
        Some(())
    }

    fn digits(&mut self, min: usize, max: usize) -> Option<(&'a str, u32)> {
        let len = self.0.bytes().take_while(u8::is_ascii_digit).count();
        if len < min || len > max {
            return None;
        }
        let (digits, rest) = self.0.split_at(len);
        self.0 = rest;
        Some((digits, digits.parse().ok()?))
    }

    fn two(&mut self) -> Option<u32> {
        self.digits(2, 2).map(|(_, n)| n)
    }

    /// `2024-01-02`; years outside 0000..=9999 carry a sign (`+10000`, `-0001`).
    fn date(&mut self) -> Option<NaiveDate> {
        let negative = self.eat('-').is_some();
        let signed = negative || self.eat('+').is_some();
        let (_, year) = self.digits(4, if signed { 9 } else { 4 })?;
        let year = i32::try_from(year).ok()?;
        let year = if negative { -year } else { year };
        self.eat('-')?;
        let month = self.two()?;
        self.eat('-')?;
        NaiveDate::from_ymd_opt(year, month, self.two()?)
    }

    /// `12:34:56` with an optional fraction of one to nine digits.
    fn time(&mut self) -> Option<NaiveTime> {
        let hour = self.two()?;
        self.eat(':')?;
        let minute = self.two()?;
        self.eat(':')?;
        let second = self.two()?;
        let nanos = if self.eat('.').is_some() {
            let (digits, n) = self.digits(1, 9)?;
            n * 10u32.pow(9 - digits.len() as u32)
        } else {
            0
        };
        // Neo4j has no leap seconds, so 60 is as invalid as 61.
        if second > 59 {
            return None;
        }
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    }

    fn date_time(&mut self) -> Option<NaiveDateTime> {
        let date = self.date()?;
        self.eat('T')?;
        Some(date.and_time(self.time()?))
    }

    /// `Z`, `+01:00` or `-00:09:21`.
    fn offset(&mut self) -> Option<FixedOffset> {
        if self.eat('Z').is_some() {
            return FixedOffset::east_opt(0);
        }
        let sign = if self.eat('-').is_some() {
            -1
        } else {
            self.eat('+')?;
            1
        };
        let hours = self.two()?;
        self.eat(':')?;
        let minutes = self.two()?;
        let seconds = if self.eat(':').is_some() {
            self.two()?
        } else {
            0
        };
        if minutes > 59 || seconds > 59 {
            return None;
        }
        let total = i32::try_from(hours * 3600 + minutes * 60 + seconds).ok()?;
        // Neo4j's offsets run from -18:00 to +18:00.
        if total > 18 * 3600 {
            return None;
        }
        FixedOffset::east_opt(sign * total)
    }

    /// Outer `None` on a malformed offset, inner `None` when there is none.
    fn optional_offset(&mut self) -> Option<Option<FixedOffset>> {
        if self.0.is_empty() || self.0.starts_with('[') {
            Some(None)
        } else {
            self.offset().map(Some)
        }
    }

    fn optional_zone(&mut self) -> Option<Option<&'a str>> {
        if self.eat('[').is_none() {
            return Some(None);
        }
        let (zone, rest) = self.0.split_once(']')?;
        if zone.is_empty() {
            return None;
        }
        self.0 = rest;
        Some(Some(zone))
    }
}

#[cfg(test)]
mod tests;
