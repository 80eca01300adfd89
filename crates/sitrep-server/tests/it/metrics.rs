//! `/metrics` after real work: a task run's duration histogram, an alert group's duplicate,
//! and the exposition's shape (HELP and TYPE before each family, cumulative buckets).

use crate::{Server, alertmanager_alert};
use reqwest::Method;
use serde_json::json;
use sitrep_core::access::Role;
use std::time::Duration;

async fn scrape(s: &Server) -> String {
    let (_, m) = s.call(Method::GET, "/metrics", None, None).await;
    m.as_str().unwrap().to_string()
}

/// Scrapes until every line is there (the counters follow the engine's events).
async fn scrape_until(s: &Server, lines: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = scrape(s).await;
        if lines.iter().all(|l| m.lines().any(|x| x == *l)) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing some of {lines:?} in:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_run_durations_and_duplicate_alerts() {
    let s = Server::start("w").await;
    let (st, ran) = s
        .post(
            "/api/v1/runs",
            Role::Operator,
            json!({"task": "core/linux-host/disk-usage", "resource": "localhost"}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::OK, "{ran}");
    let (kind, status) = (
        ran["run"]["kind"].as_str().unwrap(),
        ran["run"]["status"].as_str().unwrap(),
    );
    let series = format!("kind=\"{kind}\",status=\"{status}\"");
    let count = format!("sitrep_task_run_duration_seconds_count{{{series}}} 1");
    let inf = format!("sitrep_task_run_duration_seconds_bucket{{{series},le=\"+Inf\"}} 1");
    let m = scrape_until(&s, &[&count, &inf]).await;
    // Buckets are cumulative and end at the count; the sum is the run's duration.
    let buckets: Vec<u64> = m
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                "sitrep_task_run_duration_seconds_bucket{{{series},"
            ))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 10, "nine bounds and +Inf:\n{m}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(*buckets.last().unwrap(), 1);
    let sum: f64 = m
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!(
                "sitrep_task_run_duration_seconds_sum{{{series}}} "
            ))
        })
        .unwrap_or_else(|| panic!("no sum in:\n{m}"))
        .parse()
        .unwrap();
    assert!((0.0..120.0).contains(&sum), "{sum}");
    // Each family is announced once, with its type, before its samples.
    for (name, ty) in [
        ("sitrep_task_run_duration_seconds", "histogram"),
        ("sitrep_scheduler_lag_seconds", "histogram"),
        ("sitrep_scheduler_lag_max_seconds", "gauge"),
        ("sitrep_alert_duplicates_total", "counter"),
        ("sitrep_delivery_failures_total", "counter"),
        ("sitrep_deliveries_total", "counter"),
    ] {
        let t = format!("# TYPE {name} {ty}");
        assert_eq!(m.lines().filter(|l| *l == t).count(), 1, "{t}:\n{m}");
        assert!(m.contains(&format!("# HELP {name} ")), "{name}");
        let typed = m.find(&t).unwrap();
        if let Some(first) = m
            .lines()
            .position(|l| l.starts_with(name) && !l.starts_with('#'))
        {
            let at = m.lines().take(first).map(|l| l.len() + 1).sum::<usize>();
            assert!(typed < at, "{name} sampled before its TYPE");
        }
    }
    // One alert group twice: the second joins the first's investigation.
    let hook = "/api/v1/hooks/alertmanager";
    for _ in 0..2 {
        let (st, b) = s
            .post(hook, Role::Operator, alertmanager_alert("g-dup", "firing"))
            .await;
        assert_eq!(st, reqwest::StatusCode::ACCEPTED, "{b}");
    }
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 2);
    let m = scrape_until(
        &s,
        &["sitrep_alert_duplicates_total{source=\"alertmanager\"} 1"],
    )
    .await;
    // No label carries a task's or a resource's name.
    assert!(!m.contains("disk-usage") && !m.contains("localhost"), "{m}");
    for l in m.lines().filter(|l| !l.starts_with('#')) {
        let v = l.rsplit(' ').next().unwrap();
        assert!(v.parse::<f64>().is_ok(), "not a sample: {l}");
    }
}
