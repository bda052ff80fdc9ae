//! The `--json` documents, as types. Every document has one shape: `ok`,
//! then either the command's result under its own key or, on failure,
//! `error {kind, message, exit_code}` (plus `details` where there are any).

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::operation::RecoveryReport;
use crate::restore::RestoreOutcome;

/// What a failed command prints on stdout with `--json`.
#[derive(Debug, Serialize)]
pub struct ErrorDocument {
    pub ok: bool,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub kind: &'static str,
    pub message: String,
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorDocument {
    /// `message` is the whole chain, as the reporter prints it on stderr.
    pub fn new(err: &Error, message: String) -> ErrorDocument {
        let fault = err.fault();
        ErrorDocument {
            ok: false,
            error: ErrorBody {
                kind: fault.kind(),
                message,
                exit_code: fault.code(),
                details: err.details(),
            },
        }
    }
}

/// `backup restore --json`.
#[derive(Debug, Serialize)]
pub struct RestoreDocument<'a> {
    pub ok: bool,
    pub restore: &'a RestoreOutcome,
}

/// `recover --json`.
#[derive(Debug, Serialize)]
pub struct RecoveryDocument<'a> {
    pub ok: bool,
    pub recovery: &'a RecoveryReport,
}

/// A document as the value [`super::output::Report`] carries.
pub fn to_value(doc: &impl Serialize) -> Value {
    serde_json::to_value(doc).expect("a --json document serialises")
}
