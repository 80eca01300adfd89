//! The statistical model: prediction errors whose recent average is compared with their own
//! long-run distribution (a Numenta-style likelihood).
//!
//! Errors per point, each computed before the baselines learn the point:
//! * **level**: distance to a slow exponentially weighted baseline, in units of the
//!   baseline's own mean absolute deviation (spikes, dips, level shifts);
//! * **jump**: absolute first difference against its typical size (sudden changes);
//! * **seasonal level**: distance to the value one season ago (daily / weekly patterns),
//!   when the series has a period;
//! * **volatility**: short-term vs long-term mean absolute difference (noise changes).
//!
//! The score is the most surprising error on a log scale of its tail probability.

use super::DetectorConfig;

const N_ERR: usize = 4;
const MAX_SHORT: usize = 32;
/// Errors an error's statistics must have seen before they can judge one.
const MIN_HISTORY: u64 = 30;

#[derive(Debug, Clone, Copy, Default)]
struct ErrStat {
    mean: f64,
    var: f64,
    n: u64,
    ring: [f64; MAX_SHORT],
    sum: f64,
}

impl ErrStat {
    /// Push a new error, return its likelihood z (recent mean vs long-run distribution).
    fn push(&mut self, e: f64, k: usize, alpha: f64, slot: usize) -> f64 {
        let old = self.ring[slot];
        self.ring[slot] = e;
        self.sum += e - old;
        let recent = self.sum / k as f64;
        let sd = self.var.sqrt();
        let z = if self.n > (k as u64).max(MIN_HISTORY) && sd > 0.0 {
            (recent - self.mean) / sd
        } else {
            0.0
        };
        // Update long-run statistics with the recent mean (the quantity being tested).
        self.n += 1;
        let a = alpha.max(1.0 / self.n as f64);
        let d = recent - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
        z
    }
}

/// State of the statistical model for one series: O(1) plus one season of values.
#[derive(Debug, Clone)]
pub(super) struct Stat {
    n: u64,
    level: f64,
    level_dev: f64,
    prev: f64,
    diff_dev: f64,
    vol_short: f64,
    vol_long: f64,
    season_buf: Vec<f64>,
    errs: [ErrStat; N_ERR],
    slot: usize,
    rest_left: usize,
}

/// Upper tail probability of the standard normal, accurate far into the tail.
pub fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes `erfcc`, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Map a likelihood z to a score in [0, 1] on a log scale of the tail probability
/// (score 0.5 ≈ p = 1e-5, 1.0 at p ≤ 1e-10).
pub fn z_to_score(z: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    let p = normal_tail(z).max(1e-300);
    (-p.log10() / 10.0).clamp(0.0, 1.0)
}

impl Stat {
    pub(super) fn new(cfg: &DetectorConfig) -> Self {
        Stat {
            n: 0,
            level: 0.0,
            level_dev: 0.0,
            prev: f64::NAN,
            diff_dev: 0.0,
            vol_short: 0.0,
            vol_long: 0.0,
            season_buf: vec![f64::NAN; cfg.season],
            errs: [ErrStat::default(); N_ERR],
            slot: 0,
            rest_left: 0,
        }
    }

    /// Score of the next (finite) value in `[0, 1]`.
    pub(super) fn update(&mut self, x: f64, cfg: &DetectorConfig) -> f64 {
        self.n += 1;
        if self.n == 1 {
            self.level = x;
            self.prev = x;
            if cfg.season > 0 {
                self.season_buf[0] = x;
            }
            return 0.0;
        }
        let tiny = 1e-9 * (1.0 + self.level.abs());
        // Errors, computed before the baselines learn from x.
        let e_level = (x - self.level).abs() / (self.level_dev + tiny);
        let diff = (x - self.prev).abs();
        let e_jump = diff / (self.diff_dev + tiny);
        // None until a season of history exists: zeros meanwhile would teach the error's
        // statistics that seasonal errors are tiny, and the first real ones would alert.
        let e_season = if cfg.season > 0 {
            let past = self.season_buf[(self.n as usize - 1) % cfg.season];
            past.is_finite()
                .then(|| (x - past).abs() / (self.diff_dev + tiny))
        } else {
            None
        };
        // Baselines.
        let la = cfg.level_alpha.max(1.0 / self.n as f64);
        let dev = (x - self.level).abs();
        self.level_dev += la * (dev - self.level_dev);
        self.level += la * (x - self.level);
        self.diff_dev += la * (diff - self.diff_dev);
        self.vol_short += 0.2 * (diff - self.vol_short);
        self.vol_long += la * (diff - self.vol_long);
        let e_vol = self.vol_short / (self.vol_long + tiny);
        self.prev = x;
        if cfg.season > 0 {
            let i = (self.n as usize - 1) % cfg.season;
            self.season_buf[i] = x;
        }
        // Likelihoods.
        let k = cfg.short_window.clamp(1, MAX_SHORT);
        self.slot = (self.slot + 1) % k;
        let ea = cfg.error_alpha;
        let errs = [Some(e_level), Some(e_jump), e_season, Some(e_vol)];
        let mut zmax = f64::NEG_INFINITY;
        for (i, e) in errs.iter().enumerate() {
            if let Some(e) = e {
                let z = self.errs[i].push(e.min(1e6), k, ea, self.slot);
                zmax = zmax.max(z);
            }
        }
        if (self.n as usize) <= cfg.warmup {
            return 0.0;
        }
        let s = z_to_score(zmax);
        if self.rest_left > 0 {
            self.rest_left -= 1;
            return 0.0;
        }
        if s >= cfg.alert_level {
            self.rest_left = cfg.rest;
        }
        s
    }
}
