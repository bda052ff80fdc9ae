//! The engine: runs a plan's migrations against the database, checks each
//! version's verify queries; [`crate::operation::run`] wraps it in the lock,
//! the journal, the pre-upgrade backup and the rollback.
//!
//! The migration loop is written once against [`Executor`], a small trait for
//! "run this schema statement / these data statements / this verify query /
//! record this file", so how statements are grouped and ordered, and when a
//! step counts as failed, is tested without a server; [`DbExecutor`] is the
//! real one.

use std::sync::Arc;
use std::time::Instant;

use neo4rs::query;
use semver::Version;
use serde::Serialize;

use super::error::{LifecycleError, MigrationFailure, StepError};
use super::plan::{history_problems, Safety, UpgradePlan};
use crate::backup::{BackupStore, BackupType};
use crate::graph::{Db, GraphError, Origin};
use crate::migrations::{group_into_transactions, Catalog, Migration, Statement, StatementKind};
use crate::operation::{self, Env, Protection, Spec};
use crate::safety::journal::OperationKind;
use crate::state::{self, MigrationRecord, StateError};

/// What a verify query's rows held in their `ok` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OkCell {
    Bool(bool),
    Null,
    /// A value that is not a boolean.
    Other,
    /// No `ok` column.
    Missing,
}

/// The database operations the engine needs; see the module documentation.
pub(crate) trait Executor {
    /// Runs one statement alone in an auto-commit transaction: a schema
    /// statement, or one that commits by itself (`CALL { … } IN TRANSACTIONS`).
    async fn alone(&self, m: &Migration, stmt: &Statement) -> Result<(), GraphError>;
    /// Runs data statements together in one transaction; on failure, the
    /// index of the statement that failed.
    async fn data(&self, m: &Migration, stmts: &[Statement]) -> Result<(), (usize, GraphError)>;
    /// Runs a verify query and returns each row's `ok` cell.
    async fn verify(&self, file: &str, query: &str) -> Result<Vec<OkCell>, GraphError>;
    /// Records a migration file as applied.
    async fn record(&self, m: &Migration, duration_ms: u64) -> Result<(), StateError>;
    /// Whether a stop was asked for (Ctrl-C): checked before each statement.
    fn cancelled(&self) -> bool {
        false
    }
}

/// The verify rule: exactly one row, with a boolean `ok` that is true.
/// `Err` says what was wrong, to finish "verify query N (`...`) ...".
pub fn judge_verify(cells: &[OkCell]) -> Result<(), String> {
    match cells {
        [] => Err("returned no row (it must return exactly one row with ok = true)".into()),
        [OkCell::Bool(true)] => Ok(()),
        [OkCell::Bool(false)] => Err("returned ok = false".into()),
        [OkCell::Null] => Err("returned ok = null (it must be true)".into()),
        [OkCell::Other] => Err("returned an `ok` that is not a boolean".into()),
        [OkCell::Missing] => Err("returned no `ok` column (name the result `AS ok`)".into()),
        more => Err(format!(
            "returned {} rows (it must return exactly one row with ok = true)",
            more.len()
        )),
    }
}

/// One migration file the engine ran.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedFile {
    pub version: Version,
    pub name: String,
    pub duration_ms: u64,
}

/// Runs every migration of `plan` in order, recording each file, and each
/// version's verify queries after its files. Stops at the first failure.
pub(crate) async fn run_versions<E: Executor>(
    exec: &E,
    plan: &UpgradePlan,
) -> Result<Vec<AppliedFile>, MigrationFailure> {
    let mut done = Vec::new();
    match run_versions_into(exec, plan, &mut done).await {
        Ok(()) => Ok(done),
        Err(step) => Err(MigrationFailure {
            step,
            applied: done,
        }),
    }
}

