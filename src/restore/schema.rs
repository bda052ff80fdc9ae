//! Recreating indexes and constraints from a backup. The backup's
//! `create_statement` text is never replayed: a file could carry any Cypher
//! there. Statements are rebuilt from the structured fields with every name
//! escaped; definitions we cannot rebuild are reported, never dropped silently.

use neo4rs::query;
use serde::Serialize;

use crate::backup::format::{Schema, SchemaItem};
use crate::graph::{escape_name, Db, NameError};

#[derive(Debug, Clone, Serialize, Default)]
pub struct SchemaOutcome {
    pub created: Vec<String>,
    /// `name: reason` for each definition this server did not take.
    pub not_created: Vec<String>,
}

fn pattern(item: &SchemaItem, var: &str) -> Result<String, String> {
    let names = item
        .labels_or_types
        .iter()
        .map(|l| escape_name(l).map(|n| n.to_string()))
        .collect::<Result<Vec<_>, NameError>>()
        .map_err(|e| e.to_string())?;
    if names.is_empty() {
        return Err("no label or relationship type".into());
    }
    let rel = item.entity_type.eq_ignore_ascii_case("RELATIONSHIP");
    let multi = item.kind.eq_ignore_ascii_case("FULLTEXT");
    if names.len() > 1 && !multi {
        return Err("more than one label on a non-fulltext definition".into());
    }
    let joined = names.join("|");
    Ok(if rel {
        format!("()-[{var}:{joined}]-()")
    } else {
        format!("({var}:{joined})")
    })
}

