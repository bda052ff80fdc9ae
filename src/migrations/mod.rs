//! Migrations: the Cypher files that move the IGN database schema and data
//! from one release to the next, read and checked without a database.
//!
//! This module only reads, validates and prepares; running the statements and
//! recording what ran belong to the lifecycle engine above it.
//!
//! # Folder layout
//!
//! ```text
//! migrations/
//!   1.4.0/
//!     001_core_constraints.cypher
//!     002_core_indexes.cypher
//!   1.5.0/
//!     001_function_constraints.cypher
//!     002_backfill_function_module.cypher
//!     verify.cypher
//! ```
//!
//! - Each folder is named by the semantic version whose release needs it.
//!   Versions run in semver order (`1.10.0` after `1.9.0`); pre-releases such
//!   as `2.0.0-rc.1` are allowed and run before their release. Build metadata
//!   (`+...`) does not make a folder a different version.
//! - Migration files are named `NNN_name.cypher`: three or more digits, an
//!   underscore, a name. They run in file-name order.
//! - A file holds one or more statements separated by `;`. Schema statements
//!   (`CREATE INDEX`, `CREATE CONSTRAINT`, `DROP ...`) and data statements run
//!   in separate transactions, because Neo4j refuses to mix them; see
//!   [`classify()`] and [`group_into_transactions()`].
//! - Files not ending in `.cypher`, and hidden files, are ignored, so a
//!   `README.md` can sit next to the migrations.
//!
//! # Verify queries
//!
//! A version folder may hold a `verify.cypher` of validation queries that run
//! after the version's migrations. **Each verify query must return exactly one
//! row with a boolean column `ok` that is true**; anything else (no row,
//! several rows, no `ok` column, `ok` false or null) fails the upgrade. For
//! example:
//!
//! ```cypher
//! MATCH (f:Function) WHERE f.name STARTS WITH 'system.' AND f.module IS NULL
//! RETURN count(f) = 0 AS ok;
//! ```
//!
//! Verify queries must only read.
//!
//! # Portability
//!
//! The shipped migrations stick to Cypher that Neo4j 5.26 and the 2025 and
//! later releases accept under both `CYPHER 5` and `CYPHER 25` (the Cypher
//! gate in CI lints them): `CREATE CONSTRAINT name IF NOT EXISTS FOR
//! (n:Label) REQUIRE n.prop IS UNIQUE`, `CREATE INDEX name IF NOT EXISTS FOR
//! (n:Label) ON (n.prop)`, and `MATCH`/`MERGE`/`SET` for data, with no APOC.

mod catalog;
mod classify;
mod error;
mod scaffold;
mod split;

pub use catalog::{Catalog, Migration, VersionDir, MAX_FILE_SIZE, VERIFY_FILE};
pub use classify::{classify, group_into_transactions, Statement, StatementKind, TxGroup};
pub use error::MigrationError;
pub use scaffold::{scaffold, Scaffold};
pub use split::{
    split_statements, split_statements_with_lines, SplitError, SplitStatement, Unterminated,
};
