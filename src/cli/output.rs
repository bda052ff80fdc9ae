//! How results reach people and scripts: human text (coloured on a terminal)
//! or exactly one JSON document on stdout. Prompts, progress and logs use stderr.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::error::Error;

/// What a command produced: the same facts for people and for scripts.
pub struct Report {
    pub human: String,
    pub json: Value,
    pub exit_code: i32,
}

impl Report {
    pub fn new(human: impl Into<String>, json: Value) -> Report {
        Report {
            human: human.into(),
            json,
            exit_code: 0,
        }
    }

    pub fn with_exit_code(mut self, code: i32) -> Report {
        self.exit_code = code;
        self
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub color: bool,
}

impl Output {
    pub fn new(json: bool) -> Output {
        let color =
            !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        console::set_colors_enabled(color);
        console::set_colors_enabled_stderr(std::io::stderr().is_terminal());
        Output { json, color }
    }

    pub fn print(&self, report: &Report) {
        let mut out = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&report.json).unwrap_or_default()
            );
        } else if !report.human.is_empty() {
            let _ = writeln!(out, "{}", report.human.trim_end());
        }
    }

    /// The one error reporter: the whole chain on stderr, and in `--json`
    /// mode also a JSON document on stdout so scripts always get one.
    pub fn print_error(&self, err: &Error) {
        let mut msg = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            let text = s.to_string();
            if !msg.contains(&text) {
                msg.push_str(&format!("\n  caused by: {text}"));
            }
            source = s.source();
        }
        eprintln!("{} {msg}", console::style("error:").red().bold());
        if self.json {
            let doc = super::json::ErrorDocument::new(err, msg);
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
    }

    /// Progress and notes for people, on stderr (also in JSON mode: stdout
    /// carries only the JSON document).
    pub fn note(&self, msg: impl AsRef<str>) {
        eprintln!("{}", msg.as_ref());
    }
}

/// Green "ok" / red "FAIL" markers for check lists.
pub fn mark(ok: bool) -> String {
    if ok {
        console::style("ok").green().to_string()
    } else {
        console::style("FAIL").red().bold().to_string()
    }
}
