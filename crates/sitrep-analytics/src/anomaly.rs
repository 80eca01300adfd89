//! Online anomaly scores for SLI and metric series.
//!
//! [`Detector`] is a streaming, bounded-memory (O(1) state per series, no allocation per
//! point) detector. For every point it computes a few *prediction errors* and turns each
//! into a tail probability with a Numenta-style anomaly likelihood: the recent average of
//! the error is compared with the error's own long-run distribution. The score is the most
//! surprising of these, on a log scale in `[0, 1]`:
//!
//! * **level**: distance to a slow exponentially weighted baseline, in units of the
//!   baseline's own mean absolute deviation (spikes, dips, level shifts);
//! * **jump**: absolute first difference against its typical size (sudden changes);
//! * **seasonal level**: distance to the value one season ago (daily / weekly patterns),
//!   when the series has a period (`season` points; 0 disables it);
//! * **volatility**: short-term vs long-term mean absolute difference (noise changes).
//!
//! Baselines adapt, so a level shift stops being anomalous after a while (robust to level
//! shifts); the seasonal error is small for repeating patterns (robust to seasonality).
//! After a high score the detector rests for `rest` points (one incident, one alert).

/// Detector configuration; `Default` is the one configuration used on every series.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Points used only to learn (score 0).
    pub warmup: usize,
    /// Smoothing of the level baseline (per point).
    pub level_alpha: f64,
    /// Smoothing of the error distributions (long-run statistics of each error).
    pub error_alpha: f64,
    /// Points averaged for the recent error (Numenta's averaging window).
    pub short_window: usize,
    /// Season length in points (0 = no seasonal component).
    pub season: usize,
    /// Score at or above which an incident is considered raised.
    pub alert_level: f64,
    /// Points after an alert during which scores are damped.
    pub rest: usize,
    /// Factor applied to scores during the rest period (0 = silent).
    pub rest_damping: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            warmup: 150,
            level_alpha: 0.02,
            error_alpha: 0.002,
            short_window: 6,
            season: 0,
            alert_level: 0.5,
            rest: 100,
            rest_damping: 0.0,
        }
    }
}

const N_ERR: usize = 4;
const MAX_SHORT: usize = 32;

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
        let z = if self.n > k as u64 && sd > 0.0 {
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

/// Streaming detector for one series (see module docs).
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectorConfig,
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

impl Detector {
    pub fn new(cfg: DetectorConfig) -> Self {
        let season = cfg.season;
        Detector {
            cfg,
            n: 0,
            level: 0.0,
            level_dev: 0.0,
            prev: f64::NAN,
            diff_dev: 0.0,
            vol_short: 0.0,
            vol_long: 0.0,
            season_buf: vec![f64::NAN; season],
            errs: [ErrStat::default(); N_ERR],
            slot: 0,
            rest_left: 0,
        }
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// Feed one value, get its anomaly score in `[0, 1]`. Non-finite values score 0 and
    /// leave the state unchanged.
    pub fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return 0.0;
        }
        self.n += 1;
        if self.n == 1 {
            self.level = x;
            self.prev = x;
            if self.cfg.season > 0 {
                self.season_buf[0] = x;
            }
            return 0.0;
        }
        let tiny = 1e-9 * (1.0 + self.level.abs());
        // Errors, computed before the baselines learn from x.
        let e_level = (x - self.level).abs() / (self.level_dev + tiny);
        let diff = (x - self.prev).abs();
        let e_jump = diff / (self.diff_dev + tiny);
        let e_season = if self.cfg.season > 0 {
            let past = self.season_buf[(self.n as usize - 1) % self.cfg.season];
            if past.is_finite() {
                (x - past).abs() / (self.diff_dev + tiny)
            } else {
                0.0
            }
        } else {
            0.0
        };
        // Baselines.
        let la = self.cfg.level_alpha.max(1.0 / self.n as f64);
        let dev = (x - self.level).abs();
        self.level_dev += la * (dev - self.level_dev);
        self.level += la * (x - self.level);
        self.diff_dev += la * (diff - self.diff_dev);
        self.vol_short += 0.2 * (diff - self.vol_short);
        self.vol_long += la * (diff - self.vol_long);
        let e_vol = self.vol_short / (self.vol_long + tiny);
        self.prev = x;
        if self.cfg.season > 0 {
            let i = (self.n as usize - 1) % self.cfg.season;
            self.season_buf[i] = x;
        }
        // Likelihoods.
        let k = self.cfg.short_window.clamp(1, MAX_SHORT);
        self.slot = (self.slot + 1) % k;
        let ea = self.cfg.error_alpha;
        let errs = [e_level, e_jump, e_season, e_vol];
        let mut zmax = f64::NEG_INFINITY;
        for (i, e) in errs.iter().enumerate() {
            if i == 2 && self.cfg.season == 0 {
                continue;
            }
            let z = self.errs[i].push(e.min(1e6), k, ea, self.slot);
            zmax = zmax.max(z);
        }
        if (self.n as usize) <= self.cfg.warmup {
            return 0.0;
        }
        let mut s = z_to_score(zmax);
        if self.rest_left > 0 {
            self.rest_left -= 1;
            s *= self.cfg.rest_damping;
        } else if s >= self.cfg.alert_level {
            self.rest_left = self.cfg.rest;
        }
        s
    }
}

