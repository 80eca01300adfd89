//! Metric root-cause ranking over a dependency (call) graph.
//!
//! Given the call graph (`A -> B`: A calls B), metrics from a normal period and metrics
//! during an SLO violation at a target node, rank the nodes that may have caused it.
//!
//! Method (one configuration for every input):
//! 1. **Baseline per node** from the normal period: median and a robust scale
//!    `max(1.4826·MAD, mean |x − median|, 0.1 % of |median|, 0.1 % of the metric's typical level)`.
//!    The floors make constant series (MAD = 0, e.g. availability always 100 %) finite and
//!    comparable: a drop of 3 points of availability from 100 % is 30 scale units, not infinity, and
//!    bigger drops stay bigger.
//! 2. **Trigger**: the first row from `trigger_row` on where the target deviates by at least
//!    `trigger_threshold` scale units in either direction (the caller asserts the violation;
//!    this only locates its onset); the direction of the target's deviation defines the
//!    "bad" direction for the metric.
//! 3. **Node anomaly** = mean signed deviation over `window` rows from the trigger (all the
//!    evidence of the incident, not one sample) minus the deviation already present in every
//!    lead-in row before the trigger (onset contrast: a shift that predates the incident
//!    explains nothing); anomalous if ≥ `z_threshold`.
//! 4. **Candidates** are anomalous nodes reachable from the target through anomalous nodes
//!    (the target included when it is itself anomalous). No anomalous node → no root causes
//!    (this is what keeps specificity on normal data). Each candidate is credited with the anomalous nodes it can explain:
//!    its anomalous callers, transitively, through anomalous nodes (the root cause explains
//!    the symptoms upstream of it).
//! 5. **Rank** by explained-symptom count, then anomaly strength, then relative change;
//!    node name only as a last, documented resort for exact ties.

