//! Cross-module tests of building, verifying and extracting bundles.
