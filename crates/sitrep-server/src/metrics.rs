//! `/metrics` in the Prometheus text format: what this process did since it started (counted
//! from the engine's domain events and the HTTP layer) and the workspace's state now (read
//! from the engine at scrape time).

use crate::AppState;
use crate::histogram::{Histogram, LAG_SECONDS, RUN_SECONDS};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use sitrep_core::approval::ApprovalStatus;
use sitrep_engine::events::Event;
use sitrep_engine::{ApprovalQuery, IssueQuery, Sitrep, Workspaces};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    /// (route, status) → (count, seconds).
    requests: BTreeMap<(String, u16), (u64, f64)>,
    runs: BTreeMap<String, u64>,
    issue_changes: BTreeMap<String, u64>,
    session_steps: u64,
    sessions_started: u64,
    /// (target kind, delivered | failed) → count.
    deliveries: BTreeMap<(String, String), u64>,
    /// (target kind, given up: true | false) → failed attempts.
    delivery_failures: BTreeMap<(String, bool), u64>,
    /// alert source → alerts that joined an investigation already going.
    alert_duplicates: BTreeMap<String, u64>,
    timings: Timings,
    events_missed: u64,
}

/// The histograms (bounded labels only: a run's kind and status, never its task or resource).
struct Timings {
    /// By (kind, status).
    run_seconds: Histogram,
    scheduler_lag: Histogram,
    /// The largest lag seen, in seconds.
    scheduler_lag_max: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            run_seconds: Histogram::new(RUN_SECONDS),
            scheduler_lag: Histogram::new(LAG_SECONDS),
            scheduler_lag_max: 0.0,
        }
    }
}

impl Metrics {
    /// Counters fed by every served workspace's events from now on (summed over them).
    pub fn start(workspaces: &Workspaces) -> Arc<Metrics> {
        let m = Arc::new(Metrics::default());
        for sitrep in workspaces.iter() {
            m.count(sitrep);
        }
        m
    }

    fn count(self: &Arc<Self>, sitrep: &Sitrep) {
        let mut rx = sitrep.subscribe();
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let ev = rx.recv().await;
                let Some(m) = weak.upgrade() else { return };
                let mut c = m.inner.lock().unwrap_or_else(|p| p.into_inner());
                match ev {
                    Ok(Event::RunFinished {
                        status,
                        kind,
                        duration_ms,
                        ..
                    }) => {
                        *c.runs.entry(status.as_str().to_string()).or_default() += 1;
                        c.timings.run_seconds.observe(
                            &[kind.as_str(), status.as_str()],
                            duration_ms as f64 / 1000.0,
                        );
                    }
                    Ok(Event::IssueChanged { change, .. }) => {
                        *c.issue_changes
                            .entry(change.as_str().to_string())
                            .or_default() += 1
                    }
                    Ok(Event::Session { seq, .. }) => {
                        c.session_steps += 1;
                        if seq == 0 {
                            c.sessions_started += 1;
                        }
                    }
                    Ok(Event::Delivery { target, status, .. }) => {
                        *c.deliveries
                            .entry((target, status.as_str().to_string()))
                            .or_default() += 1
                    }
                    Ok(Event::DeliveryFailed {
                        target, given_up, ..
                    }) => *c.delivery_failures.entry((target, given_up)).or_default() += 1,
                    Ok(Event::AlertDuplicate { source, .. }) => {
                        *c.alert_duplicates
                            .entry(source.as_str().to_string())
                            .or_default() += 1
                    }
                    Ok(Event::ScheduledRunStarted { lag_ms, .. }) => {
                        let lag = lag_ms as f64 / 1000.0;
                        c.timings.scheduler_lag.observe(&[], lag);
                        c.timings.scheduler_lag_max = c.timings.scheduler_lag_max.max(lag);
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        c.events_missed += n
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    pub fn request(&self, route: &str, status: u16, took: Duration) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let e = c.requests.entry((route.to_string(), status)).or_default();
        e.0 += 1;
        e.1 += took.as_secs_f64();
    }
}

pub(crate) fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, ty: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
}

/// What one workspace's gauges read at a scrape (an error is a gauge of its own, never a
/// failed scrape).
struct WorkspaceNow {
    name: String,
    store_up: bool,
    open_by_severity: Option<BTreeMap<&'static str, u64>>,
    approvals_pending: Option<usize>,
}

async fn workspace_now(s: &sitrep_engine::Sitrep) -> WorkspaceNow {
    let open = s
        .issues(&IssueQuery {
            all: false,
            resource: None,
            limit: None,
        })
        .await;
    let pending = s
        .approvals(&ApprovalQuery {
            status: Some(ApprovalStatus::Pending),
            session_id: None,
            limit: Some(10_000),
        })
        .await;
    WorkspaceNow {
        name: escape(s.workspace()),
        store_up: open.is_ok() && pending.is_ok(),
        open_by_severity: open.ok().map(|open| {
            let mut by: BTreeMap<&'static str, u64> = ["critical", "major", "minor", "info"]
                .into_iter()
                .map(|s| (s, 0))
                .collect();
            for i in &open {
                *by.entry(i.severity.label()).or_default() += 1;
            }
            by
        }),
        approvals_pending: pending.ok().map(|p| p.len()),
    }
}

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    let mut now = vec![];
    for s in state.workspaces.iter() {
        now.push(workspace_now(s).await);
    }
    family(&mut out, "sitrep_up", "gauge", "1 while sitrep serves");
    for w in &now {
        let _ = writeln!(out, "sitrep_up{{workspace=\"{}\"}} 1", w.name);
    }
    family(
        &mut out,
        "sitrep_store_up",
        "gauge",
        "1 when the store answered this scrape",
    );
    for w in &now {
        let _ = writeln!(
            out,
            "sitrep_store_up{{workspace=\"{}\"}} {}",
            w.name,
            u8::from(w.store_up)
        );
    }
    family(
        &mut out,
        "sitrep_open_issues",
        "gauge",
        "open issues by severity",
    );
    for w in &now {
        for (sev, n) in w.open_by_severity.iter().flatten() {
            let _ = writeln!(
                out,
                "sitrep_open_issues{{workspace=\"{}\",severity=\"{sev}\"}} {n}",
                w.name
            );
        }
    }
    family(
        &mut out,
        "sitrep_approvals_pending",
        "gauge",
        "remediations waiting for a person",
    );
    for w in &now {
        if let Some(n) = w.approvals_pending {
            let _ = writeln!(
                out,
                "sitrep_approvals_pending{{workspace=\"{}\"}} {n}",
                w.name
            );
        }
    }

