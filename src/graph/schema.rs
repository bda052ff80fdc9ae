//! The database's schema as the tool keeps it: every index (token lookup,
//! range, text, point, full-text, vector) and every constraint, with the
//! fields needed to recreate it exactly — entity type, labels or types,
//! properties, property type, the owned index, the index configuration — read
//! with `SHOW INDEXES YIELD *` / `SHOW CONSTRAINTS YIELD *`, so the same query
//! serves every Neo4j 5 and 2025+ server whatever columns it adds.
//!
//! The type names are kept as the server spells them: Cypher 5 says
//! `UNIQUENESS` / `RELATIONSHIP_UNIQUENESS`, Cypher 25 says
//! `NODE_PROPERTY_UNIQUENESS` / `RELATIONSHIP_PROPERTY_UNIQUENESS`; [`ConstraintKind`]
//! understands both. Recreating (statements rebuilt from these fields, never
//! from the server's `createStatement` text), checking what a server can take,
//! dropping and waiting for population live in [`ddl`].

pub mod ddl;

use std::fmt;

use neo4rs::{query, BoltType, Row};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::value;
use super::{Db, GraphError};

/// Labels of the tool's own bookkeeping: their schema is never backed up.
pub const EXCLUDED_LABELS: &[&str] = super::reserved::BOOKKEEPING_LABELS;

/// One index or constraint, as a backup records it.
///
/// Files of format 2.0.0 hold only `name`, `type`, `entity_type`,
/// `labels_or_types`, `properties` and `create_statement`; the other fields
/// are then absent (`index_config: None` means "not recorded", which differs
/// from a recorded empty configuration).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SchemaItem {
    pub name: String,
    /// As the server reports it: `RANGE`, `TEXT`, `POINT`, `FULLTEXT`,
    /// `VECTOR`, `LOOKUP` for indexes; `UNIQUENESS`, `NODE_PROPERTY_UNIQUENESS`,
    /// `NODE_KEY`, `NODE_PROPERTY_TYPE`, ... for constraints.
    #[serde(rename = "type")]
    pub kind: String,
    /// `NODE` or `RELATIONSHIP`.
    pub entity_type: String,
    /// Labels or relationship types covered (empty for a token lookup index).
    #[serde(default)]
    pub labels_or_types: Vec<String>,
    /// Property keys covered, in the index's order (empty for a lookup index).
    #[serde(default)]
    pub properties: Vec<String>,
    /// A property type constraint's type, as the server prints it (`STRING`,
    /// `INTEGER | FLOAT`, `LIST<STRING NOT NULL>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_type: Option<String>,
    /// A constraint's index (uniqueness and key constraints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_index: Option<String>,
    /// The index provider the server chose. Recorded for people: Neo4j
    /// picks the provider itself (the `indexProvider` option is deprecated
    /// in Cypher 5 and refused in Cypher 25), so it is never sent back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `options.indexConfig`, each value in the property codec's JSON
    /// (`1` an Integer, `1.0` a Float). `None`: not recorded (format 2.0.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_config: Option<Map<String, Value>>,
    /// True for a constraint that belongs to the database's graph type
    /// (Cypher 25 `classification` other than `undesignated`), which
    /// `CREATE CONSTRAINT` cannot recreate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub graph_type: bool,
    /// The server's own statement, for people. Never replayed: a file could
    /// carry any Cypher here.
    #[serde(default)]
    pub create_statement: String,
}

impl SchemaItem {
    pub fn entity(&self) -> Result<Entity, String> {
        match self.entity_type.to_ascii_uppercase().as_str() {
            "NODE" => Ok(Entity::Node),
            "RELATIONSHIP" => Ok(Entity::Relationship),
            other => Err(format!(
                "entity type `{other}` is neither NODE nor RELATIONSHIP"
            )),
        }
    }

    fn is_excluded(&self) -> bool {
        self.labels_or_types
            .iter()
            .any(|l| EXCLUDED_LABELS.contains(&l.as_str()))
    }
}

