//! Size limits for reading bundles, and the reader that enforces them while decompressing.
//!
//! Zip headers are written by whoever made the file, so declared sizes are checked first
//! (cheap, catches honest mistakes) and the real output is counted as it streams (catches
//! a zip bomb whose headers lie).

use std::io::{self, Read};

/// Limits applied to every bundle read by [`verify_bundle`](super::verify_bundle) and
/// [`extract_bundle`](super::extract_bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyLimits {
    /// Most entries a bundle may hold.
    pub max_entries: usize,
    /// Largest uncompressed size of one entry, in bytes.
    pub max_entry_size: u64,
    /// Largest uncompressed size of all entries together, in bytes.
    pub max_total_size: u64,
    /// Largest uncompressed/compressed ratio of one entry.
    pub max_ratio: u64,
    /// Entries are held to `max_ratio` only once they exceed this many uncompressed bytes:
    /// small, very repetitive files (an empty-ish JSON, a blank-padded script) compress far
    /// beyond any sane ratio yet are harmless.
    pub ratio_applies_above: u64,
}

impl Default for VerifyLimits {
    fn default() -> Self {
        VerifyLimits {
            max_entries: 10_000,
            max_entry_size: 8 << 30,
            max_total_size: 16 << 30,
            max_ratio: 200,
            ratio_applies_above: 1 << 20,
        }
    }
}

impl VerifyLimits {
    /// Whether `uncompressed` bytes from `compressed` bytes breaks the ratio limit.
    pub(crate) fn ratio_exceeded(&self, uncompressed: u64, compressed: u64) -> bool {
        uncompressed > self.ratio_applies_above
            && uncompressed > compressed.saturating_mul(self.max_ratio)
    }
}

/// Why a [`GuardedReader`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tripped {
    /// More bytes came out than the header declared.
    BeyondDeclared,
    /// The output broke the ratio limit.
    Ratio,
}

/// Counts decompressed bytes and fails the read as soon as a limit is crossed.
///
/// The failure is reported as an I/O error so it stops `read` loops; the reason is kept in
/// `tripped` for the caller to turn into a precise [`BundleError`](super::BundleError).
pub(crate) struct GuardedReader<'l, R> {
    inner: R,
    limits: &'l VerifyLimits,
    declared: u64,
    compressed: u64,
    produced: u64,
    pub(crate) tripped: Option<Tripped>,
}

impl<'l, R: Read> GuardedReader<'l, R> {
    pub(crate) fn new(inner: R, limits: &'l VerifyLimits, declared: u64, compressed: u64) -> Self {
        GuardedReader {
            inner,
            limits,
            declared,
            compressed,
            produced: 0,
            tripped: None,
        }
    }

    pub(crate) fn produced(&self) -> u64 {
        self.produced
    }
}

impl<R: Read> Read for GuardedReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped.is_some() {
            return Err(io::Error::other("bundle entry limit exceeded"));
        }
        // Ask for at most one byte more than declared: enough to prove the header lied
        // without decompressing any further.
        let room = self
            .declared
            .saturating_sub(self.produced)
            .saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.produced += n as u64;
        if self.produced > self.declared {
            self.tripped = Some(Tripped::BeyondDeclared);
        } else if self.limits.ratio_exceeded(self.produced, self.compressed) {
            self.tripped = Some(Tripped::Ratio);
        }
        if self.tripped.is_some() {
            return Err(io::Error::other("bundle entry limit exceeded"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_just_past_the_declared_size() {
        let limits = VerifyLimits::default();
        let data = vec![7u8; 1000];
        let mut g = GuardedReader::new(&data[..], &limits, 10, 1000);
        let err = io::copy(&mut g, &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert_eq!(g.tripped, Some(Tripped::BeyondDeclared));
        assert_eq!(g.produced(), 11);
    }

    #[test]
    fn stops_on_ratio_while_streaming() {
        let limits = VerifyLimits {
            max_ratio: 10,
            ratio_applies_above: 0,
            ..VerifyLimits::default()
        };
        let data = vec![0u8; 1000];
        let mut g = GuardedReader::new(&data[..], &limits, 1000, 5);
        assert!(io::copy(&mut g, &mut io::sink()).is_err());
        assert_eq!(g.tripped, Some(Tripped::Ratio));
    }
}
