//! The labels of the tool's own nodes, in one place.
//!
//! Two kinds. Bookkeeping nodes (the operation lock's lease, the marker of an
//! unfinished operation) describe what the tool is doing to the database, not
//! the user's data: backups leave them out, a restore's clear leaves them in
//! place, counts skip them. The temporary label older releases put on nodes
//! while loading is not bookkeeping, but it means "this load did not finish"
//! to every later check. A backup that carries any of them could make a
//! restore plant a lease or a marker that blocks every later command, so
//! verification refuses it.
//!
//! `IgnSetupVersion` and `IgnSetupMigration` (the installed version and the
//! applied migrations) are not here on purpose: they describe the data, and a
//! backup carries them so that a restore brings back the version with it.

/// The single node holding the installed version (`state`).
pub const VERSION_LABEL: &str = "IgnSetupVersion";
/// The nodes recording each applied migration (`state`).
pub const MIGRATION_LABEL: &str = "IgnSetupMigration";
/// The operation lock's lease (see `safety::lease`).
pub const LOCK_LABEL: &str = "IgnSetupLock";
/// The marker of a destructive operation that has not finished (see `safety::marker`).
pub const OPERATION_LABEL: &str = "IgnSetupOperation";
/// The temporary label of nodes being loaded (older releases).
pub const RESTORING_LABEL: &str = "IgnSetupRestoring";

/// Nodes that are the tool's, not the user's: never backed up, never cleared
/// by a restore, never counted.
pub const BOOKKEEPING_LABELS: &[&str] = &[LOCK_LABEL, OPERATION_LABEL];

/// Labels a backup may not carry.
pub const RESERVED_LABELS: &[&str] = &[LOCK_LABEL, OPERATION_LABEL, RESTORING_LABEL];

/// `NOT n:IgnSetupLock AND NOT n:IgnSetupOperation` for the variable `var`:
/// a predicate that keeps the bookkeeping nodes out of a `MATCH (n)`.
pub fn not_bookkeeping(var: &str) -> String {
    BOOKKEEPING_LABELS
        .iter()
        .map(|l| format!("NOT {var}:{l}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Whether `label` is one a backup may not carry.
pub fn is_reserved(label: &str) -> bool {
    RESERVED_LABELS.contains(&label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping_is_reserved_and_the_predicate_names_each() {
        for l in BOOKKEEPING_LABELS {
            assert!(is_reserved(l));
        }
        assert_eq!(
            not_bookkeeping("n"),
            "NOT n:IgnSetupLock AND NOT n:IgnSetupOperation"
        );
        assert!(!is_reserved("IgnSetupVersion"));
        assert!(!is_reserved("ignsetuplock"));
    }
}
