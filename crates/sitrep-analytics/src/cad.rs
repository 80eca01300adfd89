//! Contextual Anomaly Detector (CAD OSE), a Rust port of the "ContextOSE" detector of the
//! Numenta Anomaly Benchmark (`nab/detectors/context_ose/{cad_ose,context_operator}.py`,
//! M. Smirnov 2016, <https://github.com/smirmik/CAD>), re-implemented from its description.
//!
//! Each value is quantised to `bits` bits; every bit is a *sensor fact*. A *context* is a
//! pair (left facts, right facts): the left half is the previous step's sensor facts plus
//! the previous step's active contexts (as *neuron facts*), the right half is the current
//! sensor facts. Contexts are learnt online (zero-level contexts from the raw sequence,
//! further ones from partial intersections with stored contexts), and every context
//! counts how often its right half was confirmed. The raw anomaly score mixes
//! (1 − share of the fully-matched contexts that were confirmed) and the share of newly
//! created contexts, and is only emitted when the previous prediction missed a bit.
//!
//! Differences from the original, all to stay online and bounded:
//! * the quantisation range is learnt from the stream (see [`Range`]), never from the
//!   whole file (the NAB wrapper passed the file's min and max);
//! * the context memory is capped ([`CadConfig::max_contexts`]); once full, no new
//!   contexts are stored (existing ones keep learning);
//! * the rest period is a fixed number of points (NAB used 3 % of the file length).
//!
//! Deterministic: ties between active contexts are broken by the same Python 2 tuple hash
//! the original used, and every collection is iterated in creation order.

use std::collections::HashMap;

/// How values are mapped to `[0, 2^bits - 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// Fixed range (the NAB wrapper's file min / max; not online, for comparison only).
    Fixed { min: f64, max: f64 },
    /// Range learnt online: min / max of the first `learn` points, then widened once by
    /// `margin` × (max − min) on each side. Afterwards, when `expand`, a point outside the
    /// range widens it again (to the point, plus the same relative margin); otherwise
    /// points outside are clamped to the end bins.
    Online {
        margin: f64,
        learn: usize,
        expand: bool,
        /// Relative margin added on each expansion (`margin` for the first widening).
        expand_margin: f64,
    },
}

/// CAD configuration; `Default` follows the NAB ContextOSE settings except for the range
/// (online, the corpus-level best of the sweep in `docs/analytics.md`), the rest period
/// (fixed) and the memory cap.
#[derive(Debug, Clone, PartialEq)]
pub struct CadConfig {
    pub bits: u32,
    pub max_left_semi_contexts_len: usize,
    pub max_active_neurons: usize,
    pub base_threshold: f64,
    /// Points after a raw score ≥ `base_threshold` during which 0 is emitted.
    pub rest: usize,
    /// Memory cap: at most this many contexts (and as many left / right semi-contexts).
    pub max_contexts: usize,
    pub range: Range,
}

impl Default for CadConfig {
    fn default() -> Self {
        CadConfig {
            bits: 3,
            max_left_semi_contexts_len: 7,
            max_active_neurons: 15,
            base_threshold: 0.75,
            rest: 150,
            max_contexts: 1 << 16,
            range: Range::Online {
                margin: 1.0,
                learn: 400,
                expand: true,
                expand_margin: 1.0,
            },
        }
    }
}

const NEURON_BASE: i64 = 1 << 31;
const SENSOR_BASE: i64 = 65_536;

/// Python 2.7 `hash(tuple_of_ints)` on a 64-bit build.
fn py_tuple_hash(items: impl ExactSizeIterator<Item = i64>) -> i64 {
    let mut len = items.len() as i64;
    let mut x: i64 = 0x345678;
    let mut mult: i64 = 1_000_003;
    for y in items {
        let y = if y == -1 { -2 } else { y };
        len -= 1;
        x = (x ^ y).wrapping_mul(mult);
        mult = mult.wrapping_add(82_520 + len + len);
    }
    x = x.wrapping_add(97_531);
    if x == -1 { -2 } else { x }
}

fn sensor_facts(mask: u32) -> impl ExactSizeIterator<Item = i64> {
    let v: Vec<i64> = (0..32)
        .filter(|b| mask >> b & 1 == 1)
        .map(|b| SENSOR_BASE + b as i64)
        .collect();
    v.into_iter()
}

