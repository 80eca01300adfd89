//! Stopping sitrep never leaves a task behind: Ctrl-C on `run` and SIGTERM on `serve` kill the
//! task's whole process tree and record the run `interrupted`; after a `kill -9`, the next
//! start kills what is left and records it.

use crate::collection::wait_for;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A SITREP_HOME with a collection whose `slow` task starts a grandchild and waits on it,
/// writing the grandchild's pid to `$MARK_DIR/child` once it runs.
struct Home {
    dir: tempfile::TempDir,
}

const SLOW: &str = r#"#!/usr/bin/env bash
sleep 300 &
echo $! > "$MARK_DIR/child.tmp" && mv "$MARK_DIR/child.tmp" "$MARK_DIR/child"
wait
"#;

impl Home {
    fn new(settings: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let col = dir.path().join("col");
        let b = col.join("bundles/slow");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::create_dir_all(dir.path().join("marks")).unwrap();
        std::fs::write(col.join("collection.yaml"), "name: t\n").unwrap();
        std::fs::write(b.join("slow.sh"), SLOW).unwrap();
        let marks = dir.path().join("marks");
        std::fs::write(
            b.join("bundle.yaml"),
            format!("name: slow\nresource_type: http-endpoint\nparams:\n  - name: MARK_DIR\n    required: true\n\
             tasks:\n  - name: slow\n    kind: health\n    type: bash\n    script: slow.sh\n    interval: 1h\n    timeout: 5m\n\
             generation_rules:\n  - resource_types: [http-endpoint]\n    match_rules:\n\
             \x20     - {{type: pattern, pattern: \"^http://slow\\\\.invalid\", properties: [properties.url]}}\n\
             \x20   slxs:\n      - base_name: slow\n        qualifiers: [resource]\n        config:\n\
             \x20         MARK_DIR: \"{}\"\n", marks.display()),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sitrep.yaml"),
            format!(
                "collections:\n  - name: t\n    path: {}\n{settings}",
                col.display()
            ),
        )
        .unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn marks(&self) -> PathBuf {
        self.path().join("marks")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sitrep"));
        c.args(args)
            .env("SITREP_HOME", self.path())
            .env_remove("SITREP_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn spawn_run(&self) -> Child {
        let mark = format!("MARK_DIR={}", self.marks().display());
        self.cmd(&[
            "run",
            "t/slow/slow",
            "--resource",
            "local-test",
            "--set",
            &mark,
        ])
        .spawn()
        .unwrap()
    }

    /// The grandchild's pid, once the task has started it.
    fn child_pid(&self) -> i32 {
        let f = self.marks().join("child");
        wait_for(30, "the task to start its child", || f.exists());
        std::fs::read_to_string(f).unwrap().trim().parse().unwrap()
    }

    fn runs(&self) -> Vec<Value> {
        let o = self.cmd(&["runs", "--json"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn slow_runs(&self) -> Vec<Value> {
        self.runs()
            .into_iter()
            .filter(|r| r["task"] == "t/slow/slow")
            .collect()
    }
}

/// Whether a process is gone (an unreaped zombie counts as gone: it runs nothing).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits for `child` to exit (killing it after `secs`), with its stderr.
fn wait_exit(mut child: Child, secs: u64) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (st.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sitrep did not exit within {secs} s of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_on_run_kills_the_task_tree_and_records_it_interrupted() {
    let home = Home::new("");
    let run = home.spawn_run();
    let pid = run.id();
    let child = home.child_pid();
    signal(pid, "INT");
    let (code, err) = wait_exit(run, 20);
    assert_eq!(code, Some(130), "{err}");
    wait_for(5, "the task's grandchild to be killed", || gone(child));
    let runs = home.slow_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "interrupted", "{runs:?}");
    assert!(
        runs[0]["error"].as_str().unwrap_or("").contains("SIGINT"),
        "{runs:?}"
    );
}

#[test]
fn after_kill_9_the_next_start_kills_what_is_left_and_records_it() {
    let home = Home::new("discovery:\n  host: {enabled: false}\n");
    let run = home.spawn_run();
    let child = home.child_pid();
    signal(run.id(), "KILL");
    let (code, _) = wait_exit(run, 10);
    assert_eq!(code, None, "killed by a signal");
    // Whatever the kill left (the task's tree may outlive it), the next start cleans up.
    let o = home.cmd(&["serve", "--once"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(gone(child), "the task's grandchild outlived the next start");
    let runs = home.slow_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "interrupted", "{runs:?}");
}

#[test]
fn sigterm_on_serve_interrupts_the_run_after_the_grace_period_and_exits() {
    let home = Home::new(
        "discovery:\n  host: {enabled: false}\n  declared:\n    - {name: slow-svc, url: 'http://slow.invalid/'}\n\
         serve:\n  shutdown_grace: 1s\n",
    );
    let o = home.cmd(&["discover"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let serve = home
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let pid = serve.id();
    let child = home.child_pid();
    let started = Instant::now();
    signal(pid, "TERM");
    let (code, err) = wait_exit(serve, 30);
    assert_eq!(code, Some(0), "a graceful stop: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "stopped within the grace period and the recording wait"
    );
    assert!(gone(child), "the task's grandchild outlived serve");
    let runs = home.slow_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "interrupted", "{runs:?}");
    assert!(
        runs[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("did not finish within 1 s"),
        "{runs:?}"
    );
}
