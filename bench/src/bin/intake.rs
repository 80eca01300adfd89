//! Alert webhook intake over loopback: how many Alertmanager payloads sitrep accepts (each
//! committed to the store before its 202), at what latency, and how soon an alert's
//! investigation starts.
//!
//!     cargo run --release -p sitrep-bench --bin intake -- [--seconds 5] [--conns 32]
//!         [--rates 1000,2000,5000] [--groups 20]
//!
//! One process serves a fresh home (SQLite) with the intake worker running (dedup on: the
//! alerts fall into `--groups` alert groups, so that many investigations start) and drives it
//! with HTTP/1.1 keep-alive clients: first closed-loop with `--conns` connections for
//! `--seconds` (the most it accepts), then open-loop at each fixed rate for `--seconds`
//! (latency measured from each request's scheduled time, so queueing counts). Then, idle,
//! one alert of a new group: the time from sending it to its investigation's first audit
//! entry. The load generator shares the machine's cores with the server. Last, the intake
//! worker alone: `--backlog` events of the same groups stored in a second home with no worker
//! running, then handled at once (how fast a backlog, e.g. after a restart, is worked off).

use sitrep_bench::common::flag;
use sitrep_core::access::Role;
use sitrep_engine::events::Event;
use sitrep_engine::{OpenOptions, Sitrep};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn payload(group: usize, n: usize) -> String {
    serde_json::json!({
        "version": "4", "groupKey": format!("{{}}:{{alertname=\"Bench{group}\"}}"), "status": "firing",
        "receiver": "sitrep", "groupLabels": {"alertname": format!("Bench{group}")},
        "commonLabels": {"alertname": format!("Bench{group}"), "instance": "localhost"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": format!("Bench{group}"), "instance": "localhost", "n": n.to_string()},
                    "annotations": {"summary": "bench alert"}, "startsAt": "2026-12-02T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": format!("{n:016x}")}],
    })
    .to_string()
}

struct Target {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Target {
    async fn send(&self, body: String) -> bool {
        match self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(r) => r.status() == reqwest::StatusCode::ACCEPTED,
            Err(_) => false,
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(label: &str, mut lat: Vec<Duration>, errors: usize, took: Duration) {
    lat.sort();
    println!(
        "{label:<24} {:>8.0} accepted/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  ({} accepted, {errors} failed)",
        lat.len() as f64 / took.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0),
        lat.len()
    );
}

async fn fresh(home: &std::path::Path) -> Sitrep {
    std::fs::write(
        home.join("sitrep.yaml"),
        "discovery:\n  host: {enabled: false}\nserve:\n  rate_limit: {hooks_per_second: 0}\n",
    )
    .unwrap();
    Sitrep::init(OpenOptions::new(home)).await.unwrap().0
}

/// The intake worker alone: `n` events of `groups` groups stored with no worker running (32
/// senders at once), then handled in one go.
async fn worker_alone(n: usize, groups: usize) {
    let home = tempfile::tempdir().unwrap();
    let sitrep = fresh(home.path()).await;
    let mut senders = tokio::task::JoinSet::new();
    for k in 0..32 {
        let s = sitrep.clone();
        senders.spawn(async move {
            for i in (k..n).step_by(32) {
                s.receive(
                    sitrep_core::intake::Source::Alertmanager,
                    &payload(i % groups, i),
                )
                .await
                .unwrap();
            }
        });
    }
    senders.join_all().await;
    let t = Instant::now();
    let handled = sitrep.process_inbound().await.unwrap();
    let took = t.elapsed().as_secs_f64();
    println!(
        "worker alone: {handled} stored events of {groups} groups handled in {took:.2} s ({:.0}/s)",
        handled as f64 / took
    );
}

#[tokio::main]
async fn main() {
    let seconds: f64 = flag("--seconds", 5.0);
    let conns: usize = flag("--conns", 32);
    let groups: usize = flag("--groups", 20);
    let backlog_n: usize = flag("--backlog", 20000);
    let rates: Vec<u64> = flag("--rates", "1000,2000,5000".to_string())
        .split(',')
        .map(|r| r.parse().expect("--rates N,N"))
        .collect();
    let _ = rustls::crypto::ring::default_provider().install_default();

    let home = tempfile::tempdir().unwrap();
    let sitrep = fresh(home.path()).await;
    let token = sitrep
        .create_token("bench", Role::Operator, None)
        .await
        .unwrap()
        .secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = sitrep.clone();
    tokio::spawn(async move {
        sitrep_server::serve_http(
            sitrep_engine::Workspaces::single(served),
            listener,
            std::future::pending(),
        )
        .await
    });
    let worker = sitrep.clone();
    tokio::spawn(async move { worker.intake_worker(std::future::pending()).await });
    let target = Arc::new(Target {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .unwrap(),
        url: format!("http://{addr}/api/v1/hooks/alertmanager"),
        token,
    });
    let counter = Arc::new(AtomicUsize::new(0));
    println!(
        "alert intake over loopback: {seconds} s per phase, {groups} alert groups, SQLite, intake worker on"
    );

    // Closed loop: the most it accepts.
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (target, counter) = (target.clone(), counter.clone());
            tokio::spawn(async move {
                let (mut lat, mut errors) = (vec![], 0);
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    if target.send(payload(n % groups, n)).await {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut lat, mut errors) = (vec![], 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    report(
        &format!("closed loop, {conns} conns"),
        lat,
        errors,
        t0.elapsed(),
    );

    // Open loop at fixed rates.
    for rate in rates {
        let total = (rate as f64 * seconds) as usize;
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let t0 = Instant::now();
        let mut handles = Vec::with_capacity(total);
        for i in 0..total {
            let due = t0 + interval * i as u32;
            let now = Instant::now();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
            let (target, counter) = (target.clone(), counter.clone());
            handles.push(tokio::spawn(async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let ok = target.send(payload(n % groups, n)).await;
                (ok, due.elapsed())
            }));
        }
        let (mut lat, mut errors) = (vec![], 0);
        for h in handles {
            match h.await.unwrap() {
                (true, d) => lat.push(d),
                (false, _) => errors += 1,
            }
        }
        report(&format!("fixed {rate}/s"), lat, errors, t0.elapsed());
    }

    // Let the worker catch up, then: one new alert group to its investigation's start.
    let load_end = Instant::now();
    // Handling what is still pending here too waits for the worker's batch (one handler at
    // a time) and returns once nothing is pending.
    sitrep.process_inbound().await.unwrap();
    let drained = Instant::now();
    let mut samples = vec![];
    for i in 0..5 {
        let mut events = sitrep.subscribe();
        let t = Instant::now();
        assert!(target.send(payload(groups + 1000 + i, i)).await);
        loop {
            match events.recv().await {
                Ok(Event::Session { seq: 1, .. }) => break,
                Ok(_) => {}
                Err(e) => panic!("events: {e}"),
            }
        }
        samples.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    samples.sort();
    println!(
        "alert to investigation started: median {:.1} ms, max {:.1} ms (5 new groups, idle)",
        pct(&samples, 0.5),
        pct(&samples, 1.0),
    );
    println!(
        "worker caught up {:.1} s after the load",
        drained.duration_since(load_end).as_secs_f64()
    );
    if backlog_n > 0 {
        worker_alone(backlog_n, groups).await;
    }
}
