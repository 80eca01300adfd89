//! `sitrep serve` serves the HTTP API, with tokens made by `sitrep token`.

use crate::collection::{port_open, wait_for};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sitrep(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sitrep"));
    c.args(args)
        .env("SITREP_HOME", home)
        .env_remove("SITREP_DATABASE_URL")
        .env_remove("SITREP_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn home() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("sitrep.yaml"),
        "discovery:\n  host: {enabled: false}\n",
    )
    .unwrap();
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET: the status code and the body.
fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
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
