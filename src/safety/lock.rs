//! The operation lock: only one install, upgrade or restore at a time against
//! one database.
//!
//! Two layers, taken in this order: the local `flock` on the backup folder
//! ([`super::flock`]), which settles races between processes on this host
//! without a round trip, then the lease in the database ([`super::lease`]),
//! which settles races between hosts. A heartbeat renews the lease while the
//! guard lives; dropping the guard releases the local lock at once and the
//! lease at the latest when it expires.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::flock::{Holder, LocalLock};
use super::lease::{self, random_token, DEFAULT_LEASE};
use super::SafetyError;
use crate::graph::Db;

/// Proof that this process holds the operation lock.
#[derive(Debug)]
pub struct LockGuard {
    db: Arc<Db>,
    token: String,
    holder: Holder,
    local: Option<LocalLock>,
    heartbeat: Option<JoinHandle<()>>,
    /// Set by the heartbeat when the lease turns out to belong to someone else.
    lost: Arc<Mutex<Option<String>>>,
}

/// Takes the operation lock for `operation` (e.g. "restore") with the default
/// 60-second lease, or fails with [`SafetyError::Locked`] naming the holder.
/// A lease whose holder is gone (expired, or a dead process on this host) is
/// taken over.
pub async fn acquire(
    db: Arc<Db>,
    backup_dir: &Path,
    operation: &str,
) -> Result<LockGuard, SafetyError> {
    acquire_with_lease(db, backup_dir, operation, DEFAULT_LEASE).await
}

/// [`acquire`] with a chosen lease length; the heartbeat renews every third of it.
pub async fn acquire_with_lease(
    db: Arc<Db>,
    backup_dir: &Path,
    operation: &str,
    lease: Duration,
) -> Result<LockGuard, SafetyError> {
    let local = LocalLock::acquire(backup_dir, operation)?;
    let token = random_token();
    let holder = Holder::this_process(operation);
    lease::acquire(&db, &token, &holder, lease).await?;
    let lost = Arc::new(Mutex::new(None));
    let heartbeat = tokio::spawn(heartbeat(
        Arc::clone(&db),
        token.clone(),
        lease,
        Arc::clone(&lost),
    ));
    Ok(LockGuard {
        db,
        token,
        holder,
        local: Some(local),
        heartbeat: Some(heartbeat),
        lost,
    })
}

impl LockGuard {
    /// Fails with [`SafetyError::LeaseLost`] if another client has taken the
    /// database lease since we acquired it. Call it before each destructive step.
    pub fn check(&self) -> Result<(), SafetyError> {
        match self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(holder) => Err(SafetyError::LeaseLost { holder }),
            None => Ok(()),
        }
    }

    /// `host/pid (operation)` of this process, as others see it.
    pub fn holder(&self) -> String {
        self.holder.describe()
    }

    /// Releases the database lease, then the local lock.
    pub async fn release(mut self) -> Result<(), SafetyError> {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        let result = lease::delete_if_owned(&self.db, &self.token).await;
        // The local lock goes last, so no local rival starts while the lease is
        // still in the database.
        self.local.take();
        result.map_err(SafetyError::from)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let Some(heartbeat) = self.heartbeat.take() else {
            return; // released
        };
        heartbeat.abort();
        // Best effort: delete the lease now rather than let it expire. Without a
        // runtime (or if it is shutting down) the lease simply runs out.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let db = Arc::clone(&self.db);
            let token = std::mem::take(&mut self.token);
            rt.spawn(async move {
                let _ = lease::delete_if_owned(&db, &token).await;
            });
        }
    }
}

async fn heartbeat(db: Arc<Db>, token: String, lease: Duration, lost: Arc<Mutex<Option<String>>>) {
    let period = (lease / 3).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match lease::renew(&db, &token, lease).await {
            Ok(true) => {}
            Ok(false) => {
                let holder = match lease::read(&db).await {
                    Ok(all) => all
                        .first()
                        .map(|l| format!("{} since {}", l.holder.describe(), l.holder.since))
                        .unwrap_or_else(|| "nobody (the lock node was removed)".into()),
                    Err(_) => "another client".into(),
                };
                *lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(holder);
                return;
            }
            // The server may be restarting; the lease lasts three periods, so
            // keep trying rather than give up on the first failure.
            Err(e) => crate::log::debug(format!("could not renew the database lock: {e}")),
        }
    }
}

/// Removes a database lease whose holder is gone (its lease expired, or it was a
/// process on this host that no longer runs) and says whose it was. A lease held
/// by a live client is left alone; so is everything while a process on this host
/// holds the local lock (then it fails with [`SafetyError::Locked`]).
///
/// Call it without holding the lock: [`acquire`] takes over stale leases itself.
pub async fn clear_stale(db: &Db, backup_dir: &Path) -> Result<Option<String>, SafetyError> {
    if let Some(holder) = LocalLock::probe(backup_dir)? {
        return Err(holder.locked());
    }
    let now = lease::now_ms();
    let mut removed = Vec::new();
    for l in lease::read(db).await? {
        if let Some(reason) = l.stale_reason(now) {
            lease::delete_if_owned(db, &l.owner).await?;
            removed.push(format!(
                "{} since {} ({reason})",
                l.holder.describe(),
                l.holder.since
            ));
        }
    }
    Ok((!removed.is_empty()).then(|| removed.join("; ")))
}
