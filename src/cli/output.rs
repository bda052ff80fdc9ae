//! How results reach people and scripts: human text (coloured on a terminal)
//! or exactly one JSON document on stdout. Prompts, progress and logs use stderr.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::error::Error;
pub use crate::text::thousands;

/// What a command produced: the same facts for people and for scripts.
pub struct Report {
    pub human: String,
    pub json: Value,
    pub exit_code: i32,
}

impl Report {
    /// A report whose `--json` document is `doc` (a type of
    /// [`super::json`]).
    pub fn new(human: impl Into<String>, doc: impl serde::Serialize) -> Report {
        Report {
            human: human.into(),
            json: serde_json::to_value(doc).expect("a --json document serialises"),
            exit_code: 0,
        }
    }

    /// A successful command's report: `"ok": true` and the fields of `body`.
    pub fn done(human: impl Into<String>, body: impl serde::Serialize) -> Report {
        Report::new(human, super::json::Done::new(body))
    }

    pub fn with_exit_code(mut self, code: i32) -> Report {
        self.exit_code = code;
        self
    }

    /// A command that ran to its end and found a failure (doctor's checks,
    /// drift, a failed drill): its fault's exit code, and in JSON `ok: false`
    /// with the same `error` object every other failure has.
    pub fn failed(mut self, fault: crate::exit::Fault, message: impl Into<String>) -> Report {
        self.exit_code = fault.code();
        if let Value::Object(doc) = &mut self.json {
            doc.insert("ok".into(), Value::Bool(false));
            doc.insert(
                "error".into(),
                serde_json::json!({
                    "kind": fault.kind(),
                    "message": message.into(),
                    "exit_code": fault.code(),
                }),
            );
        }
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
            drop(out);
            super::json::emit(&report.json);
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
            super::json::emit(&super::json::ErrorDocument::new(err, msg));
        }
    }

    /// Progress and notes for people, on stderr (also in JSON mode: stdout
    /// carries only the JSON document).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !crate::log::quiet() {
            crate::progress::eprint_line(msg.as_ref());
        }
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

/// Yellow "warn" for a check that passed with something worth changing.
pub fn warn_mark() -> String {
    console::style("warn").yellow().to_string()
}

/// An RFC 3339 time as people read it: local time to the second, with the
/// zone's offset (`2026-12-01 18:10:40 +01:00`); the text as it is when it
/// does not parse.
pub fn local_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// How long ago an RFC 3339 time was, in the largest whole unit: `3 days`,
/// `1 hour`, `42 minutes`, `just now`.
pub fn age(rfc3339: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    let secs = chrono::Utc::now()
        .signed_duration_since(t)
        .num_seconds()
        .max(0);
    Some(duration_words(secs as u64))
}

/// `secs` in the largest whole unit.
pub fn duration_words(secs: u64) -> String {
    let (n, unit) = match secs {
        0..=59 => return "just now".to_owned(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A count with its noun, as people write it: `1 node`, `1,245 nodes`.
pub fn counted(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// Sizes in one unit style everywhere: `512 B`, `14.3 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Rows under a header, each column as wide as its widest cell; the last
/// column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_sizes_and_tables_read_like_prose() {
        assert_eq!(super::duration_words(30), "just now");
        assert_eq!(super::duration_words(60), "1 minute");
        assert_eq!(super::duration_words(7200), "2 hours");
        assert_eq!(super::duration_words(3 * 86_400 + 5), "3 days");
        assert_eq!(super::human_size(512), "512 B");
        assert_eq!(super::human_size(15 * 1024 * 1024), "15.0 MiB");
        let t = super::table(
            &["NAME", "NODES", "REASON"],
            &[vec![
                "a.json".into(),
                "1,245".into(),
                "Manual backup".into(),
            ]],
        );
        assert_eq!(t, "NAME    NODES  REASON\na.json  1,245  Manual backup\n");
    }
}