async fn run_versions_into<E: Executor>(
    exec: &E,
    plan: &UpgradePlan,
    done: &mut Vec<AppliedFile>,
) -> Result<(), StepError> {
    for dir in &plan.dirs {
        for m in &dir.migrations {
            crate::progress::step(format!(
                "Running {}/{} ({} statement{})…",
                m.version,
                m.name,
                m.statements.len(),
                if m.statements.len() == 1 { "" } else { "s" }
            ));
            let started = Instant::now();
            for group in group_into_transactions(&m.statements) {
                // Ctrl-C stops before the next statement (or transaction of
                // data statements); the runner then rolls back.
                if exec.cancelled() {
                    return Err(StepError::Interrupted {
                        version: m.version.clone(),
                        file: m.name.clone(),
                        before_line: group.statements.first().map(|s| s.line),
                    });
                }
                let failed = match group.kind {
                    StatementKind::Schema | StatementKind::AutoCommit => exec
                        .alone(m, &group.statements[0])
                        .await
                        .map_err(|e| (0, e)),
                    StatementKind::Data => exec.data(m, group.statements).await,
                };
                if let Err((i, source)) = failed {
                    let line = group.statements.get(i).map_or(0, |s| s.line);
                    return Err(StepError::Statement {
                        version: m.version.clone(),
                        file: m.name.clone(),
                        line,
                        source,
                    });
                }
                crate::faults::pause("upgrade.statement").await;
            }
            let duration_ms = started.elapsed().as_millis() as u64;
            exec.record(m, duration_ms)
                .await
                .map_err(|source| StepError::Record {
                    version: m.version.clone(),
                    file: m.name.clone(),
                    source,
                })?;
            crate::log::debug(format!(
                "applied {}/{} in {duration_ms} ms",
                m.version, m.name
            ));
            done.push(AppliedFile {
                version: m.version.clone(),
                name: m.name.clone(),
                duration_ms,
            });
            crate::faults::hit("upgrade.migration").map_err(|source| StepError::Injected {
                version: m.version.clone(),
                file: m.name.clone(),
                source,
            })?;
            crate::faults::pause("upgrade.migration").await;
            if exec.cancelled() {
                return Err(StepError::Interrupted {
                    version: m.version.clone(),
                    file: m.name.clone(),
                    before_line: None,
                });
            }
        }
        for (i, q) in dir.verify.iter().enumerate() {
            let verify_file = dir.path.join("verify.cypher");
            let verdict = match exec.verify(&verify_file.to_string_lossy(), q).await {
                Ok(cells) => judge_verify(&cells),
                Err(e) => Err(format!("failed: {e}")),
            };
            if let Err(problem) = verdict {
                return Err(StepError::Verify {
                    version: dir.version.clone(),
                    index: i + 1,
                    query: one_line(q),
                    problem,
                });
            }
        }
    }
    Ok(())
}

fn one_line(q: &str) -> String {
    q.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The real executor.
pub(crate) struct DbExecutor<'a> {
    pub db: &'a Db,
    pub cancel: &'a crate::interrupt::Cancel,
}

impl Executor for DbExecutor<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.requested()
    }

    async fn alone(&self, m: &Migration, stmt: &Statement) -> Result<(), GraphError> {
        let file = m.path.to_string_lossy();
        let origin = Origin::Migration {
            file: &file,
            line: stmt.line,
        };
        self.db.run_from(query(&stmt.text), origin).await
    }

    async fn data(&self, m: &Migration, stmts: &[Statement]) -> Result<(), (usize, GraphError)> {
        let file = m.path.to_string_lossy();
        self.db
            .run_in_txn_indexed(
                stmts
                    .iter()
                    .map(|s| {
                        let origin = Origin::Migration {
                            file: &file,
                            line: s.line,
                        };
                        (query(&s.text), origin)
                    })
                    .collect(),
            )
            .await
    }

    async fn verify(&self, file: &str, q: &str) -> Result<Vec<OkCell>, GraphError> {
        let origin = Origin::Migration { file, line: 0 };
        let rows = self.db.rows_from(query(q), origin).await?;
        Ok(rows
            .iter()
            .map(|r| {
                if !r.keys().iter().any(|k| k.value == "ok") {
                    return OkCell::Missing;
                }
                match r.get::<Option<bool>>("ok") {
                    Ok(Some(b)) => OkCell::Bool(b),
                    Ok(None) => OkCell::Null,
                    Err(_) => OkCell::Other,
                }
            })
            .collect())
    }

    async fn record(&self, m: &Migration, duration_ms: u64) -> Result<(), StateError> {
        state::record_migration(
            self.db,
            &MigrationRecord {
                version: &m.version,
                name: &m.name,
                checksum: &m.checksum,
                duration_ms,
                baseline: false,
            },
        )
        .await
    }
}

