//! Progress bars on stderr with counts and rate; drawn only when stderr is a
//! terminal, so scripts and logs stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(enabled: bool, what: &str, total: u64) -> Progress {
        if !enabled || crate::log::quiet() || !std::io::IsTerminal::is_terminal(&std::io::stderr())
        {
            return Progress { bar: None };
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
        Progress { bar: Some(bar) }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
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
        eprintln!("{}", msg.as_ref());
    }
}
