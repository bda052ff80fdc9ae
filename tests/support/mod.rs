//! The test database: a real Neo4j Community server, started once per test run
//! by `scripts/dev-db` on a free loopback port with its data in a temp folder,
//! authentication on, and stopped when the test process exits (even when it
//! panics or is killed: the server watches our pid). Neo4j 5.26 LTS unless
//! `IGN_SETUP_TEST_SERVER=neo4j-latest` asks for the newest release. With
//! `NEO4J_TEST_URI` set, the tests use that server instead (`NEO4J_TEST_USER`,
//! `NEO4J_TEST_PASSWORD`, `NEO4J_TEST_DATABASE`).
//!
//! Tests that touch the database take [`TestDb::acquire`], which serialises them
//! (one database, as on a Neo4j Community server) and empties the database first.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::{Mutex, MutexGuard, OnceLock};

use ign_setup::config::{BoltUri, ConnectSettings, PasswordSource, Secret};
use ign_setup::graph::Db;
pub mod schema;

pub struct TestServer {
    pub uri: String,
    pub user: String,
    pub password: String,
    pub database: String,
    /// Data folder of a server we started (None for NEO4J_TEST_URI).
    pub data_dir: Option<PathBuf>,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn server() -> &'static TestServer {
    SERVER.get_or_init(|| {
        if let Ok(uri) = std::env::var("NEO4J_TEST_URI") {
            return TestServer {
                uri,
                user: std::env::var("NEO4J_TEST_USER").unwrap_or_else(|_| "neo4j".into()),
                password: std::env::var("NEO4J_TEST_PASSWORD")
                    .expect("NEO4J_TEST_PASSWORD must be set with NEO4J_TEST_URI"),
                database: std::env::var("NEO4J_TEST_DATABASE").unwrap_or_else(|_| "neo4j".into()),
                data_dir: None,
            };
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("neo4j-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let password = "ign-setup-test-pw-5f3a9c";
        let out = StdCommand::new(repo_root().join("scripts/dev-db"))
            .args(["start", "--dir"])
            .arg(&dir)
            .args(["--password", password, "--watch-pid"])
            .arg(std::process::id().to_string())
            .output()
            .expect("cannot run scripts/dev-db");
        assert!(
            out.status.success(),
            "scripts/dev-db start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let uri = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        TestServer {
            uri,
            user: "neo4j".into(),
            password: password.into(),
            database: "neo4j".into(),
            data_dir: Some(dir),
        }
    })
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Exclusive use of the test database for one test, emptied on entry.
pub struct TestDb {
    _guard: MutexGuard<'static, ()>,
    pub server: &'static TestServer,
    pub db: Db,
    /// A fresh working folder for the test (backup folder inside it).
    pub work: tempfile::TempDir,
}

impl TestDb {
    pub fn acquire() -> TestDb {
        let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let server = server();
        // A test of wrong passwords that failed half-way may have left the
        // account locked for a few seconds (Neo4j's login rate limit): wait
        // that out instead of failing every test after it.
        let started = std::time::Instant::now();
        let db = loop {
            match runtime().block_on(connect(server)) {
                Ok(db) => break db,
                Err(e @ ign_setup::graph::GraphError::AuthRateLimited { .. })
                    if started.elapsed() < std::time::Duration::from_secs(30) =>
                {
                    eprintln!("test database: {e}; waiting");
                    std::thread::sleep(std::time::Duration::from_secs(6));
                }
                Err(e) => panic!("cannot connect to the test database: {e}"),
            }
        };
        let t = TestDb {
            _guard: guard,
            server,
            db,
            work: tempfile::tempdir().unwrap(),
        };
        t.wipe();
        std::fs::create_dir_all(t.backup_dir()).unwrap();
        t
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.work.path().join("neo4j/fullbackup")
    }

    /// Empties the database: data, indexes and constraints.
    pub fn wipe(&self) {
        self.exec("MATCH (n) DETACH DELETE n");
        for (kind, show) in [
            ("CONSTRAINT", "SHOW CONSTRAINTS YIELD name RETURN name"),
            (
                "INDEX",
                "SHOW INDEXES YIELD name, type, owningConstraint WHERE owningConstraint IS NULL AND type <> 'LOOKUP' RETURN name",
            ),
        ] {
            for row in self.query(show) {
                if let Some(name) = row.get("name").and_then(|v| v.as_str()) {
                    let escaped = name.replace('`', "``");
                    // Best effort: servers keep some built-in schema that cannot be dropped.
                    let _ = runtime().block_on(self.db.run(neo4rs::query(&format!("DROP {kind} `{escaped}` IF EXISTS"))));
                }
            }
        }
    }

    pub fn exec(&self, cypher: &str) {
        runtime()
            .block_on(self.db.run(neo4rs::query(cypher)))
            .unwrap_or_else(|e| panic!("`{cypher}` failed: {e}"));
    }

    /// Runs a query and returns its rows as JSON objects (for assertions).
    pub fn query(&self, cypher: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let rows = runtime()
            .block_on(self.db.rows(neo4rs::query(cypher)))
            .unwrap_or_else(|e| panic!("`{cypher}` failed: {e}"));
        rows.iter()
            .map(|r| {
                r.to::<serde_json::Map<String, serde_json::Value>>()
                    .unwrap_or_default()
            })
            .collect()
    }

    pub fn count(&self, cypher: &str) -> u64 {
        runtime().block_on(self.db.count(cypher)).unwrap()
    }

    /// `ign-setup` pointed at the test database, run in the test's work folder.
    /// The binary with this database's settings and nothing else from the
    /// environment, for assertions.
    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd())
    }

    /// The same as a plain process, to spawn, kill or race.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = bare_std_cmd(self.work.path());
        cmd.env("NEO4J_URI", &self.server.uri)
            .env("NEO4J_USERNAME", &self.server.user)
            .env("NEO4J_PASSWORD", &self.server.password)
            .env("NEO4J_DATABASE", &self.server.database);
        cmd
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }
}

