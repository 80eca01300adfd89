//! The resident memory of `sitrep serve` with many SLXs, once it has started and run each one.
//!
//!     cargo build --release -p sitrep-cli && \
//!     cargo run --release -p sitrep-bench --bin serve_idle -- [--slxs 1000] [--settle 60]
//!         [--sitrep target/release/sitrep]
//!
//! A fresh home gets `--slxs` SLXs of the core `http-endpoint` bundle, each with its `status`
//! task every hour against a local port nothing listens on (the HTTP executor runs in process:
//! what is measured is sitrep, not a task's interpreter). `sitrep serve` then starts on it with
//! the HTTP API on a loopback port; the scheduler runs each SLX once (spread by its jitter) and
//! then waits. Printed: the RSS and the peak RSS (VmHWM) after `--settle` seconds, read from
//! /proc, and how many runs were recorded.

use sitrep_core::{Slx, SlxTask};
use sitrep_engine::{OpenOptions, Sitrep};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const USAGE: &str = "serve_idle [--slxs 1000] [--settle 60] [--sitrep target/release/sitrep]";

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args = sitrep_bench::common::Args::parse(USAGE);
    let n: usize = args
        .opt("--slxs")
        .unwrap_or("1000")
        .parse()
        .expect("--slxs N");
    let settle: u64 = args
        .opt("--settle")
        .unwrap_or("60")
        .parse()
        .expect("--settle S");
    let exe = args
        .opt("--sitrep")
        .unwrap_or("target/release/sitrep")
        .to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        home.path().join("sitrep.yaml"),
        format!("discovery:\n  host: {{enabled: false}}\nserve:\n  listen: 127.0.0.1:{port}\n"),
    )
    .unwrap();
    let (sitrep, _) = Sitrep::init(OpenOptions::new(home.path())).await.unwrap();
    let url = format!("sqlite://{}", home.path().join("sitrep.db").display());
    let store = sitrep_store::SqlStore::connect(&url).await.unwrap();
    let t0 = Instant::now();
    for i in 0..n {
        let slx = Slx {
            workspace: sitrep.workspace().into(),
            name: format!("endpoint-{i:04}"),
            resource: format!("endpoint-{i:04}"),
            bundle: "core/http-endpoint".into(),
            description: "bench".into(),
            tasks: vec![SlxTask {
                task: "status".into(),
                interval: Some("1h".into()),
            }],
            config: BTreeMap::from([("URL".to_string(), format!("http://127.0.0.1:9/e{i}"))]),
            secrets: BTreeMap::new(),
            stale: false,
            generated: None,
        };
        sitrep_store::Store::put_slx(&store, &slx, sitrep_core::Timestamp(0))
            .await
            .unwrap();
    }
    println!("{n} SLXs stored in {:.1}s", t0.elapsed().as_secs_f64());
    drop(store);

    let mut child = std::process::Command::new(&exe)
        .args(["--home"])
        .arg(home.path())
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {exe}: {e} (build it with cargo build --release -p sitrep-cli)")
        });
    let pid = child.id();
    let started = Instant::now();
    let health = format!("http://127.0.0.1:{port}/healthz");
    while reqwest::get(&health).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not answer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "serve answered /healthz after {:.0} ms, RSS {} KiB",
        started.elapsed().as_secs_f64() * 1000.0,
        status_kib(pid, "VmRSS:")
    );
    for t in (10..=settle).step_by(10) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        println!(
            "after {t:>3}s: RSS {:>7} KiB  peak {:>7} KiB",
            status_kib(pid, "VmRSS:"),
            status_kib(pid, "VmHWM:")
        );
    }
    let rss = status_kib(pid, "VmRSS:");
    let peak = status_kib(pid, "VmHWM:");
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    let runs = sitrep.runs(n * 2).await.map(|r| r.len()).unwrap_or(0);
    println!(
        "idle RSS with {n} SLXs: {:.1} MiB (peak {:.1} MiB); {runs} runs recorded",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}
