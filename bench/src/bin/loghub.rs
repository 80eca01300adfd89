//! LogHub-2k template-mining benchmark: grouping accuracy (GA) and parsing accuracy (PA)
//! per system with ONE shared configuration, reduction ratio and throughput.
//!
//! Usage: loghub [--data DIR] [--quick]
//! DIR holds one folder per system, each with a `*_structured.csv`
//! (`...,Content,EventId,EventTemplate`) and optionally the raw `*.log`.

use sitrep_analytics::csv::parse_records;
use sitrep_analytics::logs::{MinerConfig, TemplateMiner, grouping_accuracy, parsing_accuracy};
use sitrep_bench::common::*;
use std::path::Path;
use std::time::Instant;

const USAGE: &str = "loghub [--data DIR] [--quick]\n  DIR: folder with one <System>/ folder per system (default: shared/data/loghub-2k)";

struct Case {
    system: String,
    contents: Vec<String>,
    events: Vec<String>,
    templates: Vec<String>,
    raw: Option<Vec<String>>,
}

fn find_file(dir: &Path, suffix: &str) -> Option<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v.into_iter().next()
}

fn load(dir: &Path) -> Option<Case> {
    let structured = find_file(dir, "_structured.csv")?;
    let recs = parse_records(&read(&structured)).unwrap_or_else(|e| {
        eprintln!("error: {}: {e}", structured.display());
        std::process::exit(1)
    });
    let header = &recs[0];
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| die(USAGE, &format!("{}: no column {n}", structured.display())))
    };
    let (c, e, t) = (col("Content"), col("EventId"), col("EventTemplate"));
    let rows = &recs[1..];
    let raw = find_file(dir, ".log")
        .map(|p| read(&p).lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|r| r.len() == rows.len());
    Some(Case {
        system: name(dir),
        contents: rows.iter().map(|r| r[c].clone()).collect(),
        events: rows.iter().map(|r| r[e].clone()).collect(),
        templates: rows.iter().map(|r| r[t].clone()).collect(),
        raw,
    })
}

fn config() -> MinerConfig {
    // Exploration overrides (the reported figures use the defaults).
    let mut c = MinerConfig::default();
    if let Ok(v) = std::env::var("LOGHUB_ST") {
        c.sim_threshold = v.parse().expect("LOGHUB_ST");
    }
    if let Ok(v) = std::env::var("LOGHUB_DEPTH") {
        c.depth = v.parse().expect("LOGHUB_DEPTH");
    }
    c
}

fn mine(lines: &[String]) -> (Vec<usize>, Vec<String>, TemplateMiner) {
    let mut m = TemplateMiner::new(config());
    let ids: Vec<usize> = lines.iter().map(|l| m.add(l)).collect();
    let groups = m.group_ids();
    let templates = m.templates();
    (
        ids.iter().map(|&i| groups[i]).collect(),
        ids.iter().map(|&i| templates[i].clone()).collect(),
        m,
    )
}

fn main() {
    let args = Args::parse(USAGE);
    let dir = args.data_dir("loghub-2k");
    let mut cases: Vec<Case> = subdirs(&dir).iter().filter_map(|d| load(d)).collect();
    if cases.is_empty() {
        die(
            USAGE,
            &format!(
                "no <System>/ folders with a *_structured.csv under {}",
                dir.display()
            ),
        );
    }
    if args.quick {
        cases.truncate(3);
    }
    let mut rows = Vec::new();
    let (mut gas, mut pas, mut raw_gas) = (vec![], vec![], vec![]);
    let (mut in_chars, mut out_chars) = (0u64, 0u64);
    for c in &cases {
        let (groups, templates, m) = mine(&c.contents);
        let ga = grouping_accuracy(&groups, &c.events);
        let pa = parsing_accuracy(&templates, &c.templates);
        if args.opt("--debug") == Some(c.system.as_str()) {
            debug_errors(&c.contents, &c.events, &groups, &templates);
        }
        let summary_src = match &c.raw {
            Some(raw) => {
                let (g, _, rm) = mine(raw);
                raw_gas.push(grouping_accuracy(&g, &c.events));
                rm
            }
            None => m,
        };
        let s = summary_src.summary();
        let text = s.render_text();
        in_chars += s.input_chars;
        out_chars += text.chars().count() as u64;
        let truth_n = c
            .events
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        rows.push(vec![
            c.system.clone(),
            c.contents.len().to_string(),
            truth_n.to_string(),
            s.templates.len().to_string(),
            format!("{ga:.3}"),
            format!("{pa:.3}"),
            raw_gas
                .last()
                .filter(|_| c.raw.is_some())
                .map(|g| format!("{g:.3}"))
                .unwrap_or("-".into()),
            format!(
                "{:.1}x",
                s.input_chars as f64 / text.chars().count().max(1) as f64
            ),
        ]);
        gas.push(ga);
        pas.push(pa);
    }
    rows.push(vec![
        "MEAN".into(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.3}", mean(&gas)),
        format!("{:.3}", mean(&pas)),
        if raw_gas.is_empty() {
            "-".into()
        } else {
            format!("{:.3}", mean(&raw_gas))
        },
        format!("{:.1}x", in_chars as f64 / out_chars.max(1) as f64),
    ]);
    println!("LogHub-2k, one shared configuration ({:?})", config());
    print_table(
        &[
            "system",
            "lines",
            "events",
            "templates",
            "GA",
            "PA",
            "GA(raw)",
            "reduction",
        ],
        &rows,
    );
    println!(
        "GA/PA: message content (the data set's Content column); GA(raw): whole raw lines incl. headers; templates and reduction: raw lines."
    );
    println!(
        "median GA {:.3}; reference Drain mean GA 0.865 (16 systems)",
        median(&gas)
    );

    // Throughput over all raw lines (or contents), repeated to last >= ~1 s (0.2 s quick).
    let all: Vec<&str> = cases
        .iter()
        .flat_map(|c| {
            c.raw
                .as_ref()
                .unwrap_or(&c.contents)
                .iter()
                .map(String::as_str)
        })
        .collect();
    let budget = if args.quick { 0.2 } else { 1.0 };
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < budget {
        let mut m = TemplateMiner::new(MinerConfig::default());
        for l in &all {
            m.add(l);
        }
        std::hint::black_box(m.summary());
        n += all.len() as u64;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "throughput: {:.0} lines/s (single thread, {n} lines in {secs:.2} s, miner + summary)",
        n as f64 / secs
    );
}

#[allow(dead_code)]
pub fn debug_errors(c: &[String], events: &[String], groups: &[usize], templates: &[String]) {
    use std::collections::HashMap;
    let mut by_pred: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        by_pred.entry(*g).or_default().push(i);
    }
    let mut truth_size: HashMap<&String, usize> = HashMap::new();
    for e in events {
        *truth_size.entry(e).or_default() += 1;
    }
    let mut shown = 0;
    for (_, lines) in by_pred {
        let e0 = &events[lines[0]];
        let ok = lines.iter().all(|&i| &events[i] == e0) && truth_size[e0] == lines.len();
        if !ok && shown < 25 {
            shown += 1;
            let mut evs: Vec<&String> = lines.iter().map(|&i| &events[i]).collect();
            evs.sort();
            evs.dedup();
            eprintln!(
                "PRED {} lines={} events={:?} truth_size={:?}",
                templates[lines[0]],
                lines.len(),
                evs,
                evs.iter().map(|e| truth_size[e]).collect::<Vec<_>>()
            );
            for &i in lines.iter().take(2) {
                eprintln!("     | {}", c[i]);
            }
        }
    }
}
