//! An SLX's SLI history over HTTP: its series in the window, the SLO threshold its task's rule
//! compares the metric with (from the SLX's config), the anomalous-SLI insights on it, its runs;
//! and nothing for a token of another workspace.

use crate::Server;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sitrep_core::access::Role;
use sitrep_core::{RunStatus, Slx, SlxTask, TaskKind, TaskRun, Timestamp};
use sitrep_engine::Sitrep;
use sitrep_store::{RunResults, SqlStore, Store};
use std::collections::BTreeMap;

const TASK: &str = "core/postgres/connection-saturation";
const METRIC: &str = "pg_connections_used_pct";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A succeeded health run of the SLX `db-pg` at `at` that recorded `value`.
async fn record(store: &SqlStore, i: usize, at: i64, value: f64, anomalous: bool) {
    let run = TaskRun {
        id: format!("run-{i:03}"),
        workspace: "w".into(),
        scope: "db".into(),
        slx: Some("db-pg".into()),
        resource: "db".into(),
        task: TASK.into(),
        kind: TaskKind::Health,
        status: RunStatus::Succeeded,
        exit_code: Some(0),
        started_at: Timestamp(at),
        finished_at: Some(Timestamp(at + 40)),
        stdout: String::new(),
        stderr: String::new(),
        report: String::new(),
        error: None,
        reason: None,
    };
    store.start_run(&run, "test").await.unwrap();
    let insights = if anomalous {
        vec![(
            format!("anomalous SLI: {METRIC} on db = {value}, baseline 20±2, score 0.97"),
            json!({"kind": "anomalous_sli", "metric": METRIC, "labels": {}, "scope": "db",
                   "task": TASK, "value": value, "score": 0.97}),
        )]
    } else {
        vec![]
    };
    let results = RunResults {
        metrics: vec![(METRIC.into(), value, BTreeMap::new())],
        insights,
        ..RunResults::default()
    };
    store.finish_run(&run, &results).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_slx_history_has_its_series_slo_anomalies_and_runs_and_only_for_its_workspace() {
    let s = Server::start("w").await;
    let url = s.sitrep.settings().database_url(s.sitrep.home());
    let store = SqlStore::connect(&url).await.unwrap();
    store
        .put_slx(
            &Slx {
                workspace: "w".into(),
                name: "db-pg".into(),
                resource: "db".into(),
                bundle: "core/postgres".into(),
                description: "the database's connections".into(),
                tasks: vec![SlxTask {
                    task: "connection-saturation".into(),
                    interval: None,
                }],
                config: BTreeMap::from([("CONN_CRIT_PCT".to_string(), "90".to_string())]),
                secrets: BTreeMap::new(),
                stale: false,
                generated: None,
            },
            Timestamp(now()),
        )
        .await
        .unwrap();
    let t = now();
    // Two days ago: outside the default window of 24 hours.
    record(&store, 0, t - 48 * 3_600_000, 11.0, false).await;
    for i in 1..=5 {
        let at = t - (6 - i as i64) * 60_000;
        record(&store, i, at, 20.0 + i as f64, false).await;
    }
    record(&store, 6, t - 1_000, 97.0, true).await;

    let (st, h) = s.get("/api/v1/slxs/db-pg/history", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK, "{h}");
    assert_eq!(h["slx"]["name"], "db-pg");
    assert_eq!(h["tasks"], json!([{"task": TASK, "interval_s": 60}]), "{h}");
    let series = h["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{h}");
    let one = &series[0];
    assert_eq!(
        (one["task"].as_str(), one["metric"].as_str()),
        (Some(TASK), Some(METRIC))
    );
    let values: Vec<f64> = one["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(
        values,
        [21.0, 22.0, 23.0, 24.0, 25.0, 97.0],
        "oldest first, in the window"
    );
    // The SLX's config sets the threshold of the task's critical rule.
    assert_eq!(one["slo"]["op"], ">=");
    assert_eq!(one["slo"]["threshold"], 90.0);
    assert_eq!(one["slo"]["param"], "CONN_CRIT_PCT");
    let anomalies = one["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 1, "{h}");
    assert_eq!(anomalies[0]["value"], 97.0);
    assert_eq!(anomalies[0]["score"], 0.97);
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 7, "every run of the SLX, newest first: {h}");
    assert_eq!(runs[0]["id"], "run-006");

    // A wider window takes the older sample in.
    let (st, wide) = s
        .get("/api/v1/slxs/db-pg/history?hours=72", Role::Viewer)
        .await;
    assert_eq!(st, StatusCode::OK, "{wide}");
    assert_eq!(wide["series"][0]["points"].as_array().unwrap().len(), 7);
    let (st, body) = s
        .get("/api/v1/slxs/db-pg/history?days=1", Role::Viewer)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, body) = s.get("/api/v1/slxs/nope/history", Role::Viewer).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");

    // A token of another workspace in the same database gets a refusal and none of it.
    let b_home = tempfile::tempdir().unwrap();
    std::fs::write(b_home.path().join("sitrep.yaml"), crate::SETTINGS).unwrap();
    let mut opts = sitrep_engine::OpenOptions::new(b_home.path());
    opts.overrides.workspace = Some("b".into());
    opts.overrides.database_url = Some(url);
    let b = Sitrep::open(opts).unwrap();
    let foreign = b.create_token("intruder", Role::Admin, None).await.unwrap();
    let (st, body) = s
        .call(
            Method::GET,
            "/api/v1/slxs/db-pg/history",
            Some(&foreign.secret),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    crate::assert_error(&body, "forbidden");
    assert!(!body.to_string().contains(METRIC), "{body}");
    // And b's own view of an SLX of that name is that there is none.
    assert!(b.slx_history("db-pg", 24).await.is_err());
}