#[derive(Debug, Clone)]
struct LeftSemi {
    smask: u32,
    neurons: Vec<u32>,
    /// The contexts with this left half, sorted by right semi id (Python 2 small-int dict
    /// order). A context belongs to exactly one left half, so its counters live here: the
    /// hot loops walk them sequentially.
    ctx: Vec<Ctx>,
    hash: i64,
}

impl LeftSemi {
    fn len(&self) -> u32 {
        self.smask.count_ones() + self.neurons.len() as u32
    }
}

#[derive(Debug, Clone)]
struct RightSemi {
    mask: u32,
    hash: i64,
}

/// The counters saturate (after more than 10^9 steps of one context), which keeps the
/// weights meaningful.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    /// right semi-context id
    r: u32,
    id: u32,
    total: u32,
    hits: u32,
    active: u32,
    zero: bool,
}

/// Sizes of a detector's memory (for tests and monitoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CadSize {
    pub contexts: usize,
    pub left_semi_contexts: usize,
    pub right_semi_contexts: usize,
    pub neuron_fact_links: usize,
}

const NONE: u32 = u32::MAX;

/// Per left semi-context: neuron hits of the step `mark`, plus a copy of its shape, so the
/// crossing loop reads one small array instead of the left semi-contexts themselves.
#[derive(Debug, Clone, Copy)]
struct LeftCount {
    mark: u64,
    /// step at which the left half was fully matched by the crossed group
    full: u64,
    hits: u32,
    neurons: u32,
    smask: u32,
    has_zero: bool,
}

