//! NAB benchmark: runs sitrep's online detector over every data file, scores it with the
//! Rust port of NAB's scorer on the three profiles, and checks the scorer against the
//! published results of the stored detectors.
//!
//! Usage: nab [--data DIR] [--quick] [--detector NAME]
//! DIR = a NAB checkout layout: data/<category>/<file>.csv, labels/combined_windows.json,
//! and optionally results/<detector>/... + results/final_results.json for validation.
//! `--detector NAME` scores a stored detector's results instead of running ours.
//! `--variant` picks our detector: `sitrep` (default, `anomaly::Detector`), `cad` (online
//! CAD OSE port, `cad`), `cad+sitrep` (max of both), `cad-file-range` (CAD with each file's
//! min/max and rest = probation/5, exactly the NAB ContextOSE wrapper: it reads the whole
//! file first, so it is a fidelity check of the port, not an online detector).
//! `cad-multi` (experiment, worse): online CADs at the margins of `CAD_MARGINS`, combined by
//! `CAD_COMBINE` = mean|max|min|geo. `NAB_PER_FILE=1` prints per-file raw scores,
//! `NAB_NO_TPUT=1` skips the throughput loop, `NAB_DUMP=SUBSTR` (with `NAB_DUMP_THR`) prints
//! the windows and the detections of matching files. Detector knobs for exploration (the
//! reported figures use the defaults): `NAB_ERROR_ALPHA`, `NAB_REST`, `NAB_EXTREME`
//! (0 = off), `NAB_TRANSITIONS=0` (off), `NAB_T_BITS`, `NAB_T_LEARN`, `NAB_T_MARGIN`, ...

use sitrep_analytics::anomaly::{DetectorConfig, daily_season, score_series};
use sitrep_analytics::cad::{self, CadConfig, Range};
use sitrep_analytics::csv::parse_series;
use sitrep_analytics::nab::{self, PROFILES, ScoredFile};
use sitrep_bench::common::*;
use std::collections::BTreeMap;
use std::time::Instant;

const USAGE: &str = "nab [--data DIR] [--quick] [--detector NAME] [--variant sitrep|cad|cad+sitrep|cad-file-range|cad-multi]\n  DIR: NAB folder (default: shared/data/nab)";

