//! The server's integration tests: one binary, one harness. Each test serves a fresh home
//! on a loopback port chosen by the kernel and talks HTTP to it.
//!
//! `access.rs`: tokens, roles and workspaces on every endpoint of the OpenAPI document.
//! `api.rs`: health, metrics, errors, listings and investigations over HTTP.
//! `intake.rs`: alert webhooks, stored first, one investigation per alert group.
//! `workflows.rs`: workflows' deliveries to Slack and signed-webhook stubs.
//! `metrics.rs`: `/metrics` after real work: run durations, duplicate alerts, the format.
//! `mcp.rs`: MCP over streamable HTTP at `/mcp`: handshake, tools, roles, transport rules.
//! `secrets.rs`: the secrets vault: admins only, write-only.
//! `slack.rs`: Slack Web API deliveries to a `chat.postMessage` stub, threaded per session.
//! `slx.rs`: an SLX's SLI history: series, SLO threshold, anomalies, runs; its workspace only.
//! `studio.rs`: the Studio's files: checked with line and field, saved by admins, per workspace.
//! `ui.rs`: the web UI's embedded files: content types, the CSP, nothing from the internet.

mod access;
mod api;
mod intake;
mod mcp;
mod metrics;
mod pagerduty;
mod secrets;
mod slack;
mod slx;
mod studio;
mod ui;
mod workflows;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sitrep_core::access::Role;
use sitrep_engine::{OpenOptions, Sitrep, Workspaces};
use std::collections::BTreeMap;

pub struct Server {
    pub base: String,
    pub sitrep: Sitrep,
    pub http: Client,
    /// A token of the served workspace per role.
    pub tokens: BTreeMap<Role, String>,
    _home: tempfile::TempDir,
    _task: tokio::task::JoinHandle<()>,
}

/// The settings every test home starts from: no host discovery, nothing slow.
pub const SETTINGS: &str = "discovery:\n  host: {enabled: false}\n";

impl Server {
    /// A fresh home (workspace `ws`) served on 127.0.0.1:0.
    pub async fn start(ws: &str) -> Server {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("sitrep.yaml"), SETTINGS).unwrap();
        Server::on(home, ws).await
    }

    /// Serves `home` as workspace `ws` (two servers on one home share its database).
    pub async fn on(home: tempfile::TempDir, ws: &str) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut opts = OpenOptions::new(home.path());
        opts.overrides.workspace = Some(ws.into());
        let (sitrep, _) = Sitrep::init(opts).await.unwrap();
        Server::serve(home, sitrep.clone(), Workspaces::single(sitrep)).await
    }

    /// Serves `workspaces` (tokens of `sitrep`'s workspace made by the caller).
    pub async fn serve(home: tempfile::TempDir, sitrep: Sitrep, workspaces: Workspaces) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut tokens = BTreeMap::new();
        for role in Role::ALL {
            let t = sitrep
                .create_token(role.as_str(), role, None)
                .await
                .unwrap();
            tokens.insert(role, t.secret);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            sitrep_server::serve_http(workspaces, listener, std::future::pending())
                .await
                .unwrap()
        });
        Server {
            base,
            sitrep,
            http: Client::new(),
            tokens,
            _home: home,
            _task: task,
        }
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    /// A request with `token` (none when `None`); the status and the body (JSON when it is).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let stream = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if stream {
            return (status, Value::Null);
        }
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn get(&self, path: &str, role: Role) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(self.token(role)), None)
            .await
    }

    pub async fn post(&self, path: &str, role: Role, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(self.token(role)), Some(body))
            .await
    }
}

/// An error body is `{code, message}` with a non-empty message.
#[track_caller]
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// An Alertmanager webhook payload: one DiskAlmostFull alert on localhost in `group`.
pub fn alertmanager_alert(group: &str, status: &str) -> Value {
    json!({
        "version": "4", "groupKey": group, "status": status, "receiver": "sitrep",
        "groupLabels": {"alertname": "DiskAlmostFull"},
        "commonLabels": {"alertname": "DiskAlmostFull", "instance": "localhost"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager", "truncatedAlerts": 0,
        "alerts": [{"status": status, "labels": {"alertname": "DiskAlmostFull", "instance": "localhost"},
                    "annotations": {"summary": "disk almost full"}, "startsAt": "2026-12-02T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "f1"}],
    })
}

/// The session once it has finished (bounded: 120 s).
pub async fn concluded(s: &Server, session: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (_, body) = s
            .get(&format!("/api/v1/sessions/{session}"), Role::Viewer)
            .await;
        if body["status"].as_str().is_some_and(|st| st != "running") {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
