//! The command-line layer: parse, resolve settings, dispatch to the library,
//! print. Commands live one per file; none of them talks Bolt directly except
//! through the library.

pub mod backup;
pub mod config;
pub mod doctor;
pub mod drill;
pub mod generate;
pub mod json;
pub mod lifecycle;
pub mod metrics;
pub mod opt;
pub mod output;
pub mod package;
pub mod prune;
pub mod restore;
pub mod schedule;

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::config::{process_env, FileConfig, FlagValues, Settings, Source, DEFAULT_CONFIG_FILE};
use crate::error::{Error, Result};
use crate::graph::Db;
use opt::{BackupCommand, Command, ConfigCommand, GlobalArgs, MigrationsCommand, Opt};
use output::{Output, Report};

/// An operation that was interrupted and is not yet rolled back, as a
/// look-only command finds it.
pub enum Unfinished {
    /// This folder's journal, whose process is gone.
    Journal(Box<crate::safety::journal::JournalEntry>),
    /// The database's marker, with no journal here.
    Marker(Box<crate::safety::marker::Marker>),
    /// The journal cannot be read.
    Unreadable(crate::safety::SafetyError),
}

impl Unfinished {
    /// For people: what it is and what to run.
    pub fn describe(&self) -> String {
        match self {
            Unfinished::Journal(e) => format!(
                "an interrupted {} from {} (pid {} on host {}) is not rolled back yet: run `ign-setup recover` (every command that changes the database also does it first)",
                e.operation, e.started_at, e.pid, e.host
            ),
            Unfinished::Marker(m) => format!(
                "the database records an unfinished {}: run `ign-setup recover` with a backup folder that holds {}",
                m.describe(),
                m.needs()
            ),
            Unfinished::Unreadable(e) => format!("{e}; `ign-setup recover` handles it"),
        }
    }

    /// As the error a command that cannot go on returns (exit 30).
    pub fn into_error(self) -> crate::safety::SafetyError {
        match self {
            Unfinished::Journal(entry) => crate::safety::SafetyError::Unfinished { entry },
            Unfinished::Marker(marker) => {
                crate::safety::SafetyError::OperationInDatabase { marker }
            }
            Unfinished::Unreadable(e) => e,
        }
    }
}

/// What every command gets: resolved settings and how to talk to the user.
pub struct Context {
    pub settings: Settings,
    pub yes: bool,
    pub out: Output,
    pub interactive: bool,
    /// The global flags as given (`schedule install` writes them into its units).
    pub global: GlobalArgs,
    /// The config file that was read, and what named it.
    pub config_file: Option<(PathBuf, Source)>,
    /// Ctrl-C, as the binary reports it; passed to every operation.
    pub cancel: crate::interrupt::Cancel,
}

impl Context {
    /// Connects; first finishes the rollback of an interrupted operation, if
    /// the journal shows one whose process is gone.
    pub async fn connect(&self) -> Result<Db> {
        let password = self.settings.connect.password.resolve(self.interactive)?;
        let db = Db::connect(&self.settings.connect, &password).await?;
        restore::recover_if_needed(self, db).await
    }

    /// Connects for a command that only looks (`doctor`, `backup status`):
    /// an interrupted operation is not rolled back from here but returned, so
    /// the command can report it and name `ign-setup recover`. The commands
    /// that change the database recover first, through [`Context::connect`].
    pub async fn connect_to_look(&self) -> Result<(Db, Option<Unfinished>)> {
        let password = self.settings.connect.password.resolve(self.interactive)?;
        let db = Db::connect(&self.settings.connect, &password).await?;
        let store = crate::backup::BackupStore::new(&self.settings.backup_dir, 1);
        // No folder, no journal (doctor reports the folder itself).
        let pending = if self.settings.backup_dir.is_dir() {
            crate::operation::pending(&store)
        } else {
            Ok(None)
        };
        let unfinished = match pending {
            Ok(Some(entry)) => Some(Unfinished::Journal(Box::new(entry))),
            Ok(None) => crate::safety::marker::read(&db)
                .await?
                .filter(|m| !m.owner_alive_here())
                .map(|m| Unfinished::Marker(Box::new(m))),
            Err(e) => Some(Unfinished::Unreadable(e)),
        };
        Ok((db, unfinished))
    }

