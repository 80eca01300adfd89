//! Runner overhead: N no-op bash tasks through sitrep's runner (temp dir, process group, capture,
//! result parsing, redaction, SQLite writes) against N `bash -c true` spawned directly.
//!
//!     cargo run --release -p sitrep-bench --bin runner_overhead -- [--n 1000] [--concurrency 4] [--reps 5]
//!
//! `--python` runs a no-op python task against `python3 -c pass` instead of bash.
//! `--process-group` turns cgroups off (as on a host without cgroup v2). Prints the median of
//! each figure over the repetitions, and the CPU time this process spends per task.

use sitrep_bench::common::flag;
use sitrep_bundles::Catalog;
use sitrep_core::TaskRef;
use sitrep_runner::{Limits, RunRequest, Runner, RunnerConfig, SystemClock};
use sitrep_store::{SqlStore, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// CPU seconds (user + system) this process has used, sitrep's threads and tokio's.
fn cpu_secs() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a zeroed rusage for getrusage to fill.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// `--python`: a no-op python task against `python3 -c pass` (python tasks are forks of one
/// `python3`, the fork server).
fn python() -> bool {
    std::env::args().any(|a| a == "--python")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn direct(n: usize, concurrency: usize) -> Duration {
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        set.spawn(async move {
            let st = tokio::process::Command::new(if python() { "python3" } else { "bash" })
                .args(["-c", if python() { "pass" } else { "true" }])
                .status()
                .await
                .unwrap();
            assert!(st.success());
            drop(permit);
        });
    }
    while set.join_next().await.is_some() {}
    start.elapsed()
}

async fn through_sitrep(runner: Arc<Runner>, n: usize, concurrency: usize) -> Duration {
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let runner = runner.clone();
        set.spawn(async move {
            let req = RunRequest {
                task: TaskRef::new("bench", "noop", "noop"),
                resource: format!("host-{}", i % 64),
                slx: None,
                config: BTreeMap::new(),
                secrets: BTreeMap::new(),
                approval: None,
            };
            let out = runner.run(req).await.unwrap();
            assert_eq!(
                out.run.status,
                sitrep_core::RunStatus::Succeeded,
                "{:?}",
                out.run.error
            );
            drop(permit);
        });
    }
    while set.join_next().await.is_some() {}
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let n = flag("--n", 1000);
    let concurrency = flag("--concurrency", 4);
    let reps = flag("--reps", 5).max(1);
    let dir = tempfile::tempdir().unwrap();
    let col = dir.path().join("col");
    std::fs::create_dir_all(col.join("bundles/noop")).unwrap();
    std::fs::write(col.join("collection.yaml"), "name: bench\n").unwrap();
    let (ty, script, text) = if python() {
        ("python", "noop.py", "pass\n")
    } else {
        ("bash", "noop.sh", "true\n")
    };
    std::fs::write(
        col.join("bundles/noop/bundle.yaml"),
        format!("name: noop\ntasks:\n  - name: noop\n    kind: health\n    type: {ty}\n    script: {script}\n"),
    )
    .unwrap();
    std::fs::write(col.join("bundles/noop").join(script), text).unwrap();
    let source = sitrep_bundles::CollectionSource {
        name: "bench".into(),
        path: Some(col),
        git: None,
        rev: None,
        kind: Default::default(),
    };
    let catalog = Arc::new(Catalog::load(&[source], &dir.path().join("cache")).unwrap());
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        ))
        .await
        .unwrap(),
    );
    let mut cfg = RunnerConfig::new("bench", dir.path().join("runtime"));
    if std::env::args().any(|a| a == "--process-group") {
        cfg.isolation = Some(sitrep_runner::Isolation::ProcessGroup {
            why: "--process-group".into(),
        });
    }
    cfg.limits = Limits {
        max_concurrent: concurrency,
        max_per_resource: concurrency,
    };
    let runner = Arc::new(Runner::new(cfg, catalog, store, Arc::new(SystemClock)).unwrap());
    println!("isolation: {}", runner.isolation());

    // Warm-up: page cache, the database file, the blocking pool.
    direct(50, concurrency).await;
    through_sitrep(runner.clone(), 50, concurrency).await;

    let (mut d_seq, mut s_seq, mut d_par, mut s_par) = (vec![], vec![], vec![], vec![]);
    let (mut d_cpu, mut s_cpu) = (vec![], vec![]);
    for _ in 0..reps {
        d_seq.push(direct(n, 1).await.as_secs_f64());
        s_seq.push(through_sitrep(runner.clone(), n, 1).await.as_secs_f64());
        let c = cpu_secs();
        d_par.push(direct(n, concurrency).await.as_secs_f64());
        d_cpu.push(cpu_secs() - c);
        let c = cpu_secs();
        s_par.push(
            through_sitrep(runner.clone(), n, concurrency)
                .await
                .as_secs_f64(),
        );
        s_cpu.push(cpu_secs() - c);
    }
    let per = |t: f64| t / n as f64 * 1000.0;
    let overhead_seq: Vec<f64> = s_seq.iter().zip(&d_seq).map(|(s, d)| per(s - d)).collect();
    let overhead_par: Vec<f64> = s_par.iter().zip(&d_par).map(|(s, d)| per(s - d)).collect();
    let kind = if python() { "python" } else { "bash" };
    println!("runner overhead: {n} no-op {kind} tasks, {reps} repetitions, medians");
    println!(
        "{:<28} {:>14} {:>14} {:>16} {:>12}",
        "mode", "direct ms/task", "sitrep ms/task", "overhead ms/task", "sitrep tasks/s"
    );
    println!(
        "{:<28} {:>14.3} {:>14.3} {:>16.3} {:>12.0}",
        "sequential",
        per(median(d_seq.clone())),
        per(median(s_seq.clone())),
        median(overhead_seq),
        n as f64 / median(s_seq)
    );
    println!(
        "{:<28} {:>14.3} {:>14.3} {:>16.3} {:>12.0}",
        format!("concurrency {concurrency}"),
        per(median(d_par.clone())),
        per(median(s_par.clone())),
        median(overhead_par),
        n as f64 / median(s_par)
    );
    println!(
        "CPU of this process per task (its threads, not the tasks'): direct {:.0} µs, through sitrep {:.0} µs",
        median(d_cpu) / n as f64 * 1e6,
        median(s_cpu) / n as f64 * 1e6
    );
    println!("targets: overhead < 1 ms/task; >= 500 trivial tasks/s at concurrency 4");
}
