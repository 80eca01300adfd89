//! A faithful port of the Numenta Anomaly Benchmark scorer (NAB v1.1:
//! `nab/sweeper.py`, `nab/optimizer.py`, `nab/runner.py::normalize`).
//!
//! * The first `min(floor(0.15 * n), 0.15 * 5000)` rows of each file are probationary
//!   and never scored.
//! * A detection inside a labelled window scores
//!   `scaledSigmoid(-(right - i + 1) / width) * A_TP / scaledSigmoid(-1)`; only the best
//!   (= earliest) detection of a window counts; a window without detection costs `-A_FN`.
//! * A detection outside windows costs `scaledSigmoid(|prevRight - i| / (prevWidth - 1)) * A_FP`
//!   (`-A_FP` before the first window).
//! * The threshold is swept over every distinct anomaly score of the whole corpus and the
//!   one with the highest corpus score is kept (ties: the highest threshold).
//! * Normalised score = `100 * (raw - null) / (perfect - null)`, with `null` the raw score of
//!   detecting nothing and `perfect = windows * A_TP`.

use crate::error::{AnalyticsError, Result};
use std::collections::HashMap;

/// A NAB application profile (cost matrix).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub tp_weight: f64,
    pub fp_weight: f64,
    pub fn_weight: f64,
}

/// The three published NAB profiles (`config/profiles.json`).
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 1.0,
    },
    Profile {
        name: "reward_low_FP_rate",
        tp_weight: 1.0,
        fp_weight: 0.22,
        fn_weight: 1.0,
    },
    Profile {
        name: "reward_low_FN_rate",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 2.0,
    },
];

/// NAB's probationary fraction.
pub const PROBATION_PERCENT: f64 = 0.15;

/// One data file: per-row anomaly scores and labelled windows as inclusive row ranges.
#[derive(Debug, Clone)]
pub struct ScoredFile {
    pub name: String,
    pub scores: Vec<f64>,
    pub windows: Vec<(usize, usize)>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// NAB's `scaledSigmoid` (sweeper.py variant).
pub fn scaled_sigmoid(pos: f64) -> f64 {
    if pos >= 3.0 {
        -1.0
    } else {
        2.0 * sigmoid(-5.0 * pos) - 1.0
    }
}

/// Number of probationary rows for a file of `n` rows.
pub fn probationary_length(n: usize) -> usize {
    let a = (PROBATION_PERCENT * n as f64).floor();
    let b = PROBATION_PERCENT * 5000.0;
    // Rows with index >= this value are scored (index comparison against a float in NAB).
    a.min(b).ceil() as usize
}

/// Per-row sweep information: the weighted score a detection at this row would get,
/// and which window (global id) the row belongs to. Probationary rows are dropped.
#[derive(Debug, Clone, Copy)]
struct SweepPoint {
    score: f64,
    sweep: f64,
    window: Option<u32>,
}

/// `Sweeper.calcSweepScore` for one file. `window_base` offsets window ids so that ids
/// are unique across a corpus. Returns the points and the number of windows that have at
/// least one scorable row.
fn sweep_file(
    f: &ScoredFile,
    p: &Profile,
    window_base: u32,
    out: &mut Vec<SweepPoint>,
) -> Vec<u32> {
    let n = f.scores.len();
    let prob = probationary_length(n);
    let max_tp = scaled_sigmoid(-1.0);
    let mut windows = f.windows.clone();
    windows.sort();
    let mut next_w = 0usize;
    let mut cur: Option<(usize, usize, f64, u32)> = None; // (left, right, width, id)
    let mut prev: Option<(usize, f64)> = None; // (right, width)
    let mut scorable_windows = Vec::new();
    for i in 0..n {
        if cur.is_none() && next_w < windows.len() && windows[next_w].0 == i {
            let (l, r) = windows[next_w];
            cur = Some((l, r, (r - l + 1) as f64, window_base + next_w as u32));
            next_w += 1;
        }
        let (sweep, window) = match cur {
            Some((_, r, width, id)) => {
                let pos = -((r as f64) - (i as f64) + 1.0) / width;
                (scaled_sigmoid(pos) * p.tp_weight / max_tp, Some(id))
            }
            None => {
                let pos = match prev {
                    None => 3.0,
                    Some((pr, pw)) => ((pr as f64) - (i as f64)).abs() / (pw - 1.0),
                };
                (scaled_sigmoid(pos) * p.fp_weight, None)
            }
        };
        if i >= prob {
            if let Some(id) = window {
                if scorable_windows.last() != Some(&id) {
                    scorable_windows.push(id);
                }
            }
            out.push(SweepPoint {
                score: f.scores[i],
                sweep,
                window,
            });
        }
        if let Some((_, r, width, _)) = cur {
            if i == r {
                prev = Some((r, width));
                cur = None;
            }
        }
    }
    scorable_windows
}

/// Score of one threshold level during a sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    pub threshold: f64,
    pub score: f64,
    pub tp: usize,
    pub fp: usize,
}

