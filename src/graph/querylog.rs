//! The query log: every statement sent, one JSON object a line, appended to
//! the file named by `IGN_SETUP_QUERY_LOG` (off when unset).
//!
//! It exists so the statements the tool sends can be checked against Neo4j's
//! own Cypher front-end (`scripts/cypher-gate`), and to see what a command
//! sent when diagnosing a problem. Only the text and the names of the
//! parameters are written, never their values: backup data and passwords stay
//! out of it. A line: `{"query": "...", "params": ["rows"], "source": "tool"}`;
//! statements from a user's migration files carry `"source": "migration"`
//! with their file and line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};

use neo4rs::Query;

use super::connect::Origin;

/// The environment variable naming the log file.
pub const QUERY_LOG_ENV: &str = "IGN_SETUP_QUERY_LOG";

#[derive(Clone)]
pub struct QueryLog {
    file: Arc<Mutex<File>>,
}

impl QueryLog {
    /// The log named by [`QUERY_LOG_ENV`], or None when unset or when the
    /// file cannot be opened (then a warning says so once).
    pub fn from_env() -> Option<QueryLog> {
        let path = std::env::var_os(QUERY_LOG_ENV)?;
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(file) => Some(QueryLog {
                file: Arc::new(Mutex::new(file)),
            }),
            Err(e) => {
                crate::log::warn(format!(
                    "{QUERY_LOG_ENV}: cannot open {}: {e}; statements are not logged",
                    std::path::Path::new(&path).display()
                ));
                None
            }
        }
    }

    pub fn record(&self, q: &Query, origin: Origin<'_>) {
        let mut params: Vec<&str> = q
            .get_params()
            .value
            .keys()
            .map(|k| k.value.as_str())
            .collect();
        params.sort_unstable();
        let mut line = serde_json::json!({
            "query": q.query(),
            "params": params,
        });
        match origin {
            Origin::Tool => line["source"] = "tool".into(),
            Origin::Migration { file, line: at } => {
                line["source"] = "migration".into();
                line["file"] = file.into();
                line["line"] = at.into();
            }
        }
        let mut text = line.to_string();
        text.push('\n');
        // One write per line, under the lock: lines of parallel queries and of
        // several processes appending to the same file never interleave.
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

impl std::fmt::Debug for QueryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryLog")
    }
}
