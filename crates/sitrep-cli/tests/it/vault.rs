//! The secrets vault at the terminal and over HTTP: canary values set through both reach a
//! task, and appear in no answer, log line, stored byte or task output.

use crate::collection::{port_open, wait_for};
use crate::server::{free_port, get, home, ok, sitrep};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const CANARY: &str = "sitrep-canary-9Wk2Lm7Qx4Rz";
const CANARY_API: &str = "sitrep-canary-api-3Hn8Vb1Pd6";

/// One HTTP/1.1 request: the status code and the body.
fn send(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut res = String::new();
    s.read_to_string(&mut res).unwrap();
    let status = res[9..12].parse().unwrap();
    (status, res.split_once("\r\n\r\n").unwrap().1.to_string())
}

/// A collection whose health task prints both of its secrets, their lengths (so the test
/// knows it got them), and raises an issue with one in its title; and an SLX naming the two
/// vault secrets, written into the database as discovery would.
fn set_up(home: &Path) {
    let col = home.join("col");
    std::fs::create_dir_all(col.join("bundles/echo")).unwrap();
    std::fs::write(col.join("collection.yaml"), "name: v\n").unwrap();
    std::fs::write(
        col.join("bundles/echo/bundle.yaml"),
        "name: echo\ndescription: prints its secrets\nsecrets:\n  - name: TOKEN\n  - name: TOKEN2\ntasks:\n  - name: show\n    description: shows them\n    kind: health\n    type: bash\n    script: show.sh\n    interval: 1m\n",
    )
    .unwrap();
    std::fs::write(
        col.join("bundles/echo/show.sh"),
        "#!/bin/bash\necho \"token $TOKEN len=${#TOKEN} token2 $TOKEN2 len2=${#TOKEN2}\"\necho \"stderr $TOKEN $TOKEN2\" >&2\nprintf '{\"type\":\"issue\",\"severity\":3,\"title\":\"leaked %s\"}\\n' \"$TOKEN\" >> \"$SITREP_RESULTS\"\n",
    )
    .unwrap();
    std::fs::write(
        home.join("sitrep.yaml"),
        format!(
            "discovery:\n  host: {{enabled: false}}\ncollections:\n  - name: v\n    path: {}\n",
            col.display()
        ),
    )
    .unwrap();
    ok(sitrep(home, &["init"]).output().unwrap());
    let slx = sitrep_core::Slx {
        workspace: "default".into(),
        name: "echo-vault".into(),
        resource: "localhost".into(),
        bundle: "v/echo".into(),
        description: String::new(),
        tasks: vec![],
        config: Default::default(),
        secrets: [
            ("TOKEN".to_string(), "secret:canary-tok".to_string()),
            ("TOKEN2".to_string(), "secret:canary-api".to_string()),
        ]
        .into(),
        stale: false,
        generated: None,
    };
    let url = format!("sqlite://{}", home.join("sitrep.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO slxs (workspace, name, resource, bundle, spec, stale, created_at, updated_at) VALUES ('default', 'echo-vault', 'localhost', 'v/echo', ?1, 0, 1, 1)")
            .bind(serde_json::to_string(&slx).unwrap())
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
}

/// Every file under `dir` that holds `needle`.
fn files_with(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_with(&p, needle));
        } else if let Ok(b) = std::fs::read(&p)
            && b.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(p.display().to_string());
        }
    }
    found
}

#[track_caller]
fn clean(what: &str, text: &str) {
    for c in [CANARY, CANARY_API] {
        assert!(!text.contains(c), "{what} holds a secret: {text}");
    }
}

