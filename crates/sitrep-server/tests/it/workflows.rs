//! Workflows over HTTP: an alert a workflow takes is investigated and its answer delivered
//! to a Slack incoming-webhook stub and a signed webhook receiver (local HTTP servers in the
//! test); a refusal is given up with the reason; nothing is delivered twice.

use crate::{Server, concluded};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sitrep_core::access::Role;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A stub of the receivers: `/slack` answers like Slack's incoming webhooks (`ok`),
/// `/hook` like a webhook receiver, `/gone` like a deleted Slack webhook (404 `no_service`).
async fn receivers() -> (String, Arc<Mutex<Vec<Got>>>) {
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    async fn take(
        State(got): State<Arc<Mutex<Vec<Got>>>>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> (StatusCode, &'static str) {
        let path = uri.path().to_string();
        let answer = if path == "/gone" {
            (StatusCode::NOT_FOUND, "no_service")
        } else {
            (StatusCode::OK, "ok")
        };
        got.lock().unwrap().push(Got {
            path,
            headers,
            body: body.to_vec(),
        });
        answer
    }
    let app = axum::Router::new()
        .fallback(axum::routing::post(take))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, got)
}

fn alert(group: &str, severity: &str) -> Value {
    json!({
        "version": "4", "groupKey": group, "status": "firing", "receiver": "sitrep",
        "groupLabels": {"alertname": "DiskAlmostFull"},
        "commonLabels": {"alertname": "DiskAlmostFull", "instance": "localhost", "severity": severity},
        "commonAnnotations": {}, "externalURL": "http://alertmanager", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskAlmostFull", "instance": "localhost", "severity": severity},
                    "annotations": {"summary": "disk almost full <!channel>"}, "startsAt": "2026-12-02T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "f1"}],
    })
}

