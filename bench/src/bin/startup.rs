//! What a whole-process `sitrep run` of a trivial task spends outside the task, step by step:
//! the runtime, opening the store (migrations check), loading the catalog (the embedded
//! collection, read back in its checked form after the first start, and a user collection),
//! the runner, the cgroup probe, the run (and a second run in the same process, for what the
//! first one pays once).
//!
//!     cargo run --release -p sitrep-bench --bin startup -- [--n 30]
//!
//! Runs itself `--n` times as a fresh process (each a cold start in a warm home) and prints
//! the median of each step, in ms.

use sitrep_bench::common::flag;
use sitrep_bundles::{Catalog, CollectionSource};
use sitrep_core::TaskRef;
use sitrep_runner::{RunRequest, Runner, RunnerConfig, SystemClock};
use sitrep_store::{SqlStore, Store};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const STEPS: [&str; 9] = [
    "runtime",
    "store",
    "catalog",
    "runner",
    "isolation",
    "run",
    "a second run",
    "close",
    "total",
];

/// One cold start in `home`: prints the steps' times in ms, space-separated.
fn child(home: &Path) {
    let t0 = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut times = vec![t0.elapsed()];
    let close = rt.block_on(async {
        let t = Instant::now();
        let url = format!("sqlite://{}", home.join("sitrep.db").display());
        let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&url).await.unwrap());
        times.push(t.elapsed());
        let t = Instant::now();
        let source = CollectionSource {
            name: "bench".into(),
            path: Some(home.join("col")),
            git: None,
            rev: None,
            kind: Default::default(),
        };
        let cache = home.join("cache");
        let catalog = tokio::task::spawn_blocking(move || Catalog::load(&[source], &cache))
            .await
            .unwrap()
            .unwrap();
        times.push(t.elapsed());
        let t = Instant::now();
        let runner = Runner::new(
            RunnerConfig::new("bench", home.join("runtime")),
            Arc::new(catalog),
            store,
            Arc::new(SystemClock),
        )
        .unwrap();
        times.push(t.elapsed());
        let t = Instant::now();
        runner.isolation();
        times.push(t.elapsed());
        for _ in 0..2 {
            let t = Instant::now();
            let out = runner
                .run(RunRequest {
                    task: TaskRef::new("bench", "noop", "noop"),
                    resource: "localhost".into(),
                    slx: None,
                    config: BTreeMap::new(),
                    secrets: BTreeMap::new(),
                    approval: None,
                })
                .await
                .unwrap();
            assert_eq!(out.run.status, sitrep_core::RunStatus::Succeeded);
            times.push(t.elapsed());
        }
        // what closing costs: the last connection to close checkpoints the WAL
        let t = Instant::now();
        drop(runner);
        t
    });
    drop(rt);
    times.push(close.elapsed());
    times.push(t0.elapsed());
    let ms: Vec<String> = times
        .iter()
        .map(|d| format!("{:.3}", d.as_secs_f64() * 1000.0))
        .collect();
    println!("{}", ms.join(" "));
}

fn main() {
    if let Ok(home) = std::env::var("SITREP_BENCH_HOME") {
        return child(Path::new(&home));
    }
    let n = flag("--n", 30);
    let dir = tempfile::tempdir().unwrap();
    let col = dir.path().join("col");
    std::fs::create_dir_all(col.join("bundles/noop")).unwrap();
    std::fs::write(col.join("collection.yaml"), "name: bench\n").unwrap();
    std::fs::write(
        col.join("bundles/noop/bundle.yaml"),
        "name: noop\ntasks:\n  - name: noop\n    kind: diagnostic\n    type: bash\n    script: noop.sh\n",
    )
    .unwrap();
    std::fs::write(col.join("bundles/noop/noop.sh"), "true\n").unwrap();
    let exe = std::env::current_exe().unwrap();
    let once = || {
        let t = Instant::now();
        let out = std::process::Command::new(&exe)
            .env("SITREP_BENCH_HOME", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let wall = t.elapsed().as_secs_f64() * 1000.0;
        let mut v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        v.push(wall);
        v
    };
    // the first start creates the database, extracts the built-in collection and keeps its
    // checked form
    once();
    let runs: Vec<Vec<f64>> = (0..n).map(|_| once()).collect();
    let bash: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::process::Command::new("bash")
                .args(["-c", "true"])
                .status()
                .unwrap();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    println!("whole-process run of a trivial task, medians of {n} cold starts (ms)");
    for (i, step) in STEPS.iter().chain(["process wall"].iter()).enumerate() {
        println!(
            "{step:<14} {:>8.3}",
            median(runs.iter().map(|r| r[i]).collect())
        );
    }
    println!("{:<14} {:>8.3}", "bash -c true", median(bash));
}
