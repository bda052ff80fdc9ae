//! `install`: bring a database that has no installed version to the newest
//! release, or record the release its existing data is at (`--baseline`).
//!
//! The cases, decided by [`prepare_install`] before anything is written:
//!
//! - **Already installed** (a version record exists): nothing to do.
//! - **Empty database with initial data** (`<backup-dir>/initial_backup.json`,
//!   or the one in a release bundle): one journalled operation loads the
//!   verified backup, marks the migrations up to the data's version as applied
//!   (they are already reflected in the data), runs the newer ones, and
//!   records the version. The data's version is, in order: the backup's
//!   `metadata.app_version`; for a bundle, the manifest's
//!   `application_version`; `--baseline X.Y.Z`. A backup with none of these is
//!   refused: which migrations it already contains would be a guess.
//! - **Empty database, no initial data**: every migration up to the newest,
//!   an upgrade from nothing.
//! - **Data but no version record**: refused, unless `--baseline X.Y.Z` (a
//!   version in the catalog) says which release the data is at; then X.Y.Z is
//!   recorded as installed and its migrations (and all before) as applied,
//!   without running them. `upgrade --to` takes it from there.
//! - **Installed and `--baseline` equal to the installed version**: the
//!   history is re-recorded with the checksums of the files on disk, the fix
//!   for a deliberate edit of an applied file.
//!
//! Installs from empty need no safety backup: a rollback empties the
//! database again, and the journal tells a later run to do that if the
//! process dies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use semver::Version;
use serde::Serialize;

use super::engine::{migrate_and_record, spec, AppliedFile};
use super::error::{LifecycleError, MigrationFailure, StepError};
use super::plan::{available, history_problems, Safety, UpgradePlan};
use crate::backup::format::INITIAL_BACKUP;
use crate::backup::{verify_backup, BackupStore, VerifyReport};
use crate::bundle::{
    extract_bundle, verify_bundle, BundleReport, ExtractedBundle, ScratchDir, VerifyLimits,
};
use crate::graph::schema::ddl::{check_recreatable, SchemaGap};
use crate::graph::Db;
use crate::migrations::Catalog;
use crate::operation::{self, Env};
use crate::restore::RestoreError;
use crate::safety::journal::OperationKind;
use crate::state::{self, MigrationRecord, VersionRecord};

/// Data to load first: a verified backup and the release its data is at.
#[derive(Debug, Clone, Serialize)]
pub struct InitialData {
    pub path: PathBuf,
    pub nodes: u64,
    pub relationships: u64,
    pub data_version: Version,
    /// Where `data_version` came from: "backup metadata", "bundle manifest" or "--baseline".
    pub version_from: &'static str,
    /// The backup's indexes and constraints this server cannot recreate.
    pub schema_gaps: Vec<SchemaGap>,
    /// The server, for messages.
    #[serde(skip)]
    pub(crate) server: String,
    #[serde(skip)]
    pub(crate) report: VerifyReport,
}

/// An install from an empty database.
#[derive(Debug, Clone, Serialize)]
pub struct InstallPlan {
    pub initial: Option<InitialData>,
    pub upgrade: UpgradePlan,
}

/// One migration a baseline marks as applied.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineEntry {
    pub version: Version,
    pub name: String,
    pub checksum: String,
}

impl BaselineEntry {
    /// Its history record: applied by a baseline, not run.
    fn record(&self) -> MigrationRecord<'_> {
        MigrationRecord {
            version: &self.version,
            name: &self.name,
            checksum: &self.checksum,
            duration_ms: 0,
            baseline: true,
        }
    }
}

/// Recording a release as installed without running anything.
#[derive(Debug, Clone, Serialize)]
pub struct BaselinePlan {
    pub version: Version,
    /// True when the version was already installed and only the history is re-recorded.
    pub rerecord: bool,
    pub migrations: Vec<BaselineEntry>,
}

#[derive(Debug)]
pub enum InstallDecision {
    AlreadyInstalled(VersionRecord),
    Baseline(BaselinePlan),
    Fresh(Box<InstallPlan>),
}

