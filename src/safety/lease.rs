//! The database layer of the operation lock: a lease stored as one node,
//! `(:IgnSetupLock {id: 'lock'})`, so that clients on different hosts cannot
//! install, upgrade or restore the same database at once.
//!
//! A lease expires unless its holder renews it, so a client that vanished
//! (killed, host powered off) blocks others for at most one lease period.
//! Timestamps come from the client's clock: some servers' `datetime()` is
//! unreliable, and every comparison is made by a client anyway.
//!
//! Neo4j's `MERGE` is not atomic between concurrent transactions without a
//! uniqueness constraint, and this tool adds no schema of its own to the user's
//! database. So two clients starting in the same instant may both create a node;
//! [`confirm_unique`] then settles on one winner by token order. Take-overs update
//! the node only after write-locking it, so they cannot both succeed.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use neo4rs::{query, Row};
use sha2::{Digest, Sha256};

use super::flock::Holder;
use super::owner::{host_name, pid_alive};
use super::SafetyError;
use crate::graph::{Db, GraphError};

pub use crate::graph::LOCK_LABEL;

/// How long a lease lasts without renewal.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// No lease is ever renewed further ahead than this (ten default leases, for
/// clocks a little apart); a lease that claims more is not a live operation's.
const LONGEST_LEASE_MS: i64 = 10 * 60_000;

const RETURN_LEASE: &str = "RETURN l.owner AS owner, l.host AS host, l.pid AS pid, \
     l.operation AS operation, l.since AS since, l.expires_at_ms AS expires";

/// One lease node as read from the database.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lease {
    pub owner: String,
    pub holder: Holder,
    pub expires_at_ms: i64,
}

impl Lease {
    fn from_row(row: &Row) -> Result<Lease, GraphError> {
        let owner: String = row
            .get("owner")
            .map_err(|_| GraphError::Protocol(format!("the {LOCK_LABEL} node has no owner")))?;
        let pid: i64 = row.get("pid").unwrap_or_default();
        Ok(Lease {
            owner,
            holder: Holder {
                host: row.get("host").unwrap_or_default(),
                pid: u32::try_from(pid).unwrap_or(0),
                operation: row.get("operation").unwrap_or_default(),
                since: row.get("since").unwrap_or_default(),
            },
            expires_at_ms: row.get("expires").unwrap_or_default(),
        })
    }

