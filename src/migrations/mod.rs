//! Migrations: the Cypher files that move the IGN database schema and data
//! from one release to the next, read and checked without a database.

mod classify;
mod split;

pub use classify::{classify, group_into_transactions, Statement, StatementKind, TxGroup};
pub use split::{
    split_statements, split_statements_with_lines, SplitError, SplitStatement, Unterminated,
};
