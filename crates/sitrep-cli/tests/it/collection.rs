//! The built-in `core` collection, run through `sitrep run ... --json` against the real thing:
//! this machine (linux-host), a real PostgreSQL/Redis/nginx/Prometheus (the sandbox's, from the
//! `SANDBOX_*` variables written by `sandbox/up`, or throwaway instances these tests start on free
//! loopback ports), dnsmasq for DNS and `openssl s_server` for TLS. Each test creates its condition,
//! checks the issue is raised, removes the condition and checks that a new run raises nothing.
//!
//! A test whose service or tool is missing prints `skipped: ...` and passes; CI installs them
//! (see collections/core/README.md).

use assert_cmd::Command;
use serde_json::Value;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command as Proc, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// harness

/// Remediation tasks of the core collection: `sitrep run` needs `--approve` for them.
const REMEDIATIONS: &[&str] = &[
    "terminate-backend",
    "terminate-idle-in-transaction",
    "restart-service",
    "restart-process",
    "kill-client",
    "reload",
    "rollout-restart",
    "scale-deployment",
    "kill-process",
    "clean-up-large-files",
    "rollback-config-file",
    "terminate-blocking-session",
    "resume-wal-replay",
    "unpause-clients",
    "set-eviction-policy",
    "rollback-config",
    "renew-certificate",
];

/// One `SITREP_HOME` shared by the runs of a test, so that issues opened by one run are resolved
/// by the next.
pub struct Sitrep {
    pub home: tempfile::TempDir,
}

impl Sitrep {
    pub fn new() -> Self {
        Sitrep {
            home: tempfile::tempdir().expect("temp SITREP_HOME"),
        }
    }

    /// `sitrep run core/TASK --resource RESOURCE --set K=V... --secret K=@FILE... --json`.
    /// Panics unless the task itself ran (exit code 0 of the task); returns the JSON document.
    pub fn run(
        &self,
        task: &str,
        resource: &str,
        sets: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) -> Value {
        let v = self.try_run(task, resource, sets, secrets);
        let code = v["run"]["exit_code"].as_i64();
        assert_eq!(
            code,
            Some(0),
            "task {task} did not run cleanly: {}",
            pretty(&v)
        );
        v
    }