fn main() {
    let args = Args::parse(USAGE);
    let dir = args.data_dir("nab");
    let labels = nab::parse_windows_json(&read(&dir.join("labels/combined_windows.json")))
        .unwrap_or_else(|e| die(USAGE, &e.to_string()));
    let mut keys: Vec<&String> = labels.keys().collect();
    keys.sort();
    if args.quick {
        // one file per category
        let mut seen = std::collections::HashSet::new();
        keys.retain(|k| seen.insert(k.split('/').next().unwrap_or("").to_string()));
    }
    let total_windows: usize = keys.iter().map(|k| labels[*k].len()).sum();
    let stored = args.opt("--detector").map(str::to_string);
    let cfg = detector_config();
    let variant = args.opt("--variant").unwrap_or("sitrep").to_string();
    if !["sitrep", "cad", "cad+sitrep", "cad-file-range", "cad-multi"].contains(&variant.as_str()) {
        die(USAGE, &format!("unknown variant {variant}"));
    }

    let mut files = Vec::new();
    let mut points = 0usize;
    let mut detect_secs = 0.0;
    for key in &keys {
        let (category, fname) = key.split_once('/').unwrap_or(("", key));
        let series = parse_series(&read(&dir.join("data").join(key)))
            .unwrap_or_else(|e| die(USAGE, &format!("{key}: {e}")));
        let scores = match &stored {
            Some(det) => {
                let p = dir
                    .join("results")
                    .join(det)
                    .join(category)
                    .join(format!("{det}_{fname}"));
                nab::parse_results_scores(&read(&p))
                    .unwrap_or_else(|e| die(USAGE, &format!("{}: {e}", p.display())))
                    .1
            }
            None => {
                let t = Instant::now();
                let mut c = cfg.clone();
                if std::env::var("NAB_SEASON").is_err() {
                    c.season = daily_season(&series.timestamps);
                }
                let s = run_variant(&variant, &series.values, &c);
                detect_secs += t.elapsed().as_secs_f64();
                s
            }
        };
        points += series.values.len();
        let windows = nab::windows_to_rows(&series.timestamps, &labels[*key])
            .unwrap_or_else(|e| die(USAGE, &format!("{key}: {e}")));
        if let Ok(d) = std::env::var("NAB_DUMP") {
            if key.contains(&d) {
                let thr: f64 = std::env::var("NAB_DUMP_THR")
                    .map(|v| v.parse().unwrap())
                    .unwrap_or(0.6);
                println!("windows {windows:?} n {}", scores.len());
                for (i, s) in scores.iter().enumerate() {
                    if *s >= thr {
                        println!("det {i} value {} score {s:.3}", series.values[i]);
                    }
                }
            }
        }
        files.push(ScoredFile {
            name: key.to_string(),
            scores,
            windows,
        });
    }

    let name = stored.clone().unwrap_or_else(|| variant.clone());
    println!(
        "NAB: detector '{name}', {} files, {} points, {} windows{}",
        files.len(),
        points,
        total_windows,
        if args.quick { " (quick subset)" } else { "" }
    );
    if stored.is_none() {
        println!(
            "config: {cfg:?} (season: one day of points, inferred per file from its timestamps)"
        );
        if variant != "sitrep" {
            println!(
                "cad config: {:?}{}",
                cad_config(),
                if variant == "cad-file-range" {
                    " with each file's min/max and rest = probation/5 (NAB wrapper; NOT online)"
                } else {
                    ""
                }
            );
        }
    }
    let results: Vec<_> = PROFILES
        .iter()
        .map(|p| nab::score_corpus(&files, p, Some(total_windows)))
        .collect();

    // Per-category raw scores (standard profile) and totals.
    let mut by_cat: BTreeMap<String, (usize, [f64; 3])> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let cat = f.name.split('/').next().unwrap_or("").to_string();
        let e = by_cat.entry(cat).or_default();
        e.0 += 1;
        for (k, r) in results.iter().enumerate() {
            e.1[k] += r.per_file[i];
        }
    }
    let mut rows: Vec<Vec<String>> = by_cat
        .iter()
        .map(|(c, (n, s))| {
            vec![
                c.clone(),
                n.to_string(),
                format!("{:.2}", s[0]),
                format!("{:.2}", s[1]),
                format!("{:.2}", s[2]),
            ]
        })
        .collect();
    rows.push(vec![
        "raw total".into(),
        files.len().to_string(),
        format!("{:.2}", results[0].raw),
        format!("{:.2}", results[1].raw),
        format!("{:.2}", results[2].raw),
    ]);
    rows.push(vec![
        "threshold".into(),
        String::new(),
        format!("{:.4}", results[0].threshold),
        format!("{:.4}", results[1].threshold),
        format!("{:.4}", results[2].threshold),
    ]);
    rows.push(vec![
        "NORMALISED".into(),
        String::new(),
        format!("{:.2}", results[0].normalized),
        format!("{:.2}", results[1].normalized),
        format!("{:.2}", results[2].normalized),
    ]);
    println!("raw NAB score per category (sum over files) and normalised totals:");
    print_table(
        &["category", "files", "standard", "low_FP", "low_FN"],
        &rows,
    );
    let per_file_std: Vec<f64> = results[0].per_file.clone();
    {
        // detected windows / misses / false positives at the standard threshold
        let thr = results[0].threshold;
        let (mut tp, mut fnn, mut fp) = (0, 0, 0);
        for f in &files {
            let prob = nab::probationary_length(f.scores.len());
            for &(a, b) in &f.windows {
                if f.scores[a..=b.min(f.scores.len() - 1)]
                    .iter()
                    .any(|&s| s >= thr)
                {
                    tp += 1
                } else {
                    fnn += 1
                }
            }
            fp += f
                .scores
                .iter()
                .enumerate()
                .filter(|&(i, &s)| {
                    i >= prob && s >= thr && !f.windows.iter().any(|&(a, b)| i >= a && i <= b)
                })
                .count();
        }
        println!(
            "standard threshold {thr:.4}: windows detected {tp}, missed {fnn}, false positives {fp}"
        );
    }
    if std::env::var("NAB_PER_FILE").is_ok() {
        for (f, s) in files.iter().zip(&per_file_std) {
            println!("file {:.3} {}", s, f.name);
        }
    }
    println!(
        "per-file raw score (standard): mean {:.3}, median {:.3}",
        mean(&per_file_std),
        median(&per_file_std)
    );
    println!(
        "reference (standard / low_FP / low_FN): ARTime 74.9/65.2/80.4, Numenta HTM 70.1/63.1/74.3, CAD OSE 69.9/67.0/73.2, Windowed Gaussian 39.6/20.9/47.4"
    );

    if let (Some(det), false) = (&stored, args.quick) {
        let fr = dir.join("results/final_results.json");
        if fr.is_file() {
            let v: serde_json::Value = serde_json::from_str(&read(&fr)).unwrap_or_default();
            for (p, r) in PROFILES.iter().zip(&results) {
                if let Some(want) = v[det.as_str()][p.name].as_f64() {
                    println!(
                        "scorer check {det}/{}: ours {:.3}, published {:.3}, delta {:+.4}",
                        p.name,
                        r.normalized,
                        want,
                        r.normalized - want
                    );
                }
            }
        }
    }
    if stored.is_none() && std::env::var("NAB_NO_TPUT").is_err() {
        // Throughput: re-run the detector over all values until >= 1 s (0.2 s quick).
        let all: Vec<(Vec<f64>, DetectorConfig)> = keys
            .iter()
            .map(|k| {
                let s = parse_series(&read(&dir.join("data").join(k))).unwrap();
                let mut c = cfg.clone();
                c.season = daily_season(&s.timestamps);
                (s.values, c)
            })
            .collect();
        let budget = if args.quick { 0.2 } else { 1.0 };
        let t = Instant::now();
        let mut n = 0usize;
        while t.elapsed().as_secs_f64() < budget {
            for (v, c) in &all {
                std::hint::black_box(run_variant(&variant, v, c));
                n += v.len();
            }
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "throughput: {:.2} M points/s (single thread; first pass {:.0} ms for {points} points)",
            n as f64 / secs / 1e6,
            detect_secs * 1e3
        );
    }
}

