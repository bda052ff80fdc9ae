//! Opening a session with the server: URI schemes, TLS, client-side routing,
//! and retries with bounded backoff that apply to connecting only.
//!
//! Timeouts: `--connect-timeout` bounds connecting only. neo4rs applies its
//! own `connection_timeout` to every message it waits for, so a statement the
//! server works on for longer (a constraint over millions of nodes, a large
//! backfill, a commit) would look like a dead connection; the driver is
//! therefore given [`NO_CLIENT_TIMEOUT`]. Long server work is bounded only by
//! `--query-timeout` (none by default), and only for the statements of a
//! user's migration files: the server enforces it as the transaction timeout
//! of each auto-commit one (neo4rs cannot send one with BEGIN, so explicit
//! transactions are bounded by the server's own `db.transaction.timeout`).
//! The tool's own statements are never limited, so a rollback can always
//! finish. A server that dies is still noticed at once (closed socket) or by
//! TCP keepalive.

use std::time::{Duration, Instant};

use neo4rs::{ConfigBuilder, DetachedRowStream, Graph, Query, Row, Txn};

use super::error::{classify, GraphError};
use crate::config::{ConnectSettings, Secret};

/// Rows fetched per round trip: large enough that streaming a big database is
/// not dominated by latency, small enough to keep memory flat.
pub const FETCH_SIZE: usize = 2000;

/// What neo4rs is given as its per-message receive timeout: in effect none.
pub const NO_CLIENT_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where a statement came from, for the query log: the tool's own text, or a
/// user's migration file (whose statements the Cypher gate does not judge).
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    Tool,
    Migration { file: &'a str, line: usize },
}

/// Who answered, as reported by `dbms.components()`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerInfo {
    pub agent: String,
    pub version: String,
    pub edition: String,
}