/// HMAC-SHA256 over `{timestamp}.{body}`, as docs/workflows.md tells a receiver to check.
fn expected_signature(key: &str, ts: &str, body: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let mut msg = format!("{ts}.").into_bytes();
    msg.extend_from_slice(body);
    let tag = ring::hmac::sign(&k, &msg);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_a_workflow_takes_is_investigated_and_delivered_once() {
    let s = Server::start("w").await;
    let (base, got) = receivers().await;
    let dir = s.sitrep.workspace_dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = s.sitrep.home().join("hook.key");
    std::fs::write(&key_file, "k3y-for-signing\n").unwrap();
    std::fs::write(
        dir.join("pages.yaml"),
        format!(
            "description: critical alerts to the on-call channel\non:\n  alert: {{source: alertmanager, labels: {{severity: [critical, page]}}}}\ndeliver:\n  - slack: {{webhook_url: '{base}/slack'}}\n  - webhook: {{url: '{base}/hook', secret: 'file:{}'}}\n  - slack: {{webhook_url: '{base}/gone'}}\n",
            key_file.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("tickets.yaml"),
        format!("on: {{alert: {{labels: {{severity: ticket}}}}}}\ndeliver: [{{webhook: {{url: '{base}/tickets'}}}}]\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "on: {alert: {}}\ndeliver: [{slack: {webhook_url: nowhere}}]\n",
    )
    .unwrap();

    let (st, listed) = s.get("/api/v1/workflows", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK, "{listed}");
    let names: Vec<&str> = listed["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pages", "tickets"]);
    let problem = &listed["problems"][0];
    assert!(
        problem["file"].as_str().unwrap().ends_with("broken.yaml"),
        "{problem}"
    );
    assert_eq!(
        problem["field"], "deliver[0].slack.webhook_url",
        "{problem}"
    );
    assert_eq!(problem["line"], 2, "{problem}");

    let (st, _) = s
        .post(
            "/api/v1/hooks/alertmanager",
            Role::Operator,
            alert("g1", "critical"),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 1);
    let (_, events) = s.get("/api/v1/inbound", Role::Viewer).await;
    let session = events["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Stored with the investigation's start: three targets of the one workflow that takes it.
    let (_, page) = s
        .get(
            &format!("/api/v1/deliveries?session={session}"),
            Role::Viewer,
        )
        .await;
    assert_eq!(page["total"], 3, "{page}");
    concluded(&s, &session).await;
    assert_eq!(s.sitrep.deliver_due().await.unwrap(), 3);

    let got_now = got.lock().unwrap().clone();
    let paths: Vec<&str> = got_now.iter().map(|g| g.path.as_str()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(
        !paths.contains(&"/tickets"),
        "the ticket workflow does not take it"
    );

    let slack = got_now.iter().find(|g| g.path == "/slack").unwrap();
    let msg: Value = serde_json::from_slice(&slack.body).unwrap();
    assert!(
        msg["text"].as_str().unwrap().contains("DiskAlmostFull"),
        "{msg}"
    );
    assert!(
        msg["blocks"].as_array().is_some_and(|b| b.len() >= 3),
        "{msg}"
    );
    assert!(!msg.to_string().contains("<!channel>"), "escaped: {msg}");

    let hook = got_now.iter().find(|g| g.path == "/hook").unwrap();
    let h = |n: &str| {
        hook.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let ts = h("x-sitrep-timestamp");
    assert_eq!(
        h("x-sitrep-signature"),
        expected_signature("k3y-for-signing", &ts, &hook.body)
    );
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(body["type"], "session.finished");
    assert_eq!(body["report"]["session_id"], session.as_str());
    assert_eq!(h("idempotency-key"), body["delivery_id"].as_str().unwrap());

    let (_, page) = s
        .get(
            &format!("/api/v1/deliveries?session={}", &session[..8]),
            Role::Viewer,
        )
        .await;
    let mut outcomes: Vec<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap().to_string(),
                d["last_error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes[0].0, "delivered");
    assert_eq!(outcomes[1].0, "delivered");
    assert_eq!(outcomes[2].0, "failed", "a 404 is not retried");
    assert!(
        outcomes[2].1.contains("404") && outcomes[2].1.contains("no_service"),
        "{outcomes:?}"
    );

    // Each outcome is in the session's audit; nothing is sent twice.
    let (_, audit) = s
        .get(&format!("/api/v1/sessions/{session}/audit"), Role::Viewer)
        .await;
    let notes = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note" && e["data"]["delivery"].is_string())
        .count();
    assert_eq!(notes, 3, "{audit}");
    assert_eq!(s.sitrep.deliver_due().await.unwrap(), 0);
    assert_eq!(got.lock().unwrap().len(), 3);

    // Counted on /metrics (from the engine's events, which arrive asynchronously).
    let want = [
        "sitrep_deliveries_total{target=\"slack\",status=\"delivered\"} 1",
        "sitrep_deliveries_total{target=\"slack\",status=\"failed\"} 1",
        "sitrep_deliveries_total{target=\"webhook\",status=\"delivered\"} 1",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = s
            .http
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if want.iter().all(|w| text.contains(w)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_issue_a_workflow_takes_starts_an_investigation_with_its_delivery() {
    let s = Server::start("w").await;
    let (base, got) = receivers().await;
    let dir = s.sitrep.workspace_dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sev2.yaml"),
        format!("on: {{issue: {{severity_at_most: 2}}}}\ndeliver: [{{webhook: {{url: '{base}/hook'}}}}]\n"),
    )
    .unwrap();
    let me = s.sitrep.clone();
    let worker = tokio::spawn(async move { me.workflow_worker(std::future::pending()).await });
    // Let the worker subscribe before the issue opens.
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let (st, ran) = s
        .post(
            "/api/v1/runs",
            Role::Operator,
            json!({"task": "core/http-endpoint/status", "resource": "shop", "config": {"URL": "http://127.0.0.1:1/"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ran}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let delivery = loop {
        let (_, page) = s.get("/api/v1/deliveries", Role::Viewer).await;
        if let Some(d) = page["items"].as_array().and_then(|i| i.first()).cloned() {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery planned: {ran}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let session = delivery["session_id"].as_str().unwrap();
    let done = concluded(&s, session).await;
    assert_eq!(done["trigger"]["type"], "issue", "{done}");
    assert_eq!(s.sitrep.deliver_due().await.unwrap(), 1);
    assert_eq!(got.lock().unwrap()[0].path, "/hook");
    worker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_generic_webhook_asks_its_question_once_per_key_and_a_forged_one_is_refused() {
    let s = Server::start("w").await;
    let (base, got) = receivers().await;
    let dir = s.sitrep.workspace_dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = s.sitrep.home().join("ci.key");
    std::fs::write(&key_file, "ci-signing-key\n").unwrap();
    std::fs::write(
        dir.join("ci.yaml"),
        format!(
            "on:\n  webhook:\n    secret: 'file:{}'\n    key: [service, env]\n    resolved_when: {{field: state, equals: ok}}\ninvestigate:\n  question: 'Why is ${{service}} failing in ${{env}}?'\ndeliver: [{{webhook: {{url: '{base}/hook'}}}}]\n",
            key_file.display()
        ),
    )
    .unwrap();
    let hook = "/api/v1/hooks/webhook/ci";
    let send = |body: Value, key: &str, ts: u64| {
        let text = body.to_string();
        let sig = expected_signature(key, &ts.to_string(), text.as_bytes());
        s.http
            .post(format!("{}{hook}", s.base))
            .bearer_auth(s.token(Role::Operator))
            .header("content-type", "application/json")
            .header("x-sitrep-timestamp", ts.to_string())
            .header("x-sitrep-signature", sig)
            .body(text)
            .send()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let failing =
        |run: u32| json!({"service": "checkout", "env": "prod", "state": "failing", "run": run});

    // Forged, stale or unsigned: 401 saying why, and nothing stored.
    for (key, ts, why) in [
        ("not-the-key", now, "does not match"),
        ("ci-signing-key", now - 3600, "5 minutes"),
    ] {
        let r = send(failing(0), key, ts).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let b: Value = r.json().await.unwrap();
        assert!(b["message"].as_str().unwrap().contains(why), "{b}");
    }
    let (st, b) = s.post(hook, Role::Operator, failing(0)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{b}");
    let (_, events) = s.get("/api/v1/inbound", Role::Viewer).await;
    assert_eq!(events["total"], 0, "{events}");
    // No such workflow: 404.
    let (st, _) = s
        .post("/api/v1/hooks/webhook/nope", Role::Operator, failing(0))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Signed, but without a key field: 400 naming it, stored rejected.
    let r = send(json!({"service": "checkout"}), "ci-signing-key", now)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert!(b["message"].as_str().unwrap().contains("\"env\""), "{b}");

    // Two signed failures of the same service and env (changed bodies): one investigation.
    for run in [1, 2] {
        let r = send(failing(run), "ci-signing-key", now).await.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 2);
    let (_, events) = s.get("/api/v1/inbound", Role::Viewer).await;
    let items = events["items"].as_array().unwrap();
    let statuses: Vec<&str> = items
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    // Two requests may land in one millisecond: find them by what became of them.
    let with = |st: &str| statuses.iter().filter(|s| **s == st).count();
    assert_eq!((with("duplicate"), with("rejected")), (1, 1), "{events}");
    let session = items
        .iter()
        .find(|e| e["status"] != "duplicate" && e["status"] != "rejected")
        .and_then(|e| e["session_id"].as_str())
        .unwrap()
        .to_string();
    let done = concluded(&s, &session).await;
    assert_eq!(
        done["trigger"]["text"], "Why is checkout failing in prod?",
        "{done}"
    );
    assert_eq!(s.sitrep.deliver_due().await.unwrap(), 1);
    assert_eq!(got.lock().unwrap().len(), 1);
    // `state: ok` is the end: recorded against it.
    let r = send(
        json!({"service": "checkout", "env": "prod", "state": "ok"}),
        "ci-signing-key",
        now,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 1);
    let (_, events) = s.get("/api/v1/inbound", Role::Viewer).await;
    assert_eq!(events["items"][0]["status"], "recorded", "{events}");
    assert_eq!(events["items"][0]["session_id"], session.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_workflow_asks_its_question_at_its_times_and_delivers_the_answer() {
    let s = Server::start("w").await;
    let (base, got) = receivers().await;
    let dir = s.sitrep.workspace_dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    // Every two seconds (a leading seconds field), so the test need not wait for a minute.
    std::fs::write(
        dir.join("pulse.yaml"),
        format!("on: {{schedule: {{cron: '*/2 * * * * *'}}}}\ninvestigate: {{question: 'Is the shop healthy?'}}\ndeliver: [{{webhook: {{url: '{base}/hook'}}}}]\n"),
    )
    .unwrap();
    let me = s.sitrep.clone();
    let worker = tokio::spawn(async move { me.schedule_worker(std::future::pending()).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let delivery = loop {
        let (_, page) = s.get("/api/v1/deliveries", Role::Viewer).await;
        if let Some(d) = page["items"].as_array().and_then(|i| i.last()).cloned() {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the schedule never fired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.abort();
    assert_eq!(delivery["workflow"], "pulse", "{delivery}");
    let done = concluded(&s, delivery["session_id"].as_str().unwrap()).await;
    assert_eq!(done["trigger"]["type"], "question", "{done}");
    assert_eq!(done["trigger"]["text"], "Is the shop healthy?", "{done}");
    assert!(s.sitrep.deliver_due().await.unwrap() >= 1);
    let hook = got
        .lock()
        .unwrap()
        .iter()
        .find(|g| g.path == "/hook")
        .cloned();
    let body: Value = serde_json::from_slice(&hook.expect("delivered").body).unwrap();
    assert_eq!(body["workflow"], "pulse", "{body}");
}
