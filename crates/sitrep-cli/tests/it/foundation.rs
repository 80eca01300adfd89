//! The foundation's must-shows, end to end through the `sitrep` binary: a real PostgreSQL leak
//! detected and resolved, process-group kills at timeouts, bounded output, secrets that appear
//! nowhere, located bundle errors, and the approval gate.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A SITREP_HOME, optionally with an extra collection `t` built from (path, text) files.
    fn new(extra: &[(&str, &str)]) -> Home {
        let dir = tempfile::tempdir().unwrap();
        if !extra.is_empty() {
            let col = dir.path().join("col");
            write(&col.join("collection.yaml"), "name: t\n");
            for (rel, text) in extra {
                write(&col.join(rel), text);
            }
            write(
                &dir.path().join("sitrep.yaml"),
                &format!("collections:\n  - name: t\n    path: {}\n", col.display()),
            );
        }
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `sitrep`; a hand `run` of these target-less test tasks names its resource.
    fn sitrep(&self, args: &[&str]) -> Output {
        let mut args = args.to_vec();
        if args.first() == Some(&"run") && !args.contains(&"--resource") {
            args.extend(["--resource", "local-test"]);
        }
        Command::new(env!("CARGO_BIN_EXE_sitrep"))
            .args(args)
            .env("SITREP_HOME", self.path())
            .env("SITREP_LOG", "debug")
            .env_remove("SITREP_DATABASE_URL")
            .output()
            .unwrap()
    }

    fn run_json(&self, args: &[&str]) -> (Value, Output) {
        let mut a = vec!["run"];
        a.extend_from_slice(args);
        a.push("--json");
        let out = self.sitrep(&a);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out)
    }
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn bundle(tasks: &str, scripts: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v = vec![(
        "bundles/b/bundle.yaml".to_string(),
        format!(
            "name: b\nparams:\n  - name: PIDFILE\n    default: /dev/null\nsecrets:\n  - name: TOKEN\ntasks:\n{tasks}"
        ),
    )];
    v.extend(
        scripts
            .iter()
            .map(|(n, s)| (format!("bundles/b/{n}"), s.to_string())),
    );
    v
}

fn home_with(files: &[(String, String)]) -> Home {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    Home::new(&refs)
}

fn pg_admin_url() -> String {
    std::env::var("SITREP_TEST_PG_URL")
        .or_else(|_| std::env::var("SANDBOX_PG_ADMIN_DSN"))
        .expect("this test needs PostgreSQL: run `sandbox/up && . sandbox/env` (or set SITREP_TEST_PG_URL)")
}

