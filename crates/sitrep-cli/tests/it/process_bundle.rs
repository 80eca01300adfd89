//! The `process` bundle against real processes: a small service under a supervisor loop reads
//! its configuration file; the tests break the file, watch config-watch, restarts and
//! log-errors name the change, the crash loop and the error, then roll the file back with
//! linux-host/rollback-config-file and watch everything resolve.

use crate::collection::{
    Sitrep, assert_actionable, issue_with, issues, opened_ids, pretty, severity, sh, wait_for,
};
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::time::Duration;

/// A service that refuses a non-integer `timeout_ms` (logs why as a JSON line, exits 78) and
/// otherwise runs until stopped.
const SERVICE: &str = r##"import json, os, sys, time
conf = sys.argv[sys.argv.index("--config") + 1]
def log(level, msg, **kw):
    with open(os.environ["SVC_LOG"], "a") as f:
        f.write(json.dumps(dict(ts=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), level=level, msg=msg, **kw)) + "\n")
vals = {}
for line in open(conf):
    if "=" in line and not line.startswith("#"):
        k, v = line.split("=", 1)
        vals[k.strip()] = v.strip()
try:
    int(vals["timeout_ms"])
except (KeyError, ValueError):
    log("error", "invalid configuration, exiting", config=conf, error="timeout_ms %r is not a whole number of milliseconds" % vals.get("timeout_ms"))
    sys.exit(78)
log("info", "started", pid=os.getpid())
while True:
    time.sleep(1)
"##;

const CONFIG: &str = "# test service\nlisten = 127.0.0.1:9999\ndatabase_url = postgres://app:db-Pw-4d1f9e@127.0.0.1:5432/shop\napi_token = tok-7c2e55aa\ntimeout_ms = 3000\n";

/// The service under a supervisor loop (restarts it 0.3 s after every exit), in its own
/// process group, stopped whole on drop.
struct Supervised {
    child: Child,
    dir: tempfile::TempDir,
}

impl Supervised {
    fn start() -> Supervised {
        Supervised::spawn(|d| {
            let loop_ = format!(
                "while :; do {py} {d}/svc.py --config {d}/app.conf; sleep 0.3; done",
                py = python(),
                d = d.display()
            );
            let mut cmd = Proc::new("bash");
            cmd.arg("-c").arg(loop_).env("SVC_LOG", d.join("svc.log"));
            cmd
        })
    }
    /// The same service under runit's `runsv`, as a host's service manager runs it: a service
    /// directory named `sitrep-test-svc-PID` whose `run` script execs the service.
    fn start_under_runit() -> Supervised {
        Supervised::spawn(|d| {
            let sv = d.join(format!("sitrep-test-svc-{}", std::process::id()));
            std::fs::create_dir(&sv).unwrap();
            let run = format!(
                "#!/bin/sh\nexec env SVC_LOG={d}/svc.log {py} {d}/svc.py --config {d}/app.conf\n",
                py = python(),
                d = d.display()
            );
            std::fs::write(sv.join("run"), run).unwrap();
            sh(&format!("chmod 755 {}/run", sv.display()));
            let mut cmd = Proc::new("runsv");
            cmd.arg(&sv);
            cmd
        })
    }
    /// The service's files in a new directory, then `command(dir)` spawned in a process group of
    /// its own; returns once the service logs that it started.
    fn spawn(command: impl FnOnce(&Path) -> Proc) -> Supervised {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("svc.py"), SERVICE).unwrap();
        std::fs::write(dir.path().join("app.conf"), CONFIG).unwrap();
        let child = command(dir.path())
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let s = Supervised { child, dir };
        wait_for(10, "the service to start", || s.log().contains("started"));
        s
    }
    /// The runit service directory (start_under_runit).
    fn service_dir(&self) -> PathBuf {
        self.path(&format!("sitrep-test-svc-{}", std::process::id()))
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn conf(&self) -> String {
        self.path("app.conf").display().to_string()
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.path("svc.log")).unwrap_or_default()
    }
    /// The service's command line, as discovery records it (PROCESS_MATCH).
    fn pattern(&self) -> String {
        format!(
            "{} {} --config {}",
            python(),
            self.path("svc.py").display(),
            self.conf()
        )
    }
    fn sets(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PROCESS_MATCH", self.pattern()),
            ("CONFIG_FILES", self.conf()),
            ("LOG_FILES", self.path("svc.log").display().to_string()),
        ]
    }
    fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path("app.conf")).unwrap();
        assert!(text.contains(from));
        std::fs::write(self.path("app.conf"), text.replace(from, to)).unwrap();
    }
}