fn detector_config() -> DetectorConfig {
    // Exploration overrides via env (the reported figures use the defaults).
    let mut c = DetectorConfig::default();
    let get = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("{k}")))
    };
    if let Some(v) = get("NAB_LEVEL_ALPHA") {
        c.level_alpha = v;
    }
    if let Some(v) = get("NAB_ERROR_ALPHA") {
        c.error_alpha = v;
    }
    if let Some(v) = get("NAB_SHORT") {
        c.short_window = v as usize;
    }
    if let Some(v) = get("NAB_SEASON") {
        c.season = v as usize;
    }
    if let Some(v) = get("NAB_ALERT") {
        c.alert_level = v;
    }
    if let Some(v) = get("NAB_REST") {
        c.rest = v as usize;
    }
    if let Some(v) = get("NAB_WARMUP") {
        c.warmup = v as usize;
    }
    if let Some(v) = get("NAB_EXTREME") {
        c.extreme_tolerance = v;
    }
    if get("NAB_TRANSITIONS") == Some(0.0) {
        c.transitions = None;
    }
    if let Some(t) = &mut c.transitions {
        if let Some(v) = get("NAB_T_MARGIN") {
            t.margin = v;
        }
        if let Some(v) = get("NAB_T_BITS") {
            t.bits = v as u32;
        }
        if let Some(v) = get("NAB_T_LEARN") {
            t.learn = v as usize;
        }
    }
    c
}

fn cad_config() -> CadConfig {
    // Exploration overrides via env (the reported figures use the defaults).
    let mut c = CadConfig::default();
    let get = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("{k}")))
    };
    if let Range::Online {
        margin,
        learn,
        expand,
        expand_margin,
    } = &mut c.range
    {
        if let Some(v) = get("CAD_EXP_MARGIN") {
            *expand_margin = v;
        }
        if let Some(v) = get("CAD_MARGIN") {
            *margin = v;
        }
        if let Some(v) = get("CAD_LEARN") {
            *learn = v as usize;
        }
        if let Some(v) = get("CAD_EXPAND") {
            *expand = v > 0.0;
        }
    }
    if let Some(v) = get("CAD_REST") {
        c.rest = v as usize;
    }
    if let Some(v) = get("CAD_MAXCTX") {
        c.max_contexts = v as usize;
    }
    if let Some(v) = get("CAD_BITS") {
        c.bits = v as u32;
    }
    if let Some(v) = get("CAD_THR") {
        c.base_threshold = v;
    }
    c
}

fn run_variant(variant: &str, values: &[f64], c: &DetectorConfig) -> Vec<f64> {
    match variant {
        "cad" => cad::score_series(values, &cad_config()),
        "cad+sitrep" => cad::score_series_combined(values, &cad_config(), c),
        "cad-multi" => {
            // experimental: several online CADs at different range margins, combined
            let margins: Vec<f64> = std::env::var("CAD_MARGINS")
                .unwrap_or("0.5,1,3".into())
                .split(',')
                .map(|m| m.parse().unwrap())
                .collect();
            let mode = std::env::var("CAD_COMBINE").unwrap_or("mean".into());
            let runs: Vec<Vec<f64>> = margins
                .iter()
                .map(|&m| {
                    let mut cc = cad_config();
                    if let Range::Online { margin, .. } = &mut cc.range {
                        *margin = m;
                    }
                    cad::score_series(values, &cc)
                })
                .collect();
            (0..values.len())
                .map(|i| {
                    let it = runs.iter().map(|r| r[i]);
                    match mode.as_str() {
                        "max" => it.fold(0.0, f64::max),
                        "min" => it.fold(1.0, f64::min),
                        "geo" => it
                            .map(|x| x.max(1e-3).ln())
                            .sum::<f64>()
                            .exp()
                            .powf(1.0 / runs.len() as f64),
                        _ => it.sum::<f64>() / runs.len() as f64,
                    }
                })
                .collect()
        }
        "cad-file-range" => {
            let min = values
                .iter()
                .cloned()
                .filter(|x| x.is_finite())
                .fold(f64::INFINITY, f64::min);
            let max = values
                .iter()
                .cloned()
                .filter(|x| x.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
            let prob = (nab::PROBATION_PERCENT * values.len() as f64)
                .floor()
                .min(750.0);
            cad::score_series(
                values,
                &CadConfig {
                    range: Range::Fixed { min, max },
                    rest: (prob / 5.0) as usize,
                    ..cad_config()
                },
            )
        }
        _ => score_series(values, c),
    }
}