    /// Asks before a destructive step. `--yes` (or `IGN_SETUP_YES=1`) answers
    /// for scripts; without a terminal and without them the answer is no. The
    /// answer is a line: `y` or `yes` and Enter, so one stray key never
    /// confirms; anything else, or just Enter, is no.
    pub fn confirm(&self, question: &str) -> Result<()> {
        if self.yes {
            return Ok(());
        }
        if !self.interactive {
            return Err(Error::NotConfirmed(format!(
                "{question} — not confirmed: no terminal to ask on; pass --yes (or set IGN_SETUP_YES=1) to proceed"
            )));
        }
        let term = console::Term::stderr();
        let _ = term.write_str(&format!("{question} [y/N] "));
        let answer = term.read_line().map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted {
                // Off the prompt's line.
                let _ = term.write_line("");
                Error::Interrupted
            } else {
                Error::NotConfirmed(format!("no answer ({e}); nothing was changed"))
            }
        })?;
        if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(Error::NotConfirmed("declined; nothing was changed".into()))
        }
    }
}

/// The database a destructive command changes, as its plan and prompt name
/// it: "database `neo4j` on 127.0.0.1:7687 (Neo4j Kernel 5.26.30)".
pub fn target(db: &Db) -> String {
    format!(
        "database `{}` on {} ({} {})",
        db.database().unwrap_or("(server default)"),
        db.address(),
        db.server().agent,
        db.server().version
    )
}

/// `IGN_SETUP_YES=1` (or `true`, `yes`) answers yes like `--yes`, for scripts
/// that cannot add a flag; `0`, `false`, `no` or empty leave it off.
fn yes_from_env() -> Result<bool> {
    match process_env("IGN_SETUP_YES").map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if ["1", "true", "yes", "y", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "n", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(Error::Config(crate::config::ConfigError::Invalid {
            what: "IGN_SETUP_YES",
            value: v,
            reason: "expected 1 or 0 (also true/false, yes/no)".into(),
        })),
    }
}

fn load_settings(g: &GlobalArgs) -> Result<(Settings, Option<(PathBuf, Source)>)> {
    let explicit = match (&g.config, process_env("IGN_SETUP_CONFIG")) {
        (Some(path), _) => Some((path.clone(), Source::Flag("--config"))),
        (None, Some(path)) => Some((PathBuf::from(path), Source::Env("IGN_SETUP_CONFIG"))),
        (None, None) => None,
    };
    let (file, config_file) = match explicit {
        Some((path, from)) => (FileConfig::load(&path)?, Some((path, from))),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            if default.is_file() {
                (
                    FileConfig::load(&default)?,
                    Some((default, Source::Default)),
                )
            } else {
                (FileConfig::default(), None)
            }
        }
    };
    let flags = FlagValues {
        uri: g.uri.clone(),
        user: g.user.clone(),
        password: g.password.clone(),
        password_file: g.password_file.clone(),
        database: g.database.clone(),
        backup_dir: g.backup_dir.clone(),
        migrations_dir: g.migrations.clone(),
        connect_timeout_secs: g.connect_timeout,
        query_timeout_secs: g.query_timeout,
        metrics_file: g.metrics_file.clone(),
    };
    Ok((Settings::resolve(&flags, &process_env, &file)?, config_file))
}

/// A command line clap refused (or `--help` / `--version`, which clap
/// prints): clap's own message on stderr, and with `--json` anywhere on the
/// line also the one JSON error document every failure has, on stdout.
/// Returns the exit code (2 for usage errors, 0 for help and version).
pub fn usage_error(err: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let code = err.exit_code();
    let is_output = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let _ = err.print();
    if !is_output && std::env::args_os().any(|a| a == "--json") {
        // clap's paragraph (the error line and what it lists, such as the
        // missing arguments) and its tips, without the usage and help lines.
        let rendered = err.render().to_string();
        let mut message = rendered
            .lines()
            .skip_while(|l| !l.starts_with("error:"))
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.trim_start_matches("error:").trim())
            .collect::<Vec<_>>()
            .join(" ");
        if message.is_empty() {
            message = err.kind().to_string();
        }
        for tip in rendered
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("tip:"))
        {
            message.push_str("; ");
            message.push_str(tip);
        }
        let doc = json::ErrorDocument {
            ok: false,
            error: json::ErrorBody {
                kind: crate::exit::Fault::Usage.kind(),
                message,
                exit_code: code,
                details: None,
            },
        };
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    code
}

