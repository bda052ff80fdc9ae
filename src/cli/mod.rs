//! The command-line layer: parse, resolve settings, dispatch to the library,
//! print. Commands live one per file; none of them talks Bolt directly except
//! through the library.

pub mod backup;
pub mod doctor;
pub mod drill;
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

use crate::config::{process_env, FileConfig, FlagValues, Settings, DEFAULT_CONFIG_FILE};
use crate::error::{Error, Result};
use crate::graph::Db;
use opt::{BackupCommand, Command, GlobalArgs, MigrationsCommand, Opt};
use output::{Output, Report};

/// What every command gets: resolved settings and how to talk to the user.
pub struct Context {
    pub settings: Settings,
    pub yes: bool,
    pub out: Output,
    pub interactive: bool,
    /// The global flags as given (`schedule install` writes them into its units).
    pub global: GlobalArgs,
}

impl Context {
    /// Connects; first finishes the rollback of an interrupted operation, if
    /// the journal shows one whose process is gone.
    pub async fn connect(&self) -> Result<Db> {
        let password = self.settings.connect.password.resolve(self.interactive)?;
        let db = Db::connect(&self.settings.connect, &password).await?;
        restore::recover_if_needed(self, db).await
    }

    /// Asks before a destructive step. `--yes` answers for scripts; without a
    /// terminal and without `--yes` the answer is no.
    pub fn confirm(&self, question: &str) -> Result<()> {
        if self.yes {
            return Ok(());
        }
        if !self.interactive {
            return Err(Error::NotConfirmed(format!(
                "{question} — not confirmed: no terminal to ask on; pass --yes to proceed"
            )));
        }
        let ok = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(Error::NotConfirmed("declined; nothing was changed".into()))
        }
    }
}

fn load_settings(g: &GlobalArgs, migrations_dir: Option<PathBuf>) -> Result<Settings> {
    let explicit = g
        .config
        .clone()
        .or_else(|| process_env("IGN_SETUP_CONFIG").map(PathBuf::from));
    let file = match explicit {
        Some(path) => FileConfig::load(&path)?,
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            if default.is_file() {
                FileConfig::load(&default)?
            } else {
                FileConfig::default()
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
        migrations_dir,
        connect_timeout_secs: g.connect_timeout,
        query_timeout_secs: g.query_timeout,
        metrics_file: g.metrics_file.clone(),
    };
    Ok(Settings::resolve(&flags, &process_env, &file)?)
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(opt: Opt) -> i32 {
    crate::log::set_verbosity(opt.global.verbose);
    let out = Output::new(opt.global.json);
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
        let settings = load_settings(&opt.global, opt.command.migrations_flag().cloned())?;
        metrics_target = settings
            .metrics_file
            .clone()
            .map(|m| (m, settings.backup_dir.clone()));
        let ctx = Context {
            settings,
            yes: opt.global.yes,
            out,
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            global: opt.global.clone(),
        };
        dispatch(&ctx, opt.command).await
    };
    crate::interrupt::install();
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
                file,
                confirm,
                allow_schema_loss,
            } => restore::run(ctx, file, confirm, allow_schema_loss).await,
            BackupCommand::Prune(args) => prune::run(ctx, &args),
            BackupCommand::Drill(args) => drill::run(ctx, args).await,
        },
        Command::Package(args) => package::run(ctx, args),
        Command::Recover => restore::recover(ctx).await,
        Command::Install(args) => lifecycle::install(ctx, args).await,
        Command::Upgrade(args) => lifecycle::upgrade(ctx, args).await,
        Command::Migrations(MigrationsCommand::Status { .. }) => lifecycle::status(ctx).await,
        Command::Schedule(s) => schedule::run(ctx, s),
    }
}
