//! Migrations: the Cypher files that move the IGN database schema and data
//! from one release to the next, read and checked without a database.

mod split;

pub use split::{
    split_statements, split_statements_with_lines, SplitError, SplitStatement, Unterminated,
};
