//! Robot tasks of RunWhen codebundles run (docs/runwhen.md): the robot runtime installed from
//! PyPI (real, no stubs) and `rw/curl-http-ok`'s runbook task run unmodified against a local
//! HTTP server, its issue, report and metrics stored like a native task's.
//!
//! The runtime is installed once per target dir (`CARGO_TARGET_TMPDIR/robot-runtimes`, kept
//! between test runs: a current runtime is not reinstalled) and shared by every test home
//! through a `runtimes` link.

use crate::harness::Home;
use crate::runwhen::{runwhen_home, shared_runwhen};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const RUNBOOK: &str = "rw/curl-http-ok/check-http-url-availability-and-timeliness";

/// The shared runtimes folder, with the robot runtime installed by `sitrep runtimes install`.
pub(crate) fn runtimes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("robot-runtimes");
        std::fs::create_dir_all(&dir).unwrap();
        let home = Home::empty();
        std::os::unix::fs::symlink(&dir, home.path().join("runtimes")).unwrap();
        let out = home.sitrep(&["runtimes", "install", "robot"]);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// A home reading the shared RunWhen collection as `rw`, with the shared robot runtime.
pub(crate) fn robot_home() -> Home {
    let home = runwhen_home(&[("rw", &shared_runwhen())]);
    std::os::unix::fs::symlink(runtimes(), home.path().join("runtimes")).unwrap();
    home
}

/// An HTTP server on 127.0.0.1 answering `/ok` with 200 and anything else with 500, for the
/// life of the test process; its base URL.
fn http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // the rest of the head
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let status = if request.starts_with("GET /ok ") {
                "200 OK"
            } else {
                "500 Internal Server Error"
            };
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
            );
        }
    });
    base
}

pub(crate) fn run_json(home: &Home, args: &[&str]) -> Value {
    let out = home.sitrep(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sitrep {args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

#[test]
fn the_robot_runtime_is_listed_and_installing_it_again_does_nothing() {
    let home = robot_home();
    let list = run_json(&home, &["runtimes", "list", "--json"]);
    assert_eq!(list[0]["name"], "robot", "{list}");
    assert_eq!(list[0]["state"], "current", "{list}");
    assert!(list[0]["packages"]["robotframework"].is_string(), "{list}");
    let out = home.sitrep(&["runtimes", "install", "robot"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("installing"), "reinstalled: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("current"));
}

#[test]
fn the_robot_runtimes_own_robot_command_runs() {
    // pip writes its console scripts for the folder the venv is built in (beside the runtime's,
    // through the home's `runtimes` link); sitrep points them at the runtime's real folder.
    let home = robot_home();
    let out = home.sitrep(&["runtimes", "install", "robot"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let robot = runtimes().join("robot/bin/robot");
    let out = std::process::Command::new(&robot)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", robot.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Robot Framework 7.5"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_runwhen_runbook_task_runs_unmodified_and_its_issue_is_stored() {
    let home = robot_home();
    let base = http_server();

    let ok_url = format!("URLS={base}/ok");
    let ok = run_json(
        &home,
        &[
            "run",
            RUNBOOK,
            "--set",
            &ok_url,
            "--resource",
            "web",
            "--json",
        ],
    );
    assert_eq!(ok["run"]["status"], "succeeded", "{ok:#}");
    assert_eq!(ok["issues"].as_array().unwrap().len(), 0, "{ok:#}");
    let report = ok["report"].as_str().unwrap();
    assert!(
        report.contains(&format!("URL: {base}/ok")) && report.contains("URL Response Code: 200"),
        "{report}"
    );

    let bad_url = format!("URLS={base}/broken");
    let bad = run_json(
        &home,
        &[
            "run",
            RUNBOOK,
            "--set",
            &bad_url,
            "--resource",
            "web",
            "--json",
        ],
    );
    assert_eq!(bad["run"]["status"], "succeeded", "{bad:#}");
    assert!(
        bad["report"]
            .as_str()
            .unwrap()
            .contains("URL Response Code: 500"),
        "{bad:#}"
    );
    let issues = run_json(&home, &["issues", "--json"]);
    let issues = issues.as_array().unwrap();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let issue = &issues[0];
    assert_eq!(issue["task"], RUNBOOK);
    assert_eq!(issue["scope"], "web");
    assert_eq!(issue["severity"], 4, "{issue:#}");
    let title = issue["title"].as_str().unwrap();
    assert!(
        title.starts_with("HTTP response code does not match acceptable response codes")
            && title.contains(&format!("{base}/broken")),
        "{title}"
    );
    assert_eq!(issue["actual"], "Received HTTP response code 500");
    assert!(issue["reproduce_hint"].as_str().unwrap().contains("curl "));
}

#[test]
fn a_runwhen_sli_pushes_its_metrics() {
    let home = robot_home();
    let base = http_server();
    let url = format!("URLS={base}/ok");
    let out = run_json(
        &home,
        &[
            "run",
            "rw/curl-http-ok/sli",
            "--set",
            &url,
            "--resource",
            "web",
            "--json",
        ],
    );
    assert_eq!(out["run"]["status"], "succeeded", "{out:#}");
    let metrics = out["metrics"].as_array().unwrap();
    let value = |name: &str| {
        metrics
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["value"].as_f64().unwrap())
    };
    assert_eq!(value("sli"), Some(1.0), "{metrics:#?}");
    assert_eq!(value("overall_health"), Some(1.0), "{metrics:#?}");
}

#[test]
fn without_python_venv_a_robot_task_says_what_to_install() {
    let home = runwhen_home(&[("rw", &shared_runwhen())]);
    let out = home
        .cmd(&["run", "rw/curl-http-ok/sli", "--resource", "web"])
        .env("SITREP_PYTHON", "/nonexistent/python3")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rw/curl-http-ok/sli") && err.contains("apt-get install python3-venv"),
        "{err}"
    );
    assert!(!home.path().join("runtimes/robot").exists());
}