/// Where an install may take its initial data from.
#[derive(Debug, Default)]
pub struct InstallOptions<'a> {
    pub baseline: Option<Version>,
    /// An extracted release bundle: its backup and manifest version are used.
    pub bundle: Option<&'a ExtractedBundle>,
}

fn baseline_entries(catalog: &Catalog, upto: &Version) -> Vec<BaselineEntry> {
    catalog
        .versions()
        .iter()
        .filter(|d| d.version.cmp_precedence(upto).is_le())
        .flat_map(|d| d.migrations.iter())
        .map(|m| BaselineEntry {
            version: m.version.clone(),
            name: m.name.clone(),
            checksum: m.checksum.clone(),
        })
        .collect()
}

fn check_in_catalog(catalog: &Catalog, v: &Version) -> Result<(), LifecycleError> {
    if catalog.contains(v) {
        Ok(())
    } else {
        Err(LifecycleError::UnknownTarget {
            target: v.clone(),
            dir: catalog.dir().to_owned(),
            available: available(catalog),
        })
    }
}

/// Decides what `install` will do; reads only.
pub async fn prepare_install(
    db: &Db,
    catalog: &Catalog,
    backup_dir: &Path,
    opts: &InstallOptions<'_>,
) -> Result<InstallDecision, LifecycleError> {
    if let Some(record) = state::installed_version(db).await? {
        return match &opts.baseline {
            Some(b) if b.cmp_precedence(&record.version).is_eq() && opts.bundle.is_none() => {
                check_in_catalog(catalog, b)?;
                Ok(InstallDecision::Baseline(BaselinePlan {
                    version: record.version.clone(),
                    rerecord: true,
                    migrations: baseline_entries(catalog, b),
                }))
            }
            Some(b) if opts.bundle.is_none() => Err(LifecycleError::Refused(format!(
                "version {} is installed, so --baseline {b} would rewrite history; --baseline on an installed database only re-records the installed version's history (`--baseline {}`)",
                record.version, record.version
            ))),
            _ => Ok(InstallDecision::AlreadyInstalled(record)),
        };
    }
    if !super::is_empty(db).await? {
        if opts.bundle.is_some() {
            return Err(LifecycleError::Refused(
                "install --bundle needs an empty database, and this one holds data without an installed version; empty it first, or record its release with `ign-setup install --baseline X.Y.Z`".into(),
            ));
        }
        let Some(b) = &opts.baseline else {
            let nodes = crate::backup::status::current_counts(db).await?.node_count;
            return Err(LifecycleError::NeedsBaseline {
                nodes,
                dir: catalog.dir().to_owned(),
                available: available(catalog),
            });
        };
        check_in_catalog(catalog, b)?;
        return Ok(InstallDecision::Baseline(BaselinePlan {
            version: b.clone(),
            rerecord: false,
            migrations: baseline_entries(catalog, b),
        }));
    }

    // An empty database.
    let initial_path = match opts.bundle {
        Some(bundle) => Some(bundle.backup_path.clone()),
        None => {
            let p = backup_dir.join(INITIAL_BACKUP);
            p.is_file().then_some(p)
        }
    };
    let latest = catalog.latest().map(|d| d.version.clone());
    let Some(path) = initial_path else {
        if let Some(b) = &opts.baseline {
            return Err(LifecycleError::Refused(format!(
                "--baseline {b} says which release existing data is at, but the database is empty and there is no `{}`; run `ign-setup install` without --baseline to apply every migration",
                backup_dir.join(INITIAL_BACKUP).display()
            )));
        }
        let to = latest.ok_or_else(|| {
            LifecycleError::Refused(format!(
                "the migrations folder `{}` holds no versions, and there is no `{}` to install",
                catalog.dir().display(),
                backup_dir.join(INITIAL_BACKUP).display()
            ))
        })?;
        return Ok(InstallDecision::Fresh(Box::new(InstallPlan {
            initial: None,
            upgrade: UpgradePlan::build(catalog, None, &to, Safety::EmptyDatabase, backup_dir),
        })));
    };

    let report = {
        let p = path.clone();
        tokio::task::spawn_blocking(move || verify_backup(&p))
            .await
            .map_err(|e| LifecycleError::Internal(e.to_string()))??
    };
    let recorded = match &report.metadata.app_version {
        Some(text) => Some(Version::parse(text).map_err(|e| {
            LifecycleError::Refused(format!(
                "`{}` records application version `{text}`, which is not X.Y.Z ({e})",
                path.display()
            ))
        })?),
        None => None,
    };
    let (data_version, version_from) = match (recorded, opts.bundle, &opts.baseline) {
        (Some(r), _, Some(b)) if r.cmp_precedence(b).is_ne() => {
            return Err(LifecycleError::Refused(format!(
                "`{}` records application version {r}, but --baseline says {b}; drop --baseline (the backup knows its version)",
                path.display()
            )))
        }
        (Some(r), _, _) => (r, "backup metadata"),
        (None, Some(bundle), _) => (bundle.manifest.application_version.clone(), "bundle manifest"),
        (None, None, Some(b)) => {
            check_in_catalog(catalog, b)?;
            (b.clone(), "--baseline")
        }
        (None, None, None) => {
            return Err(LifecycleError::Refused(format!(
                "`{}` does not record which application version its data is at (an older backup format), so which migrations it already contains is unknown; pass --baseline X.Y.Z with its release (in `{}`: {})",
                path.display(),
                catalog.dir().display(),
                available(catalog)
            )))
        }
    };
    // A bundle installs its own release; otherwise the newest in the catalog.
    let mut to = match opts.bundle {
        Some(bundle) => bundle.manifest.application_version.clone(),
        None => latest.unwrap_or_else(|| data_version.clone()),
    };
    if to.cmp_precedence(&data_version).is_lt() {
        if opts.bundle.is_some() {
            return Err(LifecycleError::Refused(format!(
                "the bundle's backup is at {data_version}, newer than the bundle's release {to}; the bundle is inconsistent"
            )));
        }
        to = data_version.clone();
    }
    if to.cmp_precedence(&data_version).is_gt() {
        check_in_catalog(catalog, &to)?;
    }
    let schema_gaps = check_recreatable(db, &report.schema).await?;
    Ok(InstallDecision::Fresh(Box::new(InstallPlan {
        initial: Some(InitialData {
            schema_gaps,
            server: format!("Neo4j {} {}", db.server().version, db.server().edition),
            path,
            nodes: report.node_count,
            relationships: report.relationship_count,
            data_version: data_version.clone(),
            version_from,
            report,
        }),
        upgrade: UpgradePlan::build(
            catalog,
            Some(&data_version),
            &to,
            Safety::EmptyDatabase,
            backup_dir,
        ),
    })))
}

