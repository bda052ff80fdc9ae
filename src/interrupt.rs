//! Ctrl-C. Outside a destructive operation the process stops at once (exit
//! 130). During one, the first Ctrl-C asks the operation to stop at the next
//! batch and roll back; a second one exits immediately, leaving the journal
//! for `ign-setup recover`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// Installs the handler (call once, inside the runtime).
pub fn install() {
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            if DESTRUCTIVE.load(Ordering::SeqCst) == 0 || REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted");
                std::process::exit(130);
            }
            eprintln!("\ninterrupt: stopping at the next step and rolling back (press Ctrl-C again to exit at once)");
        }
    });
}
