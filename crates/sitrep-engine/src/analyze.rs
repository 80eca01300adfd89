//! Analytics on a user's own data (`analyze anomalies|rca|logs`): the inputs are texts the edge
//! read, the outputs plain views. No store, no runner: these work on files alone.

use crate::{EngineError, Result};
use serde::Serialize;
use sitrep_analytics::{anomaly, csv, logs, rca};

pub use sitrep_analytics::anomaly::AnomalyPoint;
pub use sitrep_analytics::logs::LogSummary;
pub use sitrep_analytics::rca::RcaResult;

fn invalid(what: &str) -> impl Fn(sitrep_analytics::AnalyticsError) -> EngineError + '_ {
    move |e| EngineError::Invalid(format!("{what}: {e}"))
}

/// A scored `timestamp,value` series.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyView {
    pub points: usize,
    pub season: usize,
    /// Points only learnt from, never scored high.
    pub warmup: usize,
    pub min_score: f64,
    pub anomalies: Vec<AnomalyPoint>,
    /// Every row's score, when asked for.
    #[serde(skip)]
    pub rows: Vec<(String, f64, f64)>,
}

pub struct AnomalyOptions {
    pub min_score: f64,
    pub top: usize,
    /// Season length in points (default: a day, from the timestamps; 0 = none).
    pub season: Option<usize>,
    pub every_row: bool,
}

/// Scores a `timestamp,value` CSV (`name` names it in errors) with the online detector.
pub fn anomalies(name: &str, text: &str, o: &AnomalyOptions) -> Result<AnomalyView> {
    let s = csv::parse_series(text).map_err(invalid(&format!(
        "{name}: expected a `timestamp,value` CSV"
    )))?;
    let cfg = anomaly::DetectorConfig {
        season: o
            .season
            .unwrap_or_else(|| anomaly::daily_season(&s.timestamps)),
        ..Default::default()
    };
    let scores = anomaly::score_series(&s.values, &cfg);
    let anomalies = anomaly::top_anomalies(&s.timestamps, &s.values, &scores, o.min_score, o.top);
    let rows = if o.every_row {
        (0..scores.len())
            .map(|i| (s.timestamps[i].clone(), s.values[i], scores[i]))
            .collect()
    } else {
        vec![]
    };
    Ok(AnomalyView {
        points: s.values.len(),
        season: cfg.season,
        warmup: cfg.warmup,
        min_score: o.min_score,
        anomalies,
        rows,
    })
}

/// The inputs of a root-cause ranking, as the texts of their CSV files (name, text).
pub struct RcaInput<'a> {
    pub graph: (&'a str, &'a str),
    pub normal: (&'a str, &'a str),
    pub abnormal: (&'a str, &'a str),
    pub target: &'a str,
    pub metric: &'a str,
    pub statistic: Option<&'a str>,
}

/// Ranks root-cause candidates of an SLO violation over a dependency graph.
pub fn rca(i: &RcaInput<'_>) -> Result<RcaResult> {
    let g = rca::Graph::from_csv(i.graph.1).map_err(invalid(&format!(
        "{}: expected an adjacency matrix or a from,to edge list",
        i.graph.0
    )))?;
    let n = rca::MetricTable::from_csv(i.normal.1, i.metric)
        .map_err(invalid(&format!("reading {}", i.normal.0)))?;
    let a = rca::MetricTable::from_csv(i.abnormal.1, i.metric)
        .map_err(invalid(&format!("reading {}", i.abnormal.0)))?;
    rca::rank_root_causes(
        &g,
        &n,
        &a,
        i.target,
        i.metric,
        i.statistic,
        &rca::RcaConfig::default(),
    )
    .map_err(invalid("ranking"))
}

/// Mines templates from log lines.
pub fn log_templates(text: &str, sim_threshold: Option<f64>) -> Result<LogSummary> {
    let mut cfg = logs::MinerConfig::default();
    if let Some(st) = sim_threshold {
        if !(0.0..=1.0).contains(&st) {
            return Err(EngineError::Invalid(
                "the similarity threshold must be between 0 and 1".into(),
            ));
        }
        cfg.sim_threshold = st;
    }
    Ok(logs::summarize(text, cfg))
}
