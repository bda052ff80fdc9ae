//! Settings: where ign-setup finds its database, its backups and its migrations.
//!
//! One precedence order, applied field by field:
//! command-line flags > environment > config file (`ign-setup.toml`) > defaults.
//! Raw strings are turned into typed, validated values here, once; the rest of the
//! program never re-checks them.

mod secret;
mod uri;

pub use secret::Secret;
pub use uri::{BoltUri, Scheme};

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default location of the backup folder, as in the original backup plan.
pub const DEFAULT_BACKUP_DIR: &str = "neo4j/fullbackup";
/// Default location of the migrations folder.
pub const DEFAULT_MIGRATIONS_DIR: &str = "migrations";
/// Config file looked up in the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "ign-setup.toml";
pub const DEFAULT_URI: &str = "bolt://localhost:7687";
pub const DEFAULT_USER: &str = "neo4j";
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`: {source}; fix the path given with --config or IGN_SETUP_CONFIG")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "config file `{path}` is not valid: {message}; see the Configuration section of the README"
    )]
    ParseFile { path: PathBuf, message: String },
    #[error("invalid {what} `{value}`: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("the password file `{}` is empty; write the password into it (one line), or fix --password-file / NEO4J_PASSWORD_FILE", path.display())]
    EmptyPasswordFile { path: PathBuf },
    #[error("cannot read the password file `{path}`: {source}; fix --password-file / NEO4J_PASSWORD_FILE")]
    PasswordFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no password given: set NEO4J_PASSWORD, pass --password-file FILE, or run in a terminal to be asked")]
    NoPassword,
}

impl ConfigError {
    pub fn fault(&self) -> crate::exit::Fault {
        crate::exit::Fault::Config
    }
}

/// The `ign-setup.toml` file. Unknown keys are refused so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub neo4j: FileNeo4j,
    #[serde(default)]
    pub backup: FileBackup,
    #[serde(default)]
    pub migrations: FileMigrations,
    #[serde(default)]
    pub metrics: FileMetrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNeo4j {
    pub uri: Option<String>,
    pub user: Option<String>,
    /// A file holding the password. The password itself is never kept in the
    /// config file, which is often committed or shared.
    pub password_file: Option<PathBuf>,
    pub database: Option<String>,
    pub connect_timeout_secs: Option<u64>,
    /// Longest a statement may run; none when absent.
    pub query_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBackup {
    pub dir: Option<PathBuf>,
    pub keep: Option<usize>,
    pub node_threshold: Option<u64>,
    pub relationship_threshold: Option<u64>,
    pub percentage_threshold: Option<f64>,
    /// `[backup.retention]`: restic-style rules (see [`crate::retention`]).
    pub retention: Option<FileRetention>,
}

/// The keep rules of one policy, as written in the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRules {
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_within: Option<String>,
}

/// `[backup.retention]`: rules for every kind, and `[backup.retention.<kind>]`
/// tables that replace them for one kind (full, safety, pre-upgrade).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRetention {
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_within: Option<String>,
    pub full: Option<FileRules>,
    pub safety: Option<FileRules>,
    #[serde(rename = "pre-upgrade", alias = "pre_upgrade")]
    pub pre_upgrade: Option<FileRules>,
}

/// `[metrics]`: the Prometheus text file written after backup commands.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetrics {
    pub file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMigrations {
    pub dir: Option<PathBuf>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::ParseFile {
            path: path.to_owned(),
            message: match e.span() {
                Some(span) => format!("{}: {}", where_in(&text, span.start), e.message()),
                None => e.message().to_owned(),
            },
        })
    }
}

/// `line 3, key `backup.keep`` for a byte offset of a TOML text: the key the
/// error is about, never the value (it may be a password).
fn where_in(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim();
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(['[', ']']).trim());
    match (table, key.is_empty() || key.starts_with('[')) {
        (_, true) => format!("line {line_no}"),
        (Some(t), false) => format!("line {line_no}, key `{t}.{key}`"),
        (None, false) => format!("line {line_no}, key `{key}`"),
    }
}

/// Values given on the command line (all optional: absent means "not given").
#[derive(Debug, Default, Clone)]
pub struct FlagValues {
    pub uri: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub database: Option<String>,
    pub backup_dir: Option<PathBuf>,
    pub migrations_dir: Option<PathBuf>,
    pub connect_timeout_secs: Option<u64>,
    pub query_timeout_secs: Option<u64>,
    pub metrics_file: Option<PathBuf>,
}

/// Where the password comes from; resolved into a [`Secret`] only when a
/// command actually connects, so `--help` or `backup list` never prompt.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    Given(Secret),
    File(PathBuf),
    Prompt,
}

impl PasswordSource {
    pub fn resolve(&self, interactive: bool) -> Result<Secret, ConfigError> {
        match self {
            PasswordSource::Given(s) => Ok(s.clone()),
            PasswordSource::File(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::PasswordFile {
                        path: path.clone(),
                        source,
                    })?;
                let password = text.trim_end_matches(['\n', '\r']);
                if password.is_empty() {
                    // Sent as is, the server would answer "wrong password".
                    return Err(ConfigError::EmptyPasswordFile { path: path.clone() });
                }
                Ok(Secret::new(password.to_owned()))
            }
            PasswordSource::Prompt => {
                if !interactive {
                    return Err(ConfigError::NoPassword);
                }
                let pw = dialoguer::Password::new()
                    .with_prompt("Neo4j password")
                    .interact()
                    .map_err(|_| ConfigError::NoPassword)?;
                Ok(Secret::new(pw))
            }
        }
    }
}

/// Connection settings, validated.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    pub uri: BoltUri,
    pub user: String,
    pub password: PasswordSource,
    pub database: Option<String>,
    /// How long to keep trying to connect.
    pub connect_timeout: Duration,
    /// How long one auto-commit statement of a migration file may run on the
    /// server; None: no limit.
    pub query_timeout: Option<Duration>,
}

/// Thresholds for `backup create --auto` and `backup status`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Thresholds {
    pub nodes: u64,
    pub relationships: u64,
    /// A fraction: 0.1 means 10 %.
    pub percentage: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            nodes: 50,
            relationships: 100,
            percentage: 0.1,
        }
    }
}

/// Everything a command needs to know, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect: ConnectSettings,
    pub backup_dir: PathBuf,
    pub migrations_dir: PathBuf,
    pub keep: usize,
    pub thresholds: Thresholds,
    /// Which backups retention keeps, per kind (the default: `keep` of each).
    pub retention: crate::retention::Policies,
    /// `--metrics-file`, `IGN_SETUP_METRICS_FILE`, `[metrics] file`.
    pub metrics_file: Option<PathBuf>,
    /// Where each value came from.
    pub sources: Sources,
}

/// Reads one environment variable; a function so tests can supply their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where a setting's value came from (`ign-setup config show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "from", content = "name", rename_all = "snake_case")]
pub enum Source {
    /// A command-line flag, such as `--uri`.
    Flag(&'static str),
    /// An environment variable, such as `NEO4J_URI`.
    Env(&'static str),
    /// A key of the config file, such as `[neo4j] uri`.
    File(&'static str),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "flag {name}"),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::File(key) => write!(f, "config file {key}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// The source of every setting, in the order `config show` lists them.
pub type Sources = Vec<(&'static str, Source)>;

/// The first layer that sets a value, in precedence order.
fn first<T>(layers: impl IntoIterator<Item = (Option<T>, Source)>) -> Option<(T, Source)> {
    layers.into_iter().find_map(|(v, s)| v.map(|v| (v, s)))
}

impl Settings {
    /// Applies the precedence order: flags > environment > file > defaults.
    pub fn resolve(
        flags: &FlagValues,
        env: EnvLookup<'_>,
        file: &FileConfig,
    ) -> Result<Settings, ConfigError> {
        let mut sources: Sources = Vec::new();
        let (uri_text, from) = first([
            (flags.uri.clone(), Source::Flag("--uri")),
            (env("NEO4J_URI"), Source::Env("NEO4J_URI")),
            (file.neo4j.uri.clone(), Source::File("[neo4j] uri")),
        ])
        .unwrap_or_else(|| (DEFAULT_URI.to_owned(), Source::Default));
        sources.push(("uri", from));
        let uri = BoltUri::parse(&uri_text)?;
        let (user, from) = first([
            (flags.user.clone(), Source::Flag("--user")),
            (env("NEO4J_USERNAME"), Source::Env("NEO4J_USERNAME")),
            (env("NEO4J_USER"), Source::Env("NEO4J_USER")),
            (file.neo4j.user.clone(), Source::File("[neo4j] user")),
        ])
        .unwrap_or_else(|| (DEFAULT_USER.to_owned(), Source::Default));
        sources.push(("user", from));
        let given = |p: Option<String>| p.map(|p| PasswordSource::Given(Secret::new(p)));
        let path = |p: Option<PathBuf>| p.map(PasswordSource::File);
        let (password, from) = first([
            (given(flags.password.clone()), Source::Flag("--password")),
            (
                path(flags.password_file.clone()),
                Source::Flag("--password-file"),
            ),
            (given(env("NEO4J_PASSWORD")), Source::Env("NEO4J_PASSWORD")),
            (
                path(env("NEO4J_PASSWORD_FILE").map(PathBuf::from)),
                Source::Env("NEO4J_PASSWORD_FILE"),
            ),
            (
                path(file.neo4j.password_file.clone()),
                Source::File("[neo4j] password_file"),
            ),
        ])
        .unwrap_or((PasswordSource::Prompt, Source::Default));
        sources.push(("password", from));
        let database = first([
            (flags.database.clone(), Source::Flag("--database")),
            (env("NEO4J_DATABASE"), Source::Env("NEO4J_DATABASE")),
            (
                file.neo4j.database.clone(),
                Source::File("[neo4j] database"),
            ),
        ]);
        sources.push((
            "database",
            database.as_ref().map_or(Source::Default, |d| d.1),
        ));
        let database = database.map(|d| d.0);
        if let Some(db) = &database {
            validate_database_name("database name", db)?;
        }
        let connect_timeout = seconds(
            ("--connect-timeout", flags.connect_timeout_secs),
            "IGN_SETUP_CONNECT_TIMEOUT",
            env,
            (
                "[neo4j] connect_timeout_secs",
                file.neo4j.connect_timeout_secs,
            ),
        )?;
        sources.push((
            "connect_timeout",
            connect_timeout.map_or(Source::Default, |t| t.1),
        ));
        let connect_timeout = connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |t| t.0);
        let query_timeout = seconds(
            ("--query-timeout", flags.query_timeout_secs),
            "IGN_SETUP_QUERY_TIMEOUT",
            env,
            ("[neo4j] query_timeout_secs", file.neo4j.query_timeout_secs),
        )?;
        sources.push((
            "query_timeout",
            query_timeout.map_or(Source::Default, |t| t.1),
        ));
        let query_timeout = query_timeout.map(|t| t.0);
        let (backup_dir, from) = first([
            (flags.backup_dir.clone(), Source::Flag("--backup-dir")),
            (
                env("IGN_SETUP_BACKUP_DIR").map(PathBuf::from),
                Source::Env("IGN_SETUP_BACKUP_DIR"),
            ),
            (file.backup.dir.clone(), Source::File("[backup] dir")),
        ])
        .unwrap_or_else(|| (PathBuf::from(DEFAULT_BACKUP_DIR), Source::Default));
        sources.push(("backup_dir", from));
        let (migrations_dir, from) = first([
            (flags.migrations_dir.clone(), Source::Flag("--migrations")),
            (
                env("IGN_SETUP_MIGRATIONS_DIR").map(PathBuf::from),
                Source::Env("IGN_SETUP_MIGRATIONS_DIR"),
            ),
            (
                file.migrations.dir.clone(),
                Source::File("[migrations] dir"),
            ),
        ])
        .unwrap_or_else(|| (PathBuf::from(DEFAULT_MIGRATIONS_DIR), Source::Default));
        sources.push(("migrations_dir", from));
        let keep = file.backup.keep.unwrap_or(1);
        if keep == 0 {
            return Err(ConfigError::Invalid {
                what: "backup.keep",
                value: "0".into(),
                reason: "at least one backup must be kept".into(),
            });
        }
        let from_file = |set: bool, key| {
            if set {
                Source::File(key)
            } else {
                Source::Default
            }
        };
        let defaults = Thresholds::default();
        let thresholds = Thresholds {
            nodes: file.backup.node_threshold.unwrap_or(defaults.nodes),
            relationships: file
                .backup
                .relationship_threshold
                .unwrap_or(defaults.relationships),
            percentage: file
                .backup
                .percentage_threshold
                .unwrap_or(defaults.percentage),
        };
        validate_percentage(thresholds.percentage)?;
        sources.push((
            "thresholds.nodes",
            from_file(
                file.backup.node_threshold.is_some(),
                "[backup] node_threshold",
            ),
        ));
        sources.push((
            "thresholds.relationships",
            from_file(
                file.backup.relationship_threshold.is_some(),
                "[backup] relationship_threshold",
            ),
        ));
        sources.push((
            "thresholds.percentage",
            from_file(
                file.backup.percentage_threshold.is_some(),
                "[backup] percentage_threshold",
            ),
        ));
        let retention = resolve_retention(&file.backup, keep)?;
        sources.push((
            "retention",
            match (&file.backup.retention, file.backup.keep) {
                (Some(_), _) => Source::File("[backup.retention]"),
                (None, Some(_)) => Source::File("[backup] keep"),
                (None, None) => Source::Default,
            },
        ));
        let metrics_file = first([
            (flags.metrics_file.clone(), Source::Flag("--metrics-file")),
            (
                env("IGN_SETUP_METRICS_FILE").map(PathBuf::from),
                Source::Env("IGN_SETUP_METRICS_FILE"),
            ),
            (file.metrics.file.clone(), Source::File("[metrics] file")),
        ]);
        sources.push((
            "metrics_file",
            metrics_file.as_ref().map_or(Source::Default, |m| m.1),
        ));
        let metrics_file = metrics_file.map(|m| m.0);
        Ok(Settings {
            connect: ConnectSettings {
                uri,
                user,
                password,
                database,
                connect_timeout,
                query_timeout,
            },
            backup_dir,
            migrations_dir,
            keep,
            thresholds,
            retention,
            metrics_file,
            sources,
        })
    }

    /// Where `setting` came from.
    pub fn source(&self, setting: &str) -> Source {
        self.sources
            .iter()
            .find(|(name, _)| *name == setting)
            .map_or(Source::Default, |(_, s)| *s)
    }
}

/// A duration in whole seconds from the flag, else the environment variable,
/// else the config file, with where it came from; None when none of them sets
/// it. Zero is refused, naming the layer that gave it.
fn seconds(
    flag: (&'static str, Option<u64>),
    env_name: &'static str,
    env: EnvLookup<'_>,
    file: (&'static str, Option<u64>),
) -> Result<Option<(Duration, Source)>, ConfigError> {
    let found = match flag {
        (name, Some(s)) => Some((s, Source::Flag(name))),
        (_, None) => match env(env_name) {
            Some(v) => Some((
                v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    what: env_name,
                    value: v.clone(),
                    reason: "expected a whole number of seconds, such as 30".into(),
                })?,
                Source::Env(env_name),
            )),
            None => file.1.map(|s| (s, Source::File(file.0))),
        },
    };
    match found {
        Some((0, from)) => Err(ConfigError::Invalid {
            what: match from {
                Source::Flag(n) | Source::Env(n) | Source::File(n) => n,
                Source::Default => "timeout",
            },
            value: "0".into(),
            reason: "must be at least 1 second".into(),
        }),
        s => Ok(s.map(|(secs, from)| (Duration::from_secs(secs), from))),
    }
}

impl FileRules {
    /// The typed policy; `what` names the table in errors.
    pub fn to_policy(&self, what: &'static str) -> Result<crate::retention::Policy, ConfigError> {
        let keep_within =
            match &self.keep_within {
                Some(t) => Some(crate::retention::Within::parse(t).map_err(|reason| {
                    ConfigError::Invalid {
                        what,
                        value: format!("keep_within = {t:?}"),
                        reason,
                    }
                })?),
                None => None,
            };
        let policy = crate::retention::Policy {
            keep_last: self.keep_last.unwrap_or(0),
            keep_daily: self.keep_daily.unwrap_or(0),
            keep_weekly: self.keep_weekly.unwrap_or(0),
            keep_monthly: self.keep_monthly.unwrap_or(0),
            keep_within,
        };
        if policy.is_empty() {
            return Err(ConfigError::Invalid {
                what,
                value: "no keep rule".into(),
                reason: "it would keep nothing; set at least one of keep_last, keep_daily, keep_weekly, keep_monthly (above 0) or keep_within".into(),
            });
        }
        Ok(policy)
    }

    fn is_unset(&self) -> bool {
        self.keep_last.is_none()
            && self.keep_daily.is_none()
            && self.keep_weekly.is_none()
            && self.keep_monthly.is_none()
            && self.keep_within.is_none()
    }
}

/// `[backup] keep = N` is the plan's single-backup retention (keep the N
/// newest of each kind); `[backup.retention]` replaces it, and giving both is
/// refused rather than guessed. A kind's own table replaces the common rules
/// for that kind.
fn resolve_retention(
    backup: &FileBackup,
    keep: usize,
) -> Result<crate::retention::Policies, ConfigError> {
    use crate::retention::{Policies, Policy};
    let single = Policy::keep_last(u32::try_from(keep).unwrap_or(u32::MAX));
    let Some(r) = &backup.retention else {
        return Ok(Policies::uniform(single));
    };
    if backup.keep.is_some() {
        return Err(ConfigError::Invalid {
            what: "backup.keep",
            value: keep.to_string(),
            reason: "[backup.retention] is also set; remove `keep` and write `keep_last` in [backup.retention] instead".into(),
        });
    }
    let common = FileRules {
        keep_last: r.keep_last,
        keep_daily: r.keep_daily,
        keep_weekly: r.keep_weekly,
        keep_monthly: r.keep_monthly,
        keep_within: r.keep_within.clone(),
    };
    let default = if common.is_unset() {
        single
    } else {
        common.to_policy("backup.retention")?
    };
    let mut policies = Policies::uniform(default);
    for (kind, what, rules) in [
        ("full", "backup.retention.full", &r.full),
        ("safety", "backup.retention.safety", &r.safety),
        (
            "pre-upgrade",
            "backup.retention.pre-upgrade",
            &r.pre_upgrade,
        ),
    ] {
        if let Some(rules) = rules {
            policies
                .per_kind
                .insert(kind.to_owned(), rules.to_policy(what)?);
        }
    }
    Ok(policies)
}

pub fn validate_percentage(p: f64) -> Result<(), ConfigError> {
    if !(p.is_finite() && p > 0.0) {
        return Err(ConfigError::Invalid {
            what: "percentage threshold",
            value: p.to_string(),
            reason: "expected a positive fraction such as 0.1 for 10 %".into(),
        });
    }
    Ok(())
}

/// Neo4j database names: ASCII letters, digits, dots and dashes, 3 to 63
/// characters (we only refuse what could never be valid). `what` names the
/// setting in the error.
pub(crate) fn validate_database_name(what: &'static str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            what,
            value: name.to_owned(),
            reason: "use letters, digits, '.', '-' or '_' (at most 63 characters)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_negative_number_names_its_key_and_never_the_value_of_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[neo4j]\ndatabase = \"s3cret\"\n[backup]\nkeep = -1\n",
        )
        .unwrap();
        let e = FileConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("line 4, key `backup.keep`"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }

    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults() {
        let file: FileConfig = toml::from_str(
            "[neo4j]\nuri = \"bolt://file:7687\"\nuser = \"fileuser\"\ndatabase = \"filedb\"\n[backup]\ndir = \"filedir\"\nkeep = 3\n",
        )
        .unwrap();
        let env = env_of(&[("NEO4J_URI", "neo4j://env:7687"), ("NEO4J_USER", "envuser")]);
        let lookup = |k: &str| env.get(k).cloned();
        let flags = FlagValues {
            database: Some("flagdb".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&flags, &lookup, &file).unwrap();
        assert_eq!(s.connect.uri.to_string(), "neo4j://env:7687");
        assert_eq!(s.connect.user, "envuser");
        assert_eq!(s.connect.database.as_deref(), Some("flagdb"));
        assert_eq!(s.backup_dir, PathBuf::from("filedir"));
        assert_eq!(s.keep, 3);
        assert_eq!(s.migrations_dir, PathBuf::from(DEFAULT_MIGRATIONS_DIR));
        assert_eq!(s.connect.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    }

    #[test]
    fn neo4j_username_wins_over_neo4j_user() {
        let env = env_of(&[("NEO4J_USERNAME", "a"), ("NEO4J_USER", "b")]);
        let lookup = |k: &str| env.get(k).cloned();
        let s = Settings::resolve(&FlagValues::default(), &lookup, &FileConfig::default()).unwrap();
        assert_eq!(s.connect.user, "a");
    }

    #[test]
    fn password_sources_follow_precedence() {
        let env = env_of(&[("NEO4J_PASSWORD", "envpw")]);
        let lookup = |k: &str| env.get(k).cloned();
        let flags = FlagValues {
            password_file: Some("pwfile".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&flags, &lookup, &FileConfig::default()).unwrap();
        assert!(matches!(s.connect.password, PasswordSource::File(_)));
        let s = Settings::resolve(&FlagValues::default(), &lookup, &FileConfig::default()).unwrap();
        assert!(matches!(s.connect.password, PasswordSource::Given(_)));
        let none = |_: &str| None;
        let s = Settings::resolve(&FlagValues::default(), &none, &FileConfig::default()).unwrap();
        assert!(matches!(s.connect.password, PasswordSource::Prompt));
        assert!(matches!(
            s.connect.password.resolve(false),
            Err(ConfigError::NoPassword)
        ));
    }

    #[test]
    fn config_file_refuses_unknown_keys_and_plain_passwords() {
        let err = toml::from_str::<FileConfig>("[neo4j]\npassword = \"x\"\n").unwrap_err();
        assert!(err.message().contains("password"));
    }

    #[test]
    fn retention_tables_per_kind_replace_the_common_rules() {
        use crate::retention::{Policy, Within};
        let none = |_: &str| None;
        let file: FileConfig = toml::from_str(
            "[backup.retention]\nkeep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 3\n\
             [backup.retention.pre-upgrade]\nkeep_last = 2\nkeep_within = \"2w\"\n",
        )
        .unwrap();
        let s = Settings::resolve(&FlagValues::default(), &none, &file).unwrap();
        let common = Policy {
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 3,
            ..Policy::default()
        };
        assert_eq!(s.retention.for_kind("full"), &common);
        assert_eq!(s.retention.for_kind("safety"), &common);
        assert_eq!(
            s.retention.for_kind("pre-upgrade"),
            &Policy {
                keep_last: 2,
                keep_within: Some(Within::parse("2w").unwrap()),
                ..Policy::default()
            }
        );
        // Without a table: `keep` of each kind, 1 by default.
        let s = Settings::resolve(&FlagValues::default(), &none, &FileConfig::default()).unwrap();
        assert_eq!(s.retention.for_kind("full"), &Policy::keep_last(1));
        // Only a kind's table: the others keep the plan's default.
        let file: FileConfig =
            toml::from_str("[backup.retention.safety]\nkeep_last = 3\n").unwrap();
        let s = Settings::resolve(&FlagValues::default(), &none, &file).unwrap();
        assert_eq!(s.retention.for_kind("full"), &Policy::keep_last(1));
        assert_eq!(s.retention.for_kind("safety"), &Policy::keep_last(3));
    }

    #[test]
    fn retention_mistakes_are_refused() {
        let none = |_: &str| None;
        for (text, says) in [
            ("[backup.retention]\nkeep_dayly = 7\n", "unknown field"),
            ("[backup.retention.fulll]\nkeep_last = 1\n", "unknown field"),
            (
                "[backup.retention.full]\nkeep_last = 1\nkeep_hourly = 2\n",
                "unknown field",
            ),
        ] {
            let e = toml::from_str::<FileConfig>(text).unwrap_err();
            assert!(e.message().contains(says), "{text}: {e}");
        }
        for (text, says) in [
            (
                "[backup]\nkeep = 2\n[backup.retention]\nkeep_last = 3\n",
                "remove `keep`",
            ),
            ("[backup.retention]\nkeep_last = 0\n", "keep nothing"),
            (
                "[backup.retention.full]\nkeep_within = \"3 months\"\n",
                "keep_within",
            ),
        ] {
            let file: FileConfig = toml::from_str(text).unwrap();
            let e = Settings::resolve(&FlagValues::default(), &none, &file).unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let none = |_: &str| None;
        let flags = FlagValues {
            database: Some("bad name;".into()),
            ..Default::default()
        };
        let err = Settings::resolve(&flags, &none, &FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("database name"));
        let flags = FlagValues {
            uri: Some("http://x".into()),
            ..Default::default()
        };
        let err = Settings::resolve(&flags, &none, &FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("scheme"), "{err}");
    }
}