/// What a finished install did.
#[derive(Debug, Clone, Serialize)]
pub struct InstallOutcome {
    pub version: Version,
    pub initial: Option<PathBuf>,
    pub baselined: usize,
    pub applied: Vec<AppliedFile>,
}

impl InstallPlan {
    /// Refuses initial data whose schema this server cannot recreate, unless
    /// the user accepted the loss (`--allow-schema-loss`).
    pub fn check_schema(&self, allow_schema_loss: bool) -> Result<(), LifecycleError> {
        match &self.initial {
            Some(i) if !i.schema_gaps.is_empty() && !allow_schema_loss => Err(
                LifecycleError::Restore(RestoreError::SchemaNotRecreatable {
                    gaps: i.schema_gaps.clone(),
                    server: i.server.clone(),
                }),
            ),
            _ => Ok(()),
        }
    }
}

/// Runs an [`InstallPlan`] as one journalled operation; any failure empties
/// the database again. Initial data with schema this server cannot recreate
/// is refused before anything changes unless `allow_schema_loss`.
pub async fn execute_install(
    db: Arc<Db>,
    store: &BackupStore,
    catalog: &Catalog,
    plan: &InstallPlan,
    progress: bool,
    cancel: &crate::interrupt::Cancel,
    allow_schema_loss: bool,
) -> Result<InstallOutcome, LifecycleError> {
    plan.check_schema(allow_schema_loss)?;
    let env = Env {
        db,
        store,
        progress,
        cancel,
    };
    let spec = spec(
        OperationKind::Install,
        None,
        &plan.upgrade.to,
        Safety::EmptyDatabase,
    );
    let done = operation::run(&env, spec, async |db: &Db| {
        let mut baselined = 0;
        if let Some(initial) = &plan.initial {
            crate::restore::replace_database(
                db,
                &initial.path,
                &initial.report,
                progress,
                crate::restore::LoadPurpose::Restore,
                cancel,
                &initial.schema_gaps,
            )
            .await
            .map_err(StepError::Load)?;
            baselined = mark_loaded_history(db, catalog, &initial.data_version).await?;
        }
        let applied = migrate_and_record(db, catalog, &plan.upgrade, cancel).await?;
        Ok::<_, MigrationFailure>((baselined, applied))
    })
    .await?;
    let (baselined, applied) = done.value;
    Ok(InstallOutcome {
        version: plan.upgrade.to.clone(),
        initial: plan.initial.as_ref().map(|i| i.path.clone()),
        baselined,
        applied,
    })
}