/// `Sweeper.calcScoreByThreshold`: score at every distinct threshold, highest first.
fn score_by_threshold(
    points: &mut [SweepPoint],
    n_windows: usize,
    scorable: &[u32],
    p: &Profile,
) -> Vec<ThresholdScore> {
    // Stable sort by descending anomaly score (Python's `sorted(..., reverse=True)` is stable).
    points.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut parts = vec![f64::NAN; n_windows];
    for &w in scorable {
        parts[w as usize] = -p.fn_weight;
    }
    let mut total: f64 = -p.fn_weight * scorable.len() as f64;
    let mut out = Vec::new();
    let mut cur = 1.1f64;
    let (mut tp, mut fp) = (0usize, 0usize);
    for pt in points.iter() {
        if pt.score != cur {
            out.push(ThresholdScore {
                threshold: cur,
                score: total,
                tp,
                fp,
            });
            cur = pt.score;
        }
        match pt.window {
            None => {
                fp += 1;
                total += pt.sweep;
            }
            Some(w) => {
                tp += 1;
                let old = parts[w as usize];
                if pt.sweep > old {
                    parts[w as usize] = pt.sweep;
                    total += pt.sweep - old;
                }
            }
        }
    }
    out.push(ThresholdScore {
        threshold: cur,
        score: total,
        tp,
        fp,
    });
    out
}

/// Result of scoring a corpus under one profile.
#[derive(Debug, Clone)]
pub struct CorpusScore {
    pub profile: Profile,
    pub threshold: f64,
    pub raw: f64,
    pub null: f64,
    pub perfect: f64,
    /// Normalised score: null = 0, perfect = 100.
    pub normalized: f64,
    /// Raw score per file at the chosen threshold, in input order.
    pub per_file: Vec<f64>,
}

/// Raw NAB score of one file at a fixed threshold (detections are rows with score >= threshold).
pub fn score_file_at(f: &ScoredFile, p: &Profile, threshold: f64) -> f64 {
    let mut pts = Vec::with_capacity(f.scores.len());
    let scorable = sweep_file(f, p, 0, &mut pts);
    let mut best: HashMap<u32, f64> = scorable.iter().map(|&w| (w, -p.fn_weight)).collect();
    let mut fp = 0.0;
    for pt in &pts {
        if pt.score >= threshold {
            match pt.window {
                None => fp += pt.sweep,
                Some(w) => {
                    let b = best.get_mut(&w).expect("scorable window");
                    if pt.sweep > *b {
                        *b = pt.sweep;
                    }
                }
            }
        }
    }
    fp + best.values().sum::<f64>()
}

