//! Access to the graph: how names from backup files are placed into Cypher
//! text.

pub mod cypher;
