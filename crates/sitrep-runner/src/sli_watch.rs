//! "Anomalous SLI" insights: every metric a health task emits is a series, keyed by
//! (workspace, scope, task, metric name, labels), fed to its own online anomaly detector
//! ([`sitrep_analytics::anomaly::Detector`]). When a series' score crosses the threshold after
//! its warm-up, one insight is raised for the episode; the episode ends once the series has
//! been calm for a while, so a persisting shift is reported once, not on every run.
//!
//! Memory is bounded twice: O(1) per series (the detector's state plus a short ring of recent
//! normal values for the baseline in the message), and at most `max_series` series (the least
//! recently updated one is dropped to make room, so a series that stopped reporting goes
//! first). State is in memory; a series the watch does not know (after a restart, or an
//! eviction) is first warmed with its recorded history (`replay` samples of succeeded runs
//! from the store), so a restart neither blinds the watch nor re-raises an open episode.

use serde_json::json;
use sitrep_analytics::anomaly::{Detector, DetectorConfig};
use sitrep_core::Timestamp;
use std::collections::{BTreeMap, HashMap};

/// Recent normal values kept per series for the median ± spread quoted in the insight.
const BASELINE_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct SliWatchConfig {
    /// The per-series detector. Its own rest period is off: episodes are tracked here.
    pub detector: DetectorConfig,
    /// Score at or above which an episode opens (and its insight is raised).
    pub threshold: f64,
    /// Consecutive samples scoring below `threshold / 2` that close an episode.
    pub calm: usize,
    pub max_series: usize,
    /// Recorded samples replayed into a series the watch does not know (after a restart,
    /// or an eviction) before judging its new sample; 0 = start cold.
    pub replay: usize,
}

impl Default for SliWatchConfig {
    fn default() -> Self {
        SliWatchConfig {
            detector: DetectorConfig {
                // Health tasks run every minute or few: 60 samples is an hour or more of
                // history, enough for the error statistics to settle.
                warmup: 60,
                rest: 0,
                // A record a hair above the last one is news on a benchmark, not to an
                // on-call: only a value half the known range beyond it counts here.
                extreme_tolerance: 0.5,
                ..DetectorConfig::default()
            },
            threshold: 0.9,
            calm: 10,
            max_series: 10_000,
            // More than the warm-up and the transition model's 400 learning samples.
            replay: 1_000,
        }
    }
}

/// A metric sample as `RunResults::metrics` holds it: name, value, labels.
pub type Metric = (String, f64, BTreeMap<String, String>);

/// One raised insight: its text and structured data (as `RunResults::insights` holds them).
pub type SliInsight = (String, serde_json::Value);

#[derive(Debug, Clone)]
struct Series {
    det: Detector,
    /// Ring of the latest values seen outside an episode.
    recent: [f64; BASELINE_LEN],
    recent_len: usize,
    recent_next: usize,
    in_episode: bool,
    calm_run: usize,
    last_update: u64,
}

impl Series {
    fn new(cfg: &DetectorConfig) -> Self {
        Series {
            det: Detector::new(cfg.clone()),
            recent: [0.0; BASELINE_LEN],
            recent_len: 0,
            recent_next: 0,
            in_episode: false,
            calm_run: 0,
            last_update: 0,
        }
    }

    /// Scores one value and tracks the episode; `Some(score)` when an episode starts.
    fn feed(&mut self, value: f64, (threshold, calm): (f64, usize)) -> Option<f64> {
        let score = self.det.update(value);
        if score >= threshold {
            self.calm_run = 0;
            let starts = !self.in_episode;
            self.in_episode = true;
            return starts.then_some(score);
        }
        if self.in_episode {
            if score < threshold / 2.0 {
                self.calm_run += 1;
            } else {
                self.calm_run = 0;
            }
            if self.calm_run >= calm {
                self.in_episode = false;
                self.calm_run = 0;
            }
            // Values during an episode are not the baseline.
            return None;
        }
        self.recent[self.recent_next] = value;
        self.recent_next = (self.recent_next + 1) % BASELINE_LEN;
        self.recent_len = (self.recent_len + 1).min(BASELINE_LEN);
        None
    }