/// The checks after all versions: the version record is the target, and
/// every migration up to the target is recorded with the checksum of its file.
pub(crate) async fn final_checks(
    db: &Db,
    catalog: &Catalog,
    to: &Version,
) -> Result<(), StepError> {
    let check = |e: StateError| StepError::Check(e.to_string());
    let recorded = state::installed_version(db).await.map_err(check)?;
    match recorded {
        Some(r) if r.version == *to => {}
        other => {
            return Err(StepError::Check(format!(
                "the version record says {}, expected {to}",
                other.map_or_else(|| "nothing".to_owned(), |r| r.version.to_string())
            )))
        }
    }
    let applied = state::applied_migrations(db).await.map_err(check)?;
    if let Some(p) = history_problems(catalog, Some(to), &applied)
        .into_iter()
        .next()
    {
        return Err(StepError::Check(p.to_string()));
    }
    Ok(())
}

/// The guarded operation of an upgrade or install: what protects the data
/// and the words the safety backup is labelled with.
pub(crate) fn spec(
    kind: OperationKind,
    from: Option<&Version>,
    to: &Version,
    safety: Safety,
) -> Spec {
    let protection = match safety {
        Safety::PreUpgradeBackup => Protection::SafetyBackup {
            kind: BackupType::PreUpgrade,
            reason: format!(
                "Pre-upgrade backup before upgrading {} to {to}",
                from.map_or_else(|| "an empty database".to_owned(), |v| v.to_string())
            ),
        },
        Safety::EmptyDatabase => Protection::EmptyDatabase,
    };
    Spec {
        kind,
        target: to.to_string(),
        from: from.map(ToString::to_string),
        protection,
    }
}

/// What `upgrade --to` found before planning.
#[derive(Debug)]
pub enum UpgradeDecision {
    /// The target is the installed version: nothing to do.
    AlreadyAt(Version),
    Plan(UpgradePlan),
}

/// `upgrade --dry-run`: asks the server to plan (`EXPLAIN`) every statement
/// of the plan's migration files and verify queries, in the order they would
/// run, and stops at the first it refuses (a syntax error, an unknown
/// procedure, a `:param` line). EXPLAIN plans without executing, so nothing is
/// written. Returns how many statements were checked.
pub async fn explain_upgrade(db: &Db, plan: &UpgradePlan) -> Result<usize, LifecycleError> {
    let total: usize = plan
        .dirs
        .iter()
        .map(|d| {
            d.verify.len()
                + d.migrations
                    .iter()
                    .map(|m| m.statements.len())
                    .sum::<usize>()
        })
        .sum();
    crate::progress::step(format!(
        "Asking the server to plan {} statement{} (EXPLAIN: nothing is run)…",
        crate::text::thousands(total as u64),
        if total == 1 { "" } else { "s" }
    ));
    let refused = |version: &Version, place: String| {
        let version = version.clone();
        move |source| LifecycleError::DryRunRefused {
            version,
            place,
            source: Box::new(source),
        }
    };
    let mut checked = 0;
    for dir in &plan.dirs {
        for m in &dir.migrations {
            let file = m.path.to_string_lossy();
            for s in &m.statements {
                let origin = Origin::Migration {
                    file: &file,
                    line: s.line,
                };
                db.run_from(query(&format!("EXPLAIN {}", s.text)), origin)
                    .await
                    .map_err(refused(
                        &dir.version,
                        format!("`{}`, statement at line {}", m.name, s.line),
                    ))?;
                checked += 1;
            }
        }
        let verify_file = dir.path.join("verify.cypher");
        let file = verify_file.to_string_lossy();
        for (i, q) in dir.verify.iter().enumerate() {
            let origin = Origin::Migration {
                file: &file,
                line: 0,
            };
            db.run_from(query(&format!("EXPLAIN {q}")), origin)
                .await
                .map_err(refused(
                    &dir.version,
                    format!("`verify.cypher`, query {}", i + 1),
                ))?;
            checked += 1;
        }
    }
    Ok(checked)
}