use crate::csv::{parse_f64, parse_records};
use crate::error::{AnalyticsError, Result};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// Directed call graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub nodes: Vec<String>,
    index: HashMap<String, usize>,
    callees: Vec<Vec<usize>>,
    callers: Vec<Vec<usize>>,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_node(&mut self, n: &str) -> usize {
        if let Some(&i) = self.index.get(n) {
            return i;
        }
        self.nodes.push(n.to_string());
        self.callees.push(Vec::new());
        self.callers.push(Vec::new());
        self.index.insert(n.to_string(), self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// Add an edge `from` calls `to`.
    pub fn add_edge(&mut self, from: &str, to: &str) {
        let a = self.add_node(from);
        let b = self.add_node(to);
        if a != b && !self.callees[a].contains(&b) {
            self.callees[a].push(b);
            self.callers[b].push(a);
        }
    }

    pub fn id(&self, n: &str) -> Option<usize> {
        self.index.get(n).copied()
    }

    pub fn callees(&self, i: usize) -> &[usize] {
        &self.callees[i]
    }

    pub fn callers(&self, i: usize) -> &[usize] {
        &self.callers[i]
    }

    /// Parse a graph CSV: either an adjacency matrix (header `,n1,n2,...`; row `ni` has a
    /// non-zero in column `nj` when `ni` calls `nj`) or an edge list with a header
    /// `from,to` (or `source,target`, `caller,callee`).
    pub fn from_csv(text: &str) -> Result<Graph> {
        let recs = parse_records(text)?;
        let header = recs.first().ok_or(AnalyticsError::EmptyCsv)?;
        let mut g = Graph::new();
        let h0: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let is_edge_list = header.len() == 2
            && matches!(
                (h0[0].as_str(), h0[1].as_str()),
                ("from", "to") | ("source", "target") | ("caller", "callee")
            );
        if is_edge_list {
            for (i, r) in recs.iter().enumerate().skip(1) {
                if r.len() < 2 {
                    return Err(AnalyticsError::Csv {
                        line: i + 1,
                        msg: "an edge needs two columns: from,to".into(),
                    });
                }
                g.add_edge(r[0].trim(), r[1].trim());
            }
            return Ok(g);
        }
        let cols: Vec<&str> = header[1..].iter().map(|s| s.trim()).collect();
        for c in &cols {
            g.add_node(c);
        }
        for (i, r) in recs.iter().enumerate().skip(1) {
            let from = r[0].trim();
            g.add_node(from);
            for (j, v) in r.iter().skip(1).enumerate() {
                let x = parse_f64(v).ok_or_else(|| AnalyticsError::Csv {
                    line: i + 1,
                    msg: format!("'{v}' is not a number (adjacency matrix expected)"),
                })?;
                if x != 0.0 && !x.is_nan() {
                    let to = cols.get(j).ok_or_else(|| AnalyticsError::Csv {
                        line: i + 1,
                        msg: "more cells than header columns".into(),
                    })?;
                    g.add_edge(from, to);
                }
            }
        }
        Ok(g)
    }
}

/// A table of metric columns keyed by (node, metric, statistic), rows in time order.
#[derive(Debug, Clone, Default)]
pub struct MetricTable {
    pub timestamps: Vec<String>,
    pub columns: Vec<(String, String, String)>,
    /// Column-major values (NaN = missing).
    pub data: Vec<Vec<f64>>,
}

impl MetricTable {
    /// Parse a metrics CSV. Supported headers:
    /// * PetShop style: three header rows (node / metric / statistic), an optional fourth
    ///   row naming the index column, first column = timestamp;
    /// * single header row `timestamp,<node>,<node>...` → metric and statistic are taken
    ///   from `default_metric` and `Average`;
    /// * single header row with `node|metric|statistic` or `node|metric` cells.
    pub fn from_csv(text: &str, default_metric: &str) -> Result<MetricTable> {
        let recs = parse_records(text)?;
        if recs.is_empty() {
            return Err(AnalyticsError::EmptyCsv);
        }
        let width = recs[0].len();
        let is_numeric_row = |r: &Vec<String>| {
            r.iter().skip(1).all(|c| parse_f64(c).is_some()) && parse_f64(&r[0]).is_some()
        };
        let mut header_rows = 0;
        while header_rows < recs.len() && !is_numeric_row(&recs[header_rows]) {
            header_rows += 1;
        }
        if header_rows == 0 {
            return Err(AnalyticsError::Csv {
                line: 1,
                msg: "expected a header row naming the nodes".into(),
            });
        }
        let mut columns = Vec::with_capacity(width.saturating_sub(1));
        for j in 1..width {
            let cell = |r: usize| {
                recs.get(r)
                    .and_then(|row| row.get(j))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            };
            let col = if header_rows >= 3 {
                (cell(0), cell(1), cell(2))
            } else {
                let c = cell(0);
                let parts: Vec<&str> = c.split('|').collect();
                match parts.len() {
                    3 => (parts[0].into(), parts[1].into(), parts[2].into()),
                    2 => (parts[0].into(), parts[1].into(), "Average".into()),
                    _ => (c.clone(), default_metric.to_string(), "Average".into()),
                }
            };
            columns.push(col);
        }
        let mut data = vec![Vec::new(); columns.len()];
        let mut timestamps = Vec::new();
        for (i, r) in recs.iter().enumerate().skip(header_rows) {
            timestamps.push(r[0].trim().to_string());
            for (j, col) in data.iter_mut().enumerate() {
                let raw = r.get(j + 1).map(String::as_str).unwrap_or("");
                col.push(parse_f64(raw).ok_or_else(|| AnalyticsError::Csv {
                    line: i + 1,
                    msg: format!("'{raw}' is not a number"),
                })?);
            }
        }
        if timestamps.is_empty() {
            return Err(AnalyticsError::EmptyCsv);
        }
        Ok(MetricTable {
            timestamps,
            columns,
            data,
        })
    }

    pub fn rows(&self) -> usize {
        self.timestamps.len()
    }

    /// Column for (node, metric, statistic); `statistic` None matches the first statistic.
    pub fn series(&self, node: &str, metric: &str, statistic: Option<&str>) -> Option<&[f64]> {
        self.columns
            .iter()
            .position(|(n, m, s)| n == node && m == metric && statistic.is_none_or(|st| st == s))
            .map(|j| self.data[j].as_slice())
    }

    /// Rows `[a, b)` as a new table.
    pub fn slice(&self, a: usize, b: usize) -> MetricTable {
        MetricTable {
            timestamps: self.timestamps[a..b].to_vec(),
            columns: self.columns.clone(),
            data: self.data.iter().map(|c| c[a..b].to_vec()).collect(),
        }
    }

    /// Concatenate tables (columns matched by key; missing columns become NaN).
    pub fn concat(tables: &[&MetricTable]) -> MetricTable {
        let mut out = MetricTable::default();
        for t in tables {
            for c in &t.columns {
                if !out.columns.contains(c) {
                    out.columns.push(c.clone());
                }
            }
        }
        out.data = vec![Vec::new(); out.columns.len()];
        for t in tables {
            out.timestamps.extend(t.timestamps.iter().cloned());
            for (j, c) in out.columns.iter().enumerate() {
                match t.columns.iter().position(|x| x == c) {
                    Some(k) => out.data[j].extend_from_slice(&t.data[k]),
                    None => out.data[j].extend(std::iter::repeat_n(f64::NAN, t.rows())),
                }
            }
        }
        out
    }
}

/// Configuration of the ranking. `Default` is the one configuration used everywhere.
#[derive(Debug, Clone)]
pub struct RcaConfig {
    /// Deviation (in robust scale units) that makes a node anomalous (mean over the window,
    /// net of the lead-in).
    pub z_threshold: f64,
    /// Single-sample deviation of the target that marks the onset of the violation.
    pub trigger_threshold: f64,
    /// First abnormal row that may trigger (earlier rows are lead-in).
    pub trigger_row: usize,
    /// Rows from the trigger whose deviations are averaged.
    pub window: usize,
    /// Relative scale floor (fraction of |median| and of the metric's typical level).
    pub rel_floor: f64,
    /// Minimum non-missing normal samples for a node to be scored.
    pub min_normal: usize,
}

impl Default for RcaConfig {
    fn default() -> Self {
        RcaConfig {
            z_threshold: 5.0,
            trigger_threshold: 3.0,
            trigger_row: 2,
            window: 3,
            rel_floor: 0.001,
            min_normal: 10,
        }
    }
}

/// Robust baseline of one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Baseline {
    pub median: f64,
    pub scale: f64,
}

fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median and robust scale with floors (see module docs). `level_floor` is an absolute
/// floor (the metric's typical level times `rel_floor`).
pub fn robust_baseline(values: &[f64], rel_floor: f64, level_floor: f64) -> Option<Baseline> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let med = median_of(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    let mean_abs = dev.iter().sum::<f64>() / dev.len() as f64;
    let mad = median_of(&mut dev);
    let scale = (1.4826 * mad)
        .max(mean_abs)
        .max(rel_floor * med.abs())
        .max(level_floor)
        .max(1e-12);
    Some(Baseline { median: med, scale })
}

/// One ranked root-cause candidate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RootCause {
    pub node: String,
    pub metric: String,
    /// Ranking score: explained symptoms + squashed anomaly (higher = more likely).
    pub score: f64,
    /// Mean deviation over the incident window, in robust scale units (bad direction > 0).
    pub anomaly: f64,
    /// Relative change of the mean incident value vs the normal median.
    pub relative_change: f64,
    /// Anomalous upstream nodes this candidate explains.
    pub explains: Vec<String>,
}

/// Result of an analysis.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RcaResult {
    /// Row of the abnormal table where the target was first anomalous (None: not anomalous).
    pub trigger_row: Option<usize>,
    pub target_anomaly: f64,
    pub root_causes: Vec<RootCause>,
}

