//! ign-setup installs, upgrades, backs up, restores and packages the Neo4j
//! database of the IGN Scripts learning system.
//!
//! Layers, each using only those below it:
//! `cli` → `lifecycle`, `drill`, `schedule`, `metrics` → `operation` (lock,
//! journal, protection, rollback, recovery) → `restore`, `bundle` →
//! `backup`, `migrations` → `safety` (journal, lock) → `state`, `graph` →
//! `config` → `retention` (pure policy), `exit` (the exit codes and error
//! kinds every error maps to). `error` gathers the areas' errors for `cli`.

pub mod backup;
pub mod bundle;
pub mod cli;
pub mod config;
pub mod drill;
pub mod error;
pub mod exit;
pub mod faults;
pub mod fsutil;
pub mod graph;
pub mod hash;
pub mod interrupt;
pub mod lifecycle;
pub mod log;
pub mod metrics;
pub mod migrations;
pub mod operation;
pub mod progress;
pub mod restore;
pub mod retention;
pub mod safety;
pub mod schedule;
pub mod state;
pub mod text;

/// This tool's version, recorded in backups, manifests and migration history.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