fn props(item: &SchemaItem, var: &str) -> Result<Vec<String>, String> {
    if item.properties.is_empty() {
        return Err("no properties".into());
    }
    item.properties
        .iter()
        .map(|p| {
            escape_name(p)
                .map(|n| format!("{var}.{n}"))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// The Cypher 5 statement that recreates `item`, or why there is none.
pub fn statement_for(item: &SchemaItem, constraint: bool) -> Result<String, String> {
    let name = escape_name(&item.name).map_err(|e| e.to_string())?;
    let rel = item.entity_type.eq_ignore_ascii_case("RELATIONSHIP");
    let var = if rel { "r" } else { "n" };
    let pat = pattern(item, var)?;
    let ps = props(item, var)?;
    let tuple = if ps.len() == 1 {
        ps[0].clone()
    } else {
        format!("({})", ps.join(", "))
    };
    let kind = item.kind.to_ascii_uppercase();
    if constraint {
        let requirement = match kind.as_str() {
            "UNIQUENESS" | "NODE_UNIQUENESS" | "RELATIONSHIP_UNIQUENESS" => "IS UNIQUE".to_owned(),
            "NODE_KEY" | "RELATIONSHIP_KEY" => "IS KEY".to_owned(),
            "NODE_PROPERTY_EXISTENCE" | "RELATIONSHIP_PROPERTY_EXISTENCE" => {
                if ps.len() != 1 {
                    return Err("existence constraint on several properties".into());
                }
                "IS NOT NULL".to_owned()
            }
            other => {
                return Err(format!(
                    "constraint type {other} cannot be recreated by ign-setup"
                ))
            }
        };
        let requirement = if kind == "NODE_KEY" {
            "IS NODE KEY".to_owned()
        } else {
            requirement
        };
        return Ok(format!(
            "CREATE CONSTRAINT {name} IF NOT EXISTS FOR {pat} REQUIRE {tuple} {requirement}"
        ));
    }
    match kind.as_str() {
        "RANGE" | "BTREE" => Ok(format!(
            "CREATE INDEX {name} IF NOT EXISTS FOR {pat} ON ({})",
            ps.join(", ")
        )),
        "TEXT" => Ok(format!(
            "CREATE TEXT INDEX {name} IF NOT EXISTS FOR {pat} ON ({})",
            ps.join(", ")
        )),
        "POINT" => Ok(format!(
            "CREATE POINT INDEX {name} IF NOT EXISTS FOR {pat} ON ({})",
            ps.join(", ")
        )),
        "FULLTEXT" => Ok(format!(
            "CREATE FULLTEXT INDEX {name} IF NOT EXISTS FOR {pat} ON EACH [{}]",
            ps.join(", ")
        )),
        other => Err(format!(
            "index type {other} cannot be recreated by ign-setup (its options are not kept)"
        )),
    }
}

/// Creates constraints first (they bring their own indexes), then indexes,
/// each in its own transaction: Neo4j refuses schema and data changes together.
pub async fn apply_schema(db: &Db, schema: &Schema) -> SchemaOutcome {
    let mut out = SchemaOutcome::default();
    let items = schema
        .constraints
        .iter()
        .map(|c| (c, true))
        .chain(schema.indexes.iter().map(|i| (i, false)));
    for (item, constraint) in items {
        match statement_for(item, constraint) {
            Ok(stmt) => match db.run(query(&stmt)).await {
                Ok(()) => out.created.push(item.name.clone()),
                Err(e) => out.not_created.push(format!("{}: {e}", item.name)),
            },
            Err(reason) => out.not_created.push(format!("{}: {reason}", item.name)),
        }
    }
    out
}

/// Drops every user index and constraint (not the built-in lookup indexes).
pub async fn drop_schema(db: &Db) -> Result<(), crate::graph::GraphError> {
    let current = crate::backup::create::read_schema(db).await?;
    // Plain indexes first: ArcadeDB reports the property type it inferred for
    // an indexed property as a constraint that cannot be dropped while the
    // index exists. On Neo4j the order does not matter (indexes owned by a
    // constraint are not in this list; they go with their constraint).
    for i in &current.indexes {
        if let Ok(n) = escape_name(&i.name) {
            db.run(query(&format!("DROP INDEX {n} IF EXISTS"))).await?;
        }
    }
    for c in &current.constraints {
        if let Ok(n) = escape_name(&c.name) {
            db.run(query(&format!("DROP CONSTRAINT {n} IF EXISTS")))
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, entity: &str, labels: &[&str], props: &[&str]) -> SchemaItem {
        SchemaItem {
            name: "my `idx".into(),
            kind: kind.into(),
            entity_type: entity.into(),
            labels_or_types: labels.iter().map(|s| s.to_string()).collect(),
            properties: props.iter().map(|s| s.to_string()).collect(),
            create_statement: "MATCH (n) DETACH DELETE n".into(),
        }
    }

    #[test]
    fn rebuilds_statements_with_escaped_names_and_ignores_the_file_text() {
        let s = statement_for(&item("RANGE", "NODE", &["Func`tion"], &["na me"]), false).unwrap();
        assert_eq!(
            s,
            "CREATE INDEX `my ``idx` IF NOT EXISTS FOR (n:`Func``tion`) ON (n.`na me`)"
        );
        let s = statement_for(&item("UNIQUENESS", "NODE", &["F"], &["a", "b"]), true).unwrap();
        assert_eq!(s, "CREATE CONSTRAINT `my ``idx` IF NOT EXISTS FOR (n:`F`) REQUIRE (n.`a`, n.`b`) IS UNIQUE");
        let s = statement_for(&item("RANGE", "RELATIONSHIP", &["USES"], &["w"]), false).unwrap();
        assert_eq!(
            s,
            "CREATE INDEX `my ``idx` IF NOT EXISTS FOR ()-[r:`USES`]-() ON (r.`w`)"
        );
        assert!(!s.contains("DETACH"));
    }

    #[test]
    fn unknown_kinds_are_reported() {
        assert!(statement_for(&item("VECTOR", "NODE", &["F"], &["e"]), false).is_err());
        assert!(statement_for(&item("NODE_PROPERTY_TYPE", "NODE", &["F"], &["e"]), true).is_err());
        assert!(statement_for(&item("RANGE", "NODE", &["F"], &[]), false).is_err());
    }
}