/// A live connection pool to one database.
pub struct Db {
    graph: Graph,
    address: String,
    user: String,
    database: Option<String>,
    tls: bool,
    server: ServerInfo,
    query_timeout: Option<Duration>,
    log: Option<super::querylog::QueryLog>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("address", &self.address)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Connects and proves the session works with one query. Connection
    /// failures are retried with exponential backoff until `connect_timeout`
    /// has passed; authentication, TLS and unknown-database errors are final at once.
    pub async fn connect(settings: &ConnectSettings, password: &Secret) -> Result<Db, GraphError> {
        let address = settings.uri.address();
        let tls = settings.uri.scheme().is_tls();
        let started = Instant::now();
        let deadline = started + settings.connect_timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt = tokio::time::timeout(
                remaining.max(Duration::from_millis(50)),
                Self::try_connect(settings, password, &address, tls),
            )
            .await;
            let err = match attempt {
                Ok(Ok(db)) => return Ok(db),
                Ok(Err(e)) => e,
                Err(_) => GraphError::Unreachable {
                    address: address.clone(),
                    waited: started.elapsed(),
                    detail: "no answer".into(),
                },
            };
            let retry = matches!(err, GraphError::Unreachable { .. });
            let now = Instant::now();
            if !retry || now + delay >= deadline {
                return Err(match err {
                    GraphError::Unreachable { detail, .. } => GraphError::Unreachable {
                        address,
                        waited: started.elapsed(),
                        detail,
                    },
                    other => other,
                });
            }
            // A server still starting is normal: say so on a terminal
            // (and with -v), so the wait is never silent.
            crate::progress::step(format!(
                "Connecting to {address}: no answer yet; trying again in {:.1} s (gives up after {} s)…",
                delay.as_secs_f64(),
                settings.connect_timeout.as_secs()
            ));
            crate::log::debug(format!("connect to {address} failed: {err}"));
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn try_connect(
        settings: &ConnectSettings,
        password: &Secret,
        address: &str,
        tls: bool,
    ) -> Result<Db, GraphError> {
        if settings.uri.scheme().is_routing() {
            // neo4rs turns every failure of its routing-table fetch (a wrong
            // password, a TLS problem, an unknown database) into "no writers
            // available". Ask the seed router directly first, so those errors
            // come out as what they are, and a failed login is never repeated
            // (Neo4j locks an account after a few failed attempts).
            let direct = ConnectSettings {
                uri: settings.uri.direct(),
                ..settings.clone()
            };
            Box::pin(Self::open(&direct, password, address, tls)).await?;
        }
        Self::open(settings, password, address, tls).await
    }

    async fn open(
        settings: &ConnectSettings,
        password: &Secret,
        address: &str,
        tls: bool,
    ) -> Result<Db, GraphError> {
        let mut builder = ConfigBuilder::default()
            .uri(settings.uri.to_string())
            .user(settings.user.clone())
            .password(password.expose())
            .fetch_size(FETCH_SIZE)
            .max_connections(4)
            .connection_timeout(NO_CLIENT_TIMEOUT);
        if let Some(db) = &settings.database {
            builder = builder.db(db.as_str());
        }
        let config = builder
            .build()
            .map_err(|e| GraphError::Protocol(e.to_string()))?;
        let c = |e| {
            classify(
                e,
                address,
                &settings.user,
                settings.database.as_deref(),
                true,
                tls,
            )
        };
        let graph = Graph::connect(config).map_err(c)?;
        let mut db = Db {
            graph,
            address: address.to_owned(),
            user: settings.user.clone(),
            database: settings.database.clone(),
            tls,
            server: ServerInfo {
                agent: String::new(),
                version: String::new(),
                edition: String::new(),
            },
            query_timeout: settings.query_timeout,
            log: super::querylog::QueryLog::from_env(),
        };
        let rows = db
            .rows_inner(
                neo4rs::query(
                    "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition",
                ),
                true,
                Origin::Tool,
            )
            .await?;
        if let Some(row) = rows.first() {
            let versions: Vec<String> = row.get("versions").unwrap_or_default();
            db.server = ServerInfo {
                agent: row.get("name").unwrap_or_default(),
                version: versions.first().cloned().unwrap_or_default(),
                edition: row.get("edition").unwrap_or_default(),
            };
        }
        let major = db.server.version.split('.').next().unwrap_or("");
        if matches!(major, "1" | "2" | "3" | "4") {
            return Err(GraphError::UnsupportedServer {
                agent: db.server.agent.clone(),
                version: db.server.version.clone(),
                address: address.to_owned(),
            });
        }
        Ok(db)
    }

    pub fn server(&self) -> &ServerInfo {
        &self.server
    }

    /// Which function yields a stable id: `elementId` from Neo4j 5 on, `id` before.
    pub fn id_function(&self) -> &'static str {
        if self.server.version.starts_with("4.") {
            "id"
        } else {
            "elementId"
        }
    }

