//! The `--json` documents, as types. Every document has one shape: `ok`,
//! then either the command's result under its own key or, on failure,
//! `error {kind, message, exit_code}` (plus `details` where there are any).

use std::io::Write;

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

/// Prints the run's JSON document on stdout, unless one was printed already:
/// a Ctrl-C can end a prompt (its error returns to the reporter) while the
/// interrupt handler reports it too, and stdout must hold exactly one.
pub fn emit(doc: &impl Serialize) {
    static PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // The lock first: the handler, which exits right after, waits here until
    // a document being printed is complete.
    let mut out = std::io::stdout().lock();
    if PRINTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(doc).unwrap_or_default()
    );
    let _ = out.flush();
}

/// The error document of a Ctrl-C, which the interrupt handler prints just
/// before it exits (`--json` only).
pub fn print_interrupted(fault: crate::exit::Fault, message: &str) {
    let doc = ErrorDocument {
        ok: false,
        error: ErrorBody {
            kind: fault.kind(),
            message: message.to_owned(),
            exit_code: fault.code(),
            details: None,
        },
    };
    emit(&doc);
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