/// Checks an upgrade to `to` and plans it; reads only.
pub async fn prepare_upgrade(
    db: &Db,
    catalog: &Catalog,
    to: &Version,
    backup_dir: &std::path::Path,
) -> Result<UpgradeDecision, LifecycleError> {
    let installed = state::installed_version(db)
        .await?
        .ok_or(LifecycleError::NotInstalled)?
        .version;
    if !catalog.contains(to) && installed.cmp_precedence(to).is_ne() {
        return Err(LifecycleError::UnknownTarget {
            target: to.clone(),
            dir: catalog.dir().to_owned(),
            available: super::plan::available(catalog),
        });
    }
    if installed.cmp_precedence(to).is_gt() {
        return Err(LifecycleError::Downgrade {
            installed,
            target: to.clone(),
        });
    }
    let applied = state::applied_migrations(db).await?;
    if let Some(p) = history_problems(catalog, Some(&installed), &applied)
        .into_iter()
        .next()
    {
        return Err(p.into());
    }
    if installed.cmp_precedence(to).is_eq() {
        return Ok(UpgradeDecision::AlreadyAt(installed));
    }
    Ok(UpgradeDecision::Plan(UpgradePlan::build(
        catalog,
        Some(&installed),
        to,
        Safety::PreUpgradeBackup,
        backup_dir,
    )))
}

/// What a finished upgrade did.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeOutcome {
    pub from: Option<Version>,
    pub to: Version,
    pub applied: Vec<AppliedFile>,
    pub verify_queries: usize,
}

/// Runs a plan from [`prepare_upgrade`]: lock, journal, verified pre-upgrade
/// backup, migrations, verification, version record; rollback on any failure.
pub async fn execute_upgrade(
    db: Arc<Db>,
    store: &BackupStore,
    catalog: &Catalog,
    plan: &UpgradePlan,
    progress: bool,
    cancel: &crate::interrupt::Cancel,
) -> Result<UpgradeOutcome, LifecycleError> {
    let env = Env {
        db,
        store,
        progress,
        cancel,
    };
    let spec = spec(
        OperationKind::Upgrade,
        plan.from.as_ref(),
        &plan.to,
        plan.safety,
    );
    let done = operation::run(&env, spec, async |db: &Db| {
        migrate_and_record(db, catalog, plan, cancel).await
    })
    .await?;
    Ok(UpgradeOutcome {
        from: plan.from.clone(),
        to: plan.to.clone(),
        applied: done.value,
        verify_queries: plan.versions.iter().map(|v| v.verify.len()).sum(),
    })
}