    /// Like `run`, but returns whatever the run produced (the task may have failed).
    pub fn try_run(
        &self,
        task: &str,
        resource: &str,
        sets: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) -> Value {
        let mut cmd = Command::cargo_bin("sitrep").expect("sitrep binary");
        cmd.env("SITREP_HOME", self.home.path())
            .env_remove("SITREP_RESULTS")
            .arg("run")
            .arg(format!("core/{task}"))
            .arg("--resource")
            .arg(resource)
            .arg("--json")
            .timeout(Duration::from_secs(300));
        if REMEDIATIONS
            .iter()
            .any(|r| task.ends_with(&format!("/{r}")))
        {
            // the test is the human at the terminal approving it
            cmd.arg("--approve");
        }
        for (k, v) in sets {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        for (i, (k, v)) in secrets.iter().enumerate() {
            let path = self.home.path().join(format!("secret-{i}-{k}"));
            std::fs::write(&path, v).expect("write secret file");
            cmd.arg("--secret").arg(format!("{k}=@{}", path.display()));
        }
        let out = cmd.output().expect("run sitrep");
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "sitrep run core/{task} printed no JSON document ({e}); exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

pub fn issues(v: &Value) -> Vec<Value> {
    v["issues"].as_array().cloned().unwrap_or_default()
}

/// The issue whose title contains every one of `words`; panics with the run if there is none.
pub fn issue_with(v: &Value, words: &[&str]) -> Value {
    issues(v)
        .into_iter()
        .find(|i| {
            words
                .iter()
                .all(|w| i["title"].as_str().unwrap_or("").contains(w))
        })
        .unwrap_or_else(|| {
            panic!(
                "no issue whose title contains {words:?}; run:\n{}",
                pretty(v)
            )
        })
}

pub fn has_issue_with(v: &Value, words: &[&str]) -> bool {
    issues(v).iter().any(|i| {
        words
            .iter()
            .all(|w| i["title"].as_str().unwrap_or("").contains(w))
    })
}

pub fn severity(i: &Value) -> i64 {
    i["severity"].as_i64().expect("issue severity")
}

/// Every issue has the fields an on-call engineer needs.
pub fn assert_actionable(i: &Value) {
    for f in ["title", "actual", "next_steps"] {
        let s = i[f].as_str().unwrap_or("");
        assert!(!s.trim().is_empty(), "issue without {f}: {}", pretty(i));
    }
    let sev = severity(i);
    assert!(
        (1..=4).contains(&sev),
        "severity out of range: {}",
        pretty(i)
    );
}

/// A missing tool or service fails the test: `scripts/test` and `.ci/run` install and start
/// everything these tests need, so nothing is silently skipped to get green.
pub fn skip(why: &str) {
    panic!(
        "cannot run this test: {why} (run scripts/test, which installs and starts what the tests need)"
    );
}

pub fn have(tool: &str) -> bool {
    Proc::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 200 ms until it returns true or `secs` pass.
pub fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {secs}s waiting for {what}");
}

pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

/// A child process killed (and reaped) when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child stopped with SIGTERM (for servers such as nginx whose master must stop its workers),
/// then SIGKILL after 5 s.
pub struct TermGuard(pub Child);

impl Drop for TermGuard {
    fn drop(&mut self) {
        let _ = Proc::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn sh(script: &str) -> std::process::Output {
    Proc::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .expect("bash")
}

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (the sandbox's primary and replica)

pub struct Pg {
    /// DSN without password (the password goes in as the PGPASSWORD secret).
    pub dsn: String,
    pub password: String,
    /// admin DSN with its password, for psql sessions the test opens.
    pub admin_dsn: String,
    pub replica_dsn: Option<String>,
}

pub fn sandbox_pg() -> Option<Pg> {
    let admin_dsn = env("SANDBOX_PG_ADMIN_DSN")?;
    let password = env("SANDBOX_PG_ADMIN_PASSWORD")?;
    if !have("psql") {
        return None;
    }
    let dsn = admin_dsn.replacen(&format!(":{password}@"), "@", 1);
    Some(Pg {
        dsn,
        password,
        admin_dsn,
        replica_dsn: env("SANDBOX_PG_REPLICA_DSN"),
    })
}

pub fn with_app(dsn: &str, app: &str) -> String {
    if dsn.contains("application_name=") {
        let re_start = dsn.find("application_name=").unwrap();
        let rest = &dsn[re_start..];
        let end = rest.find('&').map(|e| re_start + e).unwrap_or(dsn.len());
        format!("{}application_name={app}{}", &dsn[..re_start], &dsn[end..])
    } else if dsn.contains('?') {
        format!("{dsn}&application_name={app}")
    } else {
        format!("{dsn}?application_name={app}")
    }
}

pub fn psql_value(dsn: &str, sql: &str) -> String {
    let out = Proc::new("psql")
        .args([dsn, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A psql session kept open: statements are written to its stdin; dropping it closes stdin, so
/// psql exits and the session (and its transaction) ends.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Session {
    pub fn open(dsn: &str, app: &str, statements: &str) -> Session {
        let mut child = Proc::new("psql")
            .args([&with_app(dsn, app), "-X", "-q"])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn psql");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(statements.as_bytes()).unwrap();
        stdin.flush().unwrap();
        Session {
            child,
            stdin: Some(stdin),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn count_sessions(pg: &Pg, app: &str, state: &str) -> i64 {
    psql_value(
        &pg.admin_dsn,
        &format!("select count(*) from pg_stat_activity where application_name = '{app}' and state = '{state}'"),
    )
    .parse()
    .unwrap_or(-1)
}

/// The must-show test: an application (`batch`) leaking idle-in-transaction sessions raises an
/// issue of severity <= 2 naming it; once the leak ends, a new run raises nothing and the issue
/// resolves.
#[test]
fn postgres_idle_in_transaction_leak_names_the_application_and_resolves() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL (SANDBOX_PG_ADMIN_DSN) or psql missing");
    };
    let sitrep = Sitrep::new();
    let sets = [("PG_DSN", pg.dsn.as_str())];
    let secrets = [("PGPASSWORD", pg.password.as_str())];

    let leak: Vec<Session> = (0..6)
        .map(|_| Session::open(&pg.admin_dsn, "batch", "begin;\nselect 1;\n"))
        .collect();
    wait_for(15, "6 batch sessions idle in transaction", || {
        count_sessions(&pg, "batch", "idle in transaction") >= 6
    });

    let v = sitrep.run("postgres/idle-in-transaction", "pg-main", &sets, &secrets);
    let opened = opened_ids(&v);
    assert!(
        !opened.is_empty(),
        "the run opened no issue: {}",
        pretty(&v)
    );
    let i = issue_with(&v, &["batch"]);
    assert!(severity(&i) <= 2, "severity must be <= 2: {}", pretty(&i));
    assert_actionable(&i);
    assert!(
        i["actual"]
            .as_str()
            .unwrap()
            .contains("idle in transaction"),
        "{}",
        pretty(&i)
    );

    // connection-saturation names the application holding the connections, by application and user
    let v = sitrep.run(
        "postgres/connection-saturation",
        "pg-main",
        &[
            ("PG_DSN", pg.dsn.as_str()),
            ("CONN_WARN_PCT", "1"),
            ("CONN_CRIT_PCT", "100"),
            ("CONN_SHARE_PCT", "15"),
        ],
        &secrets,
    );
    let i = issue_with(&v, &["batch", "user postgres"]);
    assert!(severity(&i) <= 2, "{}", pretty(&i));

    drop(leak);
    wait_for(15, "batch sessions to end", || {
        count_sessions(&pg, "batch", "idle in transaction") == 0
    });
    let v = sitrep.run("postgres/idle-in-transaction", "pg-main", &sets, &secrets);
    assert!(
        !has_issue_with(&v, &["batch"]),
        "leak ended but still raised: {}",
        pretty(&v)
    );
    assert!(
        issues(&v).is_empty(),
        "expected no issue once the leak ended: {}",
        pretty(&v)
    );
    let resolved = v["resolved"].as_array().cloned().unwrap_or_default();
    for id in &opened {
        assert!(
            resolved.contains(id),
            "the batch issue {id} should be resolved by the clean run: {}",
            pretty(&v)
        );
    }
}

/// Ids of the issues a run opened (`changes` entries of kind `opened`).
pub fn opened_ids(v: &Value) -> Vec<Value> {
    v["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["kind"] == "opened")
        .map(|c| c["issue_id"].clone())
        .collect()
}

#[test]
fn postgres_blocking_lock_chain_names_the_root_blocker() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    psql_value(
        &pg.admin_dsn,
        "create table if not exists sitrep_it_locks (id int primary key, v int); insert into sitrep_it_locks values (1, 0) on conflict do nothing",
    );

    let holder = Session::open(
        &pg.admin_dsn,
        "migrator",
        "begin;\nupdate sitrep_it_locks set v = v + 1 where id = 1;\n",
    );
    wait_for(10, "the lock holder", || {
        count_sessions(&pg, "migrator", "idle in transaction") == 1
    });
    let waiters: Vec<Session> = (0..2)
        .map(|_| {
            Session::open(
                &pg.admin_dsn,
                "web",
                "update sitrep_it_locks set v = v + 1 where id = 1;\n",
            )
        })
        .collect();
    wait_for(10, "two blocked sessions", || {
        psql_value(
            &pg.admin_dsn,
            "select count(*) from pg_stat_activity where application_name = 'web' and wait_event_type = 'Lock'",
        ) == "2"
    });
    std::thread::sleep(Duration::from_millis(1200));

    let v = sitrep.run(
        "postgres/blocking-locks",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str()), ("LOCK_WAIT_MAX_S", "1")],
        &secrets,
    );
    let i = issue_with(&v, &["migrator"]);
    assert_eq!(severity(&i), 2);
    assert!(
        i["actual"].as_str().unwrap().contains("blocks 2 sessions"),
        "{}",
        pretty(&i)
    );
    assert!(
        i["details"].as_str().unwrap().contains("web"),
        "{}",
        pretty(&i)
    );

    // the remediation ends the root blocker; the chain disappears
    let pid = psql_value(
        &pg.admin_dsn,
        "select pid from pg_stat_activity where application_name = 'migrator'",
    );
    let r = sitrep.run(
        "postgres/terminate-backend",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str()), ("PID", &pid)],
        &secrets,
    );
    assert!(
        r["report"].to_string().contains("Terminated backend"),
        "{}",
        pretty(&r)
    );
    wait_for(10, "waiters to finish", || {
        psql_value(
            &pg.admin_dsn,
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and application_name = 'web'",
        ) == "0"
    });
    let v = sitrep.run(
        "postgres/blocking-locks",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str()), ("LOCK_WAIT_MAX_S", "1")],
        &secrets,
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    drop(waiters);
    drop(holder);
    psql_value(&pg.admin_dsn, "drop table if exists sitrep_it_locks");
}

#[test]
fn postgres_terminate_idle_in_transaction_ends_only_that_application() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    let leak: Vec<Session> = (0..3)
        .map(|_| Session::open(&pg.admin_dsn, "leaky-it", "begin;\nselect 1;\n"))
        .collect();
    let other = Session::open(&pg.admin_dsn, "innocent-it", "begin;\nselect 1;\n");
    wait_for(10, "sessions idle in transaction", || {
        count_sessions(&pg, "leaky-it", "idle in transaction") == 3
            && count_sessions(&pg, "innocent-it", "idle in transaction") == 1
    });
    std::thread::sleep(Duration::from_millis(1100));
    let r = sitrep.run(
        "postgres/terminate-idle-in-transaction",
        "pg-main",
        &[
            ("PG_DSN", pg.dsn.as_str()),
            ("APPLICATION", "leaky-it"),
            ("MIN_IDLE_S", "1"),
        ],
        &secrets,
    );
    assert!(
        r["report"].to_string().contains("Terminated 3 of 3"),
        "{}",
        pretty(&r)
    );
    wait_for(10, "leaky sessions gone", || {
        count_sessions(&pg, "leaky-it", "idle in transaction") == 0
    });
    assert_eq!(
        count_sessions(&pg, "innocent-it", "idle in transaction"),
        1,
        "another application's session was ended"
    );
    drop(leak);
    drop(other);
}

#[test]
fn postgres_replication_lag_sees_the_sandbox_standby() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    let v = sitrep.run(
        "postgres/replication-lag",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str()), ("EXPECTED_STANDBYS", "1")],
        &secrets,
    );
    assert!(
        issues(&v).is_empty(),
        "a streaming standby should be healthy: {}",
        pretty(&v)
    );
    let v = sitrep.run(
        "postgres/replication-lag",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str()), ("EXPECTED_STANDBYS", "2")],
        &secrets,
    );
    assert_eq!(severity(&issue_with(&v, &["fewer streaming standbys"])), 2);
    if let Some(replica) = &pg.replica_dsn {
        let replica = replica.replacen(&format!(":{}@", pg.password), "@", 1);
        let v = sitrep.run(
            "postgres/replication-lag",
            "pg-replica",
            &[("PG_DSN", replica.as_str())],
            &secrets,
        );
        assert!(
            issues(&v).is_empty(),
            "the standby receives WAL: {}",
            pretty(&v)
        );
    }
}

