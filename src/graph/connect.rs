//! Opening a session with the server: URI schemes, TLS, client-side routing,
//! and retries with bounded backoff that apply to connecting only.

use std::time::{Duration, Instant};

use neo4rs::{ConfigBuilder, DetachedRowStream, Graph, Query, Row, Txn};

use super::error::{classify, GraphError};
use crate::config::{ConnectSettings, Secret};

/// Rows fetched per round trip: large enough that streaming a big database is
/// not dominated by latency, small enough to keep memory flat.
pub const FETCH_SIZE: usize = 2000;

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
            crate::log::debug(format!(
                "connect to {address} failed ({err}); retrying in {delay:?}"
            ));
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
        let mut builder = ConfigBuilder::default()
            .uri(settings.uri.to_string())
            .user(settings.user.clone())
            .password(password.expose())
            .fetch_size(FETCH_SIZE)
            .max_connections(4)
            .connection_timeout(settings.connect_timeout);
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
        };
        let rows = db
            .rows_inner(neo4rs::query(
                "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition",
            ), true)
            .await?;
        if let Some(row) = rows.first() {
            let versions: Vec<String> = row.get("versions").unwrap_or_default();
            db.server = ServerInfo {
                agent: row.get("name").unwrap_or_default(),
                version: versions.first().cloned().unwrap_or_default(),
                edition: row.get("edition").unwrap_or_default(),
            };
        }
        Ok(db)
    }

    pub fn server(&self) -> &ServerInfo {
        &self.server
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

    /// Runs a query and collects its (small) result.
    pub async fn rows(&self, q: Query) -> Result<Vec<Row>, GraphError> {
        self.rows_inner(q, false).await
    }

    async fn rows_inner(&self, q: Query, connecting: bool) -> Result<Vec<Row>, GraphError> {
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
        let mut stream = self.graph.execute(q).await.map_err(map)?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(map)? {
            rows.push(row);
        }
        Ok(rows)
    }

    /// Streams a large result; rows arrive `FETCH_SIZE` at a time.
    pub async fn stream(&self, q: Query) -> Result<DetachedRowStream, GraphError> {
        self.graph.execute(q).await.map_err(|e| self.classify(e))
    }

    /// Runs a write in its own auto-committed transaction.
    pub async fn run(&self, q: Query) -> Result<(), GraphError> {
        self.graph
            .run(q)
            .await
            .map(|_| ())
            .map_err(|e| self.classify(e))
    }

    /// Runs one query and reads a single integer column `c` from its only row.
    pub async fn count(&self, cypher: &str) -> Result<u64, GraphError> {
        let rows = self.rows(neo4rs::query(cypher)).await?;
        let n: i64 = rows
            .first()
            .and_then(|r| r.get::<i64>("c").ok())
            .ok_or_else(|| GraphError::Protocol(format!("no count returned by `{cypher}`")))?;
        Ok(n.max(0) as u64)
    }

    pub async fn start_txn(&self) -> Result<Txn, GraphError> {
        self.graph.start_txn().await.map_err(|e| self.classify(e))
    }

    /// Runs statements in one explicit transaction, committing only if all succeed.
    pub async fn run_in_txn(&self, queries: Vec<Query>) -> Result<(), GraphError> {
        let mut txn = self.start_txn().await?;
        for q in queries {
            if let Err(e) = txn.run(q).await {
                let err = self.classify(e);
                let _ = txn.rollback().await;
                return Err(err);
            }
        }
        txn.commit().await.map(|_| ()).map_err(|e| self.classify(e))
    }
}
