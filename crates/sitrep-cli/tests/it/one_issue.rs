//! One failure, one issue: the three health tasks of an http-endpoint SLX on one failing URL
//! open exactly one issue between them; the tasks whose precondition failed (a response at
//! all, HTTPS at all) record an inconclusive run instead of raising the same failure again.

use crate::collection::{Guard, Sitrep, free_port, issues, port_open, pretty, wait_for};
use assert_cmd::Command;
use serde_json::Value;
use std::process::Command as Proc;

const TASKS: [&str; 3] = [
    "http-endpoint/status",
    "http-endpoint/latency",
    "http-endpoint/tls-expiry",
];

/// A python3 HTTP server answering every GET with `code`.
fn answering(code: u16) -> (Guard, String) {
    let port = free_port();
    let py = format!(
        r#"import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b'unavailable\n'
        self.send_response({code}); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()
"#
    );
    let g = Guard(Proc::new("python3").arg("-c").arg(py).spawn().unwrap());
    wait_for(10, "the test HTTP server", || port_open(port));
    (g, format!("http://127.0.0.1:{port}/health"))
}

fn open_issues(sitrep: &Sitrep) -> Vec<Value> {
    let out = Command::cargo_bin("sitrep")
        .unwrap()
        .env("SITREP_HOME", sitrep.home.path())
        .args(["issues", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).expect("issues --json")
}

/// Runs the three health tasks on `url`; returns each run's JSON document.
fn health_pass(sitrep: &Sitrep, url: &str) -> Vec<Value> {
    TASKS
        .iter()
        .map(|t| sitrep.try_run(t, "web", &[("URL", url)], &[]))
        .collect()
}

fn assert_one_issue(sitrep: &Sitrep, runs: &[Value], title: &str) {
    let open = open_issues(sitrep);
    assert_eq!(
        open.len(),
        1,
        "one failing URL, one issue; got {}",
        pretty(&Value::from(open.clone()))
    );
    assert_eq!(open[0]["title"], title);
    assert_eq!(open[0]["task"], "core/http-endpoint/status");
    for r in &runs[1..] {
        assert!(issues(r).is_empty(), "{}", pretty(r));
    }
}

#[test]
fn one_failing_url_yields_exactly_one_issue() {
    // Answers 503: the status task raises it; latency measures a fast answer; tls-expiry has
    // no certificate to look at.
    let (server, url) = answering(503);
    let sitrep = Sitrep::new();
    let runs = health_pass(&sitrep, &url);
    assert_one_issue(&sitrep, &runs, &format!("{url} returns HTTP 503"));
    assert_eq!(
        runs[1]["run"]["status"],
        "succeeded",
        "{}",
        pretty(&runs[1])
    );
    assert_eq!(
        runs[2]["run"]["status"],
        "inconclusive",
        "{}",
        pretty(&runs[2])
    );

    // Gone: nothing listens. Still one issue (the old one resolves, the new one opens), and
    // the latency run says it could not measure rather than "slow" or "unreachable".
    drop(server);
    let runs = health_pass(&sitrep, &url);
    assert_one_issue(&sitrep, &runs, &format!("{url} refuses connections"));
    for r in &runs[1..] {
        assert_eq!(r["run"]["status"], "inconclusive", "{}", pretty(r));
        assert!(
            r["run"]["reason"]
                .as_str()
                .unwrap_or("")
                .contains(&url[..url.len() - 7]),
            "the reason names the endpoint: {}",
            pretty(r)
        );
    }
}

#[test]
fn tls_expiry_on_an_http_url_raises_nothing() {
    let (_server, url) = answering(200);
    let sitrep = Sitrep::new();
    let v = sitrep.try_run("http-endpoint/tls-expiry", "web", &[("URL", &url)], &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    assert_eq!(v["run"]["status"], "inconclusive", "{}", pretty(&v));
    assert!(
        v["run"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("not an https URL"),
        "{}",
        pretty(&v)
    );
    assert!(open_issues(&sitrep).is_empty());
}
