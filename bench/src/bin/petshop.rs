//! PetShop root-cause benchmark: top-1 / top-3 recall per scenario and target metric, and
//! specificity on normal data (the data set's own `rca_task.evaluate_specificity` protocol).
//!
//! Usage: petshop [--data DIR] [--quick] [--verbose]
//! Scores every `<scenario>/<split>/issue_N/{metrics.csv,target.json}` under DIR, whatever
//! the split folders are called. A scenario's normal period is `<scenario>/noissue/metrics.csv`;
//! a scenario without one (the temporal scenarios) uses the normal periods of the other
//! scenarios under DIR pooled together (same application, other traffic levels).

use sitrep_analytics::rca::{Graph, MetricTable, RcaConfig, rank_root_causes};
use sitrep_bench::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const USAGE: &str = "petshop [--data DIR] [--quick] [--verbose]\n  DIR: folder of scenarios (default: shared/data/petshop)";

struct Issue {
    split: String,
    name: String,
    metrics: MetricTable,
    target: String,
    metric: String,
    stat: String,
    root_cause: String,
}

struct Scenario {
    name: String,
    graph: Graph,
    normal: Option<MetricTable>,
    issues: Vec<Issue>,
}

fn load_table(p: &Path) -> MetricTable {
    MetricTable::from_csv(&read(p), "latency").unwrap_or_else(|e| {
        eprintln!("error: {}: {e}", p.display());
        std::process::exit(1)
    })
}

fn load_scenario(dir: &Path, quick: bool) -> Option<Scenario> {
    let gp = dir.join("graph.csv");
    if !gp.is_file() {
        return None;
    }
    let graph = Graph::from_csv(&read(&gp))
        .unwrap_or_else(|e| die(USAGE, &format!("{}: {e}", gp.display())));
    let np = dir.join("noissue/metrics.csv");
    let normal = np.is_file().then(|| load_table(&np));
    let mut issues = Vec::new();
    for split in subdirs(dir) {
        if name(&split) == "noissue" {
            continue;
        }
        let mut dirs: Vec<PathBuf> = subdirs(&split)
            .into_iter()
            .filter(|d| d.join("target.json").is_file() && d.join("metrics.csv").is_file())
            .collect();
        dirs.sort_by_key(|d| {
            let n = name(d);
            (
                n.trim_start_matches(|c: char| !c.is_ascii_digit())
                    .parse::<u64>()
                    .unwrap_or(u64::MAX),
                n,
            )
        });
        if quick {
            dirs.truncate(2);
        }
        for d in dirs {
            let t: serde_json::Value = serde_json::from_str(&read(&d.join("target.json")))
                .unwrap_or_else(|e| die(USAGE, &format!("{}: {e}", d.display())));
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            issues.push(Issue {
                split: name(&split),
                name: name(&d),
                metrics: load_table(&d.join("metrics.csv")),
                target: s(&t["target"]["node"]),
                metric: s(&t["target"]["metric"]),
                stat: t["target"]["agg"].as_str().unwrap_or("Average").to_string(),
                root_cause: s(&t["root_cause"]["node"]),
            });
        }
    }
    Some(Scenario {
        name: name(dir),
        graph,
        normal,
        issues,
    })
}

fn pct(k: usize, n: usize) -> String {
    if n == 0 {
        "-".into()
    } else {
        format!("{:.2}", k as f64 / n as f64)
    }
}

