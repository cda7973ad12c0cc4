//! Perceptual image hashes for near-duplicate detection.
