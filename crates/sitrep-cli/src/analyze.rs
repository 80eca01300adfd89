//! `sitrep analyze ...`: run the analytics library on the user's own files.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use sitrep_analytics::{anomaly, csv, logs, rca};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum AnalyzeCmd {
    /// Score a `timestamp,value` CSV with the online anomaly detector.
    Anomalies {
        /// CSV file with a header; the `value` column (or the last column) is scored.
        file: PathBuf,
        /// Report points scoring at least this (0..1).
        #[arg(long, default_value_t = 0.5)]
        min_score: f64,
        /// Show at most this many points.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Season length in points (default: one day, inferred from the timestamps; 0 = none).
        #[arg(long)]
        season: Option<usize>,
        /// Print every row's score as CSV instead of the top points.
        #[arg(long, conflicts_with = "json")]
        all: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Rank root-cause candidates of an SLO violation over a dependency graph.
    Rca {
        /// Graph CSV: adjacency matrix (row calls column) or an edge list `from,to`.
        #[arg(long)]
        graph: PathBuf,
        /// Metrics of a normal period.
        #[arg(long)]
        normal: PathBuf,
        /// Metrics during the violation.
        #[arg(long)]
        abnormal: PathBuf,
        /// The node whose SLO is violated.
        #[arg(long)]
        target: String,
        /// The violated metric (e.g. latency, availability).
        #[arg(long)]
        metric: String,
        /// Statistic column to use when the metrics have several (e.g. Average, p99).
        #[arg(long)]
        statistic: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Mine templates from a log file (or `-` for stdin).
    Logs {
        file: PathBuf,
        /// Similarity threshold for joining a template (0..1).
        #[arg(long)]
        sim_threshold: Option<f64>,
        #[arg(long)]
        json: bool,
    },
}

fn read(p: &Path) -> Result<String> {
    if p.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading stdin")?;
        return Ok(s);
    }
    let b = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

pub fn run(cmd: AnalyzeCmd) -> Result<()> {
    match cmd {
        AnalyzeCmd::Anomalies {
            file,
            min_score,
            top,
            season,
            all,
            json,
        } => {
            let s = csv::parse_series(&read(&file)?)
                .with_context(|| format!("{}: expected a `timestamp,value` CSV", file.display()))?;
            let cfg = anomaly::DetectorConfig {
                season: season.unwrap_or_else(|| anomaly::daily_season(&s.timestamps)),
                ..Default::default()
            };
            let scores = anomaly::score_series(&s.values, &cfg);
            if all {
                println!("timestamp,value,anomaly_score");
                for i in 0..scores.len() {
                    println!("{},{},{:.6}", s.timestamps[i], s.values[i], scores[i]);
                }
                return Ok(());
            }
            let pts = anomaly::top_anomalies(&s.timestamps, &s.values, &scores, min_score, top);
            if json {
                let v = serde_json::json!({"points": s.values.len(), "season": cfg.season, "min_score": min_score, "anomalies": pts});
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{} points, season {} (first {} points only learn); {} at score >= {min_score}:",
                    s.values.len(),
                    cfg.season,
                    cfg.warmup,
                    pts.len()
                );
                println!(
                    "{:>8}  {:<26} {:>14}  {:>6}",
                    "row", "timestamp", "value", "score"
                );
                for p in &pts {
                    println!(
                        "{:>8}  {:<26} {:>14.6}  {:>6.3}",
                        p.index + 2,
                        p.timestamp,
                        p.value,
                        p.score
                    );
                }
            }
        }
        AnalyzeCmd::Rca {
            graph,
            normal,
            abnormal,
            target,
            metric,
            statistic,
            json,
        } => {
            let g = rca::Graph::from_csv(&read(&graph)?).with_context(|| {
                format!(
                    "{}: expected an adjacency matrix or a from,to edge list",
                    graph.display()
                )
            })?;
            let n = rca::MetricTable::from_csv(&read(&normal)?, &metric)
                .with_context(|| format!("reading {}", normal.display()))?;
            let a = rca::MetricTable::from_csv(&read(&abnormal)?, &metric)
                .with_context(|| format!("reading {}", abnormal.display()))?;
            let r = rca::rank_root_causes(
                &g,
                &n,
                &a,
                &target,
                &metric,
                statistic.as_deref(),
                &rca::RcaConfig::default(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else if r.trigger_row.is_none() {
                println!(
                    "{target}/{metric} does not deviate from the normal period in {}: no root cause to rank",
                    abnormal.display()
                );
            } else if r.root_causes.is_empty() {
                println!(
                    "{target}/{metric} deviates (row {}), but no node, the target included, is anomalous enough to blame",
                    r.trigger_row.unwrap() + 1
                );
            } else {
                println!(
                    "{target}/{metric}: violation from abnormal row {}; ranked root-cause candidates:",
                    r.trigger_row.unwrap() + 1
                );
                println!(
                    "{:>4}  {:<50} {:>7} {:>9} {:>9}  explains",
                    "rank", "node", "score", "anomaly", "change"
                );
                for (i, c) in r.root_causes.iter().enumerate() {
                    println!(
                        "{:>4}  {:<50} {:>7.2} {:>9.1} {:>+8.0}%  {}",
                        i + 1,
                        c.node,
                        c.score,
                        c.anomaly,
                        c.relative_change * 100.0,
                        c.explains.join(", ")
                    );
                }
            }
        }
        AnalyzeCmd::Logs {
            file,
            sim_threshold,
            json,
        } => {
            let mut cfg = logs::MinerConfig::default();
            if let Some(st) = sim_threshold {
                if !(0.0..=1.0).contains(&st) {
                    bail!("--sim-threshold must be between 0 and 1");
                }
                cfg.sim_threshold = st;
            }
            let s = logs::summarize(&read(&file)?, cfg);
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                let text = s.render_text();
                print!("{text}");
                println!(
                    "-- {} lines -> {} templates; {} chars -> {} chars ({:.1}x smaller)",
                    s.lines,
                    s.templates.len(),
                    s.input_chars,
                    text.chars().count(),
                    s.reduction_ratio()
                );
            }
        }
    }
    Ok(())
}
