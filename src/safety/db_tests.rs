//! The database lease against a real Bolt server. Like the integration tests
//! it uses the server named by `NEO4J_TEST_URI` (`_USER`, `_PASSWORD`,
//! `_DATABASE`) when set, and otherwise starts its own with `scripts/dev-db`
//! (loopback, free port, temp folder, stopped when this process exits). It
//! deletes every lock node there, so point `NEO4J_TEST_URI` only at a scratch
//! server.

use std::sync::Arc;
use std::time::Duration;

use neo4rs::query;

use super::lease::{self, LOCK_LABEL};
use super::owner::host_name;
use super::{acquire, acquire_with_lease, clear_stale, SafetyError};
use crate::config::{BoltUri, ConnectSettings, PasswordSource, Secret};
use crate::graph::Db;

fn dev_db() -> std::process::Command {
    std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev-db"),
    )
}

/// Stops the server this test started, and removes its folder.
struct Started(Option<std::path::PathBuf>);

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = dev_db().args(["stop", "--dir"]).arg(dir).output();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// URI, user, password and database of the server to test against.
fn server() -> (String, String, String, String, Started) {
    let given = |name: &str| std::env::var(format!("NEO4J_TEST_{name}")).ok();
    if let Some(uri) = given("URI") {
        return (
            uri,
            given("USER").unwrap_or_else(|| "neo4j".into()),
            given("PASSWORD").unwrap_or_default(),
            given("DATABASE").unwrap_or_else(|| "neo4j".into()),
            Started(None),
        );
    }
    let dir = std::env::temp_dir().join(format!("ign-setup-lease-test-{}", std::process::id()));
    let password = format!("lease-{}", std::process::id());
    let out = dev_db()
        .args(["start", "--dir"])
        .arg(&dir)
        .args(["--password", &password, "--watch-pid"])
        .arg(std::process::id().to_string())
        .output()
        .expect("cannot run scripts/dev-db");
    assert!(
        out.status.success(),
        "scripts/dev-db start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uri = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    (
        uri,
        "neo4j".into(),
        password,
        "neo4j".into(),
        Started(Some(dir)),
    )
}

async fn connect() -> (Arc<Db>, Started) {
    let (uri, user, password, database, started) = server();
    let password = Secret::new(password);
    let settings = ConnectSettings {
        uri: BoltUri::parse(&uri).unwrap(),
        user,
        password: PasswordSource::Given(password.clone()),
        database: Some(database),
        connect_timeout: Duration::from_secs(20),
        query_timeout: None,
    };
    (
        Arc::new(Db::connect(&settings, &password).await.unwrap()),
        started,
    )
}

async fn wipe(db: &Db) {
    db.run(query(&format!("MATCH (l:{LOCK_LABEL}) DELETE l")))
        .await
        .unwrap();
}

async fn plant(db: &Db, owner: &str, host: &str, pid: i64, expires_in_ms: i64) {
    db.run(
        query(&format!(
            "CREATE (l:{LOCK_LABEL} {{id: 'lock', owner: $owner, host: $host, pid: $pid, \
             operation: 'upgrade', since: '2020-01-01T00:00:00.000Z', expires_at_ms: $expires}})"
        ))
        .param("owner", owner)
        .param("host", host)
        .param("pid", pid)
        .param("expires", lease::now_ms() + expires_in_ms),
    )
    .await
    .unwrap();
}

fn locked_by(err: SafetyError) -> String {
    match err {
        SafetyError::Locked { holder, .. } => holder,
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_is_exclusive_renewed_taken_over_and_released() {
    let (db, _server) = connect().await;
    wipe(&db).await;
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let me = format!("{}/{}", host_name(), std::process::id());

    // Held, and refused to a second client (another backup folder, so only the
    // lease stands in the way).
    let a = acquire_with_lease(
        db.clone(),
        dir_a.path(),
        "restore",
        // Long enough that a loaded machine (a heartbeat late by seconds)
        // does not lose it; the test waits past it below.
        Duration::from_millis(6000),
    )
    .await
    .unwrap();
    let err = acquire(db.clone(), dir_b.path(), "upgrade")
        .await
        .unwrap_err();
    assert_eq!(locked_by(err), format!("{me} (restore)"));

    // The heartbeat keeps it past its lease length.
    tokio::time::sleep(Duration::from_millis(7500)).await;
    a.check().unwrap();
    let err = acquire(db.clone(), dir_b.path(), "upgrade")
        .await
        .unwrap_err();
    assert_eq!(locked_by(err), format!("{me} (restore)"));
    a.release().await.unwrap();
    assert!(lease::read(&db).await.unwrap().is_empty());

    // A live lease of another host is respected, also by clear_stale.
    plant(&db, "other-token", "elsewhere", 1, 60_000).await;
    let err = acquire(db.clone(), dir_b.path(), "restore")
        .await
        .unwrap_err();
    assert_eq!(locked_by(err), "elsewhere/1 (upgrade)");
    assert_eq!(clear_stale(&db, dir_b.path()).await.unwrap(), None);

    // Once expired, clear_stale removes it and says whose it was.
    wipe(&db).await;
    plant(&db, "other-token", "elsewhere", 1, -1000).await;
    let removed = clear_stale(&db, dir_b.path()).await.unwrap().unwrap();
    assert!(
        removed.starts_with("elsewhere/1 (upgrade) since 2020-"),
        "{removed}"
    );
    assert!(lease::read(&db).await.unwrap().is_empty());

    // An expired lease is taken over by acquire.
    plant(&db, "other-token", "elsewhere", 1, -1000).await;
    let b = acquire(db.clone(), dir_b.path(), "restore").await.unwrap();
    let now = lease::read(&db).await.unwrap();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].owner, "other-token");
    assert_eq!(now[0].holder.describe(), format!("{me} (restore)"));
    b.release().await.unwrap();

    // So is an unexpired lease of a dead process on this host.
    plant(&db, "other-token", &host_name(), 999_999_999, 60_000).await;
    let c = acquire(db.clone(), dir_b.path(), "install").await.unwrap();
    assert_eq!(
        lease::read(&db).await.unwrap()[0].holder.describe(),
        format!("{me} (install)")
    );
    c.release().await.unwrap();

    // A rival takes the lease behind our back; the heartbeat notices and check() says so.
    let d = acquire_with_lease(
        db.clone(),
        dir_a.path(),
        "upgrade",
        Duration::from_millis(600),
    )
    .await
    .unwrap();
    db.run(query(&format!(
        "MATCH (l:{LOCK_LABEL} {{id: 'lock'}}) SET l.owner = 'thief', l.host = 'elsewhere', l.pid = 7, l.operation = 'restore'"
    )))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let err = d.check().unwrap_err();
    assert!(
        matches!(&err, SafetyError::LeaseLost { holder } if holder.starts_with("elsewhere/7 (restore)")),
        "{err:?}"
    );
    // Releasing a lost lease leaves the thief's node alone.
    d.release().await.unwrap();
    assert_eq!(lease::read(&db).await.unwrap()[0].owner, "thief");

    wipe(&db).await;
}
