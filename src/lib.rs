//! ign-setup installs, upgrades, backs up, restores and packages the Neo4j
//! database of the IGN Scripts learning system.
//!
//! Layers, each using only those below it:
//! `cli` → `lifecycle` → `restore`, `bundle` → `backup`, `migrations` →
//! `safety` (journal, lock) → `state`, `graph` → `config`, `error`.

pub mod backup;
pub mod bundle;
pub mod cli;
pub mod config;
pub mod error;
pub mod faults;
pub mod fsutil;
pub mod graph;
pub mod hash;
pub mod interrupt;
pub mod lifecycle;
pub mod log;
pub mod migrations;
pub mod progress;
pub mod restore;
pub mod safety;
pub mod state;

/// This tool's version, recorded in backups, manifests and migration history.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
