//! MCP over streamable HTTP at `/mcp`: the handshake, the tools, roles, and the transport's
//! rules (tokens, sessions, origins, versions, JSON-RPC errors).

use crate::Server;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sitrep_core::access::Role;

/// A POST (or another method) to /mcp; the status, headers and body (JSON when it is).
async fn mcp(
    s: &Server,
    method: Method,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = s
        .http
        .request(method, format!("{}/mcp", s.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let (status, h) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, h, body)
}

async fn rpc(s: &Server, role: Role, msg: Value) -> Value {
    let (st, _, body) = mcp(s, Method::POST, Some(s.token(role)), &[], &msg.to_string()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

async fn call(s: &Server, role: Role, tool: &str, args: Value) -> Value {
    let body = rpc(
        s,
        role,
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
               "params": {"name": tool, "arguments": args}}),
    )
    .await;
    assert_eq!(body["id"], 7, "{body}");
    body["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_initializes_lists_tools_and_calls_one() {
    let s = Server::start("w").await;
    let viewer = s.token(Role::Viewer);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {},
        "clientInfo": {"name": "it", "version": "0"}}});
    let (st, h, body) = mcp(&s, Method::POST, Some(viewer), &[], &init.to_string()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["protocolVersion"], "2025-03-26", "{body}");
    assert_eq!(body["result"]["serverInfo"]["name"], "sitrep");
    assert!(
        body["result"]["capabilities"]["tools"].is_object(),
        "{body}"
    );
    let session = h["mcp-session-id"].to_str().unwrap().to_string();
    let with = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-03-26"),
    ];

    // A notification is accepted with no body.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    let (st, _, body) = mcp(&s, Method::POST, Some(viewer), &with, &note).await;
    assert_eq!((st, body), (StatusCode::ACCEPTED, json!("")));

    let list = json!({"jsonrpc": "2.0", "id": "two", "method": "tools/list"}).to_string();
    let (st, _, body) = mcp(&s, Method::POST, Some(viewer), &with, &list).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "two");
    let tools = body["result"]["tools"].as_array().unwrap();
    let names: Vec<_> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in [
        "list_issues",
        "start_investigation",
        "get_session",
        "search_knowledge",
        "run_diagnostic_task",
        "map_around",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    // No approval over MCP: no tool approves or denies, and a made-up one is refused.
    assert!(
        names
            .iter()
            .all(|n| !n.contains("approv") && !n.contains("deny")),
        "{names:?}"
    );
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        assert!(t["annotations"]["readOnlyHint"].is_boolean(), "{t}");
    }
    let approve = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "approve", "arguments": {"id": "x"}}});
    let body = rpc(&s, Role::Admin, approve).await;
    assert_eq!(body["error"]["code"], -32602, "{body}");

    let result = call(&s, Role::Viewer, "list_issues", json!({"status": "all"})).await;
    assert_eq!(result["isError"], false, "{result}");
    assert!(result["structuredContent"]["items"].is_array(), "{result}");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        result["structuredContent"]
    );
    // Bad arguments are the tool's error, which the model can read and correct.
    let result = call(&s, Role::Viewer, "list_issues", json!({"colour": "red"})).await;
    assert_eq!(result["isError"], true, "{result}");

    // The session ends with DELETE; then it is unknown.
    let (st, _, _) = mcp(&s, Method::DELETE, Some(viewer), &with, "").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, body) = mcp(&s, Method::POST, Some(viewer), &with, &list).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_the_tools_and_remediations_never_run() {
    let s = Server::start("w").await;
    let result = call(
        &s,
        Role::Viewer,
        "start_investigation",
        json!({"question": "is this host healthy?"}),
    )
    .await;
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(result["structuredContent"]["code"], "forbidden", "{result}");
    let (_, sessions) = s.get("/api/v1/sessions", Role::Viewer).await;
    assert_eq!(sessions["total"], 0, "{sessions}");

    // An operator investigates, waits, and reads the session back by a prefix of its id.
    let result = call(
        &s,
        Role::Operator,
        "start_investigation",
        json!({"question": "is this host healthy?", "wait": true}),
    )
    .await;
    assert_eq!(result["isError"], false, "{result}");
    let session = &result["structuredContent"];
    assert!(session["conclusion"].is_object(), "{session}");
    let id = session["id"].as_str().unwrap();
    let got = call(&s, Role::Viewer, "get_session", json!({"id": &id[..8]})).await;
    assert_eq!(got["structuredContent"]["id"], id, "{got}");
    assert_eq!(got["structuredContent"]["status"], session["status"]);
    // A follow-up continues it; a viewer may not ask one.
    let ask = json!({"id": &id[..8], "question": "and its memory?", "wait": true});
    let refused = call(&s, Role::Viewer, "ask_follow_up", ask.clone()).await;
    assert_eq!(
        refused["structuredContent"]["code"], "forbidden",
        "{refused}"
    );
    let again = call(&s, Role::Operator, "ask_follow_up", ask).await;
    assert_eq!(again["isError"], false, "{again}");
    assert_eq!(again["structuredContent"]["id"], id, "{again}");
    assert_eq!(
        again["structuredContent"]["follow_ups"][0]["text"], "and its memory?",
        "{again}"
    );

    // Not even an admin's token runs a remediation over MCP.
    let (_, tasks) = s.get("/api/v1/tasks?limit=1000", Role::Viewer).await;
    let remediation = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "remediation")
        .expect("a remediation task")["task"]
        .clone();
    let result = call(
        &s,
        Role::Admin,
        "run_diagnostic_task",
        json!({"task": remediation, "resource": "localhost"}),
    )
    .await;
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(
        result["structuredContent"]["code"], "needs_approval",
        "{result}"
    );
    let (_, runs) = s.get("/api/v1/runs?limit=1000", Role::Viewer).await;
    let ran = runs["items"].as_array().unwrap();
    assert!(ran.iter().all(|r| r["task"] != remediation), "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transport_refuses_what_it_must() {
    let s = Server::start("w").await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    let viewer = Some(s.token(Role::Viewer));

    let (st, _, body) = mcp(&s, Method::POST, None, &[], &ping).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
    let (st, _, body) = mcp(&s, Method::POST, Some("sitrep_nope"), &[], &ping).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");

    let (st, _, body) = mcp(&s, Method::POST, viewer, &[], &ping).await;
    assert_eq!(
        (st, &body["result"]),
        (StatusCode::OK, &json!({})),
        "{body}"
    );

    let (st, _, body) = mcp(&s, Method::POST, viewer, &[], "{not json").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], -32700, "{body}");

    let nope = json!({"jsonrpc": "2.0", "id": 2, "method": "resources/list"}).to_string();
    let (_, _, body) = mcp(&s, Method::POST, viewer, &[], &nope).await;
    assert_eq!(body["error"]["code"], -32601, "{body}");
    let bad = json!({"jsonrpc": "1.0", "id": 2, "method": "ping"}).to_string();
    let (_, _, body) = mcp(&s, Method::POST, viewer, &[], &bad).await;
    assert_eq!(body["error"]["code"], -32600, "{body}");
    for junk in ["{}", "\"ping\"", "[]"] {
        let (st, _, body) = mcp(&s, Method::POST, viewer, &[], junk).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{junk}: {body}");
        assert_eq!(body["error"]["code"], -32600, "{junk}: {body}");
    }
    let no_name = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {}});
    let (_, _, body) = mcp(&s, Method::POST, viewer, &[], &no_name.to_string()).await;
    assert_eq!(body["error"]["code"], -32602, "{body}");

    // A batch answers its requests only; one of notifications only gets 202.
    let batch = json!([
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 5, "method": "ping"},
    ]);
    let (st, _, body) = mcp(&s, Method::POST, viewer, &[], &batch.to_string()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    let notes = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let (st, _, _) = mcp(&s, Method::POST, viewer, &[], &notes.to_string()).await;
    assert_eq!(st, StatusCode::ACCEPTED);

    let (st, _, _) = mcp(&s, Method::GET, viewer, &[], "").await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    let unknown = [("mcp-session-id", "no-such-session")];
    let (st, _, _) = mcp(&s, Method::POST, viewer, &unknown, &ping).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let old = [("mcp-protocol-version", "1999-01-01")];
    let (st, _, _) = mcp(&s, Method::POST, viewer, &old, &ping).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let rebinding = [("origin", "http://evil.example")];
    let (st, _, _) = mcp(&s, Method::POST, viewer, &rebinding, &ping).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let local = [("origin", "http://localhost:6274")];
    let (st, _, _) = mcp(&s, Method::POST, viewer, &local, &ping).await;
    assert_eq!(st, StatusCode::OK);

    // The body limit holds here too.
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}",
        "a".repeat(sitrep_server::MAX_BODY_BYTES)
    );
    let (st, _, _) = mcp(&s, Method::POST, viewer, &[], &big).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);

    // A session is its token's: another token cannot use it.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "0"}}});
    let (_, h, _) = mcp(&s, Method::POST, viewer, &[], &init.to_string()).await;
    let sid = h["mcp-session-id"].to_str().unwrap().to_string();
    let theirs = [("mcp-session-id", sid.as_str())];
    let (st, _, _) = mcp(&s, Method::POST, Some(s.token(Role::Admin)), &theirs, &ping).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
