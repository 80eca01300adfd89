//! `sitrep serve` serves the HTTP API, with tokens made by `sitrep token`.

use crate::collection::{port_open, wait_for};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub(crate) fn sitrep(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sitrep"));
    c.args(args)
        .env("SITREP_HOME", home)
        .env_remove("SITREP_DATABASE_URL")
        .env_remove("SITREP_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

pub(crate) fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

pub(crate) fn home() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("sitrep.yaml"),
        "discovery:\n  host: {enabled: false}\n",
    )
    .unwrap();
    d
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET: the status code and the body.
pub(crate) fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut res = String::new();
    s.read_to_string(&mut res).unwrap();
    let status = res[9..12].parse().unwrap();
    let body = res
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn serve_answers_the_api_with_a_token_the_cli_made_and_stops_on_sigterm() {
    let h = home();
    ok(sitrep(h.path(), &["init"]).output().unwrap());
    let secret = ok(sitrep(
        h.path(),
        &["token", "create", "alice", "--role", "approver"],
    )
    .output()
    .unwrap())
    .trim()
    .to_string();
    assert!(secret.starts_with("sitrep_"), "{secret}");
    let list: Value = serde_json::from_str(&ok(sitrep(h.path(), &["token", "list", "--json"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(list[0]["name"], "alice");
    assert_eq!(list[0]["role"], "approver");
    assert!(!list.to_string().contains(&secret[7..]), "{list}");

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serve = sitrep(h.path(), &["serve", "--listen", &listen])
        .spawn()
        .unwrap();
    wait_for(60, "the api to listen", || port_open(port));
    let (st, body) = get(port, "/api/v1/workspace", Some(&secret));
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"role\":\"approver\""), "{body}");
    let (st, body) = get(port, "/api/v1/workspace", None);
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("sitrep token create"), "{body}");
    assert_eq!(get(port, "/healthz", None).0, 200);

    // Revoked at the terminal: refused by the running server at once.
    let id = list[0]["id"].as_str().unwrap();
    ok(sitrep(h.path(), &["token", "revoke", id]).output().unwrap());
    let (st, body) = get(port, "/api/v1/workspace", Some(&secret));
    assert_eq!(st, 401, "{body}");

    let st = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = serve.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!port_open(port), "the port is closed after the stop");
}

#[test]
fn serve_says_what_to_do_when_its_address_is_taken_or_wrong() {
    let h = home();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = sitrep(h.path(), &["serve", "--listen", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("SITREP_LISTEN"), "{err}");

    let o = sitrep(h.path(), &["serve"])
        .env("SITREP_LISTEN", "localhost")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("serve.listen") && err.contains("HOST:PORT"),
        "{err}"
    );
}

#[test]
fn token_create_refuses_an_unknown_role_with_the_roles_it_takes() {
    let h = home();
    let o = sitrep(h.path(), &["token", "create", "x", "--role", "root"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("viewer, operator, approver or admin"), "{err}");
}

/// A plain HTTP/1.1 POST of JSON: the status code and the body, or `None` when the server
/// did not answer (it was killed).
fn post(port: u16, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut res = String::new();
    s.read_to_string(&mut res).ok()?;
    let status = res.get(9..12)?.parse().ok()?;
    Some((status, res.split_once("\r\n\r\n")?.1.to_string()))
}

#[test]
fn a_kill_9_in_a_burst_of_alerts_loses_none_that_were_accepted_and_the_storm_is_one_investigation()
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let h = home();
    ok(sitrep(h.path(), &["init"]).output().unwrap());
    let token = ok(
        sitrep(h.path(), &["token", "create", "am", "--role", "operator"])
            .output()
            .unwrap(),
    )
    .trim()
    .to_string();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = sitrep(h.path(), &["serve", "--listen", &listen])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(60, "the api to listen", || port_open(port));

    let payload = serde_json::json!({"version": "4", "groupKey": "{}:{alertname=\"Storm\"}", "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": "Storm", "instance": "localhost"},
                    "annotations": {"summary": "everything is on fire"}}]})
    .to_string();
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..6)
        .map(|_| {
            let (accepted, sent, token, payload) = (
                accepted.clone(),
                sent.clone(),
                token.clone(),
                payload.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..400 {
                    sent.fetch_add(1, Ordering::SeqCst);
                    if let Some((202, body)) =
                        post(port, "/api/v1/hooks/alertmanager", &token, &payload)
                    {
                        let v: Value = serde_json::from_str(&body).unwrap();
                        accepted
                            .lock()
                            .unwrap()
                            .push(v["id"].as_str().unwrap().to_string());
                    }
                }
            })
        })
        .collect();
    // SIGKILL in the middle of the burst, with requests in flight.
    let t0 = std::time::Instant::now();
    while accepted.lock().unwrap().len() < 100 {
        assert!(t0.elapsed().as_secs() < 60, "the burst did not start");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    serve.kill().unwrap();
    serve.wait().unwrap();
    for s in senders {
        s.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() < sent.load(Ordering::SeqCst),
        "the kill came in the middle of the burst"
    );

    // Restarted: every accepted event is there and gets handled; the storm is one group.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serve = sitrep(h.path(), &["serve", "--listen", &listen])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(60, "the api to listen again", || port_open(port));
    let viewer = ok(sitrep(h.path(), &["token", "create", "v"])
        .output()
        .unwrap())
    .trim()
    .to_string();
    let mut events = vec![];
    wait_for(120, "every accepted alert handled", || {
        let (st, body) = get(port, "/api/v1/inbound?limit=1000", Some(&viewer));
        assert_eq!(st, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        events = page["items"].as_array().unwrap().clone();
        events.iter().all(|e| e["status"] != "pending")
    });
    for id in &accepted {
        assert!(
            events.iter().any(|e| e["id"] == id.as_str()),
            "accepted alert {id} was lost"
        );
    }
    let sessions: std::collections::BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["session_id"].as_str())
        .collect();
    assert_eq!(
        sessions.len(),
        1,
        "one investigation for the storm: {events:?}"
    );
    eprintln!(
        "{} alerts sent, {} accepted before the kill, {} stored, 1 investigation",
        sent.load(Ordering::SeqCst),
        accepted.len(),
        events.len()
    );
    let st = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    serve.wait_with_output().unwrap();
}

#[test]
fn mcp_on_stdio_answers_line_by_line_and_exits_at_the_end_of_its_input() {
    let h = home();
    ok(sitrep(h.path(), &["init"]).output().unwrap());
    let mut child = sitrep(h.path(), &["mcp"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for msg in [
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "it", "version": "0"}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "list_issues", "arguments": {}}}),
        serde_json::json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
            "params": {"name": "approve", "arguments": {}}}),
    ] {
        writeln!(stdin, "{msg}").unwrap();
    }
    writeln!(stdin, "{{not json").unwrap();
    drop(stdin);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("sitrep mcp did not exit at the end of its input");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Every line of stdout is one JSON-RPC answer; the notification got none.
    let answers: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 5, "{answers:?}");
    let by_id = |id: Value| answers.iter().find(|a| a["id"] == id).unwrap();
    let init = by_id(1.into());
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    let tools = by_id(2.into())["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 7, "{tools:?}");
    let issues = by_id(3.into());
    assert_eq!(issues["result"]["isError"], false, "{issues}");
    assert_eq!(by_id(4.into())["error"]["code"], -32602);
    assert_eq!(by_id(Value::Null)["error"]["code"], -32700);
}