/// What a schema item is defined on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Node,
    Relationship,
}

/// The index types this tool can recreate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Range,
    Text,
    Point,
    Fulltext,
    Vector,
    Lookup,
}

impl IndexKind {
    pub fn parse(kind: &str) -> Result<IndexKind, String> {
        Ok(match kind.to_ascii_uppercase().as_str() {
            // BTREE: Neo4j 4.4's general index; RANGE took its place in 5.
            "RANGE" | "BTREE" => IndexKind::Range,
            "TEXT" => IndexKind::Text,
            "POINT" => IndexKind::Point,
            "FULLTEXT" => IndexKind::Fulltext,
            "VECTOR" => IndexKind::Vector,
            "LOOKUP" => IndexKind::Lookup,
            other => return Err(format!("index type {other} is not one ign-setup knows")),
        })
    }
}

/// What a constraint requires, whichever Cypher version named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    Key,
    Exists,
    PropertyType,
}

impl ConstraintKind {
    /// Parses a `SHOW CONSTRAINTS` type in its Cypher 5 or Cypher 25
    /// spelling (and Neo4j 4.4's), checked against the entity type.
    pub fn parse(kind: &str, entity: Entity) -> Result<ConstraintKind, String> {
        let upper = kind.to_ascii_uppercase();
        let (on, what) = match upper.as_str() {
            // Cypher 5 calls a node uniqueness constraint just UNIQUENESS.
            "UNIQUENESS" | "NODE_UNIQUENESS" | "NODE_PROPERTY_UNIQUENESS" => {
                (Entity::Node, ConstraintKind::Unique)
            }
            "RELATIONSHIP_UNIQUENESS" | "RELATIONSHIP_PROPERTY_UNIQUENESS" => {
                (Entity::Relationship, ConstraintKind::Unique)
            }
            "NODE_KEY" => (Entity::Node, ConstraintKind::Key),
            "RELATIONSHIP_KEY" => (Entity::Relationship, ConstraintKind::Key),
            "NODE_PROPERTY_EXISTENCE" => (Entity::Node, ConstraintKind::Exists),
            "RELATIONSHIP_PROPERTY_EXISTENCE" => (Entity::Relationship, ConstraintKind::Exists),
            "NODE_PROPERTY_TYPE" => (Entity::Node, ConstraintKind::PropertyType),
            "RELATIONSHIP_PROPERTY_TYPE" => (Entity::Relationship, ConstraintKind::PropertyType),
            "NODE_LABEL_EXISTENCE" | "RELATIONSHIP_SOURCE_LABEL" | "RELATIONSHIP_TARGET_LABEL" => {
                return Err(format!(
                    "constraint type {upper} is part of a Cypher 25 graph type, which ign-setup does not recreate"
                ))
            }
            other => return Err(format!("constraint type {other} is not one ign-setup knows")),
        };
        if on != entity {
            return Err(format!(
                "constraint type {upper} does not apply to a {}",
                entity.word()
            ));
        }
        Ok(what)
    }

    /// Constraints Neo4j Community Edition refuses.
    pub fn needs_enterprise(self) -> bool {
        !matches!(self, ConstraintKind::Unique)
    }
}

impl Entity {
    pub fn word(self) -> &'static str {
        match self {
            Entity::Node => "node",
            Entity::Relationship => "relationship",
        }
    }
}

/// Every index and constraint of a database, or of a backup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Schema {
    pub indexes: Vec<SchemaItem>,
    pub constraints: Vec<SchemaItem>,
    /// Whether the token lookup indexes are part of this schema (read from a
    /// server, or a file of format 3 or newer). Older files never recorded
    /// them, so a restore of one leaves the server's lookup indexes alone.
    #[serde(skip)]
    pub lookups_recorded: bool,
}

impl Schema {
    /// Indexes and constraints, token lookup indexes included.
    pub fn len(&self) -> usize {
        self.indexes.len() + self.constraints.len()
    }

