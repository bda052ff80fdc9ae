//! Test hooks at named points of the destructive operations, compiled only
//! with the `test-hooks` feature (which the tests enable); in a default or
//! release build every hook is an empty function and the variables below are
//! never read.
//!
//! - `IGN_SETUP_FAULT=<point>:<n>` makes the n-th pass through `<point>`
//!   fail, so tests can prove that a failure at that step is rolled back.
//! - `IGN_SETUP_PAUSE=<point>:<ms>` makes every pass through `<point>` wait
//!   `ms` milliseconds.
//! - `IGN_SETUP_HOLD=<point>:<dir>` holds the first pass through `<point>`:
//!   it creates `<dir>/<point>.reached` and waits until `<dir>/<point>.go`
//!   exists, so a test can act (kill, interrupt, start a rival) at a known
//!   step without guessing a delay. Later passes go through once released.

/// The error of an injected failure.
#[derive(Debug, thiserror::Error)]
#[error("injected failure at `{0}` (IGN_SETUP_FAULT)")]
pub struct InjectedFault(pub String);

#[cfg(feature = "test-hooks")]
mod hooks {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::InjectedFault;

    static HITS: AtomicU64 = AtomicU64::new(0);

    fn point_and(var: &str) -> Option<(String, String)> {
        let v = std::env::var(var).ok()?;
        let (point, arg) = v.split_once(':')?;
        Some((point.to_owned(), arg.to_owned()))
    }

    fn fault() -> &'static Option<(String, u64)> {
        static CFG: OnceLock<Option<(String, u64)>> = OnceLock::new();
        CFG.get_or_init(|| {
            let (p, n) = point_and("IGN_SETUP_FAULT")?;
            Some((p, n.parse().ok()?))
        })
    }

    fn pause_ms() -> &'static Option<(String, u64)> {
        static CFG: OnceLock<Option<(String, u64)>> = OnceLock::new();
        CFG.get_or_init(|| {
            let (p, ms) = point_and("IGN_SETUP_PAUSE")?;
            Some((p, ms.parse().ok()?))
        })
    }

    fn hold_dir() -> &'static Option<(String, PathBuf)> {
        static CFG: OnceLock<Option<(String, PathBuf)>> = OnceLock::new();
        CFG.get_or_init(|| {
            let (p, dir) = point_and("IGN_SETUP_HOLD")?;
            Some((p, PathBuf::from(dir)))
        })
    }

    pub fn hit(point: &str) -> Result<(), InjectedFault> {
        match fault() {
            Some((p, n)) if p == point => {
                let k = HITS.fetch_add(1, Ordering::Relaxed) + 1;
                if k == *n {
                    Err(InjectedFault(point.to_owned()))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub async fn pause(point: &str) {
        if let Some((p, ms)) = pause_ms() {
            if p == point {
                crate::log::debug(format!("pausing {ms} ms at `{point}` (IGN_SETUP_PAUSE)"));
                tokio::time::sleep(Duration::from_millis(*ms)).await;
            }
        }
        if let Some((p, dir)) = hold_dir() {
            if p == point {
                let go = dir.join(format!("{point}.go"));
                if go.exists() {
                    return;
                }
                crate::log::debug(format!("holding at `{point}` (IGN_SETUP_HOLD)"));
                let _ = std::fs::write(dir.join(format!("{point}.reached")), b"");
                while !go.exists() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// Fails when this is the configured point and pass (`IGN_SETUP_FAULT`).
#[cfg(feature = "test-hooks")]
pub fn hit(point: &str) -> Result<(), InjectedFault> {
    hooks::hit(point)
}

/// Waits or holds at `point` when told to (`IGN_SETUP_PAUSE`, `IGN_SETUP_HOLD`).
#[cfg(feature = "test-hooks")]
pub async fn pause(point: &str) {
    hooks::pause(point).await
}

/// Without the `test-hooks` feature: never fails.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn hit(_point: &str) -> Result<(), InjectedFault> {
    Ok(())
}

/// Without the `test-hooks` feature: returns at once.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub async fn pause(_point: &str) {}