/// The destructive part shared by upgrade and install: migrations, the
/// version record, the final checks.
pub(crate) async fn migrate_and_record(
    db: &Db,
    catalog: &Catalog,
    plan: &UpgradePlan,
    cancel: &crate::interrupt::Cancel,
) -> Result<Vec<AppliedFile>, MigrationFailure> {
    let applied = run_versions(&DbExecutor { db, cancel }, plan).await?;
    let after = async {
        state::record_version(db, &plan.to)
            .await
            .map_err(StepError::Version)?;
        final_checks(db, catalog, &plan.to).await
    };
    match after.await {
        Ok(()) => Ok(applied),
        Err(step) => Err(MigrationFailure { step, applied }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::Path;

    /// Records what the engine asked for; fails where told to.
    #[derive(Default)]
    struct Fake {
        log: RefCell<Vec<String>>,
        fail_on: Option<&'static str>,
        verify_answer: Vec<OkCell>,
        /// Asks to stop once this many statements or transactions ran.
        stop_after: Option<usize>,
    }

    impl Fake {
        fn check(&self, text: &str) -> Result<(), GraphError> {
            if self.fail_on.is_some_and(|f| text.contains(f)) {
                return Err(GraphError::Query {
                    code: "Neo.ClientError.Statement.SyntaxError".into(),
                    message: "bad".into(),
                });
            }
            Ok(())
        }
    }

    impl Executor for Fake {
        fn cancelled(&self) -> bool {
            self.stop_after.is_some_and(|n| {
                self.log
                    .borrow()
                    .iter()
                    .filter(|l| !l.starts_with("record"))
                    .count()
                    >= n
            })
        }
        async fn alone(&self, _: &Migration, stmt: &Statement) -> Result<(), GraphError> {
            self.log
                .borrow_mut()
                .push(format!("{} {}", stmt.kind, stmt.line));
            self.check(&stmt.text)
        }
        async fn data(
            &self,
            _: &Migration,
            stmts: &[Statement],
        ) -> Result<(), (usize, GraphError)> {
            let lines: Vec<String> = stmts.iter().map(|s| s.line.to_string()).collect();
            self.log
                .borrow_mut()
                .push(format!("data {}", lines.join(",")));
            for (i, s) in stmts.iter().enumerate() {
                self.check(&s.text).map_err(|e| (i, e))?;
            }
            Ok(())
        }
        async fn verify(&self, _: &str, q: &str) -> Result<Vec<OkCell>, GraphError> {
            self.log.borrow_mut().push(format!("verify {q}"));
            Ok(self.verify_answer.clone())
        }
        async fn record(&self, m: &Migration, _: u64) -> Result<(), StateError> {
            self.log
                .borrow_mut()
                .push(format!("record {}/{}", m.version, m.name));
            Ok(())
        }
    }

    fn plan(
        files: &[(&str, &str)],
        from: Option<&str>,
        to: &str,
    ) -> (tempfile::TempDir, UpgradePlan) {
        let (tmp, c) = crate::lifecycle::plan::tests::catalog(files);
        let from = from.map(|f| Version::parse(f).unwrap());
        let p = UpgradePlan::build(
            &c,
            from.as_ref(),
            &Version::parse(to).unwrap(),
            Safety::PreUpgradeBackup,
            Path::new("b"),
        );
        (tmp, p)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    const FILES: &[(&str, &str)] = &[
        ("1.4.0/001_a.cypher", "CREATE INDEX a FOR (n:A) ON (n.x);"),
        (
            "1.5.0/001_schema.cypher",
            "CREATE CONSTRAINT c FOR (n:S) REQUIRE n.id IS UNIQUE;\nCREATE INDEX m FOR (f:F) ON (f.m);",
        ),
        (
            "1.5.0/002_data.cypher",
            "MATCH (f:F) SET f.m = 1;\nMATCH (f:F) SET f.u = 0;\nCREATE INDEX late FOR (f:F) ON (f.u);\nMATCH (f:F) SET f.z = 2;",
        ),
        ("1.5.0/verify.cypher", "RETURN true AS ok;\nRETURN 1 = 1 AS ok;"),
        ("1.10.0/001_x.cypher", "MATCH (n) SET n.v = 10;"),
    ];

    #[test]
    fn schema_statements_run_alone_and_data_statements_together_in_file_and_semver_order() {
        let (_t, p) = plan(FILES, Some("1.4.0"), "1.10.0");
        let fake = Fake {
            verify_answer: vec![OkCell::Bool(true)],
            ..Fake::default()
        };
        let done = block_on(run_versions(&fake, &p)).unwrap();
        assert_eq!(
            *fake.log.borrow(),
            [
                "schema 1",
                "schema 2",
                "record 1.5.0/001_schema.cypher",
                "data 1,2",
                "schema 3",
                "data 4",
                "record 1.5.0/002_data.cypher",
                "verify RETURN true AS ok",
                "verify RETURN 1 = 1 AS ok",
                "data 1",
                "record 1.10.0/001_x.cypher",
            ]
        );
        assert_eq!(done.len(), 3);
    }

    #[test]
    fn a_stop_request_ends_the_run_before_the_next_statement() {
        let (_t, p) = plan(FILES, Some("1.4.0"), "1.10.0");
        let fake = Fake {
            verify_answer: vec![OkCell::Bool(true)],
            stop_after: Some(1),
            ..Fake::default()
        };
        let err = block_on(run_versions(&fake, &p)).unwrap_err();
        assert!(
            matches!(
                err.step,
                StepError::Interrupted {
                    before_line: Some(_),
                    ..
                }
            ),
            "{err}"
        );
        // One statement ran; nothing after it, nothing recorded.
        assert_eq!(fake.log.borrow().len(), 1, "{:?}", fake.log.borrow());
        assert!(err.applied.is_empty());
    }

    #[test]
    fn a_failing_statement_stops_the_run_naming_version_file_and_line() {
        let (_t, p) = plan(FILES, Some("1.4.0"), "1.10.0");
        let fake = Fake {
            fail_on: Some("f.u = 0"),
            verify_answer: vec![OkCell::Bool(true)],
            ..Fake::default()
        };
        let err = block_on(run_versions(&fake, &p)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("version 1.5.0, `002_data.cypher`, statement at line 2:"),
            "{msg}"
        );
        // Nothing after the failure ran, and the failed file was not recorded.
        assert_eq!(fake.log.borrow().last().unwrap(), "data 1,2");
        assert!(!fake
            .log
            .borrow()
            .iter()
            .any(|l| l == "record 1.5.0/002_data.cypher"));
    }

    #[test]
    fn a_failing_verify_query_stops_the_run_naming_it() {
        let (_t, p) = plan(FILES, Some("1.4.0"), "1.10.0");
        let fake = Fake {
            verify_answer: vec![OkCell::Bool(false)],
            ..Fake::default()
        };
        let failure = block_on(run_versions(&fake, &p)).unwrap_err();
        assert_eq!(
            failure.step.to_string(),
            "version 1.5.0, verify.cypher query 1 (`RETURN true AS ok`) returned ok = false"
        );
        // What had run before the failure comes with it.
        let applied: Vec<String> = failure
            .applied
            .iter()
            .map(|a| format!("{}/{}", a.version, a.name))
            .collect();
        assert_eq!(
            applied,
            ["1.5.0/001_schema.cypher", "1.5.0/002_data.cypher"]
        );
        assert!(failure
            .to_string()
            .ends_with("(applied before it: 1.5.0/001_schema.cypher, 1.5.0/002_data.cypher)"));
        assert!(!fake.log.borrow().iter().any(|l| l.contains("1.10.0")));
    }

    #[test]
    fn the_verify_rule_wants_exactly_one_true_ok() {
        use OkCell::*;
        assert!(judge_verify(&[Bool(true)]).is_ok());
        for bad in [
            vec![],
            vec![Bool(false)],
            vec![Null],
            vec![Other],
            vec![Missing],
            vec![Bool(true), Bool(true)],
        ] {
            assert!(judge_verify(&bad).is_err(), "{bad:?}");
        }
        assert!(judge_verify(&[Missing]).unwrap_err().contains("AS ok"));
        assert!(judge_verify(&[Bool(true), Bool(true)])
            .unwrap_err()
            .contains("2 rows"));
    }

    #[test]
    fn from_nothing_runs_every_version() {
        let (_t, p) = plan(FILES, None, "1.5.0");
        let fake = Fake {
            verify_answer: vec![OkCell::Bool(true)],
            ..Fake::default()
        };
        let done = block_on(run_versions(&fake, &p)).unwrap();
        let names: Vec<String> = done
            .iter()
            .map(|d| format!("{}/{}", d.version, d.name))
            .collect();
        assert_eq!(
            names,
            [
                "1.4.0/001_a.cypher",
                "1.5.0/001_schema.cypher",
                "1.5.0/002_data.cypher"
            ]
        );
    }
}
