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
    #[error("the database `{database}` does not exist on {address}; check --database / NEO4J_DATABASE (`SHOW DATABASES` lists them)")]
    UnknownDatabase { database: String, address: String },
    #[error("TLS handshake with {address} failed: {detail}; for a server with a self-signed certificate use bolt+ssc:// or neo4j+ssc://, for a server without TLS use bolt:// or neo4j://")]
    Tls { address: String, detail: String },
    #[error("the connection to the server was lost: {detail}")]
    ConnectionLost { detail: String },
    #[error("the server refused a query ({code}): {message}")]
    Query { code: String, message: String },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl GraphError {
    /// True when the failure is the transport's, not the query's: the kind of
    /// failure after which a restore must be rolled back once the server is back.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            GraphError::Unreachable { .. } | GraphError::ConnectionLost { .. }
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
        E::AuthenticationError(_) => GraphError::AuthFailed {
            user: user.to_owned(),
            address: address.to_owned(),
        },
        E::Neo4j(e) => {
            let code = e.code().to_owned();
            if code.contains("Security.Unauthorized") || code.contains("AuthenticationRateLimit") {
                GraphError::AuthFailed {
                    user: user.to_owned(),
                    address: address.to_owned(),
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
