//! Plan, then execute: everything an upgrade will do, decided from the
//! catalog and the recorded history before anything touches the database.
//!
//! [`UpgradePlan`] is what `upgrade --dry-run` prints (human and JSON) and
//! what the engine then runs, so the printed plan and the work cannot drift
//! apart. The history check ([`history_problems`]) is pure as well: it
//! compares records with files and needs no server.

use std::fmt::{self, Write as _};
use std::path::Path;

use semver::Version;
use serde::Serialize;

use super::error::HistoryProblem;
use crate::migrations::{group_into_transactions, Catalog, VersionDir};
use crate::state::AppliedMigration;

/// How a failed upgrade gets the old data back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Safety {
    /// A verified pre-upgrade backup is taken first and loaded back on failure.
    PreUpgradeBackup,
    /// The database is empty before the operation; a rollback empties it again.
    EmptyDatabase,
}

/// One statement group: the transaction it runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxSummary {
    /// `schema` (always one statement) or `data`.
    pub kind: String,
    /// Lines in the file where its statements start.
    pub lines: Vec<usize>,
}

/// One migration file of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStep {
    pub name: String,
    pub checksum: String,
    pub statements: usize,
    pub transactions: Vec<TxSummary>,
}

/// One version of a plan: its files in the order they run, and its verify queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionStep {
    pub version: Version,
    pub migrations: Vec<MigrationStep>,
    pub verify: Vec<String>,
}

/// Everything an upgrade (or the migration part of an install) will do.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradePlan {
    /// The installed version; `None` for an empty database.
    pub from: Option<Version>,
    pub to: Version,
    pub versions: Vec<VersionStep>,
    /// What protects the data: "pre-upgrade backup into <dir>", or why none is needed.
    pub backup: String,
    pub safety: Safety,
    /// The catalog folders behind `versions`, same order: what the engine runs.
    #[serde(skip)]
    pub(crate) dirs: Vec<VersionDir>,
}

impl UpgradePlan {
    /// Builds the plan from `from` to `to` (both checked by the caller).
    pub fn build(
        catalog: &Catalog,
        from: Option<&Version>,
        to: &Version,
        safety: Safety,
        backup_dir: &Path,
    ) -> UpgradePlan {
        let dirs: Vec<VersionDir> = catalog.pending(from, to).into_iter().cloned().collect();
        let versions = dirs.iter().map(version_step).collect();
        let backup = match safety {
            Safety::PreUpgradeBackup => {
                format!("pre-upgrade backup into {}", backup_dir.display())
            }
            Safety::EmptyDatabase => {
                "none needed: the database is empty, so a rollback empties it again".to_owned()
            }
        };
        UpgradePlan {
            from: from.cloned(),
            to: to.clone(),
            versions,
            backup,
            safety,
            dirs,
        }
    }

    /// Number of migration files the plan runs.
    pub fn migration_count(&self) -> usize {
        self.versions.iter().map(|v| v.migrations.len()).sum()
    }
}

fn version_step(dir: &VersionDir) -> VersionStep {
    VersionStep {
        version: dir.version.clone(),
        migrations: dir
            .migrations
            .iter()
            .map(|m| MigrationStep {
                name: m.name.clone(),
                checksum: m.checksum.clone(),
                statements: m.statements.len(),
                transactions: group_into_transactions(&m.statements)
                    .iter()
                    .map(|g| TxSummary {
                        kind: g.kind.to_string(),
                        lines: g.statements.iter().map(|s| s.line).collect(),
                    })
                    .collect(),
            })
            .collect(),
        verify: dir.verify.clone(),
    }
}

