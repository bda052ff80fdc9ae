//! Exit codes and `--json` error kinds: the one table. Stable: scripts
//! depend on both.
//!
//! Every area error says which [`Fault`] it is (an exhaustive `fault()`
//! method next to the error); the code and the kind follow from the fault
//! alone, so the same fault gets the same code and kind whichever command hit
//! it. The README's "Exit codes" table is tested against [`TABLE`].

pub const OK: i32 = 0;
/// Anything not listed below.
pub const FAILURE: i32 = 1;
/// Bad command line (clap's own code).
pub const USAGE: i32 = 2;
/// Bad configuration: config file, URI, missing password.
pub const CONFIG: i32 = 3;
/// The command did its check and there is work to do (`backup create --auto`
/// made no backup, `migrations status` has pending migrations).
pub const PENDING: i32 = 4;
/// `doctor` found a problem.
pub const UNHEALTHY: i32 = 5;
pub const UNREACHABLE: i32 = 10;
pub const AUTH: i32 = 11;
pub const UNKNOWN_DATABASE: i32 = 12;
pub const TLS: i32 = 13;
/// The server refused a query or the connection dropped mid-operation.
pub const DATABASE: i32 = 14;
/// A backup, bundle or migration file is invalid; nothing was changed.
pub const INVALID_INPUT: i32 = 20;
/// Another install/upgrade/restore holds the lock.
pub const LOCKED: i32 = 30;
/// The operation failed and the database was rolled back to its earlier state.
pub const ROLLED_BACK: i32 = 31;
/// The operation failed and the rollback did not complete: run `ign-setup recover`.
pub const RECOVERY_NEEDED: i32 = 32;
/// Confirmation was declined, or needed and not possible (no terminal, no --yes).
pub const NOT_CONFIRMED: i32 = 40;
/// Ctrl-C.
pub const INTERRUPTED: i32 = 130;

/// Every exit code with its meaning, as the README's "Exit codes" table
/// shows it (a test compares the two).
pub const TABLE: &[(i32, &str)] = &[
    (OK, "success"),
    (FAILURE, "other failure (disk, internal)"),
    (USAGE, "bad command line (also an invalid `schedule --every` expression, or `--password` given to `schedule install`)"),
    (CONFIG, "bad configuration (config file, URI, missing password)"),
    (PENDING, "nothing done / work pending (`backup create --auto` made no backup)"),
    (UNHEALTHY, "`doctor` found a problem"),
    (UNREACHABLE, "server unreachable"),
    (AUTH, "authentication failed"),
    (UNKNOWN_DATABASE, "unknown database"),
    (TLS, "TLS failure"),
    (DATABASE, "the server refused a query or the connection dropped"),
    (INVALID_INPUT, "invalid input (backup, bundle, migration file, unknown or lower target version, drift, data without a version and no `--baseline`, no backup to restore or package); nothing was changed. `backup drill`: the drill failed, or was refused (the target is the configured database, or not empty)"),
    (LOCKED, "locked by another install/upgrade/restore/drill, or (on this host) `backup create`/`prune` (\"locked by host/pid (operation)\"), or an unfinished one must be recovered"),
    (ROLLED_BACK, "the operation failed and the database was rolled back and verified"),
    (RECOVERY_NEEDED, "the operation failed and the rollback did not complete, or a second Ctrl-C stopped it midway (the message names the way back): run `ign-setup recover`"),
    (NOT_CONFIRMED, "not confirmed (declined, or no terminal and no `--yes`)"),
    (INTERRUPTED, "interrupted (Ctrl-C) before anything changed (at a prompt, too); the terminal's settings are put back"),
];

/// What went wrong, as far as a script needs to know: each fault has one
/// exit code ([`Fault::code`]) and one `--json` kind ([`Fault::kind`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A file could not be read or written.
    Io,
    /// A failure the user cannot act on besides reporting it.
    Internal,
    /// A backup could not be taken (the database kept changing, the loader
    /// stopped, no backup to use).
    Backup,
    /// A restore's load or its verification failed.
    Restore,
    /// The tool's own records in the database are damaged.
    State,
    /// The journal is unreadable, or the lease was lost.
    Safety,
    /// A drill could not empty its scratch database afterwards.
    DrillNotEmptied,
    Usage,
    Config,
    /// `doctor` found a problem.
    Unhealthy,
    Unreachable,
    AuthFailed,
    UnknownDatabase,
    Tls,
    /// The server refused a query, or the connection dropped.
    Database,
    InvalidBackup,
    InvalidBundle,
    InvalidMigrations,
    SchemaNotRecreatable,
    UnknownVersion,
    Downgrade,
    NotInstalled,
    NeedsBaseline,
    /// A refusal before anything changed that has no name of its own yet.
    Refused,
    /// The migration history and the files disagree.
    Drift,
    /// A drill's load or one of its checks failed.
    DrillFailed,
    DrillRefused,
    DrillTargetNotEmpty,
    /// Another operation holds the lock.
    Locked,
    /// An unfinished operation must be recovered first.
    Unfinished,
    RolledBack,
    RecoveryNeeded,
    NotConfirmed,
    Interrupted,
}