fn main() {
    let args = Args::parse(USAGE);
    let verbose = args.rest.iter().any(|(k, _)| k == "--verbose");
    let dir = args.data_dir("petshop");
    let scenarios: Vec<Scenario> = subdirs(&dir)
        .iter()
        .filter_map(|d| load_scenario(d, args.quick))
        .collect();
    if scenarios.is_empty() {
        die(
            USAGE,
            &format!("no <scenario>/graph.csv under {}", dir.display()),
        );
    }
    let pooled = MetricTable::concat(
        &scenarios
            .iter()
            .filter_map(|s| s.normal.as_ref())
            .collect::<Vec<_>>(),
    );
    let cfg = RcaConfig::default();
    // (scenario, metric) -> (n, top1, top3)
    let mut agg: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
    let (mut n_all, mut t1_all, mut t3_all) = (0, 0, 0);
    let t0 = std::time::Instant::now();
    let mut analyses = 0usize;
    for s in &scenarios {
        let normal = s.normal.as_ref().unwrap_or(&pooled);
        for is in &s.issues {
            let r = rank_root_causes(
                &s.graph,
                normal,
                &is.metrics,
                &is.target,
                &is.metric,
                Some(&is.stat),
                &cfg,
            );
            analyses += 1;
            let ranked: Vec<String> = match &r {
                Ok(r) => r.root_causes.iter().map(|c| c.node.clone()).collect(),
                Err(e) => {
                    eprintln!("warning: {}/{}/{}: {e}", s.name, is.split, is.name);
                    Vec::new()
                }
            };
            let top1 = ranked.first() == Some(&is.root_cause);
            let top3 = ranked.iter().take(3).any(|n| n == &is.root_cause);
            if verbose {
                eprintln!(
                    "{}/{}/{} {} truth={} top1={} ranked={:?}",
                    s.name,
                    is.split,
                    is.name,
                    is.metric,
                    is.root_cause,
                    top1,
                    r.as_ref()
                        .map(|r| r
                            .root_causes
                            .iter()
                            .take(4)
                            .map(|c| (c.node.as_str(), (c.score * 100.0).round() / 100.0))
                            .collect::<Vec<_>>())
                        .unwrap_or_default()
                );
            }
            let e = agg.entry((s.name.clone(), is.metric.clone())).or_default();
            e.0 += 1;
            e.1 += top1 as usize;
            e.2 += top3 as usize;
            n_all += 1;
            t1_all += top1 as usize;
            t3_all += top3 as usize;
        }
    }
    let elapsed = t0.elapsed();
    let mut rows: Vec<Vec<String>> = agg
        .iter()
        .map(|((s, m), (n, a, b))| {
            vec![
                s.clone(),
                m.clone(),
                n.to_string(),
                pct(*a, *n),
                pct(*b, *n),
            ]
        })
        .collect();
    rows.push(vec![
        "ALL".into(),
        "".into(),
        n_all.to_string(),
        pct(t1_all, n_all),
        pct(t3_all, n_all),
    ]);
    println!(
        "PetShop root-cause ranking ({} issues under {}), one configuration: {:?}",
        n_all,
        dir.display(),
        cfg
    );
    print_table(&["scenario", "metric", "issues", "top-1", "top-3"], &rows);
    let missing: Vec<&str> = scenarios
        .iter()
        .filter(|s| s.normal.is_none())
        .map(|s| s.name.as_str())
        .collect();
    if !missing.is_empty() {
        println!(
            "no noissue/ period for {:?}: used the pooled normal periods of the other scenarios",
            missing
        );
    }
    println!("reference: data set authors' baseline top-1 0.71, top-3 0.87 (all 68 issues)");

    // Specificity: rca_task.evaluate_specificity protocol on each scenario's normal period.
    let mut srows = Vec::new();
    let mut spec_all = Vec::new();
    for s in &scenarios {
        let Some(normal) = &s.normal else { continue };
        let mut targets: Vec<(String, String, String)> = s
            .issues
            .iter()
            .map(|i| (i.target.clone(), i.metric.clone(), i.stat.clone()))
            .collect();
        targets.sort();
        targets.dedup();
        let n = normal.rows();
        let step = ((n as f64 * 0.1) as usize).max(1);
        for (t, m, st) in targets {
            let mut ok = Vec::new();
            let mut split = n / 2;
            while split < n.saturating_sub(3) {
                let r = rank_root_causes(
                    &s.graph,
                    &normal.slice(0, split),
                    &normal.slice(split, n),
                    &t,
                    &m,
                    Some(&st),
                    &cfg,
                );
                analyses += 1;
                ok.push(r.map(|r| r.root_causes.is_empty()).unwrap_or(true));
                split += step;
            }
            let spec = ok.iter().filter(|&&b| b).count() as f64 / ok.len().max(1) as f64;
            spec_all.push(spec);
            srows.push(vec![
                s.name.clone(),
                format!("{t}/{m}"),
                ok.len().to_string(),
                format!("{spec:.2}"),
            ]);
        }
    }
    if !srows.is_empty() {
        srows.push(vec![
            "MEAN".into(),
            "".into(),
            "".into(),
            format!("{:.2}", mean(&spec_all)),
        ]);
        println!();
        print_table(&["scenario", "target", "splits", "specificity"], &srows);
    }
    println!(
        "{} analyses; issue ranking took {:.1} ms in total",
        analyses,
        elapsed.as_secs_f64() * 1e3
    );
}