impl fmt::Display for UpgradePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self
            .from
            .as_ref()
            .map_or_else(|| "nothing installed".to_owned(), |v| v.to_string());
        writeln!(f, "Upgrade plan: {from} -> {}", self.to)?;
        writeln!(f, "  backup: {}", self.backup)?;
        if self.versions.is_empty() {
            writeln!(f, "  no migrations to run")?;
        }
        for v in &self.versions {
            writeln!(f, "  {}", v.version)?;
            for m in &v.migrations {
                let mut txs = String::new();
                for (i, t) in m.transactions.iter().enumerate() {
                    if i > 0 {
                        txs.push_str(", ");
                    }
                    let lines: Vec<String> = t.lines.iter().map(|l| l.to_string()).collect();
                    let _ = write!(txs, "{} (line {})", t.kind, lines.join(", "));
                }
                writeln!(
                    f,
                    "    {}  sha256 {}  {} statement{} in {} transaction{}: {txs}",
                    m.name,
                    &m.checksum[..m.checksum.len().min(12)],
                    m.statements,
                    plural(m.statements),
                    m.transactions.len(),
                    plural(m.transactions.len()),
                )?;
            }
            if !v.verify.is_empty() {
                writeln!(
                    f,
                    "    verify.cypher: {} quer{} (each must return one row with ok = true)",
                    v.verify.len(),
                    if v.verify.len() == 1 { "y" } else { "ies" }
                )?;
            }
        }
        write!(
            f,
            "  then: record version {}, check every migration is recorded",
            self.to
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Every disagreement between the recorded history and the files: applied
/// files that changed or vanished, and files of installed versions that never
/// ran. Empty when the two agree.
pub fn history_problems(
    catalog: &Catalog,
    installed: Option<&Version>,
    applied: &[AppliedMigration],
) -> Vec<HistoryProblem> {
    let installed_text = installed.map_or_else(|| "X.Y.Z".to_owned(), |v| v.to_string());
    let mut problems = Vec::new();
    for a in applied {
        let on_disk = catalog
            .get(&a.version)
            .and_then(|d| d.migrations.iter().find(|m| m.name == a.name));
        match on_disk {
            None => problems.push(HistoryProblem::MissingOnDisk {
                version: a.version.clone(),
                name: a.name.clone(),
                dir: catalog.dir().to_owned(),
            }),
            Some(m) if m.checksum != a.checksum => problems.push(HistoryProblem::Drift {
                version: a.version.clone(),
                name: a.name.clone(),
                path: m.path.clone(),
                recorded: a.checksum.clone(),
                on_disk: m.checksum.clone(),
                installed: installed_text.clone(),
            }),
            Some(_) => {}
        }
    }
    if let Some(installed) = installed {
        for dir in catalog
            .versions()
            .iter()
            .filter(|d| d.version.cmp_precedence(installed).is_le())
        {
            for m in &dir.migrations {
                let recorded = applied
                    .iter()
                    .any(|a| a.version.cmp_precedence(&m.version).is_eq() && a.name == m.name);
                if !recorded {
                    problems.push(HistoryProblem::NeverApplied {
                        version: m.version.clone(),
                        name: m.name.clone(),
                        path: m.path.clone(),
                        installed: installed.clone(),
                    });
                }
            }
        }
    }
    problems
}

/// The catalog's versions as a list for messages: "1.4.0, 1.5.0".
pub fn available(catalog: &Catalog) -> String {
    if catalog.versions().is_empty() {
        return "no versions".into();
    }
    catalog
        .versions()
        .iter()
        .map(|v| v.version.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;

    /// A catalog of the given files in a temp folder (also used by the engine's tests).
    pub(crate) fn catalog(files: &[(&str, &str)]) -> (tempfile::TempDir, Catalog) {
        let tmp = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = tmp.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        let c = Catalog::load(tmp.path()).unwrap();
        (tmp, c)
    }

    fn applied(c: &Catalog, version: &str, name: &str) -> AppliedMigration {
        let v = Version::parse(version).unwrap();
        let m = c
            .get(&v)
            .unwrap()
            .migrations
            .iter()
            .find(|m| m.name == name)
            .unwrap();
        AppliedMigration {
            version: v,
            name: name.into(),
            checksum: m.checksum.clone(),
            applied_at: String::new(),
            duration_ms: 0,
            tool_version: String::new(),
            baseline: false,
        }
    }

    #[test]
    fn plan_lists_versions_files_and_transactions_in_order() {
        let (_t, c) = catalog(&[
            ("1.4.0/001_a.cypher", "CREATE INDEX i IF NOT EXISTS FOR (n:A) ON (n.x);"),
            ("1.10.0/001_a.cypher", "RETURN 1;"),
            (
                "1.5.0/002_b.cypher",
                "CREATE INDEX j FOR (n:A) ON (n.y);\nMATCH (n) SET n.a = 1;\nMATCH (n) SET n.b = 2;\nDROP INDEX j;",
            ),
            ("1.5.0/001_a.cypher", "RETURN 1;"),
            ("1.5.0/verify.cypher", "RETURN true AS ok;"),
        ]);
        let from = Version::new(1, 4, 0);
        let plan = UpgradePlan::build(
            &c,
            Some(&from),
            &Version::new(1, 10, 0),
            Safety::PreUpgradeBackup,
            Path::new("neo4j/fullbackup"),
        );
        let versions: Vec<String> = plan
            .versions
            .iter()
            .map(|v| v.version.to_string())
            .collect();
        assert_eq!(versions, ["1.5.0", "1.10.0"]);
        let names: Vec<&str> = plan.versions[0]
            .migrations
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["001_a.cypher", "002_b.cypher"]);
        let b = &plan.versions[0].migrations[1];
        assert_eq!(b.statements, 4);
        let shape: Vec<(&str, Vec<usize>)> = b
            .transactions
            .iter()
            .map(|t| (t.kind.as_str(), t.lines.clone()))
            .collect();
        assert_eq!(
            shape,
            [
                ("schema", vec![1]),
                ("data", vec![2, 3]),
                ("schema", vec![4])
            ]
        );
        assert_eq!(plan.versions[0].verify, ["RETURN true AS ok"]);
        assert_eq!(plan.backup, "pre-upgrade backup into neo4j/fullbackup");
        assert_eq!(plan.migration_count(), 3);
        let text = plan.to_string();
        assert!(text.starts_with("Upgrade plan: 1.4.0 -> 1.10.0"), "{text}");
        assert!(
            text.contains("schema (line 1), data (line 2, 3), schema (line 4)"),
            "{text}"
        );
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["from"], "1.4.0");
        assert_eq!(
            json["versions"][0]["migrations"][1]["transactions"][1]["lines"][1],
            3
        );
        assert!(json.get("dirs").is_none());
    }

    #[test]
    fn history_agreeing_with_the_files_has_no_problems() {
        let (_t, c) = catalog(&[
            ("1.4.0/001_a.cypher", "RETURN 1;"),
            ("1.5.0/001_a.cypher", "RETURN 2;"),
        ]);
        let h = [applied(&c, "1.4.0", "001_a.cypher")];
        assert!(history_problems(&c, Some(&Version::new(1, 4, 0)), &h).is_empty());
    }

    #[test]
    fn drift_missing_and_never_applied_are_found() {
        let (t, c) = catalog(&[
            ("1.4.0/001_a.cypher", "RETURN 1;"),
            ("1.4.0/002_b.cypher", "RETURN 2;"),
        ]);
        let mut changed = applied(&c, "1.4.0", "001_a.cypher");
        changed.checksum = "0".repeat(64);
        let mut gone = applied(&c, "1.4.0", "001_a.cypher");
        gone.name = "000_gone.cypher".into();
        let problems = history_problems(&c, Some(&Version::new(1, 4, 0)), &[changed, gone]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        let msg = problems[0].to_string();
        assert!(
            msg.contains(&t.path().join("1.4.0/001_a.cypher").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains(&"0".repeat(64)), "{msg}");
        assert!(
            msg.contains(&c.versions()[0].migrations[0].checksum),
            "{msg}"
        );
        assert!(msg.contains("restore the original file"), "{msg}");
        assert!(msg.contains("--baseline 1.4.0"), "{msg}");
        assert!(matches!(problems[1], HistoryProblem::MissingOnDisk { .. }));
        assert!(
            matches!(&problems[2], HistoryProblem::NeverApplied { name, .. } if name == "002_b.cypher")
        );
    }
}