/// 64-bit key of a left semi-context (sensor mask + sorted neurons).
fn left_key(smask: u32, neurons: &[u32]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15 ^ smask as u64;
    for &n in neurons {
        h = (h ^ n as u64)
            .wrapping_mul(0x100_0000_01B3)
            .rotate_left(29)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h ^ (h >> 31)
}

#[derive(Default, Clone, Copy, Debug)]
struct IdHasher(u64);
impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Streaming CAD OSE detector for one series.
#[derive(Debug, Clone)]
pub struct Cad {
    cfg: CadConfig,
    max_bin: f64,
    lo: f64,
    hi: f64,
    seen: usize,
    lefts: Vec<LeftSemi>,
    left_ix: IdMap<u32>,
    /// neuron-free left semi-contexts by sensor mask
    sens_left: Vec<u32>,
    rights: Vec<RightSemi>,
    right_ix: Vec<u32>,
    n_ctx: usize,
    /// neuron (context id) → left semi-contexts that contain it.
    neuron_lefts: Vec<Vec<u32>>,
    /// step at which a context was last an active neuron of the left group.
    neuron_mark: Vec<u64>,
    /// per left semi-context: neuron hits and the step they belong to (scratch).
    left_cnt: Vec<LeftCount>,
    /// left semi-contexts fully matched by the current left group.
    left_full: Vec<u32>,
    /// number of left semi-contexts when the current group was crossed.
    lefts_at_cross: usize,
    group_smask: u32,
    group_neurons: Vec<u32>,
    has_group: bool,
    predicted: u32,
    step_no: u64,
    /// History index of the last raw score ≥ base_threshold (index 0 = the initial 1.0).
    last_high: u64,
    hist_len: u64,
}

impl Cad {
    pub fn new(cfg: CadConfig) -> Self {
        assert!((1..=12).contains(&cfg.bits), "bits must be in 1..=12");
        let max_bin = (2f64).powi(cfg.bits as i32) - 1.0;
        let (lo, hi) = match cfg.range {
            Range::Fixed { min, max } => (min, max),
            Range::Online { .. } => (f64::INFINITY, f64::NEG_INFINITY),
        };
        let nmask = 1usize << (2 * cfg.bits);
        Cad {
            cfg,
            max_bin,
            lo,
            hi,
            seen: 0,
            lefts: Vec::new(),
            left_ix: IdMap::default(),
            sens_left: vec![NONE; nmask],
            rights: Vec::new(),
            right_ix: vec![NONE; nmask],
            n_ctx: 0,
            neuron_lefts: Vec::new(),
            neuron_mark: Vec::new(),
            left_cnt: Vec::new(),
            left_full: Vec::new(),
            lefts_at_cross: 0,
            group_smask: 0,
            group_neurons: Vec::new(),
            has_group: false,
            predicted: 0,
            step_no: 0,
            last_high: 0,
            hist_len: 1,
        }
    }

    pub fn config(&self) -> &CadConfig {
        &self.cfg
    }

    pub fn size(&self) -> CadSize {
        CadSize {
            contexts: self.n_ctx,
            left_semi_contexts: self.lefts.len(),
            right_semi_contexts: self.rights.len(),
            neuron_fact_links: self.neuron_lefts.iter().map(Vec::len).sum(),
        }
    }

    fn quantise(&mut self, x: f64) -> u32 {
        if let Range::Online {
            margin,
            learn,
            expand,
            expand_margin,
        } = self.cfg.range
        {
            self.seen += 1;
            if self.seen <= learn || !self.lo.is_finite() {
                self.lo = self.lo.min(x);
                self.hi = self.hi.max(x);
                if self.seen == learn {
                    let m = margin * (self.hi - self.lo);
                    self.lo -= m;
                    self.hi += m;
                }
            } else if expand && (x < self.lo || x > self.hi) {
                let lo = self.lo.min(x);
                let hi = self.hi.max(x);
                let m = expand_margin * (hi - lo);
                if x < self.lo {
                    self.lo = lo - m;
                }
                if x > self.hi {
                    self.hi = hi + m;
                }
            }
        }
        let mut range = self.hi - self.lo;
        if !(range > 0.0) {
            range = self.max_bin;
        }
        let step = range / self.max_bin;
        let v = ((x - self.lo) / step).floor();
        if v.is_nan() {
            0
        } else {
            v.clamp(0.0, self.max_bin) as u32
        }
    }

    /// Raw CAD score of the next value (before the rest period), in `[0, 1]`.
    pub fn raw(&mut self, x: f64) -> f64 {
        let q = self.quantise(x);
        // sensor facts: bit s set → fact 2s+1, clear → 2s
        let mut sens = 0u32;
        let mut sum = 0.0;
        for s in 0..self.cfg.bits {
            let f = 2 * s + (q >> s & 1);
            sens |= 1 << f;
            if self.predicted >> f & 1 == 0 {
                sum += (1u64 << s) as f64;
            }
        }
        let err = sum / self.max_bin;
        let (pred, v1, v2) = self.step(sens);
        self.predicted = pred;
        if err > 0.0 {
            (1.0 - v1 + v2) / 2.0
        } else {
            0.0
        }
    }

    /// Score of the next value: the raw score, or 0 within `rest` points of a raw score
    /// ≥ `base_threshold` (and during the first `rest` points, as in the original).
    pub fn update(&mut self, x: f64) -> f64 {
        let s = self.raw(x);
        let quiet = self.cfg.rest > 0 && self.last_high + self.cfg.rest as u64 >= self.hist_len;
        if s >= self.cfg.base_threshold {
            self.last_high = self.hist_len;
        }
        self.hist_len += 1;
        if quiet { 0.0 } else { s }
    }

    fn find_left(&self, smask: u32, neurons: &[u32]) -> Option<u32> {
        if neurons.is_empty() {
            let l = self.sens_left[smask as usize];
            return (l != NONE).then_some(l);
        }
        let mut k = left_key(smask, neurons);
        loop {
            match self.left_ix.get(&k) {
                None => return None,
                Some(&l) => {
                    let ls = &self.lefts[l as usize];
                    if ls.smask == smask && ls.neurons == neurons {
                        return Some(l);
                    }
                    k = k.wrapping_add(1);
                }
            }
        }
    }

    /// Find or create the context (left, right). Returns (context id, created);
    /// `None` when it does not exist and the memory is full.
    fn get_or_add(
        &mut self,
        smask: u32,
        neurons: &[u32],
        rmask: u32,
        zero: bool,
    ) -> Option<(u32, bool)> {
        let li = self.find_left(smask, neurons);
        let ri = self.right_ix[rmask as usize];
        if let (Some(l), true) = (li, ri != NONE) {
            let ls = &self.lefts[l as usize];
            if let Ok(p) = ls.ctx.binary_search_by_key(&ri, |c| c.r) {
                let id = ls.ctx[p].id;
                if zero {
                    self.lefts[l as usize].ctx[p].zero = true;
                    self.left_cnt[l as usize].has_zero = true;
                }
                return Some((id, false));
            }
        }
        if self.n_ctx >= self.cfg.max_contexts {
            return None;
        }
        let l = match li {
            Some(l) => l,
            None => {
                let id = self.lefts.len() as u32;
                let hash = py_tuple_hash(
                    sensor_facts(smask)
                        .chain(neurons.iter().map(|&n| NEURON_BASE + n as i64))
                        .collect::<Vec<_>>()
                        .into_iter(),
                );
                self.lefts.push(LeftSemi {
                    smask,
                    neurons: neurons.to_vec(),
                    ctx: Vec::new(),
                    hash,
                });
                self.left_cnt.push(LeftCount {
                    mark: 0,
                    full: 0,
                    hits: 0,
                    neurons: neurons.len() as u32,
                    smask,
                    has_zero: false,
                });
                if neurons.is_empty() {
                    self.sens_left[smask as usize] = id;
                } else {
                    let mut k = left_key(smask, neurons);
                    while self.left_ix.contains_key(&k) {
                        k = k.wrapping_add(1);
                    }
                    self.left_ix.insert(k, id);
                }
                for &n in neurons {
                    self.neuron_lefts[n as usize].push(id);
                }
                id
            }
        };
        let r = if ri != NONE {
            ri
        } else {
            let id = self.rights.len() as u32;
            self.rights.push(RightSemi {
                mask: rmask,
                hash: py_tuple_hash(sensor_facts(rmask)),
            });
            self.right_ix[rmask as usize] = id;
            id
        };
        let id = self.n_ctx as u32;
        self.n_ctx += 1;
        self.neuron_lefts.push(Vec::new());
        self.neuron_mark.push(0);
        self.left_cnt[l as usize].has_zero |= zero;
        let ls = &mut self.lefts[l as usize];
        let p = ls.ctx.partition_point(|c| c.r < r);
        ls.ctx.insert(
            p,
            Ctx {
                r,
                id,
                total: 0,
                hits: 0,
                active: 0,
                zero,
            },
        );
        Some((id, true))
    }

    /// Hits of left semi-context `li` against the group of step `mark` with sensor mask `smask`.
    fn left_hits(&self, li: usize, smask: u32, mark: u64) -> u32 {
        let ls = &self.lefts[li];
        (ls.smask & smask).count_ones()
            + ls.neurons
                .iter()
                .filter(|&&n| self.neuron_mark[n as usize] == mark)
                .count() as u32
    }

    fn step(&mut self, sens: u32) -> (u32, f64, f64) {
        self.step_no += 1;
        let mut uniq_zero: Option<(u32, Vec<u32>, u32)> = None;
        let mut new_flag = false;
        let mut new_ctx: Option<u32> = None;
        if self.has_group && sens != 0 {
            let gn = std::mem::take(&mut self.group_neurons);
            if let Some((id, created)) = self.get_or_add(self.group_smask, &gn, sens, true) {
                if created {
                    new_flag = true;
                    new_ctx = Some(id);
                }
            }
            uniq_zero = Some((self.group_smask, gn.clone(), sens));
            self.group_neurons = gn;
        }

        // Update the contexts whose left half was crossed by the previous group.
        let max_left = self.cfg.max_left_semi_contexts_len as u32;
        let mut active: Vec<(u32, i64, i64, u32)> = Vec::new();
        let mut n_sel = 0usize;
        let mut pot: Vec<(u32, Vec<u32>, u32)> = Vec::new();
        let prev_smask = self.group_smask;
        let prev_mark = self.step_no - 1;
        let skip = |ci: u32| match new_ctx {
            Some(n) => n == ci,
            None => ci == 0, // Python: `False != 0` is False
        };
        if !new_flag {
            // Only fully matched left halves change anything.
            for &li in &self.left_full {
                let ls = &mut self.lefts[li as usize];
                let lhash = ls.hash;
                for c in &mut ls.ctx {
                    let ci = c.id;
                    if skip(ci) {
                        continue;
                    }
                    let rs = &self.rights[c.r as usize];
                    let rlen = rs.mask.count_ones();
                    let rhit = (rs.mask & sens).count_ones();
                    n_sel += 1;
                    c.total = c.total.saturating_add(rlen);
                    if rhit > 0 {
                        c.hits = c.hits.saturating_add(rhit);
                        if rlen == rhit {
                            c.active = c.active.saturating_add(1);
                            active.push((c.active, lhash, rs.hash, ci));
                        }
                    }
                }
            }
        } else {
            for li in 0..self.lefts_at_cross {
                // Neither fully matched nor holding a zero-level context: nothing to do.
                let lc = &self.left_cnt[li];
                if !lc.has_zero && lc.full != prev_mark {
                    continue;
                }
                let hit = self.left_hits(li, prev_smask, prev_mark);
                if hit == 0 {
                    continue;
                }
                let ls = &mut self.lefts[li];
                let full = ls.len() == hit;
                let lhash = ls.hash;
                for c in &mut ls.ctx {
                    let ci = c.id;
                    if skip(ci) {
                        continue;
                    }
                    let rs = &self.rights[c.r as usize];
                    let rlen = rs.mask.count_ones();
                    let rhit = (rs.mask & sens).count_ones();
                    let candidate = if full {
                        n_sel += 1;
                        c.total = c.total.saturating_add(rlen);
                        if rhit > 0 {
                            c.hits = c.hits.saturating_add(rhit);
                            if rlen == rhit {
                                c.active = c.active.saturating_add(1);
                                active.push((c.active, lhash, rs.hash, ci));
                                false
                            } else {
                                c.zero
                            }
                        } else {
                            false
                        }
                    } else {
                        c.zero && rhit > 0
                    };
                    if candidate && hit <= max_left {
                        let neurons: Vec<u32> = ls
                            .neurons
                            .iter()
                            .copied()
                            .filter(|&n| self.neuron_mark[n as usize] == prev_mark)
                            .collect();
                        pot.push((ls.smask & prev_smask, neurons, rs.mask & sens));
                    }
                }
            }
        }
        let pct_sel = if n_sel > 0 {
            active.len() as f64 / n_sel as f64
        } else {
            0.0
        };
        // Only the top `max_active_neurons` matter: select them instead of sorting all
        // (the context id makes the order total, so the choice is deterministic).
        let k = active.len().saturating_sub(self.cfg.max_active_neurons);
        if k > 0 {
            active.select_nth_unstable(k);
        }
        let mut neurons: Vec<u32> = active[k..].iter().map(|a| a.3).collect();
        neurons.sort_unstable();
        self.group_smask = sens;
        self.group_neurons = neurons;
        self.has_group = true;

        // Store the new contexts, then cross the new group and predict.
        let mut n_new = usize::from(new_flag);
        let mut n_uniq = 0usize;
        if !pot.is_empty() {
            for p in &pot {
                if let Some((_, true)) = self.get_or_add(p.0, &p.1, p.2, false) {
                    n_new += 1;
                }
            }
            pot.sort_unstable();
            pot.dedup();
            n_uniq = pot.len();
            if let Some(z) = &uniq_zero {
                if pot.binary_search(z).is_ok() {
                    n_uniq -= 1;
                }
            }
        }
        if uniq_zero.is_some() {
            n_uniq += 1;
        }
        let mark = self.step_no;
        for &n in &self.group_neurons {
            self.neuron_mark[n as usize] = mark;
        }
        self.left_full.clear();
        // neuron-free left halves: every sub-mask of the sensor facts
        let mut sub = sens;
        while sub != 0 {
            let l = self.sens_left[sub as usize];
            if l != NONE {
                self.left_full.push(l);
                self.left_cnt[l as usize].full = mark;
            }
            sub = (sub - 1) & sens;
        }
        for &n in &self.group_neurons {
            for &li in &self.neuron_lefts[n as usize] {
                let c = &mut self.left_cnt[li as usize];
                if c.mark != mark {
                    c.mark = mark;
                    c.hits = 0;
                }
                c.hits += 1;
                if c.hits == c.neurons && c.smask & !sens == 0 {
                    c.full = mark;
                    self.left_full.push(li);
                }
            }
        }
        self.lefts_at_cross = self.lefts.len();
        let mut max_w = 0.0f64;
        let mut pred = 0u32;
        for &li in &self.left_full {
            for c in &self.lefts[li as usize].ctx {
                let ri = c.r;
                let w = if c.total > 0 {
                    c.hits as f64 / c.total as f64
                } else {
                    0.0
                };
                if w > max_w {
                    max_w = w;
                    pred = self.rights[ri as usize].mask;
                } else if w == max_w {
                    pred |= self.rights[ri as usize].mask;
                }
            }
        }
        let pct_added = if new_flag && n_uniq > 0 {
            n_new as f64 / n_uniq as f64
        } else {
            0.0
        };
        (pred, pct_sel, pct_added)
    }
}

/// Score a whole series with a fresh CAD detector.
pub fn score_series(values: &[f64], cfg: &CadConfig) -> Vec<f64> {
    let mut d = Cad::new(cfg.clone());
    values
        .iter()
        .map(|&x| if x.is_finite() { d.update(x) } else { 0.0 })
        .collect()
}

/// CAD combined with [`crate::anomaly::Detector`]: the larger of the two scores per point.
/// CAD misses slow level shifts that re-scale its online range; the statistical detector
/// catches those.
pub fn score_series_combined(
    values: &[f64],
    cad: &CadConfig,
    det: &crate::anomaly::DetectorConfig,
) -> Vec<f64> {
    let a = score_series(values, cad);
    let b = crate::anomaly::score_series(values, det);
    a.into_iter().zip(b).map(|(x, y)| x.max(y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_noise::noise;

    fn periodic(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                10.0 + 3.0 * ((i % 48) as f64 / 48.0 * std::f64::consts::TAU).sin() + 0.2 * noise(i)
            })
            .collect()
    }

    #[test]
    fn python_tuple_hash_matches_cpython27() {
        // CPython 2.7 (64-bit): hash(()) == 3527539, hash((1,)) == 3430019387558, ...
        assert_eq!(py_tuple_hash(Vec::<i64>::new().into_iter()), 3_527_539);
        assert_eq!(py_tuple_hash(vec![1i64].into_iter()), 3_430_019_387_558);
        assert_eq!(
            py_tuple_hash(vec![1i64, 2].into_iter()),
            3_713_081_631_934_410_656
        );
        assert_eq!(
            py_tuple_hash(vec![65_536i64, 65_539, (1 << 31) + 5].into_iter()),
            -4_458_257_628_443_959_573
        );
    }

    #[test]
    fn learns_a_periodic_pattern_and_flags_a_spike() {
        let mut v = periodic(3000);
        v[2500] = 40.0;
        let s = score_series(&v, &CadConfig::default());
        assert!(s.iter().all(|x| (0.0..=1.0).contains(x)));
        let late_noise = s[1800..2500].iter().cloned().fold(0.0, f64::max);
        // flagged at the spike or when the series returns to its (re-quantised) level
        let at = s[2500..2503].iter().cloned().fold(0.0, f64::max);
        assert!(at > 0.6, "spike {at}");
        assert!(late_noise < at, "noise {late_noise} vs spike {at}");
    }

    #[test]
    fn combined_flags_a_level_shift() {
        let v: Vec<f64> = periodic(3000)
            .into_iter()
            .enumerate()
            .map(|(i, x)| if i >= 2500 { x + 8.0 } else { x })
            .collect();
        let s = score_series_combined(
            &v,
            &CadConfig::default(),
            &crate::anomaly::DetectorConfig {
                season: 48,
                ..Default::default()
            },
        );
        let before = s[1800..2500].iter().cloned().fold(0.0, f64::max);
        let at = s[2500..2510].iter().cloned().fold(0.0, f64::max);
        assert!(at > 0.6 && at > before, "shift {at} vs before {before}");
    }

    #[test]
    fn memory_is_bounded_by_the_context_cap() {
        let cfg = CadConfig {
            max_contexts: 500,
            ..Default::default()
        };
        let mut d = Cad::new(cfg);
        let mut sizes = Vec::new();
        for i in 0..20_000 {
            d.update(noise(i) * 100.0);
            if i % 5000 == 4999 {
                sizes.push(d.size());
            }
        }
        assert_eq!(sizes[0].contexts, 500, "white noise fills the cap quickly");
        assert!(
            sizes.windows(2).all(|w| w[0] == w[1]),
            "state keeps growing: {sizes:?}"
        );
        assert!(sizes[3].left_semi_contexts <= 500 && sizes[3].right_semi_contexts <= 500);
    }

    #[test]
    fn deterministic_and_rest_period_silences() {
        let mut v = periodic(3000);
        v[2500] = 40.0;
        let cfg = CadConfig {
            base_threshold: 0.6,
            ..Default::default()
        };
        let a = score_series(&v, &cfg);
        assert_eq!(a, score_series(&v, &cfg));
        // the first `rest` points are silent, as in the original
        assert!(a[..cfg.rest].iter().all(|&x| x == 0.0));
        let hi = (0..a.len())
            .find(|&i| a[i] >= cfg.base_threshold && i > cfg.rest)
            .expect("an alert");
        assert!(
            a[hi + 1..(hi + 1 + cfg.rest).min(a.len())]
                .iter()
                .all(|&x| x == 0.0)
        );
    }

    #[test]
    fn fixed_range_constant_series_is_quiet() {
        let cfg = CadConfig {
            range: Range::Fixed { min: 1.0, max: 1.0 },
            ..Default::default()
        };
        let s = score_series(&vec![1.0; 1000], &cfg);
        assert!(s[200..].iter().all(|&x| x == 0.0));
    }
}
