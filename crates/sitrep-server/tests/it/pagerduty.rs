//! PagerDuty incident notes: a stub of PagerDuty's REST API v2 `POST /incidents/{id}/notes`
//! (a local HTTP server speaking its documented request: `Authorization: Token token=KEY`, the
//! author's email in `From`, `{"note": {"content": ...}}`; 201 with the note, 401 for a wrong
//! key). An incident that PagerDuty's webhook v3 reports is investigated, and the answer is a
//! note on that same incident.

use crate::{Server, concluded};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sitrep_core::access::Role;
use std::sync::{Arc, Mutex};

const KEY: &str = "u+pd-rest-key-Zk4";

/// What the stub got: the incident id, the Authorization and From headers, the body.
type Notes = Arc<Mutex<Vec<(String, String, String, Value)>>>;

async fn pagerduty_stub() -> (String, Notes) {
    async fn add_note(
        State(notes): State<Notes>,
        Path(id): Path<String>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        let header = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let auth = header("authorization");
        notes
            .lock()
            .unwrap()
            .push((id, auth.clone(), header("from"), body.clone()));
        if auth != format!("Token token={KEY}") {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": {"message": "Invalid Credentials", "code": 2006}})),
            );
        }
        (
            StatusCode::CREATED,
            Json(json!({"note": {"id": "PWL7QXS", "content": body["note"]["content"]}})),
        )
    }
    let notes: Notes = Arc::default();
    let app = axum::Router::new()
        .route("/incidents/{id}/notes", axum::routing::post(add_note))
        .with_state(notes.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, notes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pagerduty_incident_gets_the_answer_as_a_note_on_itself() {
    let s = Server::start("w").await;
    let (base, notes) = pagerduty_stub().await;
    s.sitrep.set_secret("pd-key", KEY).await.unwrap();
    s.sitrep
        .set_secret("pd-wrong", "u+not-the-key")
        .await
        .unwrap();
    let dir = s.sitrep.workspace_dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pd.yaml"),
        format!(
            "on: {{alert: {{source: pagerduty}}}}\ndeliver:\n  - pagerduty: {{token: 'secret:pd-key', from: 'oncall@example.com', api_url: '{base}'}}\n  - pagerduty: {{token: 'secret:pd-wrong', from: 'oncall@example.com', api_url: '{base}'}}\n"
        ),
    )
    .unwrap();
    let incident = json!({"event": {"id": "01DEN2HWF2RK9XLY0V3H5NFQOE", "event_type": "incident.triggered",
        "resource_type": "incident", "occurred_at": "2026-12-03T10:00:00Z",
        "data": {"id": "Q1ZYB4Z8O33QTA", "type": "incident", "title": "disk almost full on localhost",
                 "status": "triggered", "urgency": "high", "created_at": "2026-12-03T10:00:00Z",
                 "service": {"id": "PF9KMXH", "summary": "localhost", "type": "service_reference"}}}});
    let (st, body) = s
        .post("/api/v1/hooks/pagerduty", Role::Operator, incident)
        .await;
    assert_eq!(st, reqwest::StatusCode::ACCEPTED, "{body}");
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 1);
    let (_, events) = s.get("/api/v1/inbound", Role::Viewer).await;
    let session = events["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    concluded(&s, &session).await;
    assert_eq!(s.sitrep.deliver_due().await.unwrap(), 2);

    let got = notes.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter().all(|(id, ..)| id == "Q1ZYB4Z8O33QTA"),
        "the note goes on the incident that started it: {got:?}"
    );
    let (_, _, from, body) = got
        .iter()
        .find(|(_, auth, ..)| auth == &format!("Token token={KEY}"))
        .expect("the note with the right key");
    assert_eq!(from, "oncall@example.com");
    let content = body["note"]["content"].as_str().unwrap();
    assert!(content.contains("disk almost full"), "{content}");
    // A refused key is a failed delivery with PagerDuty's answer, and the key is not in it.
    let (_, deliveries) = s
        .get(
            &format!("/api/v1/deliveries?session={session}"),
            Role::Viewer,
        )
        .await;
    let text = deliveries.to_string();
    assert!(text.contains("\"delivered\""), "{text}");
    assert!(text.contains("PagerDuty answered 401"), "{text}");
    assert!(
        !text.contains(KEY) && !text.contains("u+not-the-key"),
        "{text}"
    );

    // Only a workflow started by PagerDuty may write a note on an incident.
    std::fs::write(
        dir.join("bad.yaml"),
        "on: {alert: {}}\ndeliver: [{pagerduty: {token: 'secret:pd-key', from: 'a@b.c'}}]\n",
    )
    .unwrap();
    let (_, wf) = s.get("/api/v1/workflows", Role::Viewer).await;
    assert!(wf.to_string().contains("source: pagerduty"), "{wf}");
}
