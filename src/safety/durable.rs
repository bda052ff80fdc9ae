//! Crash-safe small-file writes for the journal and the lock file, with
//! their errors: [`crate::fsutil`] does the writing (temporary file, fsync,
//! rename or link, fsync of the folder), so a reader sees the old content or
//! the new, never a torn file, and a write that returned survives a power cut.

use std::path::Path;

use super::SafetyError;
pub(crate) use crate::fsutil::FILE_MODE;

/// Replaces `path` with `bytes` atomically and durably.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SafetyError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|e| SafetyError::io("replace", path, e))
}

/// Creates `path` with `bytes` only if it does not exist yet; `Ok(false)` if
/// it does. Two processes racing here cannot both succeed.
pub(crate) fn create_new_atomic(path: &Path, bytes: &[u8]) -> Result<bool, SafetyError> {
    crate::fsutil::create_new_atomic(path, bytes).map_err(|e| SafetyError::io("create", path, e))
}

/// Removes `path` durably; a file that is already gone is not an error.
pub(crate) fn remove_durable(path: &Path) -> Result<(), SafetyError> {
    crate::fsutil::remove_durable(path).map_err(|e| SafetyError::io("remove", path, e))
}

/// Makes sure the folder holding these files exists.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), SafetyError> {
    std::fs::create_dir_all(dir).map_err(|e| SafetyError::io("create folder", dir, e))
}
