//! Access to the graph: how property values are written to and read from
//! backup files, and how names from those files are placed into Cypher text.

pub mod cypher;
pub mod value;
