//! Online anomaly scores for SLI and metric series.
//!
//! [`Detector`] is streaming and bounded (a few hundred bytes plus one season of values
//! per series, no allocation per point once learnt). Three parts score every point and
//! the highest score wins:
//!
//! * the **statistical model** (`stat`): prediction errors (level, jump, seasonal level,
//!   volatility) compared with their own long-run distribution;
//! * the **transition model** (`transition`): a change of shape inside the normal range,
//!   i.e. a move between quantised levels never seen before;
//! * the **extreme rule** (`extreme`): a value beyond everything seen so far.
//!
//! Baselines adapt, so a level shift stops being anomalous after a while; the seasonal
//! error is small for repeating patterns. After a high score the models rest for `rest`
//! points (one incident, one alert).

mod extreme;
mod stat;
mod transition;

pub use stat::{normal_tail, z_to_score};
pub use transition::TransitionConfig;

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
    /// Points after an alert during which a model stays silent.
    pub rest: usize,
    /// The transition model (`None` = off).
    pub transitions: Option<TransitionConfig>,
    /// Extreme rule: how far beyond the range seen so far, as a share of it, a value must
    /// be (0 = off).
    pub extreme_tolerance: f64,
    /// New extremes closer than this many points to the previous one are one excursion.
    pub extreme_gap: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            warmup: 150,
            level_alpha: 0.02,
            error_alpha: 0.0005,
            short_window: 6,
            season: 0,
            alert_level: 0.5,
            rest: 500,
            transitions: Some(TransitionConfig::default()),
            extreme_tolerance: 0.005,
            extreme_gap: 10,
        }
    }
}

/// The statistical model's scores are capped just below 1 so that the two exact rules
/// (a novel transition, a new extreme) rank above any statistical surprise.
const STAT_CAP: f64 = 0.99;

/// Streaming detector for one series (see module docs).
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectorConfig,
    stat: stat::Stat,
    transitions: Option<transition::Transitions>,
    extreme: extreme::Extreme,
}

impl Detector {
    pub fn new(cfg: DetectorConfig) -> Self {
        Detector {
            stat: stat::Stat::new(&cfg),
            transitions: cfg.transitions.as_ref().map(transition::Transitions::new),
            extreme: extreme::Extreme::new(),
            cfg,
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
        let stat = STAT_CAP * self.stat.update(x, &self.cfg).min(1.0);
        let novel = match &mut self.transitions {
            Some(t) => t.update(x, self.cfg.rest),
            None => 0.0,
        };
        // The range keeps learning during the warm-up, but early records are not news.
        let extreme = self
            .extreme
            .update(x, self.cfg.extreme_tolerance, self.cfg.extreme_gap)
            && self.extreme.seen() > self.cfg.warmup as u64;
        if extreme { 1.0 } else { stat.max(novel) }
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
    use crate::test_noise::noise;

    #[test]
    fn spike_scores_high_and_noise_low() {
        let mut v: Vec<f64> = (0..2000).map(|i| 10.0 + noise(i)).collect();
        v[1500] = 30.0;
        let s = score_series(&v, &DetectorConfig::default());
        assert_eq!(s[1500], 1.0, "a new extreme");
        // uniform noise still sets the odd record near its bounds; a handful at most
        let noise_alerts = s[..1500].iter().filter(|&&x| x >= 0.5).count();
        assert!(noise_alerts <= 3, "{noise_alerts} alerts on noise");
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
