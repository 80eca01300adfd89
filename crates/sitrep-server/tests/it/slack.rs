//! Slack's Web API mode: a stub of `chat.postMessage` (a local HTTP server speaking Slack's
//! documented request and answer: bearer token, JSON `{channel, text, blocks, thread_ts?}`;
//! `{ok: true, channel, ts, message}` or `{ok: false, error}`). A session's first message
//! starts a thread and its later ones reply in it; an `ok: false` is a failed delivery with
//! Slack's error, counted on `/metrics`.

use crate::{Server, alertmanager_alert, concluded};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use reqwest::Method;
use serde_json::{Value, json};
use sitrep_core::access::Role;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "xoxb-test-bot-token";

/// What the stub got: the Authorization header and the JSON body.
type Posts = Arc<Mutex<Vec<(String, Value)>>>;

/// A stub of Slack's `POST /api/chat.postMessage`: channel `CBAD` is unknown, a wrong token
/// is `invalid_auth`, anything else is posted with a fresh `ts`.
async fn slack_stub() -> (String, Posts) {
    async fn post_message(
        State(posts): State<Posts>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut posts = posts.lock().unwrap();
        posts.push((auth.clone(), body.clone()));
        if auth != format!("Bearer {TOKEN}") {
            return Json(json!({"ok": false, "error": "invalid_auth"}));
        }
        if body["channel"] == "CBAD" {
            return Json(json!({"ok": false, "error": "channel_not_found"}));
        }
        let ts = format!("1700000000.{:06}", posts.len());
        Json(
            json!({"ok": true, "channel": body["channel"], "ts": ts, "message": {"text": body["text"], "ts": ts}}),
        )
    }
    let posts: Posts = Arc::default();
    let app = axum::Router::new()
        .route("/api/chat.postMessage", axum::routing::post(post_message))
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, posts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_web_api_deliveries_of_one_session_form_one_thread_and_a_refusal_is_a_failure() {
    let s = Server::start("w").await;
    let (base, posts) = slack_stub().await;
    let token_file = s.sitrep.home().join("slack.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let dir = s.sitrep.workspace_dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    let target = |channel: &str| {
        format!(
            "  - slack: {{token: 'file:{}', channel: {channel}, api_url: '{base}/api'}}\n",
            token_file.display()
        )
    };
    std::fs::write(
        dir.join("oncall.yaml"),
        format!(
            "on: {{alert: {{}}}}\ndeliver:\n{}",
            target("C123") + &target("C123") + &target("CBAD")
        ),
    )
    .unwrap();
    // A token written in the file itself is refused.
    std::fs::write(
        dir.join("bad.yaml"),
        "on: {alert: {}}\ndeliver: [{slack: {token: xoxb-inline, channel: C1}}]\n",
    )
    .unwrap();
    let (_, wf) = s.get("/api/v1/workflows", Role::Viewer).await;
    assert!(
        wf.to_string().contains("deliver[0].slack.token"),
        "the inline token is a problem: {wf}"
    );

    let (st, _) = s
        .post(
            "/api/v1/hooks/alertmanager",
            Role::Operator,
            alertmanager_alert("g-slack", "firing"),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::ACCEPTED);
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 1);
    let (_, events) = s.get("/api/v1/inbound", Role::Viewer).await;
    let session = events["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    concluded(&s, &session).await;
    assert_eq!(s.sitrep.deliver_due().await.unwrap(), 3);

    // Slack's request: the bot token as a bearer, the channel, the message; the second
    // message to C123 replies in the first one's thread.
    let got = posts.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter()
            .all(|(auth, _)| auth == &format!("Bearer {TOKEN}"))
    );
    let to_c123: Vec<&Value> = got
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b["channel"] == "C123")
        .collect();
    assert_eq!(to_c123.len(), 2, "{got:?}");
    let (first, second) = (to_c123[0], to_c123[1]);
    assert!(
        first.get("thread_ts").is_none(),
        "the first starts it: {first}"
    );
    assert!(
        first["text"].as_str().unwrap().contains("DiskAlmostFull"),
        "{first}"
    );
    assert!(first["blocks"].as_array().is_some_and(|b| !b.is_empty()));

    let (_, page) = s
        .get(
            &format!("/api/v1/deliveries?session={session}"),
            Role::Viewer,
        )
        .await;
    let items = page["items"].as_array().unwrap();
    let by_channel = |c: &str| -> Vec<&Value> {
        items
            .iter()
            .filter(|d| d["target"]["slack-api"]["channel"] == c)
            .collect()
    };
    let threaded = by_channel("C123");
    let root = threaded
        .iter()
        .find(|d| d.get("thread_ts").is_none())
        .unwrap_or_else(|| panic!("{page}"));
    let reply = threaded
        .iter()
        .find(|d| d.get("thread_ts").is_some())
        .unwrap_or_else(|| panic!("{page}"));
    assert_eq!(root["status"], "delivered", "{root}");
    assert_eq!(reply["status"], "delivered", "{reply}");
    // The second carries the first's ts as its thread, in Slack's request and in its record.
    assert_eq!(second["thread_ts"], root["slack_ts"], "{second} {root}");
    assert_eq!(reply["thread_ts"], root["slack_ts"], "{reply}");
    assert_ne!(reply["slack_ts"], root["slack_ts"]);

    // Slack's `ok: false` is a failed delivery with its error, given up, and counted.
    let bad = by_channel("CBAD");
    assert_eq!(bad[0]["status"], "failed", "{page}");
    assert!(
        bad[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("channel_not_found"),
        "{page}"
    );
    assert!(
        !page.to_string().contains(TOKEN),
        "the token leaked: {page}"
    );
    let want = [
        "sitrep_delivery_failures_total{target=\"slack\",given_up=\"true\"} 1",
        "sitrep_deliveries_total{target=\"slack\",status=\"failed\"} 1",
        "sitrep_deliveries_total{target=\"slack\",status=\"delivered\"} 2",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = s.call(Method::GET, "/metrics", None, None).await;
        let m = m.as_str().unwrap().to_string();
        if want.iter().all(|w| m.lines().any(|l| l == *w)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{want:?} in:\n{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
