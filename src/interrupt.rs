//! Ctrl-C. Outside a destructive operation the process stops at once (exit
//! 130). During one, the first Ctrl-C asks the operation to stop at the next
//! batch and roll back; a second one exits immediately, leaving the journal
//! for `ign-setup recover` (exit 32, with a message that says so). Either way
//! the terminal's settings are put back first, so a Ctrl-C at the password
//! prompt never leaves echo off, this process's temporary files (a backup
//! being written) are removed, and the `--json` error document is printed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The terminal's settings when the process started (stdin a terminal only).
static TERMINAL: OnceLock<Option<libc::termios>> = OnceLock::new();

fn save_terminal() {
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

static REQUESTED: AtomicBool = AtomicBool::new(false);
static DESTRUCTIVE: AtomicUsize = AtomicUsize::new(0);

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Marks a destructive section for as long as the guard lives.
pub struct DestructiveSection;

impl DestructiveSection {
    pub fn enter() -> DestructiveSection {
        DESTRUCTIVE.fetch_add(1, Ordering::SeqCst);
        DestructiveSection
    }
}

impl Drop for DestructiveSection {
    fn drop(&mut self) {
        DESTRUCTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Called with the fault and the message just before the handler exits (the
/// CLI prints its `--json` error document there).
static ON_EXIT: OnceLock<fn(crate::exit::Fault, &str)> = OnceLock::new();

pub fn on_exit(report: fn(crate::exit::Fault, &str)) {
    let _ = ON_EXIT.set(report);
}

fn leave(fault: crate::exit::Fault, message: &str) -> ! {
    restore_terminal();
    crate::fsutil::remove_own_temp_files();
    eprintln!("\n{message}");
    if let Some(report) = ON_EXIT.get() {
        report(fault, message);
    }
    std::process::exit(fault.code());
}

/// Installs the handler (call once, inside the runtime).
pub fn install() {
    save_terminal();
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            if DESTRUCTIVE.load(Ordering::SeqCst) == 0 {
                leave(
                    crate::exit::Fault::Interrupted,
                    "interrupted; nothing was changed",
                );
            }
            if REQUESTED.swap(true, Ordering::SeqCst) {
                leave(
                    crate::exit::Fault::RecoveryNeeded,
                    "interrupted in the middle of a change. Nothing is lost: the journal in the backup folder names the verified safety backup taken first, and `ign-setup recover` (or the next ign-setup command that connects) puts it back.",
                );
            }
            eprintln!("\ninterrupt: stopping at the next step and rolling back (press Ctrl-C again to exit at once)");
        }
    });
}