/// Optimise the threshold over the whole corpus and score it (NAB `optimize` + `score` +
/// `normalize`). `total_windows` is the number of labelled windows (NAB counts all labels
/// for the perfect score); pass `None` to use the windows present in `files`.
pub fn score_corpus(
    files: &[ScoredFile],
    p: &Profile,
    total_windows: Option<usize>,
) -> CorpusScore {
    let mut pts = Vec::with_capacity(files.iter().map(|f| f.scores.len()).sum());
    let mut scorable = Vec::new();
    let mut base = 0u32;
    for f in files {
        scorable.extend(sweep_file(f, p, base, &mut pts));
        base += f.windows.len() as u32;
    }
    let sweep = score_by_threshold(&mut pts, base as usize, &scorable, p);
    let mut best = sweep[0];
    for s in &sweep[1..] {
        if s.score > best.score {
            best = *s;
        }
    }
    let per_file: Vec<f64> = files
        .iter()
        .map(|f| score_file_at(f, p, best.threshold))
        .collect();
    let raw: f64 = per_file.iter().sum();
    let null = -p.fn_weight * scorable.len() as f64;
    let perfect = total_windows.unwrap_or(base as usize) as f64 * p.tp_weight;
    CorpusScore {
        profile: *p,
        threshold: best.threshold,
        raw,
        null,
        perfect,
        normalized: 100.0 * (raw - null) / (perfect - null),
        per_file,
    }
}

/// Normalise a timestamp for matching label limits to data rows:
/// `2014-04-10 07:15:00.000000` → `2014-04-10 07:15:00`.
pub fn canonical_timestamp(ts: &str) -> &str {
    let t = ts.trim();
    match t.rfind('.') {
        Some(dot) if t[dot + 1..].bytes().all(|b| b == b'0') && t.len() > dot + 1 => &t[..dot],
        _ => t,
    }
}

/// Read the `anomaly_score` column of a NAB results file (`timestamp,anomaly_score,...`).
pub fn parse_results_scores(text: &str) -> Result<(Vec<String>, Vec<f64>)> {
    let recs = crate::csv::parse_records(text)?;
    let header = recs.first().ok_or(AnalyticsError::EmptyCsv)?;
    let col = header
        .iter()
        .position(|h| h.trim() == "anomaly_score")
        .ok_or_else(|| AnalyticsError::MissingColumn("anomaly_score".into()))?;
    let mut ts = Vec::with_capacity(recs.len());
    let mut scores = Vec::with_capacity(recs.len());
    for (i, r) in recs.iter().enumerate().skip(1) {
        let raw = r.get(col).map(String::as_str).unwrap_or("");
        let v = crate::csv::parse_f64(raw).ok_or_else(|| AnalyticsError::Csv {
            line: i + 1,
            msg: format!("'{raw}' is not a number"),
        })?;
        ts.push(r[0].trim().to_string());
        scores.push(v);
    }
    Ok((ts, scores))
}

/// Parse NAB's `labels/combined_windows.json`: file → list of `[start, end]` timestamps.
pub fn parse_windows_json(text: &str) -> Result<HashMap<String, Vec<(String, String)>>> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| AnalyticsError::Json(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| AnalyticsError::Json("expected an object of file -> windows".into()))?;
    let mut out = HashMap::new();
    for (k, ws) in obj {
        let arr = ws
            .as_array()
            .ok_or_else(|| AnalyticsError::Json(format!("{k}: expected a list of windows")))?;
        let mut list = Vec::new();
        for w in arr {
            let pair = w.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
                AnalyticsError::Json(format!("{k}: a window must be [start, end]"))
            })?;
            let s = pair[0].as_str().ok_or_else(|| {
                AnalyticsError::Json(format!("{k}: window start must be a string"))
            })?;
            let e = pair[1]
                .as_str()
                .ok_or_else(|| AnalyticsError::Json(format!("{k}: window end must be a string")))?;
            list.push((
                canonical_timestamp(s).to_string(),
                canonical_timestamp(e).to_string(),
            ));
        }
        out.insert(k.clone(), list);
    }
    Ok(out)
}

