//! The schema side of replacing a database: drop what the database has
//! (before its data is deleted, tolerating what the server will not drop),
//! put the backup's token lookup indexes in place before loading, recreate
//! the other indexes and constraints after it, wait for their population,
//! and compare the result with the backup.
//!
//! Statements are rebuilt by [`crate::graph::schema::ddl`] from the backup's
//! structured fields; the file's `create_statement` text is never replayed.
//! Whether a server can take every item is decided before anything changes
//! ([`crate::graph::schema::ddl::check_recreatable`], called by the plans).

use serde::Serialize;

use super::{LoadPurpose, RestoreError};
use crate::graph::schema::ddl::{self, SchemaGap};
use crate::graph::schema::{is_lookup, read_schema, ConstraintKind, Schema, SchemaItem};
use crate::graph::{Db, GraphError};

#[derive(Debug, Clone, Serialize, Default)]
pub struct SchemaOutcome {
    /// Names of the indexes and constraints created.
    pub created: Vec<String>,
    /// What the backup has and the database now lacks, and why.
    pub not_recreated: Vec<SchemaGap>,
    /// Items of the replaced database the server would not drop.
    pub not_dropped: Vec<SchemaGap>,
    /// Differences a person may want to know of (an option the server
    /// reports differently, a format that did not record options).
    pub warnings: Vec<String>,
}

/// What a restore must leave of the live database's lookup indexes: those
/// the backup has too (same name and entity type) stay, the others go. A
/// backup that never recorded them (format 1 and 2) leaves them all.
fn keep_lookup(live: &SchemaItem, target: &Schema) -> bool {
    !target.lookups_recorded
        || target
            .lookups()
            .any(|t| t.name == live.name && t.entity_type == live.entity_type)
}

/// Drops every constraint and index of the live database (before its data
/// is deleted). A DROP the server refuses (a Cypher 25 graph-type
/// constraint, a role without the privilege) is recorded and the rest go
/// on: the data is still there, and the comparison after loading shows
/// what it means.
pub async fn drop_schema(db: &Db, target: &Schema) -> Result<Vec<SchemaGap>, GraphError> {
    let current = read_schema(db).await?;
    let mut refused = Vec::new();
    let items = current
        .constraints
        .iter()
        .map(|c| (c, true))
        .chain(current.indexes.iter().map(|i| (i, false)));
    for (item, constraint) in items {
        if !constraint && is_lookup(item) && keep_lookup(item, target) {
            continue;
        }
        let stmt = match ddl::drop_statement(item, constraint) {
            Ok(text) => ddl::Statement {
                text,
                params: Vec::new(),
            },
            Err(reason) => {
                refused.push(SchemaGap::new(item, constraint, reason));
                continue;
            }
        };
        match ddl::run_ddl(db, &stmt).await {
            Ok(()) => {}
            Err(e) if e.is_connection() => return Err(e),
            Err(e) => refused.push(SchemaGap::new(item, constraint, e.to_string())),
        }
    }
    Ok(refused)
}

/// An empty database still has its token lookup indexes: puts back any
/// that a failed restore removed (the server names them).
pub async fn ensure_default_lookups(db: &Db) -> Result<(), GraphError> {
    let current = read_schema(db).await?;
    for (entity, text) in [
        (
            "NODE",
            "CREATE LOOKUP INDEX IF NOT EXISTS FOR (n) ON EACH labels(n)",
        ),
        (
            "RELATIONSHIP",
            "CREATE LOOKUP INDEX IF NOT EXISTS FOR ()-[r]-() ON EACH type(r)",
        ),
    ] {
        if !current.lookups().any(|l| l.entity_type == entity) {
            let stmt = ddl::Statement {
                text: text.to_owned(),
                params: Vec::new(),
            };
            ddl::run_ddl(db, &stmt).await?;
        }
    }
    Ok(())
}

fn skipped<'a>(
    gaps: &'a [SchemaGap],
    item: &SchemaItem,
    constraint: bool,
) -> Option<&'a SchemaGap> {
    let kind = if constraint { "constraint" } else { "index" };
    gaps.iter().find(|g| g.name == item.name && g.kind == kind)
}

/// Creates the backup's lookup indexes, on the still empty database (no
/// population to wait for).
pub async fn create_lookups(
    db: &Db,
    schema: &Schema,
    out: &mut SchemaOutcome,
) -> Result<(), RestoreError> {
    if !schema.lookups_recorded {
        return Ok(());
    }
    for item in schema.lookups() {
        create_one(db, item, false, out, LoadPurpose::Restore).await?;
    }
    Ok(())
}

