//! Deterministic pseudo-noise for the unit tests of the detectors.

/// Noise in [-1, 1], the same for the same `i` on every run.
pub(crate) fn noise(i: usize) -> f64 {
    let x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 33) as f64 / (1u64 << 31) as f64) - 1.0
}