/// The interpreter itself (not a wrapper such as a pyenv shim, which re-executes it under
/// another command line).
fn python() -> String {
    String::from_utf8_lossy(&sh("python3 -c 'import sys; print(sys.executable)'").stdout)
        .trim()
        .to_string()
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // under runit: `sv force-shutdown` stops the service and its runsv (the kill below is the
        // fallback)
        if self.service_dir().is_dir() {
            sh(&format!(
                "sv -w 5 force-shutdown {} || true",
                self.service_dir().display()
            ));
        }
        // `--` first: procps kill reads `-KILL -PGID` as kill(-1, SIGKILL), every process.
        let _ = Proc::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn run(sitrep: &Sitrep, task: &str, sets: &[(&str, String)], extra: &[(&str, &str)]) -> Value {
    let mut all: Vec<(&str, &str)> = sets.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    sitrep.run(task, "svc", &all, &[])
}

fn data(i: &Value) -> &serde_json::Map<String, Value> {
    i["data"]
        .as_object()
        .unwrap_or_else(|| panic!("issue without data: {}", pretty(i)))
}

/// The must-show chain on a real process: a configuration change that makes it crash-loop is
/// named by config-watch (key, old -> new), restarts (the crash loop, its last error and the
/// change before it) and log-errors (the error template, class config); rolling the key back
/// from the saved known-good copy restarts it healthy, and the issues resolve.
#[test]
fn a_config_change_that_crash_loops_a_service_is_named_and_rolled_back() {
    let svc = Supervised::start();
    let sitrep = Sitrep::new();
    let sets = svc.sets();
    let v = run(&sitrep, "process/config-watch", &sets, &[]);
    assert!(
        issues(&v).is_empty(),
        "first run only records: {}",
        pretty(&v)
    );
    let v = run(&sitrep, "process/restarts", &sets, &[("SAMPLE_S", "1")]);
    assert!(issues(&v).is_empty(), "running: {}", pretty(&v));

    svc.edit("timeout_ms = 3000", "timeout_ms = 3s");
    let v = run(&sitrep, "process/config-watch", &sets, &[]);
    let i = issue_with(&v, &["Configuration file", "changed"]);
    assert_actionable(&i);
    // the running process started before the change: named, minor until it is loaded
    assert_eq!(severity(&i), 3, "a latent change is minor: {}", pretty(&i));
    assert_eq!(data(&i)["in_effect"], false);
    let d = data(&i);
    assert_eq!(d["file"], svc.conf());
    assert_eq!(d["key"], "timeout_ms");
    assert_eq!(
        (d["old"].as_str(), d["new"].as_str()),
        (Some("3000"), Some("3s"))
    );
    let saved = d["saved"].as_str().unwrap().to_string();
    assert!(Path::new(&saved).is_file(), "{saved}");
    let config_issue = opened_ids(&v);

    // the running process has not loaded it yet; a restart (a deploy) makes it crash-loop
    sh(&format!("pkill -TERM -f '^{}'", svc.pattern()));
    wait_for(10, "the service to fail at start", || {
        svc.log().contains("invalid configuration")
    });
    let v = run(
        &sitrep,
        "process/restarts",
        &sets,
        &[("SAMPLE_S", "3"), ("RESTART_WINDOW_MIN", "1")],
    );
    let i = issue_with(&v, &["is down or restarting"]);
    assert_eq!(severity(&i), 2);
    let d = data(&i);
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains("invalid configuration"),
        "{}",
        pretty(&i)
    );
    assert_eq!(
        d["key"],
        "timeout_ms",
        "the change before the failures: {}",
        pretty(&i)
    );
    assert_eq!(d["saved"], saved.as_str());

    // now in effect (the process cannot start with it) and recent: major
    let v = run(&sitrep, "process/config-watch", &sets, &[]);
    let i = issue_with(&v, &["Configuration file", "changed"]);
    assert_eq!(severity(&i), 2, "{}", pretty(&i));
    assert_eq!(data(&i)["in_effect"], true);

    let v = run(
        &sitrep,
        "process/log-errors",
        &sets,
        &[("LOG_ERRORS_MAJOR", "5")],
    );
    let i = issue_with(&v, &["logs errors", "invalid configuration"]);
    assert_eq!(data(&i)["class"], "config", "{}", pretty(&i));
    assert_eq!(
        severity(&i),
        2,
        "a fatal-looking error repeated: {}",
        pretty(&i)
    );

    // roll the key back from the known-good copy; the supervisor starts it healthy again
    let starts = svc.log().matches("\"started\"").count();
    let v = run(
        &sitrep,
        "linux-host/rollback-config-file",
        &[],
        &[
            ("FILE", &svc.conf()),
            ("KEY", "timeout_ms"),
            ("FROM", &saved),
            ("RESTART_PROCESS", &svc.pattern()),
        ],
    );
    let report = v["run"]["report"].as_str().unwrap_or_default();
    assert!(report.contains("Restored key timeout_ms"), "{}", pretty(&v));
    let text = std::fs::read_to_string(svc.path("app.conf")).unwrap();
    assert_eq!(text, CONFIG, "only the key was restored");
    wait_for(15, "the service to start healthy", || {
        svc.log().matches("\"started\"").count() > starts
    });
    let v = run(&sitrep, "process/config-watch", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let resolved = v["resolved"].as_array().cloned().unwrap_or_default();
    for id in &config_issue {
        assert!(resolved.contains(id), "{}", pretty(&v));
    }
    std::thread::sleep(Duration::from_secs(4));
    let v = run(
        &sitrep,
        "process/restarts",
        &sets,
        &[("SAMPLE_S", "1"), ("RESTART_WINDOW_MIN", "0.05")],
    );
    assert!(issues(&v).is_empty(), "up again: {}", pretty(&v));
    // a second rollback finds nothing to do
    let v = run(
        &sitrep,
        "linux-host/rollback-config-file",
        &[],
        &[
            ("FILE", &svc.conf()),
            ("KEY", "timeout_ms"),
            ("FROM", &saved),
        ],
    );
    assert!(
        v["run"]["report"]
            .as_str()
            .unwrap()
            .contains("already matches"),
        "{}",
        pretty(&v)
    );
}

/// Secret values never leave the saved copy: a changed token and a changed password in a URL
/// are reported as changed, masked, in the issue, its data and the report; the whole file comes
/// back from the copy the workspace's state holds (FROM left empty).
#[test]
fn config_changes_mask_secrets_and_a_whole_file_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app.conf");
    std::fs::write(&conf, CONFIG).unwrap();
    let sitrep = Sitrep::new();
    let sets = vec![("CONFIG_FILES", conf.display().to_string())];
    let v = run(&sitrep, "process/config-watch", &sets, &[]);
    assert_eq!(
        v["run"]["status"],
        "inconclusive",
        "a first look proves nothing: {}",
        pretty(&v)
    );
    std::fs::write(
        &conf,
        CONFIG
            .replace("tok-7c2e55aa", "tok-91be03d2")
            .replace("db-Pw-4d1f9e", "db-Pw-0aa4c7"),
    )
    .unwrap();
    let v = run(&sitrep, "process/config-changes", &sets, &[]);
    let text = v.to_string();
    for secret in [
        "tok-7c2e55aa",
        "tok-91be03d2",
        "db-Pw-4d1f9e",
        "db-Pw-0aa4c7",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {}", pretty(&v));
    }
    let i = issue_with(&v, &["changed"]);
    let d = data(&i);
    assert_eq!(d["key"], "", "two keys changed: the whole file is the unit");
    let changes: Vec<&str> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["database_url", "api_token"]);
    assert!(
        i["actual"]
            .as_str()
            .unwrap()
            .contains("api_token changed (secret value, not shown)")
    );
    assert!(
        i["actual"]
            .as_str()
            .unwrap()
            .contains("database_url changed (secret value, not shown)")
    );

    // a FROM outside sitrep's state, a relative FILE: refused before anything is written
    let refused = |sets: &[(&str, &str)]| {
        let v = sitrep.try_run("linux-host/rollback-config-file", "svc", sets, &[]);
        assert_eq!(v["run"]["exit_code"].as_i64(), Some(2), "{}", pretty(&v));
    };
    let file = conf.display().to_string();
    refused(&[("FILE", &file), ("FROM", "/etc/hostname")]);
    refused(&[("FILE", "app.conf")]);
    // another file's saved copy is not a copy of this one: nothing written
    let saved = d["saved"].as_str().unwrap();
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let v = sitrep.try_run(
        "linux-host/rollback-config-file",
        "svc",
        &[("FILE", "/etc/hostname"), ("FROM", saved)],
        &[],
    );
    assert_ne!(v["run"]["exit_code"].as_i64(), Some(0), "{}", pretty(&v));
    assert_eq!(
        std::fs::read_to_string("/etc/hostname").unwrap_or_default(),
        hostname
    );
    let v = run(
        &sitrep,
        "linux-host/rollback-config-file",
        &[],
        &[("FILE", &file)],
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        CONFIG,
        "{}",
        pretty(&v)
    );
    assert!(!v.to_string().contains("db-Pw-0aa4c7"), "{}", pretty(&v));
    let v = run(&sitrep, "process/config-watch", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

/// log-errors groups error lines of the window into templates and names the most frequent one
/// with its class and the address it mentions; lines outside the window and info lines do not
/// count.
#[test]
fn log_errors_name_the_most_frequent_recent_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let stamp = |ago_s: i64| {
        String::from_utf8_lossy(
            &sh(&format!(
                "date -u -d '@{}' +%Y-%m-%dT%H:%M:%S.%3NZ",
                now() - ago_s
            ))
            .stdout,
        )
        .trim()
        .to_string()
    };
    let mut text = String::new();
    for n in 0..30 {
        // two hours ago: outside the window
        text += &format!(
            "{} ERROR disk write failed: No space left on device ({n})\n",
            stamp(7200)
        );
    }
    for n in 0..12 {
        text += &format!(
            "{} ERROR request {n}: connect to 10.0.0.5:5432 failed: Connection refused (after {}ms)\n",
            stamp(60 - n),
            100 + n
        );
        text += &format!("{} INFO request {n} served\n", stamp(59 - n));
    }
    text += &format!("{} WARN slow request\n", stamp(10));
    text += &format!("{} ERROR cache miss storm on key user:{}\n", stamp(5), 42);
    std::fs::write(&log, text).unwrap();
    let sitrep = Sitrep::new();
    let v = run(
        &sitrep,
        "process/log-errors",
        &[("LOG_FILES", log.display().to_string())],
        &[],
    );
    let i = issue_with(&v, &["logs errors", "Connection refused"]);
    assert_actionable(&i);
    assert_eq!(severity(&i), 2, "12 in 15 minutes: {}", pretty(&i));
    let d = data(&i);
    assert_eq!(d["count"], 12);
    assert_eq!(d["errors"], 13, "the old and info lines do not count");
    assert_eq!(d["class"], "connection-refused");
    assert_eq!(d["target"], "10.0.0.5:5432");
    assert_eq!(issues(&v).len(), 1, "one issue, the most frequent error");
    // errors that stopped are history: still named, but minor
    let v = run(
        &sitrep,
        "process/log-errors",
        &[("LOG_FILES", log.display().to_string())],
        &[("LOG_CURRENT_S", "20")],
    );
    let i = issue_with(&v, &["logs errors", "Connection refused"]);
    assert_eq!(severity(&i), 3, "{}", pretty(&i));
    assert!(
        i["actual"].as_str().unwrap().contains("it has stopped"),
        "{}",
        pretty(&i)
    );
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A service under runit that an operator stopped (`sv down`): restarts names it down with its
/// runit service, linux-host/restart-service (the process-down hypothesis's remediation) starts
/// it again through `sv`, and the next restarts run finds it running.
#[test]
fn a_stopped_runit_service_is_named_by_restarts_and_started_by_restart_service() {
    if !crate::collection::have("runsv") || !crate::collection::have("sv") {
        crate::collection::skip("runit (runsv, sv) is not installed");
    }
    let svc = Supervised::start_under_runit();
    let name = svc
        .service_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let sitrep = Sitrep::new();
    let sets = svc.sets();
    let v = run(&sitrep, "process/restarts", &sets, &[("SAMPLE_S", "1")]);
    assert!(issues(&v).is_empty(), "running: {}", pretty(&v));

    let out = sh(&format!("sv -w 10 down {}", svc.service_dir().display()));
    assert!(out.status.success(), "sv down: {out:?}");
    let v = run(&sitrep, "process/restarts", &sets, &[("SAMPLE_S", "1")]);
    let i = issue_with(&v, &["is down or restarting"]);
    assert_actionable(&i);
    let d = data(&i);
    assert_eq!(d["state"], "down", "{}", pretty(&i));
    assert_eq!(
        d["unit"],
        name.as_str(),
        "the service it ran under: {}",
        pretty(&i)
    );
    assert_eq!(d["manager"], "runit", "{}", pretty(&i));
    assert!(
        i["next_steps"].as_str().unwrap().contains("sv restart"),
        "{}",
        pretty(&i)
    );

    let v = sitrep.run(
        "linux-host/restart-service",
        "svc",
        &[("SERVICE", &name), ("WAIT_S", "10")],
        &[],
    );
    let report = v["run"]["report"].as_str().unwrap_or_default();
    assert!(
        report.contains(&format!("Restarted {name} (runit")) && report.contains("After: run:"),
        "{}",
        pretty(&v)
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    wait_for(10, "the service to start again", || {
        svc.log().matches("\"started\"").count() == 2
    });
    let v = run(&sitrep, "process/restarts", &sets, &[("SAMPLE_S", "1")]);
    assert!(issues(&v).is_empty(), "running again: {}", pretty(&v));
    assert!(
        v["resolved"].as_array().is_some_and(|r| !r.is_empty()),
        "the down issue resolves: {}",
        pretty(&v)
    );

    // a name no service manager knows is refused with the reason
    let v = sitrep.try_run(
        "linux-host/restart-service",
        "svc",
        &[("SERVICE", "no-such-service-sitrep")],
        &[],
    );
    assert_eq!(v["run"]["exit_code"], 1, "{}", pretty(&v));
}
