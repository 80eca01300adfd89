//! `sitrep analyze ...`: run the analytics library on the user's own files.

use crate::out::{outln, print_json};
use anyhow::{Context, Result};
use clap::Subcommand;
use sitrep_engine::analyze;
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
            let name = file.display().to_string();
            let v = analyze::anomalies(
                &name,
                &read(&file)?,
                &analyze::AnomalyOptions {
                    min_score,
                    top,
                    season,
                    every_row: all,
                },
            )?;
            if all {
                outln!("timestamp,value,anomaly_score")?;
                for (t, v, s) in &v.rows {
                    outln!("{t},{v},{s:.6}")?;
                }
            } else if json {
                print_json(&v)?;
            } else {
                outln!(
                    "{} points, season {} (first {} points only learn); {} at score >= {min_score}:",
                    v.points,
                    v.season,
                    v.warmup,
                    v.anomalies.len()
                )?;
                outln!(
                    "{:>8}  {:<26} {:>14}  {:>6}",
                    "row",
                    "timestamp",
                    "value",
                    "score"
                )?;
                for p in &v.anomalies {
                    outln!(
                        "{:>8}  {:<26} {:>14.6}  {:>6.3}",
                        p.index + 2,
                        p.timestamp,
                        p.value,
                        p.score
                    )?;
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
            let texts = [read(&graph)?, read(&normal)?, read(&abnormal)?];
            let names = [&graph, &normal, &abnormal].map(|p| p.display().to_string());
            let r = analyze::rca(&analyze::RcaInput {
                graph: (&names[0], &texts[0]),
                normal: (&names[1], &texts[1]),
                abnormal: (&names[2], &texts[2]),
                target: &target,
                metric: &metric,
                statistic: statistic.as_deref(),
            })?;
            if json {
                print_json(&r)?;
            } else if r.trigger_row.is_none() {
                outln!(
                    "{target}/{metric} does not deviate from the normal period in {}: no root cause to rank",
                    abnormal.display()
                )?;
            } else if r.root_causes.is_empty() {
                outln!(
                    "{target}/{metric} deviates (row {}), but no node, the target included, is anomalous enough to blame",
                    r.trigger_row.unwrap_or(0) + 1
                )?;
            } else {
                outln!(
                    "{target}/{metric}: violation from abnormal row {}; ranked root-cause candidates:",
                    r.trigger_row.unwrap_or(0) + 1
                )?;
                outln!(
                    "{:>4}  {:<50} {:>7} {:>9} {:>9}  explains",
                    "rank",
                    "node",
                    "score",
                    "anomaly",
                    "change"
                )?;
                for (i, c) in r.root_causes.iter().enumerate() {
                    outln!(
                        "{:>4}  {:<50} {:>7.2} {:>9.1} {:>+8.0}%  {}",
                        i + 1,
                        c.node,
                        c.score,
                        c.anomaly,
                        c.relative_change * 100.0,
                        c.explains.join(", ")
                    )?;
                }
            }
        }
        AnalyzeCmd::Logs {
            file,
            sim_threshold,
            json,
        } => {
            let s = analyze::log_templates(&read(&file)?, sim_threshold)?;
            if json {
                print_json(&s)?;
            } else {
                let text = s.render_text();
                crate::out::write_out(format_args!("{text}"))?;
                outln!(
                    "-- {} lines -> {} templates; {} chars -> {} chars ({:.1}x smaller)",
                    s.lines,
                    s.templates.len(),
                    s.input_chars,
                    text.chars().count(),
                    s.reduction_ratio()
                )?;
            }
        }
    }
    Ok(())
}