    /// True when there is nothing but the built-in token lookup indexes,
    /// which every new database has: no schema of the user's own.
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty() && self.indexes.iter().all(is_lookup)
    }

    pub fn lookups(&self) -> impl Iterator<Item = &SchemaItem> {
        self.indexes.iter().filter(|i| is_lookup(i))
    }

    fn sort(&mut self) {
        self.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        self.constraints.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

pub fn is_lookup(item: &SchemaItem) -> bool {
    item.kind.eq_ignore_ascii_case("LOOKUP")
}

/// `index `name`` or `constraint `name``, for messages.
pub struct Described<'a>(pub &'a SchemaItem, pub bool);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (item, constraint) = (self.0, self.1);
        let what = if constraint { "constraint" } else { "index" };
        write!(f, "{what} `{}` ({}", item.name, item.kind)?;
        if !item.labels_or_types.is_empty() {
            let sep = if item.entity().ok() == Some(Entity::Relationship) {
                "|"
            } else {
                ":"
            };
            write!(f, " on {}{}", sep, item.labels_or_types.join(sep))?;
            if !item.properties.is_empty() {
                write!(f, "({})", item.properties.join(", "))?;
            }
        } else if is_lookup(item) {
            write!(f, " on every {}", item.entity_type.to_ascii_lowercase())?;
        }
        write!(f, ")")
    }
}

fn text(row: &Row, key: &str) -> Option<String> {
    match row.get::<BoltType>(key).ok()? {
        BoltType::String(s) => Some(s.value),
        _ => None,
    }
}

fn list(row: &Row, key: &str) -> Vec<String> {
    row.get::<Vec<String>>(key).unwrap_or_default()
}

/// `options.indexConfig` of a row as codec JSON, and the provider (a column
/// on 2025+, inside `options` on Neo4j 5).
fn options(row: &Row) -> Result<(Option<String>, Map<String, Value>), GraphError> {
    let mut provider = text(row, "indexProvider");
    let mut config = Map::new();
    if let Ok(BoltType::Map(options)) = row.get::<BoltType>("options") {
        for (key, v) in &options.value {
            match (key.value.as_str(), v) {
                ("indexProvider", BoltType::String(s)) => {
                    provider.get_or_insert_with(|| s.value.clone());
                }
                ("indexConfig", BoltType::Map(entries)) => {
                    for (k, v) in &entries.value {
                        let encoded = value::encode(v).map_err(|e| {
                            GraphError::Protocol(format!(
                                "index option `{}` has a value the backup cannot hold: {e}",
                                k.value
                            ))
                        })?;
                        config.insert(k.value.clone(), encoded);
                    }
                }
                _ => {}
            }
        }
    }
    Ok((provider, config))
}