pub async fn connect(server: &TestServer) -> Result<Db, ign_setup::graph::GraphError> {
    let settings = ConnectSettings {
        uri: BoltUri::parse(&server.uri).unwrap(),
        user: server.user.clone(),
        password: PasswordSource::Given(Secret::new(server.password.clone())),
        database: Some(server.database.clone()),
        connect_timeout: std::time::Duration::from_secs(30),
        query_timeout: None,
    };
    Db::connect(&settings, &Secret::new(server.password.clone())).await
}

/// A plain `ign-setup` with no database settings, for offline commands.
pub fn bare_cmd(dir: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(bare_std_cmd(dir))
}

/// The one builder of the binary as a plain process: in `dir`, with a
/// cleared environment (PATH, NO_COLOR and the query log kept). Every other
/// command builder adds the connection to it.
pub fn bare_std_cmd(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ign-setup"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1");
    pass_query_log(&mut cmd);
    cmd
}

/// Keeps the query log (`IGN_SETUP_QUERY_LOG`, set by `.ci/run` for the
/// Cypher gate) on for the binary under test, whose environment is cleared.
pub fn pass_query_log(cmd: &mut std::process::Command) {
    if let Some(log) = std::env::var_os("IGN_SETUP_QUERY_LOG") {
        cmd.env("IGN_SETUP_QUERY_LOG", log);
    }
}

/// Runs `ign-setup ARGS --json`, checks the exit code and returns stdout as JSON.
pub fn run_json(t: &TestDb, args: &[&str], code: i32) -> serde_json::Value {
    let out = t
        .cmd()
        .args(args)
        .arg("--json")
        .assert()
        .code(code)
        .get_output()
        .clone();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "`{args:?}` printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Every file below `dir` with its bytes, to prove a folder was left as it was.
pub fn snapshot_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        if let Ok(entries) = std::fs::read_dir(d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
                }
            }
        }
    }
    walk(dir, &mut out);
    out.sort();
    out
}

/// A database server of a test's own, for tests that stop and restart it.
/// Of the same kind as the shared one (`IGN_SETUP_TEST_SERVER`), also when
/// `NEO4J_TEST_URI` names the shared one.
pub struct PrivateServer {
    pub dir: PathBuf,
    pub uri: String,
    pub port: String,
    pub password: String,
}

impl PrivateServer {
    pub fn start() -> PrivateServer {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "neo4j-private-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let password = "private-pw-7c1d".to_owned();
        let uri = dev_db(
            &[
                "start",
                "--password",
                &password,
                "--watch-pid",
                &std::process::id().to_string(),
            ],
            &dir,
        );
        let port = uri.rsplit(':').next().unwrap().to_owned();
        PrivateServer {
            dir,
            uri,
            port,
            password,
        }
    }

    pub fn stop(&self) {
        dev_db(&["stop"], &self.dir);
    }

    /// Starts the server again on the same port with the same data.
    pub fn restart(&self) {
        dev_db(
            &[
                "start",
                "--password",
                &self.password,
                "--port",
                &self.port,
                "--watch-pid",
                &std::process::id().to_string(),
            ],
            &self.dir,
        );
    }

