//! Failure injection for the reliability tests: `IGN_SETUP_FAULT=<point>:<n>`
//! makes the n-th pass through `<point>` fail, so tests can prove that a
//! failure at that step is rolled back. Unset (always, outside tests), every
//! check is one relaxed atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static HITS: AtomicU64 = AtomicU64::new(0);

fn config() -> &'static Option<(String, u64)> {
    static CFG: OnceLock<Option<(String, u64)>> = OnceLock::new();
    CFG.get_or_init(|| {
        let v = std::env::var("IGN_SETUP_FAULT").ok()?;
        let (point, n) = v.split_once(':')?;
        Some((point.to_owned(), n.parse().ok()?))
    })
}

#[derive(Debug, thiserror::Error)]
#[error("injected failure at `{0}` (IGN_SETUP_FAULT)")]
pub struct InjectedFault(pub String);

/// Fails when this is the configured point and pass.
pub fn hit(point: &str) -> Result<(), InjectedFault> {
    match config() {
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

fn pause_config() -> &'static Option<(String, u64)> {
    static CFG: OnceLock<Option<(String, u64)>> = OnceLock::new();
    CFG.get_or_init(|| {
        let v = std::env::var("IGN_SETUP_PAUSE").ok()?;
        let (point, ms) = v.split_once(':')?;
        Some((point.to_owned(), ms.parse().ok()?))
    })
}

/// For the concurrency and kill tests: `IGN_SETUP_PAUSE=<point>:<ms>` makes
/// every pass through `<point>` wait `ms` milliseconds, so a test can start a
/// rival or kill the process at a known step. Unset, it returns at once.
pub async fn pause(point: &str) {
    if let Some((p, ms)) = pause_config() {
        if p == point {
            crate::log::debug(format!("pausing {ms} ms at `{point}` (IGN_SETUP_PAUSE)"));
            tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
        }
    }
}
