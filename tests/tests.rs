//! The integration tests: one binary (it builds once), one module per capability.
//! They run the real `ign-setup` binary against a real Bolt server (see `support`).

mod support;

#[path = "doctor.rs"]
mod doctor;
#[path = "restore.rs"]
mod restore;

#[path = "hostile.rs"]
mod hostile;
#[path = "reliability.rs"]
mod reliability;

#[path = "backup.rs"]
mod backup;

#[path = "lifecycle.rs"]
mod lifecycle;

#[path = "neo4j.rs"]
mod neo4j;
#[path = "schema.rs"]
mod schema;

#[path = "ops.rs"]
mod ops;

#[path = "operator.rs"]
mod operator;

// One test per exit code of the README's table.
#[path = "exit_codes.rs"]
mod exit_codes;
// Snapshots of help texts and --json documents (insta).
mod snapshots;
// The --json document of every command (insta).
#[path = "json_docs.rs"]
mod json_docs;