    /// Why this lease may be taken over, if it may: it expired, or it was taken by
    /// a process on this host that no longer runs.
    pub(crate) fn stale_reason(&self, now_ms: i64) -> Option<&'static str> {
        if self.expires_at_ms < now_ms {
            Some("its lease expired")
        } else if self.expires_at_ms > now_ms.saturating_add(LONGEST_LEASE_MS) {
            // No holder renews that far ahead: the node was not written by a
            // live operation of this tool (planted, or a clock far off).
            Some("its expiry lies further ahead than any lease runs")
        } else if self.holder.host == host_name() && !pid_alive(self.holder.pid) {
            Some("its process is gone")
        } else {
            None
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn expiry(lease: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

fn leases(rows: &[Row]) -> Result<Vec<Lease>, GraphError> {
    rows.iter().map(Lease::from_row).collect()
}

/// Every lease node (normally none or one), in the order that picks a winner.
pub(crate) async fn read(db: &Db) -> Result<Vec<Lease>, GraphError> {
    let rows = db
        .rows(query(&format!(
            "MATCH (l:{LOCK_LABEL} {{id: 'lock'}}) {RETURN_LEASE} ORDER BY owner"
        )))
        .await?;
    leases(&rows)
}

/// Takes the lease for `token`, taking over a stale one, or says who holds it.
pub(crate) async fn acquire(
    db: &Db,
    token: &str,
    me: &Holder,
    lease: Duration,
) -> Result<(), SafetyError> {
    // A few rounds: each one either succeeds, reports a live holder, or removes
    // a stale lease that a rival may have replaced in the meantime.
    for _ in 0..3 {
        let rows = db
            .rows(
                query(&format!(
                    "MERGE (l:{LOCK_LABEL} {{id: 'lock'}}) \
                     ON CREATE SET l.owner = $token, l.host = $host, l.pid = $pid, \
                     l.operation = $operation, l.since = $since, l.expires_at_ms = $expires \
                     WITH l {RETURN_LEASE}"
                ))
                .param("token", token)
                .param("host", me.host.as_str())
                .param("pid", i64::from(me.pid))
                .param("operation", me.operation.as_str())
                .param("since", me.since.as_str())
                .param("expires", expiry(lease)),
            )
            .await?;
        let found = leases(&rows)?;
        if found.iter().any(|l| l.owner == token) {
            return confirm_unique(db, token).await;
        }
        let now = now_ms();
        if let Some(live) = found.iter().find(|l| l.stale_reason(now).is_none()) {
            return Err(live.holder.locked());
        }
        match found.as_slice() {
            [stale] => {
                if take_over(db, &stale.owner, token, me, lease).await? {
                    crate::log::debug(format!(
                        "took over the database lock of {} since {} ({})",
                        stale.holder.describe(),
                        stale.holder.since,
                        stale.stale_reason(now).unwrap_or("stale"),
                    ));
                    return Ok(());
                }
            }
            // Several stale leases (left by an earlier race): clear them all and
            // start again.
            many => {
                for l in many {
                    delete_if_owned(db, &l.owner).await?;
                }
            }
        }
    }
    match read(db).await?.first() {
        Some(l) if l.owner == token => Ok(()),
        Some(l) => Err(l.holder.locked()),
        None => Err(SafetyError::Locked {
            holder: "another client competing for the lock".into(),
            since: "just now".into(),
        }),
    }
}

/// Replaces the lease owned by `old` with ours. The dummy write to `lock_seq`
/// write-locks the node before `owner` is compared, so of two clients taking
/// over the same stale lease only the first sees the old owner.
async fn take_over(
    db: &Db,
    old: &str,
    token: &str,
    me: &Holder,
    lease: Duration,
) -> Result<bool, GraphError> {
    let rows = db
        .rows(
            query(&format!(
                "MATCH (l:{LOCK_LABEL} {{id: 'lock'}}) \
                 SET l.lock_seq = coalesce(l.lock_seq, 0) + 1 \
                 WITH l WHERE l.owner = $old \
                 SET l.owner = $token, l.host = $host, l.pid = $pid, \
                 l.operation = $operation, l.since = $since, l.expires_at_ms = $expires \
                 RETURN l.owner AS owner"
            ))
            .param("old", old)
            .param("token", token)
            .param("host", me.host.as_str())
            .param("pid", i64::from(me.pid))
            .param("operation", me.operation.as_str())
            .param("since", me.since.as_str())
            .param("expires", expiry(lease)),
        )
        .await?;
    Ok(rows
        .iter()
        .any(|r| r.get::<String>("owner").is_ok_and(|o| o == token)))
}

/// After creating our lease, make sure no rival created one in the same instant.
/// Every client that sees several picks the same winner (lowest token); losers
/// remove their own node.
async fn confirm_unique(db: &Db, token: &str) -> Result<(), SafetyError> {
    let all = read(db).await?;
    match all.first() {
        Some(winner) if all.len() == 1 || winner.owner == token => Ok(()),
        Some(winner) => {
            delete_if_owned(db, token).await?;
            Err(winner.holder.locked())
        }
        None => Err(SafetyError::LeaseLost {
            holder: "nobody (the lock node vanished)".into(),
        }),
    }
}

/// Extends our lease. `Ok(false)` means it is no longer ours.
pub(crate) async fn renew(db: &Db, token: &str, lease: Duration) -> Result<bool, GraphError> {
    let rows = db
        .rows(
            query(&format!(
                "MATCH (l:{LOCK_LABEL} {{id: 'lock'}}) WHERE l.owner = $token \
                 SET l.expires_at_ms = $expires RETURN l.owner AS owner"
            ))
            .param("token", token)
            .param("expires", expiry(lease)),
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Removes the lease if `owner` still holds it.
pub(crate) async fn delete_if_owned(db: &Db, owner: &str) -> Result<(), GraphError> {
    db.run(
        query(&format!(
            "MATCH (l:{LOCK_LABEL} {{id: 'lock'}}) WHERE l.owner = $owner DELETE l"
        ))
        .param("owner", owner),
    )
    .await
}

/// A random 128-bit token in hex. `RandomState` is seeded from the operating
/// system's random source, so two clients never pick the same token.
pub(crate) fn random_token() -> String {
    let mut digest = Sha256::new();
    for _ in 0..2 {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        digest.update(h.finish().to_le_bytes());
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    digest.update(nanos.to_le_bytes());
    digest.update(host_name().as_bytes());
    hex::encode(&digest.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(host: &str, pid: u32, expires_at_ms: i64) -> Lease {
        Lease {
            owner: random_token(),
            holder: Holder {
                host: host.into(),
                pid,
                operation: "restore".into(),
                since: "2020-01-01T00:00:00.000Z".into(),
            },
            expires_at_ms,
        }
    }

    #[test]
    fn stale_when_expired_or_its_local_process_is_gone() {
        let now = now_ms();
        let me = std::process::id();
        assert_eq!(lease("elsewhere", 1, now + 60_000).stale_reason(now), None);
        assert_eq!(
            lease(&host_name(), me, now + 60_000).stale_reason(now),
            None
        );
        assert_eq!(
            lease("elsewhere", 1, now - 1).stale_reason(now),
            Some("its lease expired")
        );
        assert_eq!(
            lease(&host_name(), 999_999_999, now + 60_000).stale_reason(now),
            Some("its process is gone")
        );
        assert_eq!(
            lease("elsewhere", 1, i64::MAX).stale_reason(now),
            Some("its expiry lies further ahead than any lease runs")
        );
    }

    #[test]
    fn tokens_differ() {
        let a = random_token();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_token());
    }
}