/// Rank root-cause candidates for an SLO violation of `metric` (statistic `statistic`,
/// None = first available) at `target`.
pub fn rank_root_causes(
    graph: &Graph,
    normal: &MetricTable,
    abnormal: &MetricTable,
    target: &str,
    metric: &str,
    statistic: Option<&str>,
    cfg: &RcaConfig,
) -> Result<RcaResult> {
    let t = graph
        .id(target)
        .ok_or_else(|| AnalyticsError::UnknownNode(target.to_string()))?;
    let n = graph.nodes.len();
    // Typical level of the metric across nodes (for the absolute scale floor).
    let mut levels: Vec<f64> = Vec::new();
    for node in &graph.nodes {
        if let Some(s) = normal.series(node, metric, statistic) {
            let mut v: Vec<f64> = s.iter().copied().filter(|x| x.is_finite()).collect();
            if !v.is_empty() {
                levels.push(median_of(&mut v).abs());
            }
        }
    }
    let level = if levels.is_empty() {
        0.0
    } else {
        median_of(&mut levels)
    };
    let level_floor = cfg.rel_floor * level;
    let baselines: Vec<Option<Baseline>> = graph
        .nodes
        .iter()
        .map(|node| {
            let s = normal.series(node, metric, statistic)?;
            if s.iter().filter(|x| x.is_finite()).count() < cfg.min_normal {
                return None;
            }
            robust_baseline(s, cfg.rel_floor, level_floor)
        })
        .collect();
    let series: Vec<Option<&[f64]>> = graph
        .nodes
        .iter()
        .map(|node| abnormal.series(node, metric, statistic))
        .collect();
    if series[t].is_none() {
        return Err(AnalyticsError::MissingSeries {
            node: target.to_string(),
            metric: metric.to_string(),
        });
    }
    let tb = baselines[t].ok_or_else(|| AnalyticsError::Invalid(format!("the normal period has fewer than {} values of {metric} for {target}; pass a longer normal period", cfg.min_normal)))?;
    let ts = series[t].unwrap();
    // 2. Trigger and direction.
    // The caller asserts a violation; we only locate its onset: the first row from
    // `trigger_row` on where the target deviates by `trigger_threshold` scale units.
    let mut trigger = None;
    for (i, &x) in ts
        .iter()
        .enumerate()
        .skip(cfg.trigger_row.min(ts.len().saturating_sub(1)))
    {
        if x.is_finite() && ((x - tb.median) / tb.scale).abs() >= cfg.trigger_threshold {
            trigger = Some((i, (x - tb.median).signum()));
            break;
        }
    }
    let Some((trig, dir)) = trigger else {
        return Ok(RcaResult {
            trigger_row: None,
            target_anomaly: 0.0,
            root_causes: Vec::new(),
        });
    };
    let end = (trig + cfg.window).min(abnormal.rows());
    // 3. Node anomaly over the window, minus what was already there before the target
    //    deviated (lead-in rows): a root cause changes when the symptom starts, a level
    //    that was already shifted before the incident explains nothing.
    let mut anomaly = vec![f64::NAN; n];
    let mut rel = vec![0.0; n];
    for i in 0..n {
        let (Some(b), Some(s)) = (baselines[i], series[i]) else {
            continue;
        };
        let z = |x: &f64| dir * (x - b.median) / b.scale;
        let vals: Vec<f64> = s[trig..end]
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        if vals.is_empty() {
            continue;
        }
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let during = vals.iter().map(z).sum::<f64>() / vals.len() as f64;
        let lead: Vec<f64> = s[..trig]
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        // A level shift present in *every* lead-in row predates the incident.
        let before = lead.iter().map(z).fold(f64::INFINITY, f64::min);
        let before = if before.is_finite() {
            before.max(0.0)
        } else {
            0.0
        };
        anomaly[i] = during - before;
        rel[i] = if b.median != 0.0 {
            (mean - b.median) / b.median.abs()
        } else {
            mean - b.median
        };
    }
    let is_anom = |i: usize| anomaly[i].is_finite() && anomaly[i] >= cfg.z_threshold;
    let target_anomaly = anomaly[t];
    // 4. Candidates: anomalous nodes reachable from the target through anomalous nodes.
    let mut reach = vec![false; n];
    reach[t] = true;
    let mut q = VecDeque::from([t]);
    while let Some(u) = q.pop_front() {
        for &v in graph.callees(u) {
            if !reach[v] && is_anom(v) {
                reach[v] = true;
                q.push_back(v);
            }
        }
    }
    // No anomalous node at all (not even the target): nothing to report.
    let mut out = Vec::new();
    for c in 0..n {
        if !reach[c] || !is_anom(c) {
            continue;
        }
        // Anomalous callers of c, transitively through anomalous nodes.
        let mut seen = vec![false; n];
        seen[c] = true;
        let mut q = VecDeque::from([c]);
        let mut explains = Vec::new();
        while let Some(u) = q.pop_front() {
            for &p in graph.callers(u) {
                if !seen[p] && (is_anom(p) || p == t) {
                    seen[p] = true;
                    explains.push(p);
                    q.push_back(p);
                }
            }
        }
        let a = if anomaly[c].is_finite() {
            anomaly[c].max(0.0)
        } else {
            0.0
        };
        let mut names: Vec<String> = explains.iter().map(|&i| graph.nodes[i].clone()).collect();
        names.sort();
        out.push(RootCause {
            node: graph.nodes[c].clone(),
            metric: metric.to_string(),
            score: explains.len() as f64 + a / (a + 10.0),
            anomaly: anomaly[c],
            relative_change: rel[c],
            explains: names,
        });
    }
    out.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(
                b.relative_change
                    .abs()
                    .partial_cmp(&a.relative_change.abs())
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
            .then(a.node.cmp(&b.node))
    });
    Ok(RcaResult {
        trigger_row: Some(trig),
        target_anomaly,
        root_causes: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: &[&str], rows: &[Vec<f64>]) -> MetricTable {
        let mut t = MetricTable::default();
        t.columns = cols
            .iter()
            .map(|c| (c.to_string(), "latency".to_string(), "Average".to_string()))
            .collect();
        t.data = vec![Vec::new(); cols.len()];
        for (i, r) in rows.iter().enumerate() {
            t.timestamps.push(i.to_string());
            for (j, v) in r.iter().enumerate() {
                t.data[j].push(*v);
            }
        }
        t
    }

    fn chain() -> Graph {
        let mut g = Graph::new();
        g.add_edge("web", "api");
        g.add_edge("api", "db");
        g.add_edge("web", "cache");
        g
    }

    fn normal() -> MetricTable {
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| {
                vec![
                    100.0 + (i % 5) as f64,
                    50.0 + (i % 3) as f64,
                    10.0 + (i % 2) as f64,
                    5.0 + (i % 4) as f64 * 0.1,
                ]
            })
            .collect();
        table(&["web", "api", "db", "cache"], &rows)
    }

    #[test]
    fn deepest_anomalous_node_wins() {
        let mut rows = vec![vec![101.0, 51.0, 10.0, 5.0]; 2];
        rows.extend(vec![vec![300.0, 250.0, 200.0, 5.0]; 3]);
        let ab = table(&["web", "api", "db", "cache"], &rows);
        let r = rank_root_causes(
            &chain(),
            &normal(),
            &ab,
            "web",
            "latency",
            None,
            &RcaConfig::default(),
        )
        .unwrap();
        assert_eq!(r.trigger_row, Some(2));
        assert_eq!(r.root_causes[0].node, "db");
        assert_eq!(r.root_causes[0].explains, vec!["api", "web"]);
        assert!(r.root_causes.iter().all(|c| c.node != "cache"));
    }

    #[test]
    fn shift_present_before_the_incident_explains_nothing() {
        // db was already slow before web deviated: api is the change that matters.
        let mut rows = vec![vec![101.0, 51.0, 200.0, 5.0]; 2];
        rows.extend(vec![vec![300.0, 250.0, 200.0, 5.0]; 3]);
        let ab = table(&["web", "api", "db", "cache"], &rows);
        let r = rank_root_causes(
            &chain(),
            &normal(),
            &ab,
            "web",
            "latency",
            None,
            &RcaConfig::default(),
        )
        .unwrap();
        assert_eq!(r.root_causes[0].node, "api");
    }

    #[test]
    fn no_violation_means_no_root_causes() {
        let ab = table(
            &["web", "api", "db", "cache"],
            &vec![vec![101.0, 51.0, 10.0, 5.0]; 5],
        );
        let r = rank_root_causes(
            &chain(),
            &normal(),
            &ab,
            "web",
            "latency",
            None,
            &RcaConfig::default(),
        )
        .unwrap();
        assert!(r.root_causes.is_empty());
        assert_eq!(r.trigger_row, None);
    }

    #[test]
    fn constant_normal_series_are_finite() {
        let b = robust_baseline(&[100.0; 20], 0.01, 0.0).unwrap();
        assert_eq!(b.scale, 1.0);
        assert!(robust_baseline(&[100.0; 20], 0.001, 0.0).unwrap().scale > 0.0);
        let b = robust_baseline(&[0.0; 20], 0.01, 0.5).unwrap();
        assert_eq!(b.scale, 0.5);
    }

    #[test]
    fn parses_adjacency_and_edge_list() {
        let g = Graph::from_csv(",a,b\na,0,1\nb,0,0\n").unwrap();
        assert_eq!(g.callees(g.id("a").unwrap()), &[g.id("b").unwrap()]);
        let g = Graph::from_csv("from,to\nx,y\n").unwrap();
        assert_eq!(g.callers(g.id("y").unwrap()), &[g.id("x").unwrap()]);
    }

    #[test]
    fn parses_three_row_header() {
        let t = MetricTable::from_csv("microservice,a,b\nmetric,latency,availability\nstatistic,Average,Average\nunix_timestamp,,\n1.0,0.5,\n2.0,0.6,100\n", "latency").unwrap();
        assert_eq!(t.rows(), 2);
        assert_eq!(
            t.series("a", "latency", Some("Average")).unwrap(),
            &[0.5, 0.6]
        );
        assert!(t.series("b", "availability", None).unwrap()[0].is_nan());
        let t = MetricTable::from_csv("timestamp,a,b\n1,2,3\n", "latency").unwrap();
        assert_eq!(t.series("b", "latency", None).unwrap(), &[3.0]);
    }

    #[test]
    fn unknown_target_is_an_error() {
        let e = rank_root_causes(
            &chain(),
            &normal(),
            &normal(),
            "nope",
            "latency",
            None,
            &RcaConfig::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not in the dependency graph"));
    }
}