/// Seconds since the Unix epoch of `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` (UTC assumed) or of a
/// plain number of seconds.
pub fn parse_timestamp_secs(ts: &str) -> Option<f64> {
    let t = ts.trim();
    if let Ok(x) = t.parse::<f64>() {
        return Some(x);
    }
    let b = t.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm) = (num(11..13)?, num(14..16)?);
    let ss: f64 = t
        .get(17..)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('Z').parse::<f64>().ok())
        .unwrap_or(Some(0.0))?;
    // days from civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + ss)
}

/// Daily season length in points from the median sampling interval of `timestamps`
/// (0 when unknown, or when a day is fewer than 4 or more than 4096 points).
pub fn daily_season(timestamps: &[String]) -> usize {
    let secs: Vec<f64> = timestamps
        .iter()
        .take(2000)
        .filter_map(|t| parse_timestamp_secs(t))
        .collect();
    let mut d: Vec<f64> = secs
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|x| *x > 0.0)
        .collect();
    if d.is_empty() {
        return 0;
    }
    d.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let step = d[d.len() / 2];
    let n = (86_400.0 / step).round();
    if (4.0..=4096.0).contains(&n) {
        n as usize
    } else {
        0
    }
}

/// Score a whole series with a fresh detector.
pub fn score_series(values: &[f64], cfg: &DetectorConfig) -> Vec<f64> {
    let mut d = Detector::new(cfg.clone());
    values.iter().map(|&x| d.update(x)).collect()
}

/// Summary of a scored series for humans and reasoners.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct AnomalyPoint {
    pub index: usize,
    pub timestamp: String,
    pub value: f64,
    pub score: f64,
}

/// The `top` highest-scoring points at or above `min_score`, highest first (ties: earlier
/// first).
pub fn top_anomalies(
    timestamps: &[String],
    values: &[f64],
    scores: &[f64],
    min_score: f64,
    top: usize,
) -> Vec<AnomalyPoint> {
    let mut idx: Vec<usize> = (0..scores.len())
        .filter(|&i| scores[i] >= min_score)
        .collect();
    idx.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    idx.truncate(top);
    idx.into_iter()
        .map(|i| AnomalyPoint {
            index: i,
            timestamp: timestamps.get(i).cloned().unwrap_or_default(),
            value: values[i],
            score: scores[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: usize) -> f64 {
        // deterministic pseudo-noise in [-1, 1]
        let x = (i as u64)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as f64 / (1u64 << 31) as f64) - 1.0
    }

    #[test]
    fn spike_scores_high_and_noise_low() {
        let mut v: Vec<f64> = (0..2000).map(|i| 10.0 + noise(i)).collect();
        v[1500] = 30.0;
        let s = score_series(&v, &DetectorConfig::default());
        let max_before = s[..1500].iter().cloned().fold(0.0, f64::max);
        assert!(s[1500] > 0.5, "spike score {}", s[1500]);
        assert!(
            max_before < s[1500],
            "noise {max_before} vs spike {}",
            s[1500]
        );
    }

    #[test]
    fn level_shift_is_flagged_then_absorbed() {
        let v: Vec<f64> = (0..4000)
            .map(|i| if i < 2000 { 5.0 } else { 9.0 } + 0.3 * noise(i))
            .collect();
        let s = score_series(&v, &DetectorConfig::default());
        assert!(s[2000..2010].iter().cloned().fold(0.0, f64::max) > 0.5);
        assert!(s[3500..].iter().cloned().fold(0.0, f64::max) < 0.5);
    }

    #[test]
    fn constant_series_never_alerts_and_nan_is_ignored() {
        let mut v = vec![1.0; 1000];
        v[500] = f64::NAN;
        let s = score_series(&v, &DetectorConfig::default());
        assert!(s.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn season_from_timestamps() {
        assert_eq!(parse_timestamp_secs("1970-01-02 00:00:00"), Some(86_400.0));
        assert_eq!(
            parse_timestamp_secs("2014-04-10 07:15:00.000000"),
            Some(1_397_114_100.0)
        );
        let ts: Vec<String> = (0..100)
            .map(|i| format!("2014-01-01 {:02}:{:02}:00", i * 5 / 60, i * 5 % 60))
            .collect();
        assert_eq!(daily_season(&ts), 288);
        assert_eq!(daily_season(&["x".to_string()]), 0);
    }

    #[test]
    fn tail_probability() {
        assert!((normal_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_tail(1.959_963_985) - 0.025).abs() < 1e-6);
        assert!(z_to_score(10.0) > 0.9);
        assert_eq!(z_to_score(-1.0), 0.0);
    }

    #[test]
    fn top_anomalies_orders_by_score() {
        let ts: Vec<String> = (0..4).map(|i| i.to_string()).collect();
        let t = top_anomalies(&ts, &[1.0, 2.0, 3.0, 4.0], &[0.1, 0.9, 0.9, 0.2], 0.15, 2);
        assert_eq!(t.iter().map(|p| p.index).collect::<Vec<_>>(), vec![1, 2]);
    }
}
