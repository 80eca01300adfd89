//! The extreme rule: a value beyond the range seen so far, by more than `tolerance` × that
//! range, is anomalous whatever the models say (Numenta's detector has the same rule). A
//! run of new extremes less than `gap` points apart is one excursion, scored once.

#[derive(Debug, Clone)]
pub(super) struct Extreme {
    lo: f64,
    hi: f64,
    n: u64,
    last: Option<u64>,
}

impl Extreme {
    pub(super) fn new() -> Self {
        Extreme {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            n: 0,
            last: None,
        }
    }

    /// Values seen so far.
    pub(super) fn seen(&self) -> u64 {
        self.n
    }

    /// Whether the next (finite) value starts a new excursion beyond the range.
    pub(super) fn update(&mut self, x: f64, tolerance: f64, gap: usize) -> bool {
        let i = self.n;
        self.n += 1;
        let mut beyond = false;
        if self.hi > self.lo {
            let tol = (self.hi - self.lo) * tolerance;
            beyond = x > self.hi + tol || x < self.lo - tol;
        }
        self.lo = self.lo.min(x);
        self.hi = self.hi.max(x);
        if !beyond || tolerance <= 0.0 {
            return false;
        }
        let same_excursion = self.last.is_some_and(|l| i < l + gap as u64);
        self.last = Some(i);
        !same_excursion
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_extremes_beyond_the_tolerance_and_once_per_excursion() {
        let mut e = Extreme::new();
        let fired: Vec<bool> = [1.0, 2.0, 2.04, 3.0, 2.5, 3.5, 2.0, 2.0, 2.0, -1.0]
            .iter()
            .map(|&x| e.update(x, 0.05, 3))
            .collect();
        // 2.04 is within 5 % of the range; 3.5 is within 3 points of 3.0's excursion
        let want = [
            false, false, false, true, false, false, false, false, false, true,
        ];
        assert_eq!(fired, want);
    }
}