async fn create_one(
    db: &Db,
    item: &SchemaItem,
    constraint: bool,
    out: &mut SchemaOutcome,
    purpose: LoadPurpose,
) -> Result<(), RestoreError> {
    let refused = match ddl::create_statement(item, constraint) {
        Err(reason) => reason,
        Ok(stmt) => match ddl::run_ddl(db, &stmt).await {
            Ok(()) => {
                out.created.push(item.name.clone());
                return Ok(());
            }
            Err(e) if e.is_connection() => return Err(e.into()),
            Err(e) => e.to_string(),
        },
    };
    if purpose == LoadPurpose::Rollback {
        // A rollback keeps going: the data matters more than one index.
        out.not_recreated
            .push(SchemaGap::new(item, constraint, refused));
        return Ok(());
    }
    Err(RestoreError::Schema(format!(
        "{}: {refused}",
        crate::graph::schema::Described(item, constraint)
    )))
}

/// Creates the backup's constraints (they bring their own indexes), then its
/// other indexes, each in its own transaction, and waits until every index
/// is online. Items in `skip` (what the plan found this server cannot
/// recreate, accepted with `--allow-schema-loss`) are not tried. In a
/// restore any failure is an error (and the restore rolls back); a rollback
/// records it and goes on.
pub async fn apply_schema(
    db: &Db,
    schema: &Schema,
    skip: &[SchemaGap],
    purpose: LoadPurpose,
    out: &mut SchemaOutcome,
) -> Result<(), RestoreError> {
    let items = schema.constraints.iter().map(|c| (c, true)).chain(
        schema
            .indexes
            .iter()
            .filter(|i| !is_lookup(i))
            .map(|i| (i, false)),
    );
    for (item, constraint) in items {
        if let Some(gap) = skipped(skip, item, constraint) {
            out.not_recreated.push(gap.clone());
            continue;
        }
        if item.index_config.is_none()
            && ["VECTOR", "FULLTEXT", "POINT"]
                .iter()
                .any(|k| item.kind.eq_ignore_ascii_case(k))
        {
            out.warnings.push(format!(
                "{}: recreated with this server's default options (the backup's format did not record them)",
                crate::graph::schema::Described(item, constraint)
            ));
        }
        create_one(db, item, constraint, out, purpose).await?;
    }
    match ddl::await_indexes(db).await? {
        Ok(()) => Ok(()),
        Err(e) if purpose == LoadPurpose::Rollback => {
            out.warnings.push(e.to_string());
            Ok(())
        }
        Err(e) => Err(RestoreError::Schema(e.to_string())),
    }
}

/// The fields that must agree between a backup's item and the database's.
fn definition(item: &SchemaItem, constraint: bool) -> String {
    let kind = match item.entity() {
        Ok(entity) if constraint => match ConstraintKind::parse(&item.kind, entity) {
            Ok(k) => format!("{k:?}"),
            Err(_) => item.kind.clone(),
        },
        _ => item.kind.to_ascii_uppercase(),
    };
    let property_type = item
        .property_type
        .as_deref()
        .map(|t| ddl::property_type(t).unwrap_or_else(|_| t.to_owned()));
    format!(
        "{kind} {} {:?} {:?} {property_type:?}",
        item.entity_type, item.labels_or_types, item.properties
    )
}

/// Compares the database's schema with the backup's, for the items that
/// were to be recreated. A missing or different definition is returned as a
/// problem; a different index configuration (a server of another version
/// spells some options its own way) is a warning.
pub async fn compare(
    db: &Db,
    schema: &Schema,
    out: &mut SchemaOutcome,
) -> Result<Vec<String>, GraphError> {
    let live = read_schema(db).await?;
    let mut problems = Vec::new();
    let pairs = [
        (&schema.constraints, &live.constraints, true),
        (&schema.indexes, &live.indexes, false),
    ];
    for (wanted, have, constraint) in pairs {
        for item in wanted {
            if is_lookup(item) && !schema.lookups_recorded {
                continue;
            }
            if out.not_recreated.iter().any(|g| g.name == item.name) {
                continue;
            }
            let described = crate::graph::schema::Described(item, constraint);
            let Some(found) = have.iter().find(|h| h.name == item.name) else {
                problems.push(format!("{described} is missing"));
                continue;
            };
            if definition(item, constraint) != definition(found, constraint) {
                problems.push(format!(
                    "{described} is defined differently: the database has {}",
                    crate::graph::schema::Described(found, constraint)
                ));
                continue;
            }
            if let (Some(a), Some(b)) = (&item.index_config, &found.index_config) {
                if a != b {
                    out.warnings.push(format!(
                        "{described}: the server reports the options {} where the backup has {}",
                        serde_json::Value::Object(b.clone()),
                        serde_json::Value::Object(a.clone())
                    ));
                }
            }
        }
    }
    Ok(problems)
}