    /// Median and a robust spread (1.4826 × MAD) of the recent normal values.
    fn baseline(&self) -> (f64, f64) {
        let mut v: Vec<f64> = self.recent[..self.recent_len].to_vec();
        let med = median(&mut v);
        let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
        (med, 1.4826 * median(&mut dev))
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Per-series detectors for the metric samples of finished health runs.
#[derive(Debug, Default)]
pub struct SliWatch {
    cfg: SliWatchConfig,
    series: HashMap<String, Series>,
    /// Monotonic update counter (orders series for eviction without reading a clock).
    tick: u64,
}

impl SliWatch {
    pub fn new(cfg: SliWatchConfig) -> Self {
        SliWatch {
            cfg,
            series: HashMap::new(),
            tick: 0,
        }
    }

    pub fn config(&self) -> &SliWatchConfig {
        &self.cfg
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Feeds one run's metric samples; returns the insights of episodes that start now.
    pub fn observe(
        &mut self,
        workspace: &str,
        scope: &str,
        task: &str,
        metrics: &[Metric],
        at: Timestamp,
    ) -> Vec<SliInsight> {
        let mut out = Vec::new();
        for (name, value, labels) in metrics {
            if !value.is_finite() {
                continue;
            }
            let key = series_key(workspace, scope, task, name, labels);
            let episode = (self.cfg.threshold, self.cfg.calm);
            let s = self.series_mut(key);
            if let Some(score) = s.feed(*value, episode) {
                let (med, spread) = s.baseline();
                let metric = display_metric(name, labels);
                let text = format!(
                    "anomalous SLI: {metric} on {scope} = {}, baseline {}±{}, score {score:.2}",
                    fmt_num(*value),
                    fmt_num(med),
                    fmt_num(spread),
                );
                let data = json!({
                    "kind": "anomalous_sli",
                    "metric": name,
                    "labels": labels,
                    "scope": scope,
                    "task": task,
                    "value": value,
                    "baseline_median": med,
                    "baseline_spread": spread,
                    "score": score,
                    "at": at.to_rfc3339(),
                });
                out.push((text, data));
            }
        }
        out
    }

    /// The samples of `metrics` whose series this watch does not know yet (new, or lost
    /// to a restart or to eviction): the ones worth [`SliWatch::warm`]ing from history.
    pub fn unknown<'m>(
        &self,
        workspace: &str,
        scope: &str,
        task: &str,
        metrics: &'m [Metric],
    ) -> Vec<&'m Metric> {
        metrics
            .iter()
            .filter(|(name, value, labels)| {
                value.is_finite()
                    && !self
                        .series
                        .contains_key(&series_key(workspace, scope, task, name, labels))
            })
            .collect()
    }

    /// Creates a series from its recorded history (oldest first) without raising anything,
    /// so a restarted watch judges the next sample as if it had never stopped. A series
    /// already known is left alone.
    pub fn warm(
        &mut self,
        workspace: &str,
        scope: &str,
        task: &str,
        (name, labels): (&str, &BTreeMap<String, String>),
        history: &[f64],
    ) {
        let key = series_key(workspace, scope, task, name, labels);
        if self.series.contains_key(&key) {
            return;
        }
        let episode = (self.cfg.threshold, self.cfg.calm);
        let s = self.series_mut(key);
        for &v in history.iter().filter(|v| v.is_finite()) {
            s.feed(v, episode);
        }
    }

    fn series_mut(&mut self, key: String) -> &mut Series {
        self.tick += 1;
        if !self.series.contains_key(&key) && self.series.len() >= self.cfg.max_series {
            self.evict_oldest();
        }
        let s = self
            .series
            .entry(key)
            .or_insert_with(|| Series::new(&self.cfg.detector));
        s.last_update = self.tick;
        s
    }

    fn evict_oldest(&mut self) {
        // O(series), but only when a new series arrives while the map is full.
        if let Some(k) = self
            .series
            .iter()
            .min_by_key(|(_, s)| s.last_update)
            .map(|(k, _)| k.clone())
        {
            self.series.remove(&k);
        }
    }
}

fn series_key(
    workspace: &str,
    scope: &str,
    task: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> String {
    // \u{1f} cannot appear in a name a task emits, so keys cannot collide.
    let metric = display_metric(name, labels);
    format!("{workspace}\u{1f}{scope}\u{1f}{task}\u{1f}{metric}")
}

fn display_metric(name: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{name}{{{}}}", l.join(","))
}

/// Short human form: up to 4 significant digits, no trailing zeros.
fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "?".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: usize) -> f64 {
        let x = (i as u64)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as f64 / (1u64 << 31) as f64) - 1.0
    }

    fn feed(w: &mut SliWatch, values: &[f64]) -> Vec<(usize, SliInsight)> {
        let mut out = Vec::new();
        for (i, &v) in values.iter().enumerate() {
            let m = vec![(
                "latency_ms".to_string(),
                v,
                BTreeMap::from([("route".to_string(), "/checkout".to_string())]),
            )];
            for ins in w.observe(
                "w",
                "shop-api",
                "t/b/latency",
                &m,
                Timestamp(i as i64 * 60_000),
            ) {
                out.push((i, ins));
            }
        }
        out
    }

    #[test]
    fn a_level_shift_raises_exactly_one_insight() {
        let v: Vec<f64> = (0..600)
            .map(|i| (if i < 300 { 100.0 } else { 180.0 }) + 3.0 * noise(i))
            .collect();
        let mut w = SliWatch::default();
        let got = feed(&mut w, &v);
        assert_eq!(got.len(), 1, "{got:?}");
        let (i, (text, data)) = &got[0];
        assert!((300..305).contains(i), "raised at {i}");
        assert!(
            text.starts_with("anomalous SLI: latency_ms{route=/checkout} on shop-api = 1"),
            "{text}"
        );
        assert!(
            text.contains(", baseline 9") || text.contains(", baseline 10"),
            "{text}"
        );
        let med = data["baseline_median"].as_f64().unwrap();
        assert!((97.0..103.0).contains(&med), "{med}");
        assert!(data["score"].as_f64().unwrap() >= 0.9);
    }

    #[test]
    fn a_steady_series_raises_none() {
        let v: Vec<f64> = (0..2000).map(|i| 50.0 + 2.0 * noise(i)).collect();
        let mut w = SliWatch::default();
        assert!(feed(&mut w, &v).is_empty());
        let daily: Vec<f64> = (0..3000)
            .map(|i| 50.0 + 10.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin() + noise(i))
            .collect();
        let mut w = SliWatch::default();
        assert!(feed(&mut w, &daily).is_empty());
    }

    #[test]
    fn a_second_separate_incident_raises_a_second_insight() {
        let v: Vec<f64> = (0..900)
            .map(|i| {
                let spike = (300..305).contains(&i) || (700..705).contains(&i);
                (if spike { 400.0 } else { 100.0 }) + 3.0 * noise(i)
            })
            .collect();
        let mut w = SliWatch::default();
        let got: Vec<usize> = feed(&mut w, &v).into_iter().map(|(i, _)| i).collect();
        // The second one is seen a few samples late: the first spike inflated the error
        // statistics the likelihood compares against.
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0] == 300 && (700..706).contains(&got[1]), "{got:?}");
    }

    #[test]
    fn series_count_is_bounded() {
        let mut w = SliWatch::new(SliWatchConfig {
            max_series: 10,
            ..Default::default()
        });
        for i in 0..100 {
            let m = vec![(format!("m{i}"), 1.0, BTreeMap::new())];
            w.observe("w", "s", "t", &m, Timestamp(0));
        }
        assert_eq!(w.series_count(), 10);
        // the latest series survive
        let m = vec![("m99".to_string(), 1.0, BTreeMap::new())];
        w.observe("w", "s", "t", &m, Timestamp(0));
        assert_eq!(w.series_count(), 10);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(180.123456), "180.1");
        assert_eq!(fmt_num(0.0123456), "0.01235");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(123456.0), "123456");
    }
}
