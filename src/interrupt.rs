//! Ctrl-C, as the library sees it: a [`Cancel`] token that the caller owns
//! and passes in, and what an interrupt means at this moment
//! ([`Cancel::interrupt`]). The library never exits the process; the binary
//! listens for the signal and acts on the [`Reaction`].
//!
//! Outside a destructive operation a Ctrl-C stops the process at once (exit
//! 130). During one, the first asks the operation to stop at the next batch
//! or statement and roll back; a second one exits immediately, leaving the
//! journal for `ign-setup recover` (exit 32, with a message that says so).
//! Either way the terminal's settings are put back first
//! ([`restore_terminal`]), so a Ctrl-C at the password prompt never leaves
//! echo off; the binary also removes this process's temporary files
//! ([`crate::fsutil::remove_own_temp_files`]) and, with `--json`, prints the
//! error document.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The terminal's settings when the process started (stdin a terminal only).
static TERMINAL: OnceLock<Option<libc::termios>> = OnceLock::new();

/// Remembers the terminal's settings, for [`restore_terminal`]; call once at
/// start, before any prompt.
pub fn save_terminal() {
    TERMINAL.get_or_init(|| {
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        #[allow(unsafe_code)]
        // SAFETY: tcgetattr writes a termios into the buffer when it returns 0.
        let rc = unsafe { libc::tcgetattr(libc::STDIN_FILENO, t.as_mut_ptr()) };
        #[allow(unsafe_code)]
        // SAFETY: initialised by the successful call above.
        (rc == 0).then(|| unsafe { t.assume_init() })
    });
}

/// Puts the terminal back as it was at start (echo on, cooked mode) and shows
/// the cursor, which a prompt may have hidden.
pub fn restore_terminal() {
    if let Some(Some(t)) = TERMINAL.get() {
        #[allow(unsafe_code)]
        // SAFETY: t is a termios read from this same descriptor.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t);
        }
        let _ = console::Term::stderr().show_cursor();
    }
}

/// Asks a running operation to stop, and knows whether one is in its
/// destructive part. Clones share one state.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<State>);

#[derive(Debug, Default)]
struct State {
    requested: AtomicBool,
    destructive: AtomicUsize,
}

/// What a Ctrl-C means at the moment it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Nothing is being changed: exit now (130).
    Exit,
    /// A destructive operation will stop at its next step and roll back.
    Stop,
    /// A second Ctrl-C in a destructive operation: exit now, leaving the
    /// journal for `ign-setup recover` (32).
    ExitForRecovery,
}

impl Reaction {
    /// The fault to leave with at once (its exit code and `--json` kind), if
    /// any.
    pub fn exit_fault(self) -> Option<crate::exit::Fault> {
        match self {
            Reaction::Exit => Some(crate::exit::Fault::Interrupted),
            Reaction::Stop => None,
            Reaction::ExitForRecovery => Some(crate::exit::Fault::RecoveryNeeded),
        }
    }

    /// The exit code to leave with at once, if any.
    pub fn exit_code(self) -> Option<i32> {
        self.exit_fault().map(|f| f.code())
    }

    /// What to tell the person.
    pub fn message(self) -> &'static str {
        match self {
            Reaction::Exit => "interrupted; nothing was changed",
            Reaction::Stop => "interrupt: stopping at the next step and rolling back (press Ctrl-C again to exit at once)",
            Reaction::ExitForRecovery => "interrupted in the middle of a change. Nothing is lost: the journal in the backup folder names the verified safety backup taken first, and `ign-setup recover` (or the next ign-setup command that connects) puts it back.",
        }
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.requested.load(Ordering::Relaxed)
    }

    /// Marks a destructive section for as long as the guard lives.
    pub fn destructive(&self) -> DestructiveSection {
        self.0.destructive.fetch_add(1, Ordering::SeqCst);
        DestructiveSection(Arc::clone(&self.0))
    }

    /// Records a Ctrl-C and says what it means now.
    pub fn interrupt(&self) -> Reaction {
        if self.0.destructive.load(Ordering::SeqCst) == 0 {
            Reaction::Exit
        } else if self.0.requested.swap(true, Ordering::SeqCst) {
            Reaction::ExitForRecovery
        } else {
            Reaction::Stop
        }
    }
}

/// See [`Cancel::destructive`].
#[derive(Debug)]
pub struct DestructiveSection(Arc<State>);

impl Drop for DestructiveSection {
    fn drop(&mut self) {
        self.0.destructive.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupt_exits_outside_a_change_and_stops_then_exits_inside_one() {
        let cancel = Cancel::new();
        assert_eq!(cancel.interrupt(), Reaction::Exit);
        assert!(!cancel.requested());
        let section = cancel.clone().destructive();
        assert_eq!(cancel.interrupt(), Reaction::Stop);
        assert!(cancel.requested());
        assert_eq!(cancel.interrupt(), Reaction::ExitForRecovery);
        drop(section);
        assert_eq!(cancel.interrupt(), Reaction::Exit);
    }
}
