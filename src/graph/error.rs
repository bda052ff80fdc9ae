//! Errors from talking to the database, sorted into the cases a user can act on.
//! Messages never contain the password or a URI with credentials.

use std::time::Duration;

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("cannot reach the Neo4j server at {address} (gave up after {waited:?}): {detail}; check that the server is running and that --uri / NEO4J_URI is right")]
    Unreachable {
        address: String,
        waited: Duration,
        detail: String,
    },
    #[error("authentication failed for user `{user}` at {address}; check --user / NEO4J_USERNAME and the password (NEO4J_PASSWORD or --password-file)")]
    AuthFailed { user: String, address: String },
    #[error("the server refuses logins of user `{user}` at {address} for now, after too many failed attempts; wait a few seconds (Neo4j's dbms.security.auth_lock_time) and check the password (NEO4J_PASSWORD or --password-file)")]
    AuthRateLimited { user: String, address: String },
    #[error("the database `{database}` does not exist on {address}; check --database / NEO4J_DATABASE (`SHOW DATABASES` lists them)")]
    UnknownDatabase { database: String, address: String },
    #[error("TLS handshake with {address} failed: {detail}; for a server with a self-signed certificate use bolt+ssc:// or neo4j+ssc://, for a server without TLS use bolt:// or neo4j://")]
    Tls { address: String, detail: String },
    #[error("{agent} {version} at {address} is not supported: ign-setup needs Neo4j 5 (5.26 LTS recommended) or a 2025 or later release; Neo4j 4.4 reached the end of its support in 2025, upgrade the server first")]
    UnsupportedServer {
        agent: String,
        version: String,
        address: String,
    },
    #[error("the connection to the server was lost: {detail}")]
    ConnectionLost { detail: String },
    #[error("the server stopped the statement: it ran longer than the transaction timeout, or it was terminated ({message}); raise --query-timeout / IGN_SETUP_QUERY_TIMEOUT (unset: no limit) or the server's db.transaction.timeout")]
    QueryTimeout { message: String },
    #[error("the server refused a query ({code}): {message}")]
    Query { code: String, message: String },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl GraphError {
    pub fn fault(&self) -> crate::exit::Fault {
        use crate::exit::Fault;
        match self {
            GraphError::Unreachable { .. } => Fault::Unreachable,
            GraphError::AuthFailed { .. } | GraphError::AuthRateLimited { .. } => Fault::AuthFailed,
            GraphError::UnknownDatabase { .. } => Fault::UnknownDatabase,
            GraphError::Tls { .. } => Fault::Tls,
            GraphError::UnsupportedServer { .. }
            | GraphError::ConnectionLost { .. }
            | GraphError::QueryTimeout { .. }
            | GraphError::Query { .. }
            | GraphError::Protocol(_) => Fault::Database,
        }
    }

    /// True when the failure is the transport's, not the query's, or the
    /// server stopped the transaction (a timeout, a terminated lock client):
    /// the kind of failure after which a restore is rolled back once the
    /// server is back, and a rollback tried again.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            GraphError::Unreachable { .. }
                | GraphError::ConnectionLost { .. }
                | GraphError::QueryTimeout { .. }
        )
    }
}

/// What a neo4rs error means for us. `connecting` tells whether it happened
/// while establishing the session (then I/O errors mean "unreachable").
pub(crate) fn classify(
    err: neo4rs::Error,
    address: &str,
    user: &str,
    database: Option<&str>,
    connecting: bool,
    tls: bool,
) -> GraphError {
    use neo4rs::Error as E;
    match err {
        E::AuthenticationError(message) if message.contains("too many times") => {
            GraphError::AuthRateLimited {
                user: user.to_owned(),
                address: address.to_owned(),
            }
        }
        E::AuthenticationError(_) => GraphError::AuthFailed {
            user: user.to_owned(),
            address: address.to_owned(),
        },
        E::Neo4j(e) => {
            let code = e.code().to_owned();
            if code.contains("AuthenticationRateLimit") {
                GraphError::AuthRateLimited {
                    user: user.to_owned(),
                    address: address.to_owned(),
                }
            } else if code.contains("Security.Unauthorized") {
                GraphError::AuthFailed {
                    user: user.to_owned(),
                    address: address.to_owned(),
                }
            } else if code.contains("Transaction.TransactionTimedOut")
                || code.contains("Transaction.LockClientStopped")
                || code.contains("Transaction.Terminated")
            {
                GraphError::QueryTimeout {
                    message: e.message().to_owned(),
                }
            } else if code.contains("DatabaseNotFound") {
                GraphError::UnknownDatabase {
                    database: database.unwrap_or("(default)").to_owned(),
                    address: address.to_owned(),
                }
            } else {
                GraphError::Query {
                    code,
                    message: e.message().to_owned(),
                }
            }
        }
        E::IOError { detail } => {
            let text = detail.to_string();
            let lower = text.to_ascii_lowercase();
            if tls
                && (lower.contains("tls")
                    || lower.contains("certificate")
                    || lower.contains("handshake")
                    || lower.contains("corrupt message"))
            {
                GraphError::Tls {
                    address: address.to_owned(),
                    detail: text,
                }
            } else if connecting {
                GraphError::Unreachable {
                    address: address.to_owned(),
                    waited: Duration::ZERO,
                    detail: text,
                }
            } else {
                GraphError::ConnectionLost { detail: text }
            }
        }
        E::ConnectionTimedOut | E::ServerUnavailableError(_) | E::RoutingTableRefreshFailed(_) => {
            if connecting {
                GraphError::Unreachable {
                    address: address.to_owned(),
                    waited: Duration::ZERO,
                    detail: err_text(&err),
                }
            } else {
                GraphError::ConnectionLost {
                    detail: err_text(&err),
                }
            }
        }
        E::ConnectionError | E::IncompleteBoltExchange => GraphError::ConnectionLost {
            detail: err_text(&err),
        },
        E::ProtocolMismatch(_) => GraphError::Unreachable {
            address: address.to_owned(),
            waited: Duration::ZERO,
            detail: format!("{err}; is this the Bolt port (usually 7687)?"),
        },
        other => GraphError::Protocol(other.to_string()),
    }
}

fn err_text(err: &neo4rs::Error) -> String {
    err.to_string()
}
