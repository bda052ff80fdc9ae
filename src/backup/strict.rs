//! JSON values read the strict way: an object that names a member twice is
//! refused, with where it is (`data.nodes[3].properties`). serde_json keeps
//! the last of duplicate members, so a crafted file could show one value to a
//! reader of the text and load another.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The member name under which serde_json (with `arbitrary_precision`)
/// passes a number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Where a value sits in the file; formatted only when something is wrong.
#[derive(Clone, Copy)]
pub(crate) enum JsonPath<'a> {
    Root(&'a str),
    Member(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root(r) => f.write_str(r),
            JsonPath::Member(p, k) => write!(f, "{p}.{k}"),
            JsonPath::Index(p, i) => write!(f, "{p}[{i}]"),
        }
    }
}

/// Deserializes a [`Value`], refusing duplicate members anywhere inside.
pub(crate) struct Strict<'a>(pub JsonPath<'a>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(Strict(JsonPath::Index(&self.0, items.len())))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            if first && key == NUMBER_TOKEN {
                // serde_json's arbitrary precision hands a number over as a
                // one-member map holding its text.
                let text: String = map.next_value()?;
                return text
                    .parse::<Number>()
                    .map(Value::Number)
                    .map_err(de::Error::custom);
            }
            first = false;
            if obj.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "`{}` names the member `{key}` twice; a backup never does (the file was crafted or edited) — use another backup",
                    self.0
                )));
            }
            let v = map.next_value_seed(Strict(JsonPath::Member(&self.0, &key)))?;
            obj.insert(key, v);
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Value, String> {
        let mut d = serde_json::Deserializer::from_str(text);
        Strict(JsonPath::Root("data.nodes[3]"))
            .deserialize(&mut d)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn duplicates_are_refused_with_their_path() {
        assert_eq!(
            read(r#"{"a": [1, {"b": null}], "c": 1.5}"#).unwrap(),
            serde_json::json!({"a": [1, {"b": null}], "c": 1.5})
        );
        let e = read(r#"{"labels": ["A"], "labels": ["B"]}"#).unwrap_err();
        assert!(
            e.starts_with("`data.nodes[3]` names the member `labels` twice"),
            "{e}"
        );
        let e = read(r#"{"properties": {"k": 1, "k": 2}}"#).unwrap_err();
        assert!(
            e.contains("`data.nodes[3].properties` names the member `k` twice"),
            "{e}"
        );
        let e = read(r#"{"p": {"l": [{"$type": "Date", "$type": "Float"}]}}"#).unwrap_err();
        assert!(
            e.contains("`data.nodes[3].p.l[0]` names the member `$type` twice"),
            "{e}"
        );
        // Large integers keep their exactness.
        assert_eq!(
            read("18446744073709551615").unwrap(),
            serde_json::json!(u64::MAX)
        );
    }
}