#[test]
fn a_canary_secret_reaches_its_task_and_appears_in_no_answer_log_or_stored_byte() {
    let h = home();
    set_up(h.path());

    // Set at the terminal from stdin; the command's own output never repeats it.
    let mut set = sitrep(h.path(), &["secret", "set", "canary-tok"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(set.stdin.take().unwrap(), "{CANARY}").unwrap();
    let o = set.wait_with_output().unwrap();
    clean("secret set", &String::from_utf8_lossy(&o.stderr));
    clean("secret set", &ok(o));
    let admin = ok(
        sitrep(h.path(), &["token", "create", "a", "--role", "admin"])
            .output()
            .unwrap(),
    )
    .trim()
    .to_string();

    let logs = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut serve = sitrep(
        h.path(),
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
    )
    .env("SITREP_LOG", "debug")
    .stderr(Stdio::from(logs.reopen().unwrap()))
    .spawn()
    .unwrap();
    wait_for(60, "the api to listen", || port_open(port));

    // Set over the API; the answer names it only.
    let body = serde_json::json!({ "value": CANARY_API }).to_string();
    let (st, res) = send(port, "PUT", "/api/v1/secrets/canary-api", &admin, &body);
    assert_eq!(st, 200, "{res}");
    assert!(res.contains("\"name\":\"canary-api\""), "{res}");
    let mut answers = vec![res];

    let (st, run) = send(port, "POST", "/api/v1/slxs/echo-vault/run", &admin, "");
    assert_eq!(st, 200, "{run}");
    // The task got both values (their lengths) and printed them, redacted.
    assert!(
        run.contains(&format!("len={}", CANARY.len()))
            && run.contains(&format!("len2={}", CANARY_API.len())),
        "{run}"
    );
    assert!(
        run.contains("[REDACTED:TOKEN]") && run.contains("[REDACTED:TOKEN2]"),
        "{run}"
    );
    let v: serde_json::Value = serde_json::from_str(&run).unwrap();
    let id = v["runs"][0]["run"]["id"].as_str().unwrap().to_string();
    answers.push(run);
    for path in [
        "/api/v1/secrets".to_string(),
        "/api/v1/runs".into(),
        format!("/api/v1/runs/{id}"),
        "/api/v1/issues?status=all".into(),
        "/api/v1/slxs/echo-vault".into(),
    ] {
        let (st, body) = get(port, &path, Some(&admin));
        assert_eq!(st, 200, "{path}: {body}");
        answers.push(body);
    }
    assert!(answers[2].contains("canary-tok") && answers[2].contains("canary-api"));
    assert!(
        answers[5].contains("leaked [REDACTED:TOKEN]"),
        "{}",
        answers[5]
    );
    answers.push(get(port, "/metrics", None).1);
    answers.push(ok(sitrep(h.path(), &["runs", "show", &id, "--json"])
        .output()
        .unwrap()));
    answers.push(ok(sitrep(h.path(), &["secret", "list", "--json"])
        .output()
        .unwrap()));
    answers.push(ok(sitrep(h.path(), &["issues", "--all", "--json"])
        .output()
        .unwrap()));
    for a in &answers {
        clean("an answer", a);
    }
    let (st, res) = send(port, "DELETE", "/api/v1/secrets/canary-api", &admin, "");
    assert_eq!(st, 200, "{res}");

    let st = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(serve.wait().unwrap().success());
    let log = std::fs::read_to_string(logs.path()).unwrap();
    assert!(
        log.contains("secret set") && log.contains("canary-api"),
        "{log}"
    );
    clean("the server's log", &log);
    // Not in the database (its WAL included), the key, or any other file of the home.
    assert!(h.path().join("sitrep.db").exists());
    for c in [CANARY, CANARY_API] {
        assert_eq!(files_with(h.path(), c), Vec::<String>::new());
    }
}

#[test]
fn secret_set_takes_no_value_from_the_command_line_and_rekey_rotates_the_key() {
    let h = home();
    ok(sitrep(h.path(), &["init"]).output().unwrap());
    // A value is not an argument.
    let o = sitrep(h.path(), &["secret", "set", "pg", CANARY])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = sitrep(
        h.path(),
        &["secret", "set", "pg", "--from-env", "CANARY_VALUE"],
    )
    .env("CANARY_VALUE", CANARY)
    .output()
    .unwrap();
    ok(o);
    std::fs::write(h.path().join("v"), format!("{CANARY_API}\n")).unwrap();
    let from_file = h.path().join("v").display().to_string();
    ok(sitrep(
        h.path(),
        &["secret", "set", "api", "--from-file", &from_file],
    )
    .output()
    .unwrap());
    std::fs::remove_file(h.path().join("v")).unwrap();
    let list = ok(sitrep(h.path(), &["secret", "list"]).output().unwrap());
    assert!(list.contains("api") && list.contains("pg"), "{list}");
    let o = sitrep(
        h.path(),
        &["secret", "set", "bad name", "--from-env", "CANARY_VALUE"],
    )
    .env("CANARY_VALUE", CANARY)
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a secret name"), "{err}");
    clean("an error", &err);

    let new_key = h.path().join("vault.key.new").display().to_string();
    let r = ok(sitrep(
        h.path(),
        &["secret", "rekey", "--new-key-file", &new_key, "--json"],
    )
    .output()
    .unwrap());
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["rekeyed"], 2, "{r}");
    std::fs::rename(&new_key, h.path().join("vault.key")).unwrap();
    ok(sitrep(h.path(), &["secret", "delete", "pg"])
        .output()
        .unwrap());
    let o = sitrep(h.path(), &["secret", "delete", "pg"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no secret \"pg\""));
    for c in [CANARY, CANARY_API] {
        assert_eq!(files_with(h.path(), c), Vec::<String>::new());
    }
}