/// Map window timestamp limits onto inclusive row ranges (rows with `start <= ts <= end`,
/// as NAB's `Window` does; ISO timestamps compare lexicographically).
pub fn windows_to_rows(
    timestamps: &[String],
    windows: &[(String, String)],
) -> Result<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    for (s, e) in windows {
        let mut first = None;
        let mut last = None;
        for (i, t) in timestamps.iter().enumerate() {
            let t = canonical_timestamp(t);
            if t >= s.as_str() && t <= e.as_str() {
                first.get_or_insert(i);
                last = Some(i);
            }
        }
        match (first, last) {
            (Some(a), Some(b)) => out.push((a, b)),
            _ => {
                return Err(AnalyticsError::Invalid(format!(
                    "window [{s}, {e}] matches no row; check the labels belong to this data file"
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize, windows: Vec<(usize, usize)>, hits: &[usize]) -> ScoredFile {
        let mut scores = vec![0.0; n];
        for &h in hits {
            scores[h] = 1.0;
        }
        ScoredFile {
            name: "f".into(),
            scores,
            windows,
        }
    }

    #[test]
    fn sigmoid_edges() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert_eq!(scaled_sigmoid(3.0), -1.0);
    }

    #[test]
    fn probation() {
        assert_eq!(probationary_length(1000), 150);
        assert_eq!(probationary_length(10_000), 750);
        assert_eq!(probationary_length(22_695), 750);
    }

    #[test]
    fn perfect_early_detection_scores_about_one() {
        let f = file(1000, vec![(500, 599)], &[500]);
        let s = score_file_at(&f, &PROFILES[0], 0.5);
        // position -(99+1)/100 = -1 → exactly tpWeight.
        assert!((s - 1.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn missed_window_and_false_positive() {
        let f = file(1000, vec![(500, 599)], &[300]);
        let s = score_file_at(&f, &PROFILES[0], 0.5);
        assert!((s + 1.11).abs() < 1e-9, "{s}");
    }

    #[test]
    fn only_first_detection_counts_and_late_fp_is_cheaper() {
        let a = score_file_at(
            &file(1000, vec![(500, 599)], &[520, 580]),
            &PROFILES[0],
            0.5,
        );
        let b = score_file_at(&file(1000, vec![(500, 599)], &[520]), &PROFILES[0], 0.5);
        assert!((a - b).abs() < 1e-12);
        let near = score_file_at(&file(1000, vec![(500, 599)], &[600]), &PROFILES[0], 0.5);
        let far = score_file_at(&file(1000, vec![(500, 599)], &[900]), &PROFILES[0], 0.5);
        assert!(near > far);
    }

    #[test]
    fn probationary_rows_ignored() {
        let f = file(1000, vec![], &[10]);
        assert_eq!(score_file_at(&f, &PROFILES[0], 0.5), 0.0);
    }

    #[test]
    fn corpus_normalisation_bounds() {
        let perfect = vec![
            file(1000, vec![(500, 599)], &[500]),
            file(1000, vec![(200, 299)], &[200]),
        ];
        let s = score_corpus(&perfect, &PROFILES[0], None);
        assert!((s.normalized - 100.0).abs() < 1e-9, "{}", s.normalized);
        let null = vec![
            file(1000, vec![(500, 599)], &[]),
            file(1000, vec![(200, 299)], &[]),
        ];
        let s = score_corpus(&null, &PROFILES[0], None);
        assert!(s.normalized.abs() < 1e-9);
    }

    #[test]
    fn timestamps_and_windows() {
        assert_eq!(
            canonical_timestamp("2014-04-10 07:15:00.000000"),
            "2014-04-10 07:15:00"
        );
        let ts: Vec<String> = (0..5).map(|i| format!("2014-01-01 00:0{i}:00")).collect();
        let w = windows_to_rows(
            &ts,
            &[("2014-01-01 00:01:00".into(), "2014-01-01 00:03:00".into())],
        )
        .unwrap();
        assert_eq!(w, vec![(1, 3)]);
        let j = parse_windows_json(
            r#"{"a/b.csv": [["2014-01-01 00:01:00.000000", "2014-01-01 00:03:00.000000"]]}"#,
        )
        .unwrap();
        assert_eq!(j["a/b.csv"][0].0, "2014-01-01 00:01:00");
    }
}