#[test]
fn postgres_availability_up_down_and_a_rejected_login() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    let v = sitrep.run(
        "postgres/availability",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str())],
        &secrets,
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    // nothing listens on a free port: the instance is down, an issue (not a failed run)
    let down = format!("postgres://postgres@127.0.0.1:{}/postgres", free_port());
    let v = sitrep.run(
        "postgres/availability",
        "pg-down",
        &[("PG_DSN", down.as_str())],
        &secrets,
    );
    let i = issue_with(&v, &["refuses connections"]);
    assert_eq!(severity(&i), 1);
    assert!(
        i["actual"].as_str().unwrap().contains("refused"),
        "{}",
        pretty(&i)
    );
    assert_actionable(&i);
    // a wrong password is this check's problem: a failed run
    let v = sitrep.try_run(
        "postgres/availability",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str())],
        &[("PGPASSWORD", "not-the-password")],
    );
    assert_ne!(v["run"]["exit_code"].as_i64(), Some(0), "{}", pretty(&v));
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

/// PGPASSWORD is an optional secret (the password may be in the DSN, or come from .pgpass or
/// trust): a sql task must run without it. docs/bundles.md's own example declares it
/// `required: false` and uses `password: ${PGPASSWORD}`, so an absent optional secret
/// substitutes as empty.
#[test]
fn postgres_runs_without_the_optional_pgpassword_secret() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let sitrep = Sitrep::new();
    let v = sitrep.run(
        "postgres/database-size",
        "pg-main",
        &[("PG_DSN", pg.admin_dsn.as_str())],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn postgres_other_tasks_run_cleanly() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    for task in [
        "long-running-queries",
        "replication-slots",
        "database-size",
        "transaction-id-wraparound",
        "sessions",
        "connection-saturation",
    ] {
        let v = sitrep.run(
            &format!("postgres/{task}"),
            "pg-main",
            &[("PG_DSN", pg.dsn.as_str())],
            &secrets,
        );
        for i in issues(&v) {
            assert_actionable(&i);
        }
    }
    // a long query is reported once it passes the threshold
    let _q = Session::open(&pg.admin_dsn, "report-it", "select pg_sleep(8);\n");
    wait_for(10, "the long query", || {
        count_sessions(&pg, "report-it", "active") == 1
    });
    std::thread::sleep(Duration::from_millis(1200));
    let v = sitrep.run(
        "postgres/long-running-queries",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str()), ("LONG_QUERY_S", "1")],
        &secrets,
    );
    assert_eq!(severity(&issue_with(&v, &["report-it"])), 3);
}

// ---------------------------------------------------------------------------------------------
// linux-host (this machine)

#[test]
fn linux_disk_and_inode_usage_follow_their_thresholds() {
    let sitrep = Sitrep::new();
    let v = sitrep.run(
        "linux-host/disk-usage",
        "this-host",
        &[("DISK_WARN_PCT", "0"), ("DISK_MOUNTS", "/")],
        &[],
    );
    let i = issue_with(&v, &["Filesystem / "]);
    assert_eq!(severity(&i), 3);
    assert_actionable(&i);
    let v = sitrep.run(
        "linux-host/disk-usage",
        "this-host",
        &[
            ("DISK_WARN_PCT", "100"),
            ("DISK_CRIT_PCT", "100"),
            ("DISK_FULL_PCT", "100"),
            ("DISK_MOUNTS", "/"),
        ],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    assert!(
        v["resolved"]
            .as_array()
            .map(|r| !r.is_empty())
            .unwrap_or(false),
        "{}",
        pretty(&v)
    );

    let v = sitrep.run(
        "linux-host/inode-usage",
        "this-host",
        &[("INODE_WARN_PCT", "0"), ("DISK_MOUNTS", "/")],
        &[],
    );
    issue_with(&v, &["inodes"]);
    let v = sitrep.run(
        "linux-host/inode-usage",
        "this-host",
        &[
            ("INODE_WARN_PCT", "100"),
            ("INODE_CRIT_PCT", "100"),
            ("INODE_FULL_PCT", "100"),
            ("DISK_MOUNTS", "/"),
        ],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

/// A real nearly-full filesystem: a 4 MiB tmpfs (needs root to mount).
#[test]
fn linux_disk_usage_sees_a_filling_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().to_str().unwrap().to_string();
    if !sh(&format!("mount -t tmpfs -o size=4m sitrep-it {mnt}"))
        .status
        .success()
    {
        return skip("cannot mount a tmpfs (not root?)");
    }
    struct Umount(String);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Proc::new("umount").arg(&self.0).status();
        }
    }
    let _u = Umount(mnt.clone());
    let sitrep = Sitrep::new();
    // fill to ~97%
    assert!(
        sh(&format!("head -c 4063232 /dev/zero > {mnt}/fill"))
            .status
            .success()
    );
    let sets = [
        ("DISK_MOUNTS", mnt.as_str()),
        ("DISK_EXCLUDE_FSTYPES", "proc"),
    ];
    let v = sitrep.run("linux-host/disk-usage", "this-host", &sets, &[]);
    let i = issue_with(&v, &[&format!("Filesystem {mnt} ")]);
    assert_eq!(severity(&i), 2, "97% full is major: {}", pretty(&i));
    std::fs::remove_file(format!("{mnt}/fill")).unwrap();
    let v = sitrep.run("linux-host/disk-usage", "this-host", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn linux_memory_and_load_follow_their_thresholds() {
    let sitrep = Sitrep::new();
    let v = sitrep.run(
        "linux-host/memory-pressure",
        "this-host",
        &[
            ("MEM_AVAILABLE_WARN_PCT", "101"),
            ("MEM_AVAILABLE_CRIT_PCT", "0"),
        ],
        &[],
    );
    let i = issue_with(&v, &["low on available memory"]);
    assert_eq!(severity(&i), 2);
    assert!(
        i["details"].as_str().unwrap().contains("pid"),
        "names the largest processes: {}",
        pretty(&i)
    );
    let v = sitrep.run(
        "linux-host/memory-pressure",
        "this-host",
        &[
            ("MEM_AVAILABLE_WARN_PCT", "0"),
            ("MEM_PSI_FULL_MAX", "101"),
            ("SWAP_USED_MAX_PCT", "101"),
        ],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));

    let v = sitrep.run(
        "linux-host/load",
        "this-host",
        &[("LOAD_PER_CPU_WARN", "0")],
        &[],
    );
    issue_with(&v, &["Load on host"]);
    let v = sitrep.run(
        "linux-host/load",
        "this-host",
        &[("LOAD_PER_CPU_WARN", "1000")],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));

    let v = sitrep.run(
        "linux-host/top-processes",
        "this-host",
        &[("PROC_MEM_MAX_PCT", "101"), ("PROC_CPU_MAX_PCT", "101")],
        &[],
    );
    assert!(v["report"].to_string().contains("Top"), "{}", pretty(&v));
    sitrep.run("linux-host/failed-units", "this-host", &[], &[]);
    sitrep.run(
        "linux-host/disk-hogs",
        "this-host",
        &[("DISK_MOUNTS", "/tmp"), ("DU_DEPTH", "1")],
        &[],
    );
}

