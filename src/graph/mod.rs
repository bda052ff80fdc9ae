//! Graph access: the connection to Neo4j, the value codec between Bolt values
//! and the backup file, the schema (reading, rebuilding and checking index and
//! constraint statements), and the one function that escapes names into Cypher.

pub mod connect;
pub mod counts;
pub mod cypher;
pub mod error;
pub mod querylog;
pub mod reserved;
pub mod schema;
pub mod snapshot;
pub mod value;

pub use connect::{Db, Origin, ServerInfo, FETCH_SIZE};
pub use cypher::{escape_name, label_expr, CypherName, NameError};
pub use error::GraphError;

pub use reserved::{LOCK_LABEL, MIGRATION_LABEL, VERSION_LABEL};