impl Fault {
    /// Every fault, for the table's tests.
    pub const ALL: &[Fault] = &[
        Fault::Io,
        Fault::Internal,
        Fault::Backup,
        Fault::Restore,
        Fault::State,
        Fault::Safety,
        Fault::DrillNotEmptied,
        Fault::Usage,
        Fault::Config,
        Fault::Unhealthy,
        Fault::Unreachable,
        Fault::AuthFailed,
        Fault::UnknownDatabase,
        Fault::Tls,
        Fault::Database,
        Fault::InvalidBackup,
        Fault::InvalidBundle,
        Fault::InvalidMigrations,
        Fault::SchemaNotRecreatable,
        Fault::UnknownVersion,
        Fault::Downgrade,
        Fault::NotInstalled,
        Fault::NeedsBaseline,
        Fault::Refused,
        Fault::Drift,
        Fault::DrillFailed,
        Fault::DrillRefused,
        Fault::DrillTargetNotEmpty,
        Fault::Locked,
        Fault::Unfinished,
        Fault::RolledBack,
        Fault::RecoveryNeeded,
        Fault::NotConfirmed,
        Fault::Interrupted,
    ];

    pub const fn code(self) -> i32 {
        match self {
            Fault::Io
            | Fault::Internal
            | Fault::Backup
            | Fault::Restore
            | Fault::State
            | Fault::Safety
            | Fault::DrillNotEmptied => FAILURE,
            Fault::Usage => USAGE,
            Fault::Config => CONFIG,
            Fault::Unhealthy => UNHEALTHY,
            Fault::Unreachable => UNREACHABLE,
            Fault::AuthFailed => AUTH,
            Fault::UnknownDatabase => UNKNOWN_DATABASE,
            Fault::Tls => TLS,
            Fault::Database => DATABASE,
            Fault::InvalidBackup
            | Fault::InvalidBundle
            | Fault::InvalidMigrations
            | Fault::SchemaNotRecreatable
            | Fault::UnknownVersion
            | Fault::Downgrade
            | Fault::NotInstalled
            | Fault::NeedsBaseline
            | Fault::Refused
            | Fault::Drift
            | Fault::DrillFailed
            | Fault::DrillRefused
            | Fault::DrillTargetNotEmpty => INVALID_INPUT,
            Fault::Locked | Fault::Unfinished => LOCKED,
            Fault::RolledBack => ROLLED_BACK,
            Fault::RecoveryNeeded => RECOVERY_NEEDED,
            Fault::NotConfirmed => NOT_CONFIRMED,
            Fault::Interrupted => INTERRUPTED,
        }
    }

    /// The `--json` error kind.
    pub const fn kind(self) -> &'static str {
        match self {
            Fault::Io => "io",
            Fault::Internal => "internal",
            Fault::Backup => "backup",
            Fault::Restore => "restore",
            Fault::State => "state",
            Fault::Safety => "safety",
            Fault::DrillNotEmptied => "drill_not_emptied",
            Fault::Usage => "usage",
            Fault::Config => "config",
            Fault::Unhealthy => "unhealthy",
            Fault::Unreachable => "unreachable",
            Fault::AuthFailed => "auth_failed",
            Fault::UnknownDatabase => "unknown_database",
            Fault::Tls => "tls",
            Fault::Database => "database",
            Fault::InvalidBackup => "invalid_backup",
            Fault::InvalidBundle => "invalid_bundle",
            Fault::InvalidMigrations => "invalid_migrations",
            Fault::SchemaNotRecreatable => "schema_not_recreatable",
            Fault::UnknownVersion => "unknown_version",
            Fault::Downgrade => "downgrade",
            Fault::NotInstalled => "not_installed",
            Fault::NeedsBaseline => "needs_baseline",
            Fault::Refused => "refused",
            Fault::Drift => "drift",
            Fault::DrillFailed => "drill_failed",
            Fault::DrillRefused => "drill_refused",
            Fault::DrillTargetNotEmpty => "drill_target_not_empty",
            Fault::Locked => "locked",
            Fault::Unfinished => "unfinished",
            Fault::RolledBack => "rolled_back",
            Fault::RecoveryNeeded => "recovery_needed",
            Fault::NotConfirmed => "not_confirmed",
            Fault::Interrupted => "interrupted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_has_a_documented_code_and_its_own_kind() {
        let mut kinds = std::collections::BTreeSet::new();
        for f in Fault::ALL {
            assert!(
                TABLE.iter().any(|(c, _)| *c == f.code()),
                "{f:?} exits {}, which the table does not list",
                f.code()
            );
            assert!(
                kinds.insert(f.kind()),
                "two faults share the kind {}",
                f.kind()
            );
        }
    }

    /// The README's "Exit codes" table, row by row, is [`TABLE`].
    #[test]
    fn the_readme_table_is_this_table() {
        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Exit codes\n")
            .nth(1)
            .expect("README has an `## Exit codes` section");
        let rows: Vec<(i32, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2) // header and separator
            .map(|l| {
                let l = l.trim().trim_start_matches('|').trim_end_matches('|');
                let (code, meaning) = l.split_once('|').expect("two columns");
                (
                    code.trim().parse().expect("a numeric exit code"),
                    meaning.trim().to_owned(),
                )
            })
            .collect();
        let table: Vec<(i32, String)> = TABLE.iter().map(|(c, m)| (*c, (*m).to_owned())).collect();
        assert_eq!(rows, table);
    }
}
