//! How many nodes and relationships the database holds, per label and per
//! type, answered from Neo4j's count store instead of by scanning.
//!
//! Neo4j keeps counts of all nodes, of nodes per label, of all relationships
//! and of relationships per type; it plans exactly the shapes
//! `MATCH (n) RETURN count(n)`, `MATCH (n:L) RETURN count(n)` and
//! `MATCH ()-[r:T]->() RETURN count(r)` as look-ups in that store. Anything
//! else (`WHERE NOT n:X`, `UNWIND labels(n)`, `type(r)`) scans every entity,
//! which on a large database takes minutes. So counts here are built from
//! those shapes only: the labels and types in use come from `db.labels()` and
//! `db.relationshipTypes()`, and the tool's own lease node is subtracted.

use std::collections::BTreeMap;

use neo4rs::query;

use super::cypher::escape_name;
use super::reserved::BOOKKEEPING_LABELS;
use super::{Db, GraphError};

/// Entity counts of the user's data (the tool's bookkeeping nodes excluded).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Default)]
pub struct Counts {
    pub node_count: u64,
    pub relationship_count: u64,
    pub label_counts: BTreeMap<String, u64>,
    pub relationship_type_counts: BTreeMap<String, u64>,
}

/// Nodes, the tool's bookkeeping nodes not counted.
pub async fn node_count(db: &Db) -> Result<u64, GraphError> {
    let all = db.count("MATCH (n) RETURN count(n) AS c").await?;
    Ok(all.saturating_sub(bookkeeping_nodes(db).await?))
}

/// Relationships.
pub async fn relationship_count(db: &Db) -> Result<u64, GraphError> {
    db.count("MATCH ()-[r]->() RETURN count(r) AS c").await
}

async fn bookkeeping_nodes(db: &Db) -> Result<u64, GraphError> {
    let mut n = 0;
    for l in BOOKKEEPING_LABELS {
        n += label_count(db, l).await?;
    }
    Ok(n)
}

/// Nodes with `label`. A name that cannot be quoted into Cypher (see
/// [`escape_name`]) is counted by a scan with the name as a parameter.
async fn label_count(db: &Db, label: &str) -> Result<u64, GraphError> {
    match escape_name(label) {
        Ok(l) => {
            db.count(&format!("MATCH (n:{l}) RETURN count(n) AS c"))
                .await
        }
        Err(_) => {
            db.count_query(
                query("MATCH (n) WHERE $name IN labels(n) RETURN count(n) AS c")
                    .param("name", label),
            )
            .await
        }
    }
}

/// Relationships of type `t`, as [`label_count`] for nodes.
async fn type_count(db: &Db, t: &str) -> Result<u64, GraphError> {
    match escape_name(t) {
        Ok(t) => {
            db.count(&format!("MATCH ()-[r:{t}]->() RETURN count(r) AS c"))
                .await
        }
        Err(_) => {
            db.count_query(
                query("MATCH ()-[r]->() WHERE type(r) = $name RETURN count(r) AS c")
                    .param("name", t),
            )
            .await
        }
    }
}

/// Totals and the counts per label and per relationship type; labels and
/// types without entities are left out.
pub async fn counts(db: &Db) -> Result<Counts, GraphError> {
    let mut c = Counts::default();
    for label in names(db, "CALL db.labels() YIELD label RETURN label AS name").await? {
        if BOOKKEEPING_LABELS.contains(&label.as_str()) {
            continue;
        }
        let n = label_count(db, &label).await?;
        if n > 0 {
            c.label_counts.insert(label, n);
        }
    }
    for t in names(
        db,
        "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS name",
    )
    .await?
    {
        let n = type_count(db, &t).await?;
        if n > 0 {
            c.relationship_type_counts.insert(t, n);
        }
    }
    c.node_count = node_count(db).await?;
    c.relationship_count = relationship_count(db).await?;
    Ok(c)
}

async fn names(db: &Db, cypher: &str) -> Result<Vec<String>, GraphError> {
    Ok(db
        .rows(query(cypher))
        .await?
        .iter()
        .filter_map(|r| r.get::<String>("name").ok())
        .collect())
}
