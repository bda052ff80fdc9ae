//! Every command-line type, in one place. Raw flags become validated values
//! (`Settings`, `semver::Version`, paths) right after parsing.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A release version as the flags take it: exactly `X.Y.Z` (pre-release and
/// build parts allowed), with a message that shows one when it is not.
pub fn parse_version(text: &str) -> Result<semver::Version, String> {
    semver::Version::parse(text.trim()).map_err(|e| {
        let example = match text.trim().split('.').count() {
            1 => format!("{}.0.0", text.trim()),
            2 => format!("{}.0", text.trim()),
            _ => "1.5.0".to_owned(),
        };
        format!("`{text}` is not a version of the form X.Y.Z, for example {example} ({e})")
    })
}

/// `--version` / `-V`: the release, the commit it was built from and the
/// Bolt driver, like `cargo -V`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("IGN_SETUP_GIT_COMMIT"),
    ", neo4rs ",
    env!("IGN_SETUP_NEO4RS_VERSION"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "ign-setup",
    version = LONG_VERSION,
    about = "Install, upgrade, back up, restore and package the IGN Scripts Neo4j database",
    long_about = "Install, upgrade, back up, restore and package the Neo4j database of the IGN Scripts \
learning system.\n\nSettings come from flags, then the environment (NEO4J_URI, NEO4J_USERNAME, \
NEO4J_PASSWORD, NEO4J_PASSWORD_FILE, NEO4J_DATABASE), then ign-setup.toml, then defaults.",
    disable_help_subcommand = false
)]
pub struct Opt {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Bolt URI: bolt://, bolt+s://, bolt+ssc://, neo4j://, neo4j+s:// or neo4j+ssc:// [env: NEO4J_URI]
    #[arg(long, global = true, value_name = "URI")]
    pub uri: Option<String>,
    /// User name [env: NEO4J_USERNAME or NEO4J_USER] [default: neo4j]
    #[arg(long, global = true, value_name = "USER")]
    pub user: Option<String>,
    /// Password (visible to other local users in the process list: prefer NEO4J_PASSWORD or --password-file) [env: NEO4J_PASSWORD]
    #[arg(long, global = true, value_name = "PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// File holding the password [env: NEO4J_PASSWORD_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Database name [env: NEO4J_DATABASE] [default: the server's default database]
    #[arg(long, global = true, value_name = "NAME")]
    pub database: Option<String>,
    /// Backup folder [env: IGN_SETUP_BACKUP_DIR] [default: neo4j/fullbackup]
    #[arg(long, global = true, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Migrations folder [env: IGN_SETUP_MIGRATIONS_DIR] [default: migrations]
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations: Option<PathBuf>,
    /// Config file [env: IGN_SETUP_CONFIG] [default: ./ign-setup.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seconds to keep trying to reach the server [env: IGN_SETUP_CONNECT_TIMEOUT] [default: 10]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,
    /// Seconds one migration statement may run on the server [env: IGN_SETUP_QUERY_TIMEOUT] [default: no limit]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub query_timeout: Option<u64>,
    /// Answer yes to every confirmation (for scripts) [env: IGN_SETUP_YES=1]
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// No notes or progress on stderr; results and errors only
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print one JSON document on stdout instead of human output
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail on stderr
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Write Prometheus metrics (node_exporter textfile format) to FILE after
    /// every command that touches backups [env: IGN_SETUP_METRICS_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the connection, the server, the backup folder and the installed version
    Doctor,
    /// Create, list, inspect, verify and restore backups
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Build a release bundle (ign-scripts-X.Y.Z.zip) holding the newest backup
    /// as initial_backup.json, the migrations, a manifest and SHA256SUMS
    Package(PackageArgs),
    /// Finish the rollback of a restore, upgrade or install that was interrupted
    /// (killed process, lost server); says so when there is nothing to do
    Recover,
    /// Install the newest release into a database with no installed version:
    /// from <backup-dir>/initial_backup.json or a release bundle when there is
    /// one, else by running every migration; or record the release existing
    /// data is at (--baseline)
    Install(InstallArgs),
    /// Upgrade the installed database to a release: plan, verified
    /// pre-upgrade backup, migrations, verify queries; any failure rolls back
    Upgrade(UpgradeArgs),
    /// Inspect the migration history
    #[command(subcommand)]
    Migrations(MigrationsCommand),
    /// Run backups (and restore drills) on a timer: systemd units or a crontab line
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Show the resolved settings and where each one came from
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Examples:\n  ign-setup completions bash > ~/.local/share/bash-completion/completions/ign-setup\n  ign-setup completions zsh > ~/.zfunc/_ign-setup\n  ign-setup completions fish > ~/.config/fish/completions/ign-setup.fish"
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (ign-setup.1 and one per subcommand)
    #[command(
        after_help = "Examples:\n  ign-setup man | man -l -\n  ign-setup man --out /usr/local/share/man/man1"
    )]
    Man {
        /// Folder to write every page into [default: print ign-setup.1 on stdout]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting with its value and its source (flag, environment, config
    /// file or default); the password is never shown, only where it comes from
    Show,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The release the database's existing data is at: recorded as installed,
    /// its migrations (and all earlier ones) marked applied without running them
    #[arg(long, value_name = "X.Y.Z", value_parser = parse_version)]
    pub baseline: Option<semver::Version>,
    /// Install from a release bundle (ign-scripts-X.Y.Z.zip) into an empty
    /// database: verified, unpacked, its initial backup loaded, its migrations
    /// applied, its release recorded
    #[arg(long, value_name = "ZIP")]
    pub bundle: Option<PathBuf>,
    /// Load the initial backup even if this server cannot recreate some of
    /// its indexes or constraints; the result lists what was left out
    #[arg(long)]
    pub allow_schema_loss: bool,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The release to upgrade to (a version folder in the migrations folder)
    /// [default: the newest version in the migrations folder]
    #[arg(long, value_name = "X.Y.Z", value_parser = parse_version)]
    pub to: Option<semver::Version>,
    /// Print the plan and have the server check every statement with EXPLAIN;
    /// change nothing (no backup, no journal, no lock, no writes)
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum MigrationsCommand {
    /// Installed version, applied and pending migrations, drift
    /// (exit 0 up to date, 4 work pending, 20 drift or invalid folder)
    Status,
    /// Create the next migration file, NNN_NAME.cypher, in the newest version
    /// folder (or in --version's, created when new)
    #[command(
        after_help = "Examples:\n  ign-setup migrations new add_session_index\n  ign-setup migrations new backfill_modules --version 1.6.0"
    )]
    New {
        /// What the migration does: letters, digits, `_` or `-`
        name: String,
        /// The release it belongs to [default: the newest version folder]
        #[arg(long, value_name = "X.Y.Z", value_parser = parse_version)]
        version: Option<semver::Version>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up the whole database to a new timestamped file in the backup folder
    Create {
        /// Why this backup is taken (kept in its metadata)
        #[arg(long)]
        reason: Option<String>,
        /// Only back up when the database changed significantly since the last
        /// backup (exit 0: backup made, 4: not needed)
        #[arg(long)]
        auto: bool,
    },
    /// List the backups in the backup folder, newest first
    List {
        /// Show type, format, reason, versions and server of each backup
        #[arg(long)]
        detailed: bool,
    },
    /// Show a backup's metadata
    Info {
        /// A file name in the backup folder, or a path
        file: String,
    },
    /// Check a backup completely: structure, checksum, counts, relationship endpoints
    Verify {
        /// A file name in the backup folder, or a path
        file: String,
    },
    /// Compare the database with the last backup and recommend a backup
    Status,
    /// Replace the database with a backup (a verified safety backup is taken
    /// first; any failure rolls back to it)
    #[command(
        after_help = "Examples:\n  ign-setup backup restore\n  ign-setup backup restore ign_scripts_db_backup_20261201_171040.json\n  ign-setup backup restore --yes /mnt/archive/nightly.json"
    )]
    Restore {
        /// A file name in the backup folder, or a path (as for `backup info`
        /// and `backup verify`) [default: the newest full backup]
        #[arg(value_name = "FILE", conflicts_with = "file")]
        backup: Option<String>,
        /// The same, as a flag (the original tool's spelling)
        #[arg(long)]
        file: Option<String>,
        /// Same as --yes (the original tool's flag)
        #[arg(long)]
        confirm: bool,
        /// Restore even if this server cannot recreate some of the backup's
        /// indexes or constraints (for example key constraints on Community
        /// Edition); the result lists what was left out
        #[arg(long)]
        allow_schema_loss: bool,
    },
    /// Write the initial backup for distribution (`initial_backup.json`)
    Init {
        #[arg(long)]
        reason: Option<String>,
    },
    /// Delete the named backups from the backup folder (after showing them and asking)
    #[command(
        after_help = "Examples:\n  ign-setup backup delete ign_scripts_db_backup_20261201_171040.json\n  ign-setup backup delete --dry-run ign_scripts_db_backup_20261201_171040.json"
    )]
    Delete {
        /// File names in the backup folder (`ign-setup backup list` shows them)
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Say what would be deleted; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove old backups by retention policy (restic-style keep rules; the
    /// configured policy unless --keep-… flags are given)
    Prune(PruneArgs),
    /// Restore a backup into a scratch database or server, verify it against
    /// the file, and empty the scratch database again
    Drill(DrillArgs),
}

/// `backup prune`: any --keep-… flag replaces the configured policy.
#[derive(Debug, Args, Clone, Default)]
pub struct PruneArgs {
    /// List every backup with the rules that keep it, or "remove"; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the N newest backups
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N days (UTC) that have one
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks (UTC) that have one
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months (UTC) that have one
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// Keep every backup less than DURATION older than the newest (e.g. 7d, 12h, 2w)
    #[arg(long, value_name = "DURATION", value_parser = crate::retention::Within::parse)]
    pub keep_within: Option<crate::retention::Within>,
    /// Prune only backups of this kind (repeatable) [default: every kind]
    #[arg(long, value_name = "KIND", value_parser = ["full", "safety", "pre-upgrade"])]
    pub kind: Vec<String>,
}

/// `backup drill`.
#[derive(Debug, Args, Clone)]
pub struct DrillArgs {
    /// The backup to drill: a name in the backup folder, or a path [default: the newest backup]
    #[arg(long)]
    pub file: Option<String>,
    /// The scratch server: a Bolt URI that is not the configured database
    #[arg(long, value_name = "URI")]
    pub into: String,
    /// The scratch database on that server [default: the server's default database]
    #[arg(long, value_name = "NAME")]
    pub into_database: Option<String>,
    /// User for the scratch server [default: the configured user]
    #[arg(long, value_name = "USER")]
    pub into_user: Option<String>,
    /// File holding the scratch server's password [else env IGN_SETUP_DRILL_PASSWORD]
    #[arg(long, value_name = "FILE")]
    pub into_password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Write a systemd timer and service (or print a crontab line) that runs
    /// `backup create --auto`, and optionally a restore drill, on a schedule
    Install(ScheduleInstallArgs),
    /// Show the installed units, their schedule and the next runs
    Status(ScheduleScopeArgs),
    /// Remove the installed units
    Remove(ScheduleScopeArgs),
}

/// Which systemd units: the user's (default) or the system's. (`--user` is
/// the global Neo4j user flag, hence `--user-units`.)
#[derive(Debug, Args, Clone, Default)]
pub struct ScheduleScopeArgs {
    /// System units in /etc/systemd/system (run as root)
    #[arg(long, conflicts_with = "user_units")]
    pub system: bool,
    /// User units in ~/.config/systemd/user (the default)
    #[arg(long)]
    pub user_units: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ScheduleInstallArgs {
    /// When: daily (00:00), hourly, or a 5-field cron expression such as "30 2 * * *"
    #[arg(long, value_name = "daily|hourly|CRON", default_value = "daily")]
    pub every: String,
    #[command(flatten)]
    pub scope: ScheduleScopeArgs,
    /// Print a crontab line instead of writing systemd units
    #[arg(long)]
    pub cron: bool,
    /// Also run `backup drill --into URI` after each backup
    #[arg(long, value_name = "URI")]
    pub drill_into: Option<String>,
    /// The drill's scratch database
    #[arg(long, value_name = "NAME", requires = "drill_into")]
    pub drill_database: Option<String>,
    /// The drill's user
    #[arg(long, value_name = "USER", requires = "drill_into")]
    pub drill_user: Option<String>,
    /// File holding the drill server's password (a scheduled run has no terminal)
    #[arg(long, value_name = "FILE", requires = "drill_into")]
    pub drill_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  ign-setup package --release 1.5.0\n  ign-setup package verify release/ign-scripts-1.5.0.zip"
)]
pub struct PackageArgs {
    #[command(subcommand)]
    pub command: Option<PackageCommand>,
    /// Application version of the release (X.Y.Z); `--version` is the old spelling
    #[arg(
        long = "release",
        alias = "version",
        value_name = "X.Y.Z",
        value_parser = parse_version,
        required = true
    )]
    pub version: Option<semver::Version>,
    /// The backup to ship [default: the newest backup in the backup folder]
    #[arg(long, value_name = "FILE")]
    pub backup: Option<String>,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "release")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Check a bundle: outer checksum, every entry against SHA256SUMS and the
    /// manifest, entry safety (paths, links, sizes), and the backup itself
    Verify {
        /// The bundle zip
        zip: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_tree_is_consistent() {
        use clap::CommandFactory;
        super::Opt::command().debug_assert();
    }
}
