//! Progress on stderr, never on stdout (which carries only the result).
//!
//! On a terminal: bars with counts, rate, elapsed time and ETA. On a pipe or
//! in a log, with `-v`: a plain line when a phase starts, one every
//! [`PLAIN_EVERY`] while it runs, and one when it ends. Otherwise silent.
//! Every other line on stderr while a bar is drawn (step lines, `-v` debug
//! lines, warnings) goes through [`eprint_line`], which lifts the bar out of
//! the way so lines and bars never mix.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often a plain progress line is printed on a pipe with `-v`.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// The bar being drawn, if any: lines printed meanwhile suspend it.
static DRAWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Mutex<Plain>>,
}

/// A phase reported in plain lines.
struct Plain {
    what: String,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
}

impl Plain {
    fn line(&self, end: bool) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            (self.done as f64 / secs).round() as u64
        } else {
            0
        };
        format!(
            "{}: {}/{}{}",
            self.what,
            grouped(self.done),
            grouped(self.total),
            if end {
                format!(" done in {secs:.1} s ({}/s)", grouped(rate))
            } else {
                format!(" ({}/s, {secs:.0} s elapsed)", grouped(rate))
            }
        )
    }
}

impl Progress {
    pub fn new(enabled: bool, what: &str, total: u64) -> Progress {
        let off = Progress {
            bar: None,
            plain: None,
        };
        if !enabled || crate::log::quiet() {
            return off;
        }
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            if !crate::log::verbose() {
                return off;
            }
            let now = Instant::now();
            let plain = Plain {
                what: what.to_owned(),
                total,
                done: 0,
                started: now,
                last: now,
            };
            eprintln!("{}", plain.line(false));
            return Progress {
                bar: None,
                plain: Some(Mutex::new(plain)),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {count} ({rate}, {elapsed_precise} elapsed, {eta} left)",
            )
            .expect("valid template")
            .with_key("count", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/{}", grouped(s.pos()), grouped(s.len().unwrap_or(0)));
            })
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", grouped(s.per_sec().round() as u64));
            })
            .progress_chars("=> "),
        );
        bar.set_prefix(what.to_owned());
        if let Ok(mut drawn) = DRAWN.lock() {
            *drawn = Some(bar.clone());
        }
        Progress {
            bar: Some(bar),
            plain: None,
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        if let Some(Ok(mut p)) = self.plain.as_ref().map(|p| p.lock()) {
            p.done += n;
            if p.last.elapsed() >= PLAIN_EVERY {
                p.last = Instant::now();
                eprintln!("{}", p.line(false));
            }
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
            if let Ok(mut drawn) = DRAWN.lock() {
                *drawn = None;
            }
        }
        if let Some(Ok(p)) = self.plain.as_ref().map(|p| p.lock()) {
            eprintln!("{}", p.line(true));
        }
    }
}

/// Prints a line on stderr; a bar being drawn is lifted out of the way and
/// drawn again below it.
pub fn eprint_line(line: &str) {
    let drawn = DRAWN.lock().ok().and_then(|d| d.clone());
    match drawn {
        Some(bar) if !bar.is_finished() => bar.suspend(|| eprintln!("{line}")),
        _ => eprintln!("{line}"),
    }
}

/// `1245` as `1,245`.
fn grouped(n: u64) -> String {
    crate::text::thousands(n)
}

/// Says which step of a long operation starts, so no phase is silent: on a
/// terminal (unless `--quiet`), and with `-v` also on a pipe or in a log.
/// Never on stdout, which carries only the result.
pub fn step(msg: impl AsRef<str>) {
    if crate::log::quiet() {
        return;
    }
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) || crate::log::verbose() {
        eprint_line(msg.as_ref());
    }
}