/// Every index (token lookup indexes included, constraint-owned indexes
/// left to their constraint) and every constraint, sorted by name. The
/// tool's own lock label is left out.
pub async fn read_schema(db: &Db) -> Result<Schema, GraphError> {
    let mut schema = Schema {
        lookups_recorded: true,
        ..Schema::default()
    };
    for r in db.rows(query("SHOW CONSTRAINTS YIELD *")).await? {
        let (provider, config) = options(&r)?;
        let item = SchemaItem {
            name: text(&r, "name").unwrap_or_default(),
            kind: text(&r, "type").unwrap_or_default(),
            entity_type: text(&r, "entityType").unwrap_or_default(),
            labels_or_types: list(&r, "labelsOrTypes"),
            properties: list(&r, "properties"),
            property_type: text(&r, "propertyType"),
            owned_index: text(&r, "ownedIndex"),
            provider: if text(&r, "ownedIndex").is_some() {
                provider
            } else {
                None
            },
            index_config: Some(config),
            graph_type: text(&r, "classification")
                .is_some_and(|c| !c.eq_ignore_ascii_case("undesignated")),
            create_statement: text(&r, "createStatement").unwrap_or_default(),
        };
        if !item.is_excluded() {
            schema.constraints.push(item);
        }
    }
    for r in db.rows(query("SHOW INDEXES YIELD *")).await? {
        if text(&r, "owningConstraint").is_some() {
            continue;
        }
        let (provider, config) = options(&r)?;
        let item = SchemaItem {
            name: text(&r, "name").unwrap_or_default(),
            kind: text(&r, "type").unwrap_or_default(),
            entity_type: text(&r, "entityType").unwrap_or_default(),
            labels_or_types: list(&r, "labelsOrTypes"),
            properties: list(&r, "properties"),
            property_type: None,
            owned_index: None,
            provider,
            index_config: Some(config),
            graph_type: false,
            create_statement: text(&r, "createStatement").unwrap_or_default(),
        };
        if !item.is_excluded() {
            schema.indexes.push(item);
        }
    }
    schema.sort();
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_uniqueness_spellings_are_one_kind() {
        for (kind, entity) in [
            ("UNIQUENESS", Entity::Node),
            ("NODE_PROPERTY_UNIQUENESS", Entity::Node),
            ("NODE_UNIQUENESS", Entity::Node),
            ("RELATIONSHIP_UNIQUENESS", Entity::Relationship),
            ("RELATIONSHIP_PROPERTY_UNIQUENESS", Entity::Relationship),
        ] {
            assert_eq!(
                ConstraintKind::parse(kind, entity),
                Ok(ConstraintKind::Unique),
                "{kind}"
            );
        }
        assert_eq!(
            ConstraintKind::parse("RELATIONSHIP_KEY", Entity::Relationship),
            Ok(ConstraintKind::Key)
        );
        assert_eq!(
            ConstraintKind::parse("node_property_type", Entity::Node),
            Ok(ConstraintKind::PropertyType)
        );
    }

    #[test]
    fn a_type_on_the_wrong_entity_or_of_a_graph_type_is_refused() {
        let e = ConstraintKind::parse("RELATIONSHIP_KEY", Entity::Node).unwrap_err();
        assert!(e.contains("does not apply to a node"), "{e}");
        let e = ConstraintKind::parse("NODE_LABEL_EXISTENCE", Entity::Node).unwrap_err();
        assert!(e.contains("graph type"), "{e}");
        assert!(ConstraintKind::parse("WHATEVER", Entity::Node).is_err());
    }

    #[test]
    fn lookup_indexes_are_not_user_schema() {
        let lookup = SchemaItem {
            name: "index_343aff4e".into(),
            kind: "LOOKUP".into(),
            entity_type: "NODE".into(),
            labels_or_types: vec![],
            properties: vec![],
            property_type: None,
            owned_index: None,
            provider: Some("token-lookup-1.0".into()),
            index_config: Some(Map::new()),
            graph_type: false,
            create_statement: String::new(),
        };
        let mut s = Schema {
            indexes: vec![lookup.clone()],
            ..Schema::default()
        };
        assert!(s.is_empty());
        assert_eq!(s.len(), 1);
        assert_eq!(
            Described(&lookup, false).to_string(),
            "index `index_343aff4e` (LOOKUP on every node)"
        );
        s.indexes.push(SchemaItem {
            name: "r".into(),
            kind: "RANGE".into(),
            labels_or_types: vec!["A".into()],
            properties: vec!["x".into(), "y".into()],
            ..lookup
        });
        assert!(!s.is_empty());
        assert_eq!(
            Described(&s.indexes[1], false).to_string(),
            "index `r` (RANGE on :A(x, y))"
        );
    }

    #[test]
    fn format_2_items_read_with_nothing_recorded() {
        let item: SchemaItem = serde_json::from_value(serde_json::json!({
            "name": "f", "type": "RANGE", "entity_type": "NODE",
            "labels_or_types": ["F"], "properties": ["a"], "create_statement": "x"
        }))
        .unwrap();
        assert_eq!(item.index_config, None);
        assert_eq!(item.owned_index, None);
        assert!(!item.graph_type);
        let back = serde_json::to_value(&item).unwrap();
        assert!(back.get("index_config").is_none() && back.get("graph_type").is_none());
    }
}
