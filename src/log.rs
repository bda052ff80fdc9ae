//! Diagnostics on stderr, switched on by `-v`. Kept tiny on purpose: every
//! message is written by our own code, so none can carry the password.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static VERBOSITY: AtomicU8 = AtomicU8::new(0);
static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no notes and no progress on stderr; results, warnings and
/// errors still appear.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub fn set_verbosity(level: u8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSITY.load(Ordering::Relaxed) > 0
}

/// A line for `-v`; silent otherwise.
pub fn debug(msg: impl AsRef<str>) {
    if verbose() {
        crate::progress::eprint_line(&format!("debug: {}", msg.as_ref()));
    }
}

/// A warning about the tool's own setup (not about the user's data), shown
/// whatever the verbosity.
pub fn warn(msg: impl AsRef<str>) {
    crate::progress::eprint_line(&format!("warning: {}", msg.as_ref()));
}