    /// `host:port`, safe to print.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    pub(crate) fn classify(&self, err: neo4rs::Error) -> GraphError {
        classify(
            err,
            &self.address,
            &self.user,
            self.database.as_deref(),
            false,
            self.tls,
        )
    }

    /// Logs a statement (when the query log is on) and gives an auto-commit
    /// statement the server-side timeout, if one is set.
    fn prepare(&self, q: Query, origin: Origin<'_>, autocommit: bool) -> Query {
        if let Some(log) = &self.log {
            log.record(&q, origin);
        }
        match self.query_timeout {
            Some(t) if autocommit => {
                q.extra("tx_timeout", t.as_millis().min(i64::MAX as u128) as i64)
            }
            _ => q,
        }
    }

    /// A statement of the tool's own about to run in an explicit
    /// transaction of [`Db::start_txn`]: recorded in the query log.
    pub fn logged(&self, q: Query) -> Query {
        self.prepare(q, Origin::Tool, false)
    }

    /// An explicit transaction, for work that must see one state of the
    /// database or be undone whole. Send its statements through
    /// [`Db::logged`].
    pub async fn start_txn(&self) -> Result<Txn, GraphError> {
        self.graph.start_txn().await.map_err(|e| self.classify(e))
    }

    /// Runs a query and collects its (small) result.
    pub async fn rows(&self, q: Query) -> Result<Vec<Row>, GraphError> {
        self.rows_inner(q, false, Origin::Tool).await
    }

    /// [`Db::rows`] for a statement from a user's file.
    pub async fn rows_from(&self, q: Query, origin: Origin<'_>) -> Result<Vec<Row>, GraphError> {
        self.rows_inner(q, false, origin).await
    }

    async fn rows_inner(
        &self,
        q: Query,
        connecting: bool,
        origin: Origin<'_>,
    ) -> Result<Vec<Row>, GraphError> {
        let map = |e| {
            classify(
                e,
                &self.address,
                &self.user,
                self.database.as_deref(),
                connecting,
                self.tls,
            )
        };
        let q = self.prepare(q, origin, true);
        let mut stream = self.graph.execute(q).await.map_err(map)?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(map)? {
            rows.push(row);
        }
        Ok(rows)
    }

    /// Streams a large result; rows arrive `FETCH_SIZE` at a time.
    pub async fn stream(&self, q: Query) -> Result<DetachedRowStream, GraphError> {
        let q = self.prepare(q, Origin::Tool, true);
        self.graph.execute(q).await.map_err(|e| self.classify(e))
    }

    /// Runs a statement in its own auto-committed transaction and waits for
    /// its end. The result is pulled and dropped rather than discarded: neo4rs
    /// re-sends a statement whose DISCARD fails, whatever the error, which
    /// would repeat a failed constraint for a minute or a write twice.
    pub async fn run(&self, q: Query) -> Result<(), GraphError> {
        self.run_from(q, Origin::Tool).await
    }

    /// [`Db::run`] for a statement from a user's file.
    pub async fn run_from(&self, q: Query, origin: Origin<'_>) -> Result<(), GraphError> {
        let q = self.prepare(q, origin, true);
        let mut stream = self.graph.execute(q).await.map_err(|e| self.classify(e))?;
        while stream.next().await.map_err(|e| self.classify(e))?.is_some() {}
        Ok(())
    }

    /// Runs one query and reads a single integer column `c` from its only row.
    pub async fn count(&self, cypher: &str) -> Result<u64, GraphError> {
        self.count_query(neo4rs::query(cypher)).await
    }

    /// [`Db::count`] for a query with parameters.
    pub async fn count_query(&self, q: Query) -> Result<u64, GraphError> {
        let cypher = q.query().to_owned();
        let rows = self.rows(q).await?;
        let n: i64 = rows
            .first()
            .and_then(|r| r.get::<i64>("c").ok())
            .ok_or_else(|| GraphError::Protocol(format!("no count returned by `{cypher}`")))?;
        Ok(n.max(0) as u64)
    }

    /// Runs statements in one explicit transaction, committing only if all succeed.
    pub async fn run_in_txn(&self, queries: Vec<Query>) -> Result<(), GraphError> {
        let queries = queries.into_iter().map(|q| (q, Origin::Tool)).collect();
        self.run_in_txn_indexed(queries).await.map_err(|(_, e)| e)
    }

    /// [`Db::run_in_txn`] that also says which query failed (its index; the
    /// last one when the commit itself fails), so a migration error can name
    /// the statement's line.
    pub async fn run_in_txn_indexed(
        &self,
        queries: Vec<(Query, Origin<'_>)>,
    ) -> Result<(), (usize, GraphError)> {
        let last = queries.len().saturating_sub(1);
        let mut txn = self
            .graph
            .start_txn()
            .await
            .map_err(|e| (0, self.classify(e)))?;
        for (i, (q, origin)) in queries.into_iter().enumerate() {
            let q = self.prepare(q, origin, false);
            if let Err(e) = txn.run(q).await {
                let err = self.classify(e);
                let _ = txn.rollback().await;
                return Err((i, err));
            }
        }
        txn.commit()
            .await
            .map(|_| ())
            .map_err(|e| (last, self.classify(e)))
    }
}
