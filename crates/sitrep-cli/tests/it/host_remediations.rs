//! linux-host's evidence and remediations on this machine: a runaway program named by
//! cpu-usage and stopped by kill-process; a nearly full filesystem (a real tmpfs) whose largest
//! file disk-usage and disk-hogs name and clean-up-large-files removes.

use crate::collection::{
    Sitrep, assert_actionable, issue_with, issues, pretty, severity, sh, skip, wait_for,
};
use serde_json::Value;
use std::process::{Child, Command as Proc, Stdio};

fn exit_code(v: &Value) -> Option<i64> {
    v["run"]["exit_code"].as_i64()
}

fn report(v: &Value) -> String {
    v["run"]["report"].as_str().unwrap_or_default().to_string()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// A program (a script with a unique name) that starts two busy workers and waits for them.
struct Runaway {
    child: Child,
    name: String,
    _dir: tempfile::TempDir,
}

impl Runaway {
    fn start() -> Runaway {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("runaway-{}", std::process::id());
        let script = dir.path().join(&name);
        std::fs::write(
            &script,
            "for i in 1 2; do (while :; do :; done) & done\nwait\n",
        )
        .unwrap();
        // its own session, as a job started from a shell: cpu-usage names it, not this test
        let child = Proc::new("setsid")
            .arg("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(5, "the workers", || children(child.id()).len() == 2);
        Runaway {
            child,
            name,
            _dir: dir,
        }
    }
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

impl Drop for Runaway {
    fn drop(&mut self) {
        for c in children(self.child.id()) {
            let _ = Proc::new("kill")
                .args(["-s", "KILL", "--", &c.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The must-show chain for a CPU hog: cpu-usage names the program with its pid in the issue's
/// data (what kill-process needs), kill-process refuses what it must never stop, then stops the
/// program and its workers; a second run finds nothing to do.
#[test]
fn a_runaway_program_is_named_by_cpu_usage_and_stopped_by_kill_process() {
    let mut hog = Runaway::start();
    let workers = children(hog.child.id());
    let sitrep = Sitrep::new();
    let v = sitrep.run(
        "linux-host/cpu-usage",
        "this-host",
        &[
            ("SAMPLE_S", "2"),
            ("CPU_BUSY_WARN_PCT", "1"),
            ("CPU_BUSY_CRIT_PCT", "1"),
            ("CPU_PROGRAM_MIN_PCT", "10"),
        ],
        &[],
    );
    let i = issue_with(&v, &[&hog.name]);
    assert_actionable(&i);
    assert_eq!(severity(&i), 2, "saturated and not niced: {}", pretty(&i));
    assert_eq!(i["data"]["program"], hog.name.as_str());
    assert_eq!(i["data"]["pid"], hog.child.id());

    let refused = |sets: &[(&str, &str)], why: &str| {
        let v = sitrep.try_run("linux-host/kill-process", "this-host", sets, &[]);
        assert_eq!(exit_code(&v), Some(2), "{why}: {}", pretty(&v));
    };
    refused(&[], "nothing named");
    refused(&[("KILL_PID", "1")], "PID 1");
    refused(&[("NAME", "bad name;rm")], "not a program name");
    refused(
        &[("KILL_PID", &std::process::id().to_string())],
        "the test runs sitrep: an ancestor",
    );

    let v = sitrep.run(
        "linux-host/kill-process",
        "this-host",
        &[
            ("NAME", &hog.name),
            ("KILL_PID", &hog.child.id().to_string()),
        ],
        &[],
    );
    assert!(
        report(&v).contains("Stopped 3 of 3 processes"),
        "{}",
        pretty(&v)
    );
    let _ = hog.child.wait();
    for w in workers {
        assert!(!alive(w), "worker {w} survived: {}", pretty(&v));
    }
    let v = sitrep.run(
        "linux-host/kill-process",
        "this-host",
        &[("NAME", &hog.name)],
        &[],
    );
    assert!(report(&v).contains("already gone"), "{}", pretty(&v));
}

/// A real nearly full filesystem (a tmpfs, needs root): disk-usage and disk-hogs name the file
/// that fills it and its directory in their data; clean-up-large-files refuses what it must,
/// reports a dry run, empties a file a process holds open (deleting it would free nothing),
/// removes the other, and the issue resolves.
#[test]
fn a_full_filesystem_names_its_largest_files_and_clean_up_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().to_str().unwrap().to_string();
    if !sh(&format!("mount -t tmpfs -o size=8m sitrep-it-clean {mnt}"))
        .status
        .success()
    {
        return skip("cannot mount a tmpfs (not root?)");
    }
    struct Umount(String);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Proc::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _u = Umount(mnt.clone());
    let spool = format!("{mnt}/spool");
    assert!(sh(&format!(
        "mkdir -p {spool}/receipts && head -c 7602176 /dev/zero > {spool}/backlog.dat && head -c 524288 /dev/zero > {spool}/app.log && echo r > {spool}/receipts/1"
    ))
    .status
    .success());
    // a writer holds app.log open, as a logging service would
    let mut writer = Proc::new("bash")
        .arg("-c")
        .arg(format!("exec 3>>{spool}/app.log; read -t 120 line"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let sitrep = Sitrep::new();
    // defaults otherwise: a tmpfs holding application data is watched like any disk
    let sets = [("DISK_MOUNTS", mnt.as_str())];
    let v = sitrep.run("linux-host/disk-usage", "this-host", &sets, &[]);
    let i = issue_with(&v, &[&format!("Filesystem {mnt} ")]);
    assert!(severity(&i) <= 2, "{}", pretty(&i));
    assert_eq!(i["data"]["mount"], mnt.as_str());
    assert_eq!(i["data"]["path"], spool.as_str());
    assert_eq!(i["data"]["files"], format!("{spool}/backlog.dat").as_str());
    let v = sitrep.run("linux-host/disk-hogs", "this-host", &sets, &[]);
    let i = issue_with(&v, &[&format!("Filesystem {mnt} ")]);
    assert_eq!(
        i["data"]["files"],
        format!("{spool}/backlog.dat").as_str(),
        "{}",
        pretty(&i)
    );

    let refused = |sets: &[(&str, &str)], why: &str| {
        let v = sitrep.try_run("linux-host/clean-up-large-files", "this-host", sets, &[]);
        assert_eq!(exit_code(&v), Some(2), "{why}: {}", pretty(&v));
    };
    refused(&[("CLEAN_PATH", "/"), ("FILES", "/etc/hostname")], "/");
    refused(
        &[("CLEAN_PATH", "/etc"), ("FILES", "hostname")],
        "a system directory",
    );
    refused(&[("CLEAN_PATH", &spool), ("FILES", "")], "no files named");
    refused(
        &[("CLEAN_PATH", &spool), ("FILES", "/etc/hostname")],
        "outside the path",
    );
    refused(
        &[("CLEAN_PATH", &spool), ("FILES", "../spool/../../x")],
        "escapes the path",
    );
    sh(&format!("ln -s /etc/hostname {spool}/link"));
    refused(&[("CLEAN_PATH", &spool), ("FILES", "link")], "a symlink");
    sh(&format!(
        "mkdir -p {spool}/db && touch {spool}/db/PG_VERSION && head -c 10 /dev/zero > {spool}/db/1234"
    ));
    refused(
        &[("CLEAN_PATH", &spool), ("FILES", "db/1234")],
        "a database file",
    );

    let files = "backlog.dat,app.log,gone.dat";
    let v = sitrep.run(
        "linux-host/clean-up-large-files",
        "this-host",
        &[
            ("CLEAN_PATH", &spool),
            ("FILES", files),
            ("DRY_RUN", "true"),
        ],
        &[],
    );
    assert!(report(&v).contains("Dry run"), "{}", pretty(&v));
    assert!(std::path::Path::new(&format!("{spool}/backlog.dat")).exists());
    let v = sitrep.run(
        "linux-host/clean-up-large-files",
        "this-host",
        &[("CLEAN_PATH", &spool), ("FILES", files)],
        &[],
    );
    let r = report(&v);
    assert!(
        r.contains("delete") && r.contains("truncate") && r.contains("already gone"),
        "{}",
        pretty(&v)
    );
    assert!(!std::path::Path::new(&format!("{spool}/backlog.dat")).exists());
    assert_eq!(
        std::fs::metadata(format!("{spool}/app.log")).unwrap().len(),
        0
    );
    assert!(
        std::path::Path::new(&format!("{spool}/receipts/1")).exists(),
        "unnamed files stay"
    );
    let v = sitrep.run("linux-host/disk-usage", "this-host", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    drop(writer.stdin.take());
    let _ = writer.wait();
}