    let c = state
        .metrics
        .inner
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    family(
        &mut out,
        "sitrep_task_runs_total",
        "counter",
        "task runs finished, by status",
    );
    for (status, n) in &c.runs {
        let _ = writeln!(
            out,
            "sitrep_task_runs_total{{status=\"{}\"}} {n}",
            escape(status)
        );
    }
    family(
        &mut out,
        "sitrep_issue_changes_total",
        "counter",
        "issue changes, by kind",
    );
    for (kind, n) in &c.issue_changes {
        let _ = writeln!(
            out,
            "sitrep_issue_changes_total{{change=\"{}\"}} {n}",
            escape(kind)
        );
    }
    family(
        &mut out,
        "sitrep_sessions_started_total",
        "counter",
        "investigations started",
    );
    let _ = writeln!(out, "sitrep_sessions_started_total {}", c.sessions_started);
    family(
        &mut out,
        "sitrep_session_steps_total",
        "counter",
        "investigation audit entries",
    );
    let _ = writeln!(out, "sitrep_session_steps_total {}", c.session_steps);
    family(
        &mut out,
        "sitrep_deliveries_total",
        "counter",
        "workflow deliveries that ended, by target and outcome (failed: given up)",
    );
    for ((target, status), n) in &c.deliveries {
        let _ = writeln!(
            out,
            "sitrep_deliveries_total{{target=\"{}\",status=\"{}\"}} {n}",
            escape(target),
            escape(status)
        );
    }
    family(
        &mut out,
        "sitrep_delivery_failures_total",
        "counter",
        "failed delivery attempts, by target and whether it was then given up",
    );
    for ((target, given_up), n) in &c.delivery_failures {
        let _ = writeln!(
            out,
            "sitrep_delivery_failures_total{{target=\"{}\",given_up=\"{given_up}\"}} {n}",
            escape(target)
        );
    }
    family(
        &mut out,
        "sitrep_alert_duplicates_total",
        "counter",
        "alerts that joined the investigation of their group within the cooldown, by source",
    );
    for (source, n) in &c.alert_duplicates {
        let _ = writeln!(
            out,
            "sitrep_alert_duplicates_total{{source=\"{}\"}} {n}",
            escape(source)
        );
    }
    family(
        &mut out,
        "sitrep_task_run_duration_seconds",
        "histogram",
        "how long task runs took, by kind and status",
    );
    c.timings.run_seconds.render(
        &mut out,
        "sitrep_task_run_duration_seconds",
        &["kind", "status"],
    );
    family(
        &mut out,
        "sitrep_scheduler_lag_seconds",
        "histogram",
        "how long after they were due scheduled SLX runs started",
    );
    c.timings
        .scheduler_lag
        .render(&mut out, "sitrep_scheduler_lag_seconds", &[]);
    family(
        &mut out,
        "sitrep_scheduler_lag_max_seconds",
        "gauge",
        "the largest scheduler lag since the process started",
    );
    let _ = writeln!(
        out,
        "sitrep_scheduler_lag_max_seconds {}",
        c.timings.scheduler_lag_max
    );
    family(
        &mut out,
        "sitrep_events_missed_total",
        "counter",
        "domain events the metrics missed (lagged)",
    );
    let _ = writeln!(out, "sitrep_events_missed_total {}", c.events_missed);
    family(
        &mut out,
        "sitrep_http_requests_total",
        "counter",
        "HTTP requests, by route and status",
    );
    for ((route, status), (n, _)) in &c.requests {
        let _ = writeln!(
            out,
            "sitrep_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            escape(route)
        );
    }
    family(
        &mut out,
        "sitrep_http_request_seconds_sum",
        "counter",
        "time spent answering, by route",
    );
    let mut by_route: BTreeMap<&str, f64> = BTreeMap::new();
    for ((route, _), (_, s)) in &c.requests {
        *by_route.entry(route).or_default() += s;
    }
    for (route, s) in by_route {
        let _ = writeln!(
            out,
            "sitrep_http_request_seconds_sum{{route=\"{}\"}} {s:.6}",
            escape(route)
        );
    }
    drop(c);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}