/// (DSN without password, password) for the admin role, on the `shop` database if it exists.
fn split_password(url: &str) -> (String, String) {
    let s = url.find("://").unwrap() + 3;
    let at = url.rfind('@').unwrap();
    let (user, pw) = url[s..at].split_once(':').unwrap();
    (
        format!("{}{}{}", &url[..s], user, &url[at..]),
        pw.to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_idle_in_transaction_leak_is_raised_naming_the_application_then_resolved() {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let admin = pg_admin_url();
    let (dsn, password) = split_password(&admin);
    let home = Home::new(&[]);
    let pw_file = home.path().join("pgpass");
    std::fs::write(&pw_file, format!("{password}\n")).unwrap();
    let secret_arg = format!("PGPASSWORD=@{}", pw_file.display());
    let dsn_arg = format!("PG_DSN={dsn}");
    let run = |home: &Home| {
        home.run_json(&[
            "postgres/idle-in-transaction",
            "--resource",
            "pg-main",
            "--set",
            &dsn_arg,
            "--secret",
            &secret_arg,
        ])
    };

    // The application `batch` leaks sessions idle in a transaction.
    let app_url = format!(
        "{}{}application_name=leaky-worker",
        admin,
        if admin.contains('?') { "&" } else { "?" }
    );
    let app_url = app_url.replace("application_name=sitrep&", "");
    let mut leaked = Vec::new();
    for _ in 0..8 {
        let mut c = sqlx::AnyConnection::connect(&app_url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut c).await.unwrap();
        sqlx::query("SELECT 1").execute(&mut c).await.unwrap();
        leaked.push(c);
    }
    let (v, out) = run(&home);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issues = v["issues"].as_array().unwrap();
    let batch: Vec<_> = issues
        .iter()
        .filter(|i| i["title"].as_str().unwrap().contains("leaky-worker"))
        .collect();
    assert_eq!(
        batch.len(),
        1,
        "one issue names the leaking application: {v:#}"
    );
    assert!(batch[0]["severity"].as_u64().unwrap() <= 2, "{v:#}");
    assert!(
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "opened")
    );

    let listed = home.sitrep(&["issues", "--json"]);
    let open: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(open.as_array().unwrap().iter().any(|i| {
        i["title"].as_str().unwrap().contains("leaky-worker") && i["resource"] == "pg-main"
    }));

    // The leak ends: the next run raises nothing for batch and resolves the issue.
    for c in leaked {
        c.close().await.unwrap();
    }
    let (v, _) = run(&home);
    assert!(
        v["issues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !i["title"].as_str().unwrap().contains("leaky-worker")),
        "{v:#}"
    );
    assert!(!v["resolved"].as_array().unwrap().is_empty(), "{v:#}");
    let all: Value =
        serde_json::from_slice(&home.sitrep(&["issues", "--all", "--json"]).stdout).unwrap();
    let it = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"].as_str().unwrap().contains("leaky-worker"))
        .unwrap();
    assert_eq!(it["status"], "resolved");
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // A zombie waiting for its reaper is dead for our purposes.
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

#[test]
fn a_forked_child_sleeping_forever_is_killed_with_its_task_at_the_timeout() {
    let script = "set -eu\nsleep 1000 &\necho $! > \"$PIDFILE\"\nbash -c 'sleep 1000' &\necho $! >> \"$PIDFILE\"\nwait\n";
    let tasks = "  - name: hang\n    kind: diagnostic\n    type: bash\n    script: hang.sh\n    timeout: 2s\n";
    let home = home_with(&bundle(tasks, &[("hang.sh", script)]));
    let pidfile = home.path().join("pids");
    let started = std::time::Instant::now();
    let (v, out) = home.run_json(&[
        "t/b/hang",
        "--set",
        &format!("PIDFILE={}", pidfile.display()),
    ]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "a timed-out run exits 3");
    assert_eq!(v["run"]["status"], "timed-out");
    assert!(
        v["run"]["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 2s")
    );
    assert!(
        took < std::time::Duration::from_secs(15),
        "returned promptly: {took:?}"
    );
    let pids: Vec<i32> = std::fs::read_to_string(&pidfile)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    for pid in pids {
        assert!(!alive(pid), "child {pid} survived its task");
    }
}

#[test]
fn a_task_printing_100_mib_is_capped_and_sitrep_stays_small() {
    let script = "head -c 104857600 /dev/zero | tr '\\0' x\necho done >&2\n";
    let tasks = "  - name: flood\n    kind: diagnostic\n    type: bash\n    script: flood.sh\n    timeout: 60s\n";
    let home = home_with(&bundle(tasks, &[("flood.sh", script)]));
    // Spawned by hand to sample the sitrep process's own high-water mark (VmHWM) while it runs.
    // (wait4's ru_maxrss is no good here: a forked child inherits the test process's peak.)
    let mut child = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["run", "t/b/flood", "--resource", "local-test", "--json"])
        .env("SITREP_HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).unwrap();
        buf
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    assert!(status.success());
    let v: Value = serde_json::from_slice(&reader.join().unwrap()).unwrap();
    let stdout = v["run"]["stdout"].as_str().unwrap();
    assert!(
        stdout.len() <= 1024 * 1024 + 200,
        "kept {} bytes",
        stdout.len()
    );
    assert!(stdout.starts_with("xxxxxxxx"));
    assert!(
        stdout.contains("output truncated, 103809024 more bytes not kept"),
        "{}",
        &stdout[stdout.len() - 120..]
    );
    assert_eq!(v["run"]["stderr"], "done\n");
    assert!(peak_kib > 0, "sampled the process");
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB while the task printed 100 MiB"
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn a_secret_appears_nowhere_sitrep_keeps_or_prints() {
    use base64::Engine;
    let secret = "s3cr3t-T0ken-9f8e7d";
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let script = r#"set -eu
echo "token is $TOKEN"
echo "encoded $(printf %s "$TOKEN" | base64)"
hex=$(printf %s "$TOKEN" | od -An -tx1 | tr -d ' \n')
HEX=$(printf %s "$hex" | tr a-f A-F)
url=$(printf %s "$TOKEN" | od -An -tx1 | tr -d '\n' | sed 's/ /%/g')
echo "hex $hex $HEX url $url"
printf 'split %s\n%s\n' "${TOKEN:0:9}" "${TOKEN:9}"
echo "stderr $TOKEN $hex $url" >&2
sitrep emit issue --severity 2 --title "leaky $TOKEN $hex" --details "d $TOKEN $url" --next-steps "$TOKEN $HEX"
sitrep emit insight "insight $TOKEN" --data "{\"k\": \"$TOKEN\"}"
sitrep emit metric m 1 --label "l=$TOKEN"
sitrep emit report "report $TOKEN"
exit 7
"#;
    let tasks = "  - name: leak\n    kind: diagnostic\n    type: bash\n    script: leak.sh\n";
    let home = home_with(&bundle(tasks, &[("leak.sh", script)]));
    let secret_file = home.path().join("token");
    std::fs::write(&secret_file, secret).unwrap();
    let out = home.sitrep(&[
        "run",
        "t/b/leak",
        "--secret",
        &format!("TOKEN=@{}", secret_file.display()),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[REDACTED:TOKEN]"),
        "the task did print it: {text}"
    );
    let mut seen = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    for args in [
        &["issues", "--all", "--json"][..],
        &[
            "run",
            "t/b/leak",
            "--secret",
            &format!("TOKEN=@{}", secret_file.display()),
        ][..],
    ] {
        let o = home.sitrep(args);
        seen.push((format!("{args:?} stdout"), o.stdout));
        seen.push((format!("{args:?} stderr"), o.stderr));
    }
    for f in files_under(home.path()) {
        if f != secret_file {
            seen.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    assert!(
        seen.iter().any(|(n, _)| n.ends_with("sitrep.db")),
        "the database was searched"
    );
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let url: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
    let forms = [
        ("the secret", secret.to_string()),
        ("its base64", b64),
        ("its hex", hex.clone()),
        ("its upper-case hex", hex.to_uppercase()),
        ("it percent-encoded", url),
        (
            "it split across lines",
            format!("{}\n{}", &secret[..9], &secret[9..]),
        ),
        (
            "it split, JSON-escaped",
            format!("{}\\n{}", &secret[..9], &secret[9..]),
        ),
    ];
    for (name, bytes) in &seen {
        let hay = String::from_utf8_lossy(bytes);
        for (what, form) in &forms {
            assert!(!hay.contains(form.as_str()), "{what} found in {name}");
        }
    }
}

#[test]
fn malformed_bundles_name_file_line_and_field() {
    let home = Home::new(&[
        (
            "bundles/bad/bundle.yaml",
            "name: bad\ntasks:\n  - name: a\n    kind: health\n    type: ruby\n  - name: b\n    kind: diagnostic\n    type: bash\n    script: nope.sh\n",
        ),
        ("bundles/worse/bundle.yaml", "name: worse\ntasks: [\n"),
    ]);
    let out = home.sitrep(&[
        "bundles",
        "validate",
        &home.path().join("col").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bundles/bad/bundle.yaml:5: tasks[0].type: unknown task type \"ruby\""),
        "{err}"
    );
    assert!(
        err.contains("bundles/bad/bundle.yaml:9: tasks[1].script: script \"nope.sh\" not found"),
        "{err}"
    );
    assert!(
        err.contains("bundles/worse/bundle.yaml:") && err.contains("invalid YAML"),
        "{err}"
    );
    // Bad bundles are left out; every other bundle, core's included, still loads.
    let out = home.sitrep(&["tasks"]);
    assert_eq!(out.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("core/linux-host/disk-usage"), "{listed}");
    assert!(!listed.contains("t/bad/"), "{listed}");
}

/// A one-shot command closes its store: SQLite's last connection folds the write-ahead log
/// into the database, so the next start has no log to read back (it grew by every run, and
/// every start read all of it).
#[test]
fn a_one_shot_run_leaves_no_write_ahead_log_behind() {
    let tasks = "  - name: ok\n    kind: diagnostic\n    type: bash\n    script: ok.sh\n";
    let home = home_with(&bundle(tasks, &[("ok.sh", "echo fine\n")]));
    for _ in 0..3 {
        let (run, out) = home.run_json(&["t/b/ok"]);
        assert!(out.status.success(), "{run}");
        assert_eq!(run["run"]["status"], "succeeded", "{run}");
        let left: Vec<_> = ["sitrep.db-wal", "sitrep.db-shm"]
            .into_iter()
            .filter(|f| home.path().join(f).exists())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
    let runs = home.sitrep(&["runs", "--json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(3), "{runs}");
}

#[test]
fn remediation_never_runs_without_approval() {
    let tasks = "  - name: fix\n    kind: remediation\n    type: bash\n    script: fix.sh\n    risk: high\n    rollback: none needed\n";
    let home = home_with(&bundle(tasks, &[("fix.sh", "touch \"$PIDFILE\"\n")]));
    let marker = home.path().join("touched");
    let out = home.sitrep(&[
        "run",
        "t/b/fix",
        "--set",
        &format!("PIDFILE={}", marker.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only runs with a human's approval"));
    assert!(!marker.exists(), "the remediation ran");
    // The built-in remediations are gated the same way.
    let out = home.sitrep(&[
        "run",
        "postgres/terminate-backend",
        "--set",
        "PG_DSN=postgres://x@127.0.0.1:1/x",
        "--set",
        "PID=1",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only runs with a human's approval"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_once_runs_the_default_host_checks() {
    let home = Home::new(&[]);
    let out = home.sitrep(&["serve", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ran 9 health tasks"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let tasks: Value = serde_json::from_slice(&home.sitrep(&["tasks", "--json"]).stdout).unwrap();
    assert!(tasks.as_array().unwrap().len() > 30);
}

#[test]
fn emit_outside_a_task_says_why() {
    let out = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["emit", "report", "x"])
        .env_remove("SITREP_RESULTS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("works inside a task run"));
}