    pub fn cmd(&self, work: &Path) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd(work))
    }

    /// The same as a plain process, to spawn or kill.
    pub fn std_cmd(&self, work: &Path) -> std::process::Command {
        let mut cmd = bare_std_cmd(work);
        cmd.env("NEO4J_URI", &self.uri)
            .env("NEO4J_USERNAME", "neo4j")
            .env("NEO4J_PASSWORD", &self.password)
            .env("NEO4J_DATABASE", "neo4j");
        cmd
    }

    pub fn connect(&self) -> Db {
        let s = TestServer {
            uri: self.uri.clone(),
            user: "neo4j".into(),
            password: self.password.clone(),
            database: "neo4j".into(),
            data_dir: Some(self.dir.clone()),
        };
        runtime()
            .block_on(connect(&s))
            .expect("cannot connect to the private server")
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn dev_db(args: &[&str], dir: &Path) -> String {
    let mut cmd = StdCommand::new(repo_root().join("scripts/dev-db"));
    cmd.arg(args[0]).arg("--dir").arg(dir).args(&args[1..]);
    let out = cmd.output().expect("cannot run scripts/dev-db");
    assert!(
        out.status.success(),
        "scripts/dev-db {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs a query on any connection and returns its rows as JSON objects.
pub fn query_db(db: &Db, cypher: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let rows = runtime()
        .block_on(db.rows(neo4rs::query(cypher)))
        .unwrap_or_else(|e| panic!("`{cypher}` failed: {e}"));
    rows.iter()
        .map(|r| {
            r.to::<serde_json::Map<String, serde_json::Value>>()
                .unwrap_or_default()
        })
        .collect()
}

/// A database's content without ids: every node's labels and properties and
/// every relationship's type, properties and endpoints' properties, sorted.
pub fn db_content(db: &Db) -> Vec<String> {
    let mut out: Vec<String> = query_db(
        db,
        "MATCH (n) WHERE NOT n:IgnSetupLock AND NOT n:IgnSetupOperation RETURN labels(n) AS l, properties(n) AS p",
    )
    .into_iter()
    .map(|r| {
        let mut labels: Vec<String> = serde_json::from_value(r["l"].clone()).unwrap();
        labels.sort();
        format!("N {labels:?} {}", r["p"])
    })
    .collect();
    out.extend(
        query_db(db, "MATCH (a)-[r]->(b) RETURN type(r) AS t, properties(r) AS p, properties(a) AS a, properties(b) AS b")
            .into_iter()
            .map(|r| format!("R {} {} {} {}", r["t"], r["p"], r["a"], r["b"])),
    );
    out.sort();
    out
}

/// The timestamped backups in a folder, oldest first.
pub fn timestamped_backups(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ign_scripts_db_backup_"))
        .collect();
    v.sort();
    v
}

/// Holds a run of the binary at a named point until the test releases it
/// (`IGN_SETUP_HOLD`, compiled in with the `test-hooks` feature), so a test
/// acts at a known step instead of after a guessed delay.
pub struct Hold {
    dir: tempfile::TempDir,
    point: &'static str,
}

impl Hold {
    pub fn at(point: &'static str) -> Hold {
        Hold {
            dir: tempfile::tempdir().unwrap(),
            point,
        }
    }

    /// Sets the variable on a command.
    pub fn apply<'c>(&self, cmd: &'c mut StdCommand) -> &'c mut StdCommand {
        cmd.env(
            "IGN_SETUP_HOLD",
            format!("{}:{}", self.point, self.dir.path().display()),
        )
    }

    /// Waits until the run is held at the point; fails if it never gets
    /// there (it ended, or took more than two minutes).
    pub fn wait_reached(&self, child: &mut std::process::Child) {
        let reached = self.dir.path().join(format!("{}.reached", self.point));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !reached.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the run ended ({status}) before reaching `{}`", self.point);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the run never reached `{}`",
                self.point
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Lets the held run (and every later pass through the point) go on.
    pub fn release(&self) {
        std::fs::write(self.dir.path().join(format!("{}.go", self.point)), b"").unwrap();
    }
}

/// `backup restore --yes --file FILE` held right after its first loaded
/// batch, so the database is half-replaced; stderr is piped for the test to
/// read. The caller kills or interrupts it.
pub fn restore_held_mid_load(t: &TestDb, file: &str) -> std::process::Child {
    let hold = Hold::at("restore.batch");
    let mut child = hold
        .apply(&mut t.std_cmd())
        .args(["backup", "restore", "--yes", "--file", file])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    hold.wait_reached(&mut child);
    child
}