/// After loading initial data at `version`: marks the migrations up to it as
/// applied where the data does not already record them, and checks the
/// recorded history against the files.
async fn mark_loaded_history(
    db: &Db,
    catalog: &Catalog,
    version: &Version,
) -> Result<usize, StepError> {
    let to_state = |e: state::StateError| StepError::Check(e.to_string());
    let applied = state::applied_migrations(db).await.map_err(to_state)?;
    let entries = baseline_entries(catalog, version);
    let missing: Vec<MigrationRecord<'_>> = entries
        .iter()
        .filter(|e| {
            !applied
                .iter()
                .any(|a| a.version.cmp_precedence(&e.version).is_eq() && a.name == e.name)
        })
        .map(BaselineEntry::record)
        .collect();
    state::record_migrations(db, &missing)
        .await
        .map_err(to_state)?;
    let applied = state::applied_migrations(db).await.map_err(to_state)?;
    if let Some(p) = history_problems(catalog, Some(version), &applied)
        .into_iter()
        .next()
    {
        return Err(StepError::History(p));
    }
    state::record_version(db, version)
        .await
        .map_err(StepError::Version)?;
    Ok(missing.len())
}

/// Records a baseline under the operation lock. Only adds records (in one
/// transaction) and the version, so it needs no journal.
pub async fn execute_baseline(
    db: Arc<Db>,
    backup_dir: &Path,
    plan: &BaselinePlan,
) -> Result<(), LifecycleError> {
    crate::operation::locked(&db, backup_dir, "install", async |db: &Db| {
        let records: Vec<MigrationRecord<'_>> =
            plan.migrations.iter().map(BaselineEntry::record).collect();
        state::record_migrations(db, &records).await?;
        state::record_version(db, &plan.version).await?;
        Ok(())
    })
    .await
}

/// A verified release bundle unpacked into a private folder that is removed
/// when this is dropped.
#[derive(Debug)]
pub struct OpenedBundle {
    pub extracted: ExtractedBundle,
    pub report: BundleReport,
    _scratch: ScratchDir,
}

/// Verifies `zip` completely (outer checksum, entries, the backup inside),
/// then extracts it into a fresh folder under `parent` (created if missing).
pub fn open_bundle(zip: &Path, parent: &Path) -> Result<OpenedBundle, LifecycleError> {
    let limits = VerifyLimits::default();
    let report = verify_bundle(zip, &limits, &crate::backup::verify::bundle_summary)?;
    std::fs::create_dir_all(parent).map_err(|e| {
        LifecycleError::Internal(format!("cannot create `{}`: {e}", parent.display()))
    })?;
    let scratch = ScratchDir::new_in(parent, ".ign-setup-bundle").map_err(|e| {
        LifecycleError::Internal(format!(
            "cannot create a folder to unpack the bundle in `{}`: {e}",
            parent.display()
        ))
    })?;
    let extracted = extract_bundle(zip, &scratch.path().join("bundle"), &limits)?;
    Ok(OpenedBundle {
        extracted,
        report,
        _scratch: scratch,
    })
}