/// A real busy loop in its own session, started by a script named `sitrep-it-spin`: cpu-usage
/// names the script (not "bash"), and the issue resolves once it is gone.
#[test]
fn linux_cpu_usage_names_the_busy_program() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("sitrep-it-spin");
    std::fs::write(&script, "while :; do :; done\n").unwrap();
    let spin = Guard(
        Proc::new("setsid")
            .arg("bash")
            .arg(&script)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let sitrep = Sitrep::new();
    // thresholds at the floor: the test is about naming, not about this machine's load
    let sets = [
        ("CPU_BUSY_WARN_PCT", "0"),
        ("CPU_BUSY_CRIT_PCT", "101"),
        ("CPU_PROGRAM_MIN_PCT", "1"),
        ("SAMPLE_S", "1"),
    ];
    let v = sitrep.run("linux-host/cpu-usage", "this-host", &sets, &[]);
    let i = issue_with(&v, &["sitrep-it-spin", "keeps host"]);
    assert_eq!(severity(&i), 3);
    assert!(
        i["details"].as_str().unwrap().contains("pid "),
        "lists the busy processes: {}",
        pretty(&i)
    );
    assert_actionable(&i);
    drop(spin);
    let v = sitrep.run("linux-host/cpu-usage", "this-host", &sets, &[]);
    assert!(
        !issues(&v)
            .iter()
            .any(|i| i["title"].as_str().unwrap_or("").contains("sitrep-it-spin")),
        "{}",
        pretty(&v)
    );
    assert!(
        v["resolved"]
            .as_array()
            .map(|r| !r.is_empty())
            .unwrap_or(false),
        "{}",
        pretty(&v)
    );
}

/// A real kernel OOM kill: a process named `sitrep-oomhog` in a memory cgroup limited to 32 MiB.
#[test]
fn linux_oom_kills_names_the_killed_process() {
    let dir = tempfile::tempdir().unwrap();
    let hog = dir.path().join("sitrep-oomhog");
    // the real interpreter binary (not a pyenv-style shim script), under a name of our own
    let python = String::from_utf8(
        sh("python3 -c 'import os; print(os.readlink(\"/proc/self/exe\"))'").stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    if python.is_empty()
        || std::os::unix::fs::symlink(std::fs::canonicalize(&python).unwrap(), &hog).is_err()
    {
        return skip("python3 missing");
    }
    // cgroup v2 or v1 memory controller
    let cg = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        (
            "/sys/fs/cgroup/sitrep-it-oom",
            "memory.max",
            "memory.swap.max",
        )
    } else if Path::new("/sys/fs/cgroup/memory").is_dir() {
        (
            "/sys/fs/cgroup/memory/sitrep-it-oom",
            "memory.limit_in_bytes",
            "",
        )
    } else {
        return skip("no memory cgroup controller");
    };
    if std::fs::create_dir_all(cg.0).is_err()
        || std::fs::write(format!("{}/{}", cg.0, cg.1), "33554432").is_err()
    {
        let _ = std::fs::remove_dir(cg.0);
        return skip("cannot create a memory cgroup (not root?)");
    }
    if !cg.2.is_empty() {
        let _ = std::fs::write(format!("{}/{}", cg.0, cg.2), "0");
    }
    let out = sh(&format!(
        "(echo $BASHPID > {}/cgroup.procs; exec {} -c 'b = bytearray(256 << 20); b[::4096] = b\"x\" * (len(b) // 4096)')",
        cg.0,
        hog.display()
    ));
    std::thread::sleep(Duration::from_millis(300));
    let _ = std::fs::remove_dir(cg.0);
    assert!(
        matches!(out.status.code(), None | Some(137)),
        "the hog should have been SIGKILLed: {out:?}"
    );

    let sitrep = Sitrep::new();
    let v = sitrep.try_run("linux-host/oom-kills", "this-host", &[], &[]);
    if v["run"]["exit_code"].as_i64() != Some(0) {
        return skip("the kernel log is not readable here (dmesg/journalctl)");
    }
    let i = issue_with(&v, &["sitrep-oomhog"]);
    assert_eq!(severity(&i), 2);
    assert!(
        i["details"].as_str().unwrap().contains("cgroup"),
        "says it was a cgroup limit: {}",
        pretty(&i)
    );
    // outside the window, nothing
    let v = sitrep.run(
        "linux-host/oom-kills",
        "this-host",
        &[("OOM_WINDOW_MIN", "0.001")],
        &[],
    );
    assert!(!has_issue_with(&v, &["sitrep-oomhog"]), "{}", pretty(&v));
}