/// Runs a parsed command line; returns the process exit code.
/// `cancel` is the token the caller's Ctrl-C handler requests
/// ([`crate::interrupt::Cancel::interrupt`]).
pub async fn run(opt: Opt, cancel: crate::interrupt::Cancel) -> i32 {
    crate::log::set_verbosity(opt.global.verbose);
    crate::log::set_quiet(opt.global.quiet);
    let out = Output::new(opt.global.json);
    // Generated from the command definitions alone: no settings, so a broken
    // config file cannot keep anyone from their completions.
    let generated = match &opt.command {
        Command::Completions { shell } => Some(generate::completions(*shell)),
        Command::Man { out } => Some(generate::man(out.as_deref())),
        _ => None,
    };
    if let Some(result) = generated {
        return match result {
            Ok(report) => {
                out.print(&report);
                report.exit_code
            }
            Err(err) => {
                out.print_error(&err);
                err.exit_code()
            }
        };
    }
    let operation = metrics::operation_of(&opt.command);
    let started_at = std::time::SystemTime::now();
    let started = std::time::Instant::now();
    // Where the metrics go, known once the settings are (or from the flag
    // alone when the settings themselves are what failed).
    let mut metrics_target = opt.global.metrics_file.clone().zip(
        opt.global
            .backup_dir
            .clone()
            .or_else(|| Some(crate::config::DEFAULT_BACKUP_DIR.into())),
    );
    let result = async {
        let (settings, config_file) = load_settings(&opt.global)?;
        let yes = opt.global.yes || yes_from_env()?;
        metrics_target = settings
            .metrics_file
            .clone()
            .map(|m| (m, settings.backup_dir.clone()));
        let ctx = Context {
            settings,
            yes,
            out,
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            global: opt.global.clone(),
            config_file,
            cancel,
        };
        dispatch(&ctx, opt.command).await
    };
    let result = result.await;
    if let (Some(op), Some((file, backup_dir))) = (operation, &metrics_target) {
        let run = op.map(|op| {
            let since_epoch = started_at
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            metrics::run_of(
                op,
                since_epoch,
                started.elapsed().as_secs_f64(),
                result.as_ref().ok().map(|r| &r.json),
            )
        });
        metrics::write(file, backup_dir, run.as_ref());
    }
    match result {
        Ok(report) => {
            out.print(&report);
            report.exit_code
        }
        Err(err) => {
            out.print_error(&err);
            err.exit_code()
        }
    }
}

async fn dispatch(ctx: &Context, command: Command) -> Result<Report> {
    match command {
        Command::Doctor => doctor::run(ctx).await,
        Command::Backup(b) => match b {
            BackupCommand::Create { reason, auto } => backup::create(ctx, reason, auto).await,
            BackupCommand::List { detailed } => backup::list(ctx, detailed),
            BackupCommand::Info { file } => backup::info(ctx, &file),
            BackupCommand::Verify { file } => backup::verify(ctx, &file),
            BackupCommand::Status => backup::status(ctx).await,
            BackupCommand::Init { reason } => backup::init(ctx, reason).await,
            BackupCommand::Restore {
                backup,
                file,
                confirm,
                allow_schema_loss,
            } => restore::run(ctx, backup.or(file), confirm, allow_schema_loss).await,
            BackupCommand::Prune(args) => prune::run(ctx, &args),
            BackupCommand::Delete { names, dry_run } => prune::delete(ctx, &names, dry_run),
            BackupCommand::Drill(args) => drill::run(ctx, args).await,
        },
        Command::Package(args) => package::run(ctx, args),
        Command::Recover => restore::recover(ctx).await,
        Command::Install(args) => lifecycle::install(ctx, args).await,
        Command::Upgrade(args) => lifecycle::upgrade(ctx, args).await,
        Command::Migrations(MigrationsCommand::Status) => lifecycle::status(ctx).await,
        Command::Migrations(MigrationsCommand::New { name, version }) => {
            lifecycle::new_migration(ctx, &name, version.as_ref())
        }
        Command::Schedule(s) => schedule::run(ctx, s),
        Command::Config(ConfigCommand::Show) => config::show(ctx),
        Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("generated before settings are read")
        }
    }
}
