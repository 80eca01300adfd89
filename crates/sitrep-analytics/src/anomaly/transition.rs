//! The transition model: values are quantised into a few bins and every (previous bin,
//! bin) transition is counted; a transition never seen before is novel. It catches
//! changes of *shape* that stay inside the normal range (a daily pattern gone flat, a
//! missing dip), which the statistical model averages away. It is a much cheaper cousin
//! of CAD's contexts: one small table per series instead of thousands of contexts.
//!
//! The grid is learnt once: the range of the first `learn` values, widened by `margin` ×
//! that range on each side; later values outside it fall into the end bins (the extreme
//! rule covers those). The learning values are then replayed so the table starts with
//! the transitions they contain (and are dropped).

/// Configuration of the transition model.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionConfig {
    /// Bits of quantisation: `2^bits` bins (1..=4).
    pub bits: u32,
    /// Values used to learn the grid (scores are 0 meanwhile).
    pub learn: usize,
    /// Widening of the learnt range on each side, as a share of it.
    pub margin: f64,
}

impl Default for TransitionConfig {
    fn default() -> Self {
        TransitionConfig {
            bits: 4,
            learn: 400,
            margin: 1.0,
        }
    }
}

/// State of the transition model for one series: at most 16 × 16 counters, plus the
/// learning values until the grid is set.
#[derive(Debug, Clone)]
pub(super) struct Transitions {
    bins: usize,
    learn: usize,
    margin: f64,
    learning: Vec<f64>,
    lo: f64,
    width: f64,
    counts: Vec<u16>,
    prev: Option<usize>,
    rest_left: usize,
}

impl Transitions {
    pub(super) fn new(cfg: &TransitionConfig) -> Self {
        let bins = 1usize << cfg.bits.clamp(1, 4);
        Transitions {
            bins,
            learn: cfg.learn.max(1),
            margin: cfg.margin.max(0.0),
            learning: Vec::new(),
            lo: 0.0,
            width: 0.0,
            counts: Vec::new(),
            prev: None,
            rest_left: 0,
        }
    }

    fn bin(&self, x: f64) -> usize {
        if self.width.is_nan() || self.width <= 0.0 {
            return 0;
        }
        let b = ((x - self.lo) / self.width).floor();
        b.clamp(0.0, (self.bins - 1) as f64) as usize
    }

    /// Counts the transition into `x`'s bin; whether it was never seen before.
    fn observe(&mut self, x: f64) -> bool {
        let b = self.bin(x);
        let novel = match self.prev {
            Some(p) => {
                let c = &mut self.counts[p * self.bins + b];
                let novel = *c == 0;
                *c = c.saturating_add(1);
                novel
            }
            None => false,
        };
        self.prev = Some(b);
        novel
    }

    /// Score of the next (finite) value: 1 for a novel transition, else 0; then silent
    /// for `rest` points.
    pub(super) fn update(&mut self, x: f64, rest: usize) -> f64 {
        if self.counts.is_empty() {
            self.learning.push(x);
            if self.learning.len() < self.learn {
                return 0.0;
            }
            let lo = self.learning.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = self
                .learning
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let m = self.margin * (hi - lo);
            self.lo = lo - m;
            self.width = (hi - lo + 2.0 * m) / self.bins as f64;
            self.counts = vec![0; self.bins * self.bins];
            for v in std::mem::take(&mut self.learning) {
                self.observe(v);
            }
            return 0.0;
        }
        let novel = self.observe(x);
        if self.rest_left > 0 {
            self.rest_left -= 1;
            return 0.0;
        }
        if novel {
            self.rest_left = rest;
            1.0
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut Transitions, v: &[f64]) -> Vec<f64> {
        v.iter().map(|&x| t.update(x, 5)).collect()
    }

    #[test]
    fn a_pattern_seen_while_learning_is_not_novel_and_a_new_shape_is() {
        let cfg = TransitionConfig {
            bits: 3,
            learn: 40,
            margin: 0.0,
        };
        let mut t = Transitions::new(&cfg);
        // a saw tooth 0,1,2,3,0,1,2,3,...
        let saw: Vec<f64> = (0..200).map(|i| (i % 4) as f64).collect();
        assert!(feed(&mut t, &saw).iter().all(|&s| s == 0.0));
        // the saw tooth never steps down from the top to 1
        let s = feed(&mut t, &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.0, 1.0]);
        assert_eq!(s[0], 1.0);
        // rest, then only known transitions
        assert!(s[1..].iter().all(|&x| x == 0.0), "{s:?}");
        // after the rest a new novelty fires again: 2 → 0 was never seen either
        let s = feed(&mut t, &[2.0, 0.0]);
        assert_eq!(s, [0.0, 1.0]);
    }

    #[test]
    fn values_beyond_the_grid_fall_into_the_end_bins() {
        let cfg = TransitionConfig {
            bits: 2,
            learn: 10,
            margin: 0.0,
        };
        let mut t = Transitions::new(&cfg);
        feed(&mut t, &[0.0, 4.0, 0.0, 4.0, 0.0, 4.0, 0.0, 4.0, 0.0, 4.0]);
        assert_eq!(t.bin(-100.0), 0);
        assert_eq!(t.bin(100.0), 3);
        assert!(t.learning.is_empty() && t.learning.capacity() == 0);
    }
}