#[test]
fn linux_restart_process_sees_the_supervisor_restart_it() {
    /// Stops the supervisor loop first (so it cannot respawn), then ends its child, then it.
    struct Supervisor(Guard);
    impl Drop for Supervisor {
        fn drop(&mut self) {
            let pid = self.0.0.id();
            let _ = sh(&format!(
                "kill -STOP {pid}; pkill -P {pid}; kill -KILL {pid}"
            ));
        }
    }
    let supervisor = Supervisor(Guard(
        Proc::new("bash")
            .arg("-c")
            .arg("while :; do sleep 3131; done")
            .spawn()
            .unwrap(),
    ));
    let sup_pid = supervisor.0.0.id();
    let child_of = |parent: u32| -> Option<String> {
        let o = sh(&format!("pgrep -P {parent} -x sleep"));
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let mut pid = None;
    wait_for(5, "the supervised sleep", || {
        pid = child_of(sup_pid);
        pid.is_some()
    });
    let pid = pid.unwrap();
    let sitrep = Sitrep::new();
    let r = sitrep.run(
        "linux-host/restart-process",
        "this-host",
        &[("PID", &pid), ("GRACE_S", "2"), ("RESTART_WAIT_S", "5")],
        &[],
    );
    assert!(issues(&r).is_empty(), "{}", pretty(&r));
    assert!(
        r["report"].to_string().contains("came back"),
        "{}",
        pretty(&r)
    );
    let new = child_of(sup_pid).unwrap_or_default();
    assert!(!new.is_empty() && new != pid);
    drop(supervisor);
}

// ---------------------------------------------------------------------------------------------
// HTTP endpoint and DNS

/// A tiny HTTP server (python3 stdlib) answering every GET after `delay_ms`.
fn slow_http_server(delay_ms: u64) -> (Guard, u16) {
    let port = free_port();
    let code = format!(
        r#"import http.server, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep({d})
        b = b'ok\n'
        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()
"#,
        d = delay_ms as f64 / 1000.0
    );
    let g = Guard(Proc::new("python3").arg("-c").arg(code).spawn().unwrap());
    wait_for(10, "the test HTTP server", || port_open(port));
    (g, port)
}

#[test]
fn http_endpoint_status_and_latency() {
    let sitrep = Sitrep::new();
    let (server, port) = slow_http_server(300);
    let url = format!("http://127.0.0.1:{port}/healthz");
    let v = sitrep.run("http-endpoint/status", "web", &[("URL", &url)], &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let v = sitrep.run(
        "http-endpoint/latency",
        "web",
        &[("URL", &url), ("MAX_LATENCY", "100ms")],
        &[],
    );
    assert_eq!(severity(&issues(&v)[0]), 3, "{}", pretty(&v));
    let v = sitrep.run(
        "http-endpoint/latency",
        "web",
        &[("URL", &url), ("MAX_LATENCY", "5s")],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let v = sitrep.run(
        "http-endpoint/status",
        "web",
        &[("URL", &url), ("BODY_CONTAINS", "definitely-not-there")],
        &[],
    );
    assert!(!issues(&v).is_empty(), "{}", pretty(&v));
    let v = sitrep.run("http-endpoint/request-trace", "web", &[("URL", &url)], &[]);
    assert!(
        v["report"].to_string().contains("HTTP 200"),
        "{}",
        pretty(&v)
    );
    drop(server);
    // the endpoint is gone: unreachable is an issue, not a failed run
    let v = sitrep.run("http-endpoint/status", "web", &[("URL", &url)], &[]);
    assert_eq!(severity(&issues(&v)[0]), 2, "{}", pretty(&v));
    if let Some(nginx) = env("SANDBOX_NGINX_URL") {
        sitrep.run(
            "http-endpoint/status",
            "sandbox-nginx",
            &[("URL", &format!("{nginx}/"))],
            &[],
        );
    }
}

#[test]
fn http_endpoint_tls_certificate_expiring_soon() {
    if !have("openssl") {
        return skip("openssl missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    assert!(sh(&format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout {d}/k.pem -out {d}/c.pem -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null"
    ))
    .status
    .success());
    let port = free_port();
    let _srv = Guard(
        Proc::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "-cert",
                &format!("{d}/c.pem"),
                "-key",
                &format!("{d}/k.pem"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(10, "openssl s_server", || port_open(port));
    let url = format!("https://127.0.0.1:{port}/");
    let sitrep = Sitrep::new();
    let v = sitrep.run("http-endpoint/tls-expiry", "tls", &[("URL", &url)], &[]);
    assert!(
        !issues(&v).is_empty(),
        "a 2-day certificate is below 14 days: {}",
        pretty(&v)
    );
    let v = sitrep.run(
        "http-endpoint/certificate",
        "tls",
        &[("URL", &url), ("INSECURE", "true")],
        &[],
    );
    let i = issue_with(&v, &["expires soon"]);
    assert_eq!(
        severity(&i),
        2,
        "under CERT_CRIT_DAYS (3) is major: {}",
        pretty(&i)
    );
    let v = sitrep.run(
        "http-endpoint/certificate",
        "tls",
        &[
            ("URL", &url),
            ("INSECURE", "true"),
            ("CERT_WARN_DAYS", "1"),
            ("CERT_CRIT_DAYS", "0"),
        ],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn dns_resolution_with_dnsmasq() {
    if !have("dnsmasq") || !have("dig") {
        return skip("dnsmasq or dig missing");
    }
    let port = free_port();
    let pid_dir = tempfile::tempdir().unwrap();
    let _dns = Guard(
        Proc::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--conf-file=/dev/null",
                "--bind-interfaces",
            ])
            .args([
                "--listen-address=127.0.0.1",
                &format!("--port={port}"),
                "--local=/sitrep.test/",
            ])
            .arg("--address=/api.sitrep.test/127.0.0.42")
            .arg(format!(
                "--pid-file={}/dnsmasq.pid",
                pid_dir.path().display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let p = port.to_string();
    let sitrep = Sitrep::new();
    wait_for(10, "dnsmasq", || {
        String::from_utf8_lossy(
            &sh(&format!(
                "dig @127.0.0.1 -p {port} +short +time=1 api.sitrep.test"
            ))
            .stdout,
        )
        .contains("127.0.0.42")
    });
    let with = |name: &'static str, expected: Option<&'static str>| {
        let mut v: Vec<(&str, &str)> = vec![
            ("DNS_SERVER", "127.0.0.1"),
            ("DNS_PORT", p.as_str()),
            ("DNS_TIMEOUT_S", "1"),
            ("DNS_NAME", name),
        ];
        if let Some(e) = expected {
            v.push(("EXPECTED_ANSWERS", e));
        }
        v
    };
    let v = sitrep.run(
        "dns/resolution",
        "api",
        &with("api.sitrep.test", Some("127.0.0.42")),
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let v = sitrep.run(
        "dns/resolution",
        "api",
        &with("api.sitrep.test", Some("127.0.0.7")),
        &[],
    );
    assert_eq!(severity(&issue_with(&v, &["unexpected"])), 2);
    let v = sitrep.run(
        "dns/resolution",
        "gone",
        &with("gone.sitrep.test", None),
        &[],
    );
    issue_with(&v, &["gone.sitrep.test does not exist"]);
    let v = sitrep.run(
        "dns/resolver-compare",
        "api",
        &[
            ("DNS_NAME", "api.sitrep.test"),
            ("DNS_PORT", p.as_str()),
            ("RESOLVERS", "127.0.0.1"),
        ],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

// ---------------------------------------------------------------------------------------------
// Redis (throwaway redis-server instances: the tests change maxmemory, maxclients, dir)

pub struct Redis {
    pub _guard: Guard,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

pub fn redis_server(extra: &[&str]) -> Option<Redis> {
    if !have("redis-server") || !have("redis-cli") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let guard = Guard(
        Proc::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args([
                "--enable-protected-configs",
                "yes",
                "--dir",
                dir.path().to_str().unwrap(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(10, "redis-server", || port_open(port));
    Some(Redis {
        _guard: guard,
        port,
        dir,
    })
}

pub fn rcli(port: u16, args: &str) -> String {
    String::from_utf8_lossy(&sh(&format!("redis-cli -p {port} {args} 2>&1")).stdout)
        .trim()
        .to_string()
}

#[test]
fn redis_memory_and_evictions() {
    let Some(r) = redis_server(&["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]) else {
        return skip("redis-server missing");
    };
    let p = r.port.to_string();
    let base = [
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", p.as_str()),
        ("SAMPLE_S", "2"),
    ];
    let sitrep = Sitrep::new();
    let v = sitrep.run("redis/memory", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    // fill it to maxmemory: writes are refused with noeviction
    sh(&format!(
        "for i in $(seq 1 3000); do echo \"SET k$i $(head -c 1500 /dev/zero | tr '\\0' x)\"; done | redis-cli -p {} >/dev/null 2>&1",
        r.port
    ));
    let v = sitrep.run("redis/memory", "cache", &base, &[]);
    let i = issue_with(&v, &["near its maxmemory"]);
    assert!(
        severity(&i) <= 2,
        "noeviction at maxmemory refuses writes: {}",
        pretty(&i)
    );
    assert!(i["actual"].as_str().unwrap().contains("noeviction"));

    // switch to an eviction policy and keep writing: evictions are seen during the sample
    rcli(r.port, "CONFIG SET maxmemory-policy allkeys-lru");
    let writer = Guard(
        Proc::new("python3")
            .arg("-c")
            .arg(format!(
                r#"import socket, time
s = socket.create_connection(('127.0.0.1', {}))
v = b'y' * 1500
for i in range(4000):
    k = b'e%d' % i
    try:
        s.sendall(b'*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' % (len(k), k, len(v), v))
        s.recv(64)
    except OSError:
        break
    time.sleep(0.003)
"#,
                r.port
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let v = sitrep.run("redis/evictions", "cache", &base, &[]);
    assert_eq!(severity(&issue_with(&v, &["evicting keys"])), 3);
    drop(writer);
    rcli(r.port, "FLUSHALL");
    rcli(r.port, "CONFIG SET maxmemory 0");
    let v = sitrep.run("redis/memory", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let v = sitrep.run("redis/evictions", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn redis_rejected_connections_at_maxclients() {
    let Some(r) = redis_server(&["--maxclients", "4"]) else {
        return skip("redis-server missing");
    };
    let p = r.port.to_string();
    let base = [
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", p.as_str()),
        ("SAMPLE_S", "1"),
    ];
    let sitrep = Sitrep::new();
    // take every slot (a slot freed late by an earlier probe may reject one of ours: add more)
    let mut hogs: Vec<std::net::TcpStream> = Vec::new();
    wait_for(10, "every client slot taken", || {
        if rcli(r.port, "PING").contains("max number of clients") {
            return true;
        }
        if hogs.len() < 12 {
            hogs.push(std::net::TcpStream::connect(("127.0.0.1", r.port)).unwrap());
        }
        false
    });
    let v = sitrep.run("redis/rejected-connections", "cache", &base, &[]);
    assert_eq!(
        severity(&issue_with(&v, &["rejecting connections"])),
        1,
        "{}",
        pretty(&v)
    );
    drop(hogs);
    wait_for(5, "free slots", || rcli(r.port, "PING") == "PONG");
    let v = sitrep.run("redis/rejected-connections", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn redis_blocked_clients_and_unblock() {
    let Some(r) = redis_server(&[]) else {
        return skip("redis-server missing");
    };
    let p = r.port.to_string();
    let base = [
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", p.as_str()),
        ("BLOCKED_CLIENTS_MAX", "2"),
    ];
    let sitrep = Sitrep::new();
    let consumers: Vec<Guard> = (0..2)
        .map(|_| {
            Guard(
                Proc::new("redis-cli")
                    .args(["-p", &p, "BLPOP", "jobs", "0"])
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    wait_for(5, "2 blocked clients", || {
        rcli(r.port, "INFO clients").contains("blocked_clients:2")
    });
    let v = sitrep.run("redis/blocked-clients", "queue", &base, &[]);
    issue_with(&v, &["blocked clients"]);
    let id = rcli(r.port, "CLIENT LIST")
        .lines()
        .find(|l| l.contains("cmd=blpop"))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .trim_start_matches("id=")
        .to_string();
    let k = sitrep.run(
        "redis/kill-client",
        "queue",
        &[
            ("REDIS_PORT", p.as_str()),
            ("CLIENT_ID", &id),
            ("MODE", "unblock"),
        ],
        &[],
    );
    assert!(
        k["report"].to_string().contains("Unblocked"),
        "{}",
        pretty(&k)
    );
    wait_for(5, "1 blocked client", || {
        rcli(r.port, "INFO clients").contains("blocked_clients:1")
    });
    let v = sitrep.run("redis/blocked-clients", "queue", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    drop(consumers);
    for t in ["ping", "client-list", "slowlog"] {
        sitrep.run(&format!("redis/{t}"), "queue", &base, &[]);
    }
}

/// CLIENT PAUSE WRITE: PING still answers, but a SET hangs; blocked-clients names the pause.
#[test]
fn redis_client_pause_holds_writes_back() {
    let Some(r) = redis_server(&[]) else {
        return skip("redis-server missing");
    };
    let p = r.port.to_string();
    let base = [("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", p.as_str())];
    let sitrep = Sitrep::new();
    rcli(r.port, "CLIENT PAUSE 20000 WRITE");
    let _writer = Guard(
        Proc::new("redis-cli")
            .args(["-p", &p, "SET", "k", "v"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(5, "the paused writer", || {
        rcli(r.port, "CLIENT LIST").contains("cmd=set")
    });
    let v = sitrep.run("redis/blocked-clients", "cache", &base, &[]);
    let i = issue_with(&v, &["holds client commands back"]);
    assert_eq!(severity(&i), 2);
    assert!(
        i["actual"].as_str().unwrap().contains("set"),
        "{}",
        pretty(&i)
    );
    rcli(r.port, "CLIENT UNPAUSE");
    wait_for(5, "the writer to finish", || {
        !rcli(r.port, "CLIENT LIST").contains("cmd=set")
    });
    let v = sitrep.run("redis/blocked-clients", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn redis_persistence_failure_refuses_writes_then_recovers() {
    // with a save point configured and stop-writes-on-bgsave-error yes (the default), a failed
    // snapshot makes Redis refuse writes with MISCONF
    let Some(r) = redis_server(&["--save", "3600 1"]) else {
        return skip("redis-server missing");
    };
    let p = r.port.to_string();
    let base = [("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", p.as_str())];
    let sitrep = Sitrep::new();
    let v = sitrep.run("redis/persistence", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    // the working directory disappears: BGSAVE cannot create its temp file
    let wd = r.dir.path().join("wd");
    std::fs::create_dir(&wd).unwrap();
    rcli(r.port, &format!("CONFIG SET dir {}", wd.display()));
    std::fs::remove_dir(&wd).unwrap();
    rcli(r.port, "SET a b");
    rcli(r.port, "BGSAVE");
    wait_for(10, "the failed BGSAVE", || {
        rcli(r.port, "INFO persistence").contains("rdb_last_bgsave_status:err")
    });
    let v = sitrep.run("redis/persistence", "cache", &base, &[]);
    assert_eq!(
        severity(&issue_with(&v, &["snapshots fail"])),
        1,
        "MISCONF refuses writes: {}",
        pretty(&v)
    );
    // one failure, one issue: ping answers MISCONF, which is persistence's finding
    let v = sitrep.run("redis/ping", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    assert!(
        v["report"].to_string().contains("MISCONF"),
        "{}",
        pretty(&v)
    );
    // fixed: a good directory and a successful BGSAVE
    rcli(
        r.port,
        &format!("CONFIG SET dir {}", r.dir.path().display()),
    );
    rcli(r.port, "BGSAVE");
    wait_for(10, "a good BGSAVE", || {
        rcli(r.port, "INFO persistence").contains("rdb_last_bgsave_status:ok")
    });
    let v = sitrep.run("redis/persistence", "cache", &base, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn redis_sandbox_instance_is_healthy() {
    let (Some(host), Some(port)) = (env("SANDBOX_REDIS_HOST"), env("SANDBOX_REDIS_PORT")) else {
        return skip("sandbox Redis not running");
    };
    if !port_open(port.parse().unwrap_or(0)) {
        return skip("sandbox Redis is down at the moment (a fault drill?)");
    }
    let sitrep = Sitrep::new();
    for t in ["ping", "memory", "persistence", "client-list"] {
        let v = sitrep.run(
            &format!("redis/{t}"),
            "sandbox-redis",
            &[("REDIS_HOST", &host), ("REDIS_PORT", &port)],
            &[],
        );
        for i in issues(&v) {
            assert_actionable(&i);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// nginx (a throwaway nginx with a bad upstream)

fn nginx_with_bad_upstream() -> Option<(TermGuard, tempfile::TempDir, u16, u16)> {
    if !have("nginx") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    // nginx workers run as nobody: they must be able to enter the directory
    let _ = Proc::new("chmod").arg("755").arg(dir.path()).status();
    let d = dir.path().display().to_string();
    let (port, upstream) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
events {{ worker_connections 64; }}\n\
http {{\n\
  access_log {d}/access.log;\n\
  client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
  upstream orders_backend {{ server 127.0.0.1:{upstream}; }}\n\
  server {{\n\
    listen 127.0.0.1:{port};\n\
    location = /nginx_status {{ stub_status; }}\n\
    location /orders/ {{ proxy_pass http://orders_backend; proxy_connect_timeout 1s; }}\n\
  }}\n\
}}\n"
        ),
    )
    .unwrap();
    let g = TermGuard(
        Proc::new("nginx")
            .args([
                "-c",
                &format!("{d}/nginx.conf"),
                "-p",
                &d,
                "-e",
                &format!("{d}/error.log"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(10, "nginx", || port_open(port));
    Some((g, dir, port, upstream))
}

#[test]
fn nginx_upstream_failures_name_the_upstream_and_clear() {
    let Some((_nginx, dir, port, upstream)) = nginx_with_bad_upstream() else {
        return skip("nginx missing");
    };
    let d = dir.path().display().to_string();
    let (err, acc) = (format!("{d}/error.log"), format!("{d}/access.log"));
    let sets = [
        ("ERROR_LOG", err.as_str()),
        ("ACCESS_LOG", acc.as_str()),
        ("LOG_WINDOW_MIN", "0.1"),
        ("UPSTREAM_ERRORS_MIN", "5"),
    ];
    let sitrep = Sitrep::new();
    for _ in 0..8 {
        sh(&format!(
            "curl -s -o /dev/null -m 5 http://127.0.0.1:{port}/orders/1"
        ));
    }
    let v = sitrep.run("nginx/upstream-failures", "edge", &sets, &[]);
    let i = issue_with(&v, &[&format!("127.0.0.1:{upstream}")]);
    assert_eq!(severity(&i), 2);
    assert!(
        i["actual"].as_str().unwrap().contains("refused")
            && i["actual"].as_str().unwrap().contains("502"),
        "{}",
        pretty(&i)
    );

    // the upstream comes up: requests succeed and, once the errors age out of the window, nothing is raised
    let (_up, up_port) = {
        let code = format!(
            "import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.send_header('Content-Length','3'); self.end_headers(); self.wfile.write(b'ok\\n')\n    def log_message(self,*a): pass\nhttp.server.HTTPServer(('127.0.0.1',{upstream}),H).serve_forever()\n"
        );
        (
            Guard(Proc::new("python3").arg("-c").arg(code).spawn().unwrap()),
            upstream,
        )
    };
    wait_for(10, "the upstream", || port_open(up_port));
    std::thread::sleep(Duration::from_secs(7));
    assert!(
        String::from_utf8_lossy(
            &sh(&format!("curl -s -m 5 http://127.0.0.1:{port}/orders/1")).stdout
        )
        .contains("ok")
    );
    let v = sitrep.run("nginx/upstream-failures", "edge", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));

    let status = format!("http://127.0.0.1:{port}/nginx_status");
    let v = sitrep.run(
        "nginx/stub-status",
        "edge",
        &[("STATUS_URL", &status), ("SAMPLE_S", "1")],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let v = sitrep.run(
        "nginx/stub-status",
        "edge",
        &[
            ("STATUS_URL", &format!("http://127.0.0.1:{port}/missing")),
            ("SAMPLE_S", "1"),
        ],
        &[],
    );
    issue_with(&v, &["status page is not available"]);
    let v = sitrep.run(
        "nginx/error-log",
        "edge",
        &[("ERROR_LOG", err.as_str())],
        &[],
    );
    for i in issues(&v) {
        assert_actionable(&i);
    }
    let v = sitrep.run(
        "nginx/config-test",
        "edge",
        &[("NGINX_CONF", &format!("{d}/nginx.conf"))],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn nginx_error_log_reports_worker_connection_exhaustion() {
    let Some((_nginx, dir, port, _)) = nginx_with_bad_upstream() else {
        return skip("nginx missing");
    };
    let err = format!("{}/error.log", dir.path().display());
    let sitrep = Sitrep::new();
    // more idle keep-alive connections than worker_connections (64)
    let conns: Vec<std::net::TcpStream> = (0..80)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    wait_for(10, "nginx to log worker_connections", || {
        std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("worker_connections are not enough")
    });
    drop(conns);
    let v = sitrep.run(
        "nginx/error-log",
        "edge",
        &[("ERROR_LOG", err.as_str())],
        &[],
    );
    let i = issue_with(&v, &["worker_connections"]);
    assert!(severity(&i) <= 3, "{}", pretty(&i));
    let v = sitrep.run(
        "nginx/error-log",
        "edge",
        &[("ERROR_LOG", err.as_str()), ("LOG_WINDOW_MIN", "0")],
        &[],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn nginx_sandbox_stub_status_runs() {
    let Some(url) = env("SANDBOX_NGINX_STATUS_URL") else {
        return skip("sandbox nginx not running");
    };
    let sitrep = Sitrep::new();
    let v = sitrep.run(
        "nginx/stub-status",
        "sandbox-nginx",
        &[("STATUS_URL", &url), ("SAMPLE_S", "1")],
        &[],
    );
    assert!(!has_issue_with(&v, &["unreachable"]), "{}", pretty(&v));
}

// ---------------------------------------------------------------------------------------------
// Prometheus (a throwaway Prometheus with a dead target, a broken rule and firing alerts)

#[test]
fn prometheus_down_targets_alerts_and_rule_failures() {
    if !have("prometheus") {
        return skip("prometheus missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let (port, dead) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [rules.yml]\nscrape_configs:\n  - job_name: self\n    static_configs: [{{ targets: ['127.0.0.1:{port}'] }}]\n  - job_name: checkout\n    static_configs: [{{ targets: ['127.0.0.1:{dead}'] }}]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: broken\n    rules:\n      - record: job:up:broken\n        expr: up * on() up\n  - name: alerts\n    rules:\n      - alert: CheckoutDown\n        expr: up{job=\"checkout\"} == 0\n        labels: { severity: critical }\n",
    )
    .unwrap();
    let _prom = Guard(
        Proc::new("prometheus")
            .current_dir(dir.path())
            .args([
                "--config.file=prometheus.yml",
                &format!("--storage.tsdb.path={}/data", dir.path().display()),
            ])
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let query = |q: &str| {
        String::from_utf8_lossy(
            &sh(&format!(
                "curl -s -m 5 --data-urlencode 'query={q}' {url}/api/v1/query"
            ))
            .stdout,
        )
        .to_string()
    };
    wait_for(60, "Prometheus to scrape and evaluate", || {
        query("ALERTS{alertname=\"CheckoutDown\"}").contains("firing")
            && query("increase(prometheus_rule_evaluation_failures_total[2m]) > 0")
                .contains("broken")
    });
    let sets = [("PROMETHEUS_URL", url.as_str()), ("WINDOW", "1m")];
    let sitrep = Sitrep::new();
    let v = sitrep.run("prometheus/down-targets", "prom", &sets, &[]);
    let i = issue_with(&v, &["checkout"]);
    assert_eq!(severity(&i), 2);
    let v = sitrep.run("prometheus/firing-alerts", "prom", &sets, &[]);
    assert_eq!(
        severity(&issue_with(&v, &["CheckoutDown"])),
        1,
        "critical alerts are critical issues"
    );
    let v = sitrep.run("prometheus/rule-failures", "prom", &sets, &[]);
    issue_with(&v, &["broken"]);
    // rules, and no Alertmanager configured: the alerts reach nobody
    let v = sitrep.run("prometheus/alertmanagers", "prom", &sets, &[]);
    issue_with(&v, &["sends alerts to no Alertmanager"]);
    let v = sitrep.run("prometheus/ready", "prom", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let v = sitrep.run("prometheus/target-errors", "prom", &sets, &[]);
    assert!(
        v["report"].to_string().contains("connection refused"),
        "{}",
        pretty(&v)
    );
    let v = sitrep.run("prometheus/rule-errors", "prom", &sets, &[]);
    assert!(
        v["report"].to_string().contains("job:up:broken"),
        "{}",
        pretty(&v)
    );
    for t in ["config-reload", "alert-delivery", "missed-rule-evaluations"] {
        let v = sitrep.run(&format!("prometheus/{t}"), "prom", &sets, &[]);
        assert!(issues(&v).is_empty(), "{t}: {}", pretty(&v));
    }

    // the target comes back: a /metrics endpoint on the dead port
    let code = format!(
        "import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        b=b'checkout_up 1\\n'\n        self.send_response(200); self.send_header('Content-Type','text/plain; version=0.0.4'); self.send_header('Content-Length',str(len(b))); self.end_headers(); self.wfile.write(b)\n    def log_message(self,*a): pass\nhttp.server.HTTPServer(('127.0.0.1',{dead}),H).serve_forever()\n"
    );
    let _target = Guard(Proc::new("python3").arg("-c").arg(code).spawn().unwrap());
    wait_for(30, "the target to be up", || {
        query("up{job=\"checkout\"} == 1").contains("checkout")
    });
    let v = sitrep.run("prometheus/down-targets", "prom", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn prometheus_sandbox_tasks_run() {
    let Some(url) = env("SANDBOX_PROMETHEUS_URL") else {
        return skip("sandbox Prometheus not running");
    };
    if !sh(&format!("curl -fsS -m 5 -o /dev/null {url}/-/ready"))
        .status
        .success()
    {
        return skip("sandbox Prometheus is not ready (a fault drill?)");
    }
    let sitrep = Sitrep::new();
    for t in [
        "down-targets",
        "firing-alerts",
        "rule-failures",
        "config-reload",
        "alert-delivery",
        "target-errors",
        "ready",
        "missed-rule-evaluations",
        "alertmanagers",
    ] {
        let v = sitrep.run(
            &format!("prometheus/{t}"),
            "sandbox-prometheus",
            &[("PROMETHEUS_URL", &url)],
            &[],
        );
        for i in issues(&v) {
            assert_actionable(&i);
        }
    }
}

/// Every bundle validates (the collection is what the binary embeds).
#[test]
fn core_collection_validates() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../collections/core");
    let out = Command::cargo_bin("sitrep")
        .unwrap()
        .args(["bundles", "validate"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sitrep bundles validate collections/core failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
