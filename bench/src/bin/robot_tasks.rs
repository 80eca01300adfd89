//! Robot tasks: a trivial RunWhen-style codebundle task (`Library RW.Core`, `Library RW.CLI`,
//! one `Log`) run N times through one runner (the fork server started once, every task a fork
//! of it) against the same task run N times by the runtime's `python -m robot` directly, with
//! the arguments sitrep gives it. Alternated, sequential, medians.
//!
//!     cargo run --release -p sitrep-bench --bin robot_tasks -- --runtimes DIR [--n 20]
//!
//! DIR holds an installed robot runtime (`sitrep runtimes install robot` puts it in
//! `$SITREP_HOME/runtimes`; the tests keep one in `target/tmp/robot-runtimes`).

use sitrep_bench::common::flag;
use sitrep_bundles::{Catalog, CollectionSource};
use sitrep_core::TaskRef;
use sitrep_runner::{RunRequest, Runner, RunnerConfig, SystemClock};
use sitrep_store::{SqlStore, Store};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const RUNBOOK: &str = "*** Settings ***
Documentation       A trivial task: it only logs one line.
Library             BuiltIn
Library             RW.Core
Library             RW.CLI

*** Tasks ***
Say Hello
    [Documentation]    Logs one line
    [Tags]    access:read-only
    Log    hello
";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn runtimes_dir() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--runtimes") {
        Some(i) => PathBuf::from(&args[i + 1]),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/robot-runtimes"),
    }
}

/// Peak resident set of this process's reaped children (KiB): the direct `robot` runs.
fn children_max_rss_kib() -> i64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a zeroed rusage for getrusage to fill.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    u.ru_maxrss
}

fn rss_kib(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() {
    let n = flag("--n", 20).max(1);
    let runtimes = std::path::absolute(runtimes_dir()).unwrap();
    let python = runtimes.join("robot/bin/python");
    assert!(
        python.exists(),
        "no robot runtime in {} (install one: SITREP_HOME=... sitrep runtimes install robot)",
        runtimes.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let col = dir.path().join("col");
    std::fs::create_dir_all(col.join("codebundles/triv")).unwrap();
    let suite = col.join("codebundles/triv/runbook.robot");
    std::fs::write(&suite, RUNBOOK).unwrap();
    let source = CollectionSource {
        name: "rwb".into(),
        path: Some(col),
        git: None,
        rev: None,
        kind: sitrep_bundles::CollectionKind::Runwhen,
    };
    let readers = sitrep_bundles::Readers {
        runwhen: Some(sitrep_runwhen::read_collection),
    };
    let catalog =
        Arc::new(Catalog::load_with(&[source], &dir.path().join("cache"), readers).unwrap());
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
            .await
            .unwrap(),
    );
    let mut cfg = RunnerConfig::new("bench", dir.path().join("runtime"));
    cfg.runtimes_dir = runtimes.clone();
    let runner = Runner::new(cfg, catalog, store, Arc::new(SystemClock)).unwrap();
    let through = || async {
        let req = RunRequest {
            task: TaskRef::new("rwb", "triv", "say-hello"),
            resource: "x".into(),
            slx: None,
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            approval: None,
        };
        let start = Instant::now();
        let out = runner.run(req).await.unwrap();
        assert_eq!(
            out.run.status,
            sitrep_core::RunStatus::Succeeded,
            "{:?}",
            out.run.error
        );
        start.elapsed().as_secs_f64() * 1000.0
    };
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let shim = runtimes.join("robot/shim");
    let direct = || {
        let start = Instant::now();
        let st = std::process::Command::new(&python)
            .args(["-m", "robot", "--outputdir"])
            .arg(&out_dir)
            .args(["--output", "NONE", "--report", "NONE", "--log", "NONE"])
            .arg("--pythonpath")
            .arg(&shim)
            .args(["--task", "Say Hello"])
            .arg(&suite)
            .env("PYTHONNOUSERSITE", "1")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        start.elapsed().as_secs_f64() * 1000.0
    };
    let first = through().await;
    direct();
    let (mut s, mut d) = (vec![], vec![]);
    for _ in 0..n {
        s.push(through().await);
        d.push(direct());
    }
    let server_rss = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains("sitrep's fork server"))
        })
        .filter_map(rss_kib)
        .max();
    println!("robot tasks: a trivial RunWhen task, {n} runs each, sequential, medians");
    println!(
        "through sitrep's runner (forks of one Python):  {:>7.1} ms/task  (the first, starting the fork server: {first:.1} ms)",
        median(s.clone())
    );
    println!(
        "python -m robot directly:                        {:>7.1} ms/task",
        median(d.clone())
    );
    let ratios: Vec<f64> = s.iter().zip(&d).map(|(s, d)| s / d).collect();
    println!(
        "ratio sitrep / direct: {:.2} (median of the pairs); RunWhen's own anchor: ~345 ms/task",
        median(ratios)
    );
    println!(
        "memory: fork server RSS {} KiB; a direct robot process peaked at {} KiB",
        server_rss.map_or("?".into(), |k| k.to_string()),
        children_max_rss_kib()
    );
}
