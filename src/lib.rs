//! ign-setup: installs, upgrades, backs up, restores and packages the IGN Scripts Neo4j database.
pub mod bundle;
