use crate::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sitrep_core::access::Role;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_answer_without_a_token() {
    let s = Server::start("w").await;
    let (st, body) = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, Some("ok\n")));
    let (st, body) = s.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, Some("ready\n")));
    // Some traffic, then the counters show it.
    s.get("/api/v1/issues", Role::Viewer).await;
    s.call(Method::GET, "/api/v1/issues", None, None).await;
    let (st, m) = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let m = m.as_str().unwrap();
    for line in [
        "sitrep_up{workspace=\"w\"} 1",
        "sitrep_store_up{workspace=\"w\"} 1",
        "sitrep_open_issues{workspace=\"w\",severity=\"critical\"} 0",
        "sitrep_approvals_pending{workspace=\"w\"} 0",
        "sitrep_http_requests_total{route=\"/api/v1/issues\",status=\"200\"} 1",
        "sitrep_http_requests_total{route=\"/api/v1/issues\",status=\"401\"} 1",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in:\n{m}");
    }
    // Every sample line is NAME{LABELS} VALUE or NAME VALUE with a number.
    for l in m.lines().filter(|l| !l.starts_with('#')) {
        let v = l.rsplit(' ').next().unwrap();
        assert!(v.parse::<f64>().is_ok(), "not a sample: {l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_that_says_what_to_fix() {
    let s = Server::start("w").await;
    let cases = [
        (
            Method::GET,
            "/nope",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::DELETE,
            "/api/v1/issues",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/api/v1/issues?status=bogus",
            None,
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            Method::GET,
            "/api/v1/issues?limit=-1",
            None,
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            Method::GET,
            "/api/v1/issues?colour=red",
            None,
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            Method::GET,
            "/api/v1/issues/no-such-issue",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/api/v1/tasks/core%2Fno%2Fsuch",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"question": "a", "issue": "b"})),
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            Method::POST,
            "/api/v1/sessions",
            Some(json!({"questoin": "typo"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            Method::POST,
            "/api/v1/runs",
            Some(json!({"task": "core/no/such"})),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (m, path, body, want, code) in cases {
        let (st, b) = s
            .call(m.clone(), path, Some(s.token(Role::Admin)), body)
            .await;
        assert_eq!(st, want, "{m} {path}: {b}");
        assert_error(&b, code);
    }
    // A body that is not JSON, and one over the size limit.
    let res = s
        .http
        .post(format!("{}/api/v1/sessions", s.base))
        .bearer_auth(s.token(Role::Admin))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_error(&res.json().await.unwrap(), "invalid");
    let big = format!(
        "{{\"question\": \"{}\"}}",
        "x".repeat(sitrep_server::MAX_BODY_BYTES + 10)
    );
    let res = s
        .http
        .post(format!("{}/api/v1/sessions", s.base))
        .bearer_auth(s.token(Role::Admin))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&res.json().await.unwrap(), "too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_investigation_started_over_http_runs_to_a_conclusion_and_is_listed() {
    let s = Server::start("w").await;
    // A diagnostic run over HTTP first: recorded and listed.
    let (st, ran) = s
        .post(
            "/api/v1/runs",
            Role::Operator,
            json!({"task": "core/linux-host/disk-usage", "resource": "localhost"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ran}");
    let run = ran["run"]["id"].as_str().unwrap().to_string();
    let (_, runs) = s.get("/api/v1/runs?limit=5", Role::Viewer).await;
    assert_eq!(runs["items"][0]["id"], run.as_str(), "{runs}");
    let (st, one) = s
        .get(&format!("/api/v1/runs/{}", &run[..8]), Role::Viewer)
        .await;
    assert_eq!(
        (st, one["task"].as_str()),
        (StatusCode::OK, Some("core/linux-host/disk-usage"))
    );
    // A remediation is refused: it runs only from an approved proposal.
    let (_, tasks) = s.get("/api/v1/tasks?limit=1000", Role::Viewer).await;
    let remediation = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "remediation")
        .expect("a remediation task")["task"]
        .clone();
    let (st, body) = s
        .post(
            "/api/v1/runs",
            Role::Admin,
            json!({"task": remediation, "resource": "localhost"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "needs_approval");

    let (st, started) = s
        .post(
            "/api/v1/sessions",
            Role::Operator,
            json!({"question": "is this host healthy?"}),
        )
        .await;
    assert!(
        st == StatusCode::ACCEPTED || st == StatusCode::CREATED,
        "{st} {started}"
    );
    let id = started["id"].as_str().unwrap().to_string();
    // Readable at once, then concluded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let session = loop {
        let (st, body) = s.get(&format!("/api/v1/sessions/{id}"), Role::Viewer).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        if body["status"] != "running" {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(session["conclusion"].is_object(), "{session}");
    let (_, audit) = s
        .get(&format!("/api/v1/sessions/{id}/audit"), Role::Viewer)
        .await;
    assert!(audit.as_array().unwrap().len() >= 2, "{audit}");
    let (_, page) = s.get("/api/v1/sessions?limit=1", Role::Viewer).await;
    assert_eq!(page["items"][0]["id"], id.as_str(), "{page}");
    assert_eq!(
        (page["limit"].as_u64(), page["total"].as_u64()),
        (Some(1), Some(1))
    );
    let (_, none) = s.get("/api/v1/sessions?status=running", Role::Viewer).await;
    assert_eq!(none["total"], 0, "{none}");

    // A follow-up continues the same session; a viewer may not ask one.
    let ask = json!({"question": "and its disks?", "wait": true});
    let path = format!("/api/v1/sessions/{}/follow-ups", &id[..8]);
    let (st, body) = s.post(&path, Role::Viewer, ask.clone()).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    let (st, again) = s.post(&path, Role::Operator, ask).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["follow_ups"][0]["text"], "and its disks?", "{again}");
    assert!(again["conclusion"].is_object(), "{again}");
    let (st, body) = s
        .post(
            "/api/v1/sessions/nope/follow-ups",
            Role::Operator,
            json!({"question": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    let (st, body) = s
        .post(&path, Role::Operator, json!({"question": " "}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_page_and_filter() {
    let s = Server::start("w").await;
    let (st, all) = s.get("/api/v1/tasks", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK);
    let total = all["total"].as_u64().unwrap();
    assert!(total > 10, "{all}");
    let (st, p2) = s.get("/api/v1/tasks?limit=3&offset=3", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK, "{p2}");
    assert_eq!(p2["items"].as_array().unwrap().len(), 3);
    assert_eq!(p2["items"][0], all["items"][3]);
    let name = all["items"][0]["task"].as_str().unwrap();
    let (st, one) = s
        .get(
            &format!("/api/v1/tasks/{}", name.replace('/', "%2F")),
            Role::Viewer,
        )
        .await;
    assert_eq!((st, one["task"].as_str()), (StatusCode::OK, Some(name)));
    let (_, filtered) = s.get("/api/v1/tasks?q=postgres", Role::Viewer).await;
    let items = filtered["items"].as_array().unwrap();
    assert!(!items.is_empty() && (items.len() as u64) < total);
    assert!(
        items
            .iter()
            .all(|t| t["task"].as_str().unwrap().contains("postgres"))
    );
    // The largest offset is an empty page, not an overflow (found by schemathesis).
    for list in ["runs", "inbound", "tasks"] {
        let (st, page) = s
            .get(
                &format!("/api/v1/{list}?offset=18446744073709551615"),
                Role::Viewer,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{list}: {page}");
        assert_eq!(
            page["items"].as_array().map(Vec::len),
            Some(0),
            "{list}: {page}"
        );
    }
    let (st, slxs) = s.get("/api/v1/slxs", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK, "{slxs}");
    let (st, map) = s.get("/api/v1/map", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK, "{map}");
    assert!(map["resources"].is_array(), "{map}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_limit_gets_429_with_retry_after_and_others_do_not() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("sitrep.yaml"),
        format!(
            "{}serve:\n  rate_limit: {{per_second: 1, burst: 3, hooks_per_second: 1, hooks_burst: 2}}\n",
            crate::SETTINGS
        ),
    )
    .unwrap();
    let s = crate::Server::on(home, "w").await;
    let codes = |n: usize, role: Role, path: &'static str| {
        let s = &s;
        async move {
            let mut out = vec![];
            for _ in 0..n {
                let res = s
                    .http
                    .get(format!("{}{path}", s.base))
                    .bearer_auth(s.token(role))
                    .send()
                    .await
                    .unwrap();
                let retry = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let status = res.status().as_u16();
                let body: serde_json::Value = res.json().await.unwrap_or_default();
                out.push((status, retry, body));
            }
            out
        }
    };
    // The burst passes; then (one a second refills, so a stalled machine may let one more
    // through) the limit answers.
    let viewer = codes(6, Role::Viewer, "/api/v1/issues").await;
    let statuses: Vec<u16> = viewer.iter().map(|c| c.0).collect();
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    let limited = viewer.iter().position(|c| c.0 == 429).expect("a 429");
    let (_, retry, body) = &viewer[limited];
    assert_eq!(retry.as_deref(), Some("1"));
    crate::assert_error(body, "rate_limited");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("serve.rate_limit"),
        "{body}"
    );
    // Another token has its own allowance.
    let admin = codes(1, Role::Admin, "/api/v1/issues").await;
    assert_eq!(admin[0].0, 200);
    // Hooks count apart from the rest of the API.
    let (st, _) = s
        .post(
            "/api/v1/hooks/alertmanager",
            Role::Viewer,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        st.as_u16(),
        403,
        "a viewer may not post alerts: checked before the limit"
    );
    let mut hook = vec![];
    for _ in 0..5 {
        let (st, _) = s
            .post(
                "/api/v1/hooks/alertmanager",
                Role::Operator,
                serde_json::json!({}),
            )
            .await;
        hook.push(st.as_u16());
    }
    assert_eq!(hook[..2], [400, 400], "two malformed alerts taken");
    assert!(hook.contains(&429), "then the hook's limit: {hook:?}");
}
