//! The service bundles' new evidence and remediations against real servers: the sandbox's
//! PostgreSQL (primary and standby), throwaway Redis and Prometheus instances on free
//! ports. Each test creates the condition, checks the evidence names the culprit in its data,
//! runs the remediation (approved, as at the terminal), and checks the condition is gone.

use crate::collection::{
    Guard, Session, Sitrep, count_sessions, free_port, issue_with, issues, pretty, psql_value,
    rcli, redis_server, sandbox_pg, severity, sh, skip, wait_for,
};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Proc, Stdio};

fn exit_code(v: &Value) -> Option<i64> {
    v["run"]["exit_code"].as_i64()
}

fn report(v: &Value) -> String {
    v["run"]["report"].as_str().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// blocking-locks names the root blocker in its data; terminate-blocking-session refuses to
/// pick sessions itself, leaves a waiter queued behind the holder alone (it blocks the next
/// waiter, but it is a victim, not a cause), and ends the root blocker
/// of the application the evidence named, after which the waiters proceed.
#[test]
fn postgres_terminate_blocking_session_ends_the_root_blocker() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let id = std::process::id();
    let (table, holder_app, waiter_app) = (
        format!("sitrep_it_block_{id}"),
        format!("holder-{id}"),
        format!("waiter-{id}"),
    );
    psql_value(
        &pg.admin_dsn,
        &format!(
            "create table if not exists {table} (id int primary key, v int); insert into {table} values (1, 0) on conflict do nothing"
        ),
    );
    let holder = Session::open(
        &pg.admin_dsn,
        &holder_app,
        &format!("begin;\nupdate {table} set v = v + 1 where id = 1;\n"),
    );
    wait_for(10, "the lock holder", || {
        count_sessions(&pg, &holder_app, "idle in transaction") == 1
    });
    let waiters: Vec<Session> = (0..2)
        .map(|_| {
            Session::open(
                &pg.admin_dsn,
                &waiter_app,
                &format!("update {table} set v = v + 1 where id = 1;\n"),
            )
        })
        .collect();
    let waiting = || {
        psql_value(
            &pg.admin_dsn,
            &format!(
                "select count(*) from pg_stat_activity where application_name = '{waiter_app}' and wait_event_type = 'Lock'"
            ),
        )
    };
    wait_for(10, "two blocked sessions", || waiting() == "2");
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    let dsn = ("PG_DSN", pg.dsn.as_str());
    // the holder sits idle in its transaction while others wait: reported after a few seconds,
    // long before LOCK_WAIT_MAX_S (30 s by default)
    wait_for(15, "the holder's transaction to be 5 s old", || {
        psql_value(
            &pg.admin_dsn,
            &format!(
                "select count(*) from pg_stat_activity where application_name = '{holder_app}' and now() - xact_start >= interval '5 seconds'"
            ),
        ) == "1"
    });
    let v = sitrep.run("postgres/blocking-locks", "pg-main", &[dsn], &secrets);
    let i = issue_with(&v, &[&holder_app]);
    assert_eq!(i["data"]["root_app"], holder_app.as_str(), "{}", pretty(&i));
    let root_pid = i["data"]["root_pid"].as_i64().unwrap().to_string();

    let v = sitrep.try_run(
        "postgres/terminate-blocking-session",
        "pg-main",
        &[dsn],
        &secrets,
    );
    assert_eq!(exit_code(&v), Some(2), "no target named: {}", pretty(&v));
    let waiter_pid = psql_value(
        &pg.admin_dsn,
        &format!(
            "select pid from pg_stat_activity where application_name = '{waiter_app}' limit 1"
        ),
    );
    let v = sitrep.run(
        "postgres/terminate-blocking-session",
        "pg-main",
        &[dsn, ("BLOCKING_PID", &waiter_pid), ("LOCK_WAIT_S", "1")],
        &secrets,
    );
    assert!(
        report(&v).contains("Nothing was terminated"),
        "a waiter queued behind the holder is not a root blocker: {}",
        pretty(&v)
    );
    assert_eq!(count_sessions(&pg, &holder_app, "idle in transaction"), 1);

    let v = sitrep.run(
        "postgres/terminate-blocking-session",
        "pg-main",
        &[
            dsn,
            ("BLOCKING_APPLICATION", &holder_app),
            ("BLOCKING_PID", &root_pid),
        ],
        &secrets,
    );
    assert!(report(&v).contains("Terminated 1 of 1"), "{}", pretty(&v));
    wait_for(10, "the waiters to get the lock", || waiting() == "0");
    let v = sitrep.run(
        "postgres/blocking-locks",
        "pg-main",
        &[dsn, ("LOCK_WAIT_MAX_S", "0")],
        &secrets,
    );
    assert!(
        !issues(&v)
            .iter()
            .any(|i| i["title"].as_str().unwrap_or("").contains(&holder_app)),
        "{}",
        pretty(&v)
    );
    drop(waiters);
    drop(holder);
    psql_value(&pg.admin_dsn, &format!("drop table if exists {table}"));
}

/// A lock holder that makes no progress (here: sleeping inside its transaction, state active)
/// while others wait is reported after LOCK_IDLE_BLOCK_S, not only after LOCK_WAIT_MAX_S.
#[test]
fn postgres_a_stalled_lock_holder_is_reported_early() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let id = std::process::id();
    let (table, app) = (format!("sitrep_it_stall_{id}"), format!("sleeper-{id}"));
    psql_value(
        &pg.admin_dsn,
        &format!(
            "create table if not exists {table} (id int primary key, v int); insert into {table} values (1, 0) on conflict do nothing"
        ),
    );
    let holder = Session::open(
        &pg.admin_dsn,
        &app,
        &format!("begin;\nupdate {table} set v = v + 1 where id = 1;\nselect pg_sleep(60);\n"),
    );
    // The waiter starts once the holder has its row lock, or it could update first and leave.
    wait_for(10, "the holder sleeping in its transaction", || {
        psql_value(
            &pg.admin_dsn,
            &format!(
                "select count(*) from pg_stat_activity where application_name = '{app}' and wait_event = 'PgSleep'"
            ),
        ) == "1"
    });
    let waiter = Session::open(
        &pg.admin_dsn,
        &format!("stall-waiter-{id}"),
        &format!("update {table} set v = v + 1 where id = 1;\n"),
    );
    wait_for(
        20,
        "a sleeping holder 5 s into its transaction, with a waiter",
        || {
            psql_value(
                &pg.admin_dsn,
                &format!(
                    "select count(*) from pg_stat_activity h where h.application_name = '{app}' and h.wait_event = 'PgSleep' and now() - h.xact_start >= interval '5 seconds' and exists (select 1 from pg_stat_activity w where h.pid = any(pg_blocking_pids(w.pid)))"
                ),
            ) == "1"
        },
    );
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    let v = sitrep.run(
        "postgres/blocking-locks",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str())],
        &secrets,
    );
    let i = issue_with(&v, &[&app]);
    assert_eq!(i["data"]["root_stalled"], 1, "{}", pretty(&i));
    let v = sitrep.run(
        "postgres/terminate-blocking-session",
        "pg-main",
        &[("PG_DSN", pg.dsn.as_str()), ("BLOCKING_APPLICATION", &app)],
        &secrets,
    );
    assert!(report(&v).contains("Terminated 1 of 1"), "{}", pretty(&v));
    drop(waiter);
    drop(holder);
    psql_value(&pg.admin_dsn, &format!("drop table if exists {table}"));
}

/// The sandbox lock (sandbox/fault's): held while this test pauses the shared standby.
struct SandboxLock(Child);

impl SandboxLock {
    fn take() -> SandboxLock {
        let mut child = Proc::new("flock")
            .args(["/tmp/sitrep-sandbox.lock", "-c", "echo locked; read line"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("flock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        SandboxLock(child)
    }
}

impl Drop for SandboxLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// resume-wal-replay refuses a primary and does nothing on a standby that replays; with replay
/// paused (under the sandbox lock, for seconds), wal-replay raises it and resume-wal-replay
/// ends it.
#[test]
fn postgres_resume_wal_replay_acts_only_on_a_paused_standby() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let Some(replica_admin) = pg.replica_dsn.clone() else {
        return skip("sandbox standby (SANDBOX_PG_REPLICA_DSN) missing");
    };
    let replica = replica_admin.replacen(&format!(":{}@", pg.password), "@", 1);
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    let v = sitrep.try_run(
        "postgres/resume-wal-replay",
        "pg-main",
        &[("PG_DSN", &pg.dsn)],
        &secrets,
    );
    assert_eq!(exit_code(&v), Some(2), "a primary: {}", pretty(&v));
    let on_replica = |task: &str| sitrep.run(task, "pg-replica", &[("PG_DSN", &replica)], &secrets);
    assert!(report(&on_replica("postgres/resume-wal-replay")).contains("not paused"));
    assert!(issues(&on_replica("postgres/wal-replay")).is_empty());

    let _lock = SandboxLock::take();
    struct Resume(String);
    impl Drop for Resume {
        fn drop(&mut self) {
            let _ = sh(&format!(
                "psql '{}' -XAtc 'select pg_wal_replay_resume()'",
                self.0
            ));
        }
    }
    let _resume = Resume(replica_admin.clone());
    psql_value(&replica_admin, "select pg_wal_replay_pause()");
    wait_for(10, "replay to pause", || {
        psql_value(&replica_admin, "select pg_is_wal_replay_paused()") == "t"
    });
    let v = on_replica("postgres/wal-replay");
    let i = issue_with(&v, &["WAL replay is paused"]);
    assert_eq!(severity(&i), 2);
    assert_eq!(i["data"]["replay_paused"], 1);
    let v = on_replica("postgres/resume-wal-replay");
    assert!(report(&v).contains("Resumed WAL replay"), "{}", pretty(&v));
    assert_eq!(
        psql_value(&replica_admin, "select pg_is_wal_replay_paused()"),
        "f"
    );
    assert!(issues(&on_replica("postgres/wal-replay")).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Redis (throwaway instances)

/// CLIENT PAUSE WRITE holds a SET back: blocked-clients names the pause, unpause-clients ends it
/// and the write completes; unpausing again changes nothing.
#[test]
fn redis_unpause_clients_releases_held_writes() {
    let Some(r) = redis_server(&[]) else {
        return skip("redis-server missing");
    };
    let p = r.port.to_string();
    let base = [("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", p.as_str())];
    assert_eq!(rcli(r.port, "CLIENT PAUSE 60000 WRITE"), "OK");
    let mut writer = Guard(
        Proc::new("redis-cli")
            .args(["-p", &p, "SET", "held", "v"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(10, "the write to be held back", || {
        rcli(r.port, "CLIENT LIST").contains("cmd=set")
    });
    let sitrep = Sitrep::new();
    let v = sitrep.run("redis/blocked-clients", "cache", &base, &[]);
    let i = issue_with(&v, &["holds client commands back"]);
    assert_eq!(i["data"]["paused_clients"], 1, "{}", pretty(&i));
    let v = sitrep.run("redis/unpause-clients", "cache", &base, &[]);
    assert!(
        report(&v).contains("1 clients were held back by a pause, 0 still wait"),
        "{}",
        pretty(&v)
    );
    wait_for(10, "the held write to complete", || {
        writer.0.try_wait().ok().flatten().is_some()
    });
    assert_eq!(rcli(r.port, "GET held"), "v");
    assert!(issues(&sitrep.run("redis/blocked-clients", "cache", &base, &[])).is_empty());
    let v = sitrep.run("redis/unpause-clients", "cache", &base, &[]);
    assert!(
        report(&v).contains("no client was held back"),
        "{}",
        pretty(&v)
    );
}

/// A noeviction Redis at maxmemory refuses writes: memory's data suggests an evicting policy,
/// set-eviction-policy validates, switches, reports the previous value (the rollback), lets
/// writes through, is idempotent and can raise maxmemory.
#[test]
fn redis_set_eviction_policy_lets_writes_through() {
    let Some(r) = redis_server(&["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"]) else {
        return skip("redis-server missing");
    };
    let p = r.port.to_string();
    let base = [("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", p.as_str())];
    sh(&format!(
        "for i in $(seq 1 3000); do echo \"SET k$i $(head -c 1500 /dev/zero | tr '\\0' x)\"; done | redis-cli -p {p} >/dev/null 2>&1"
    ));
    assert!(rcli(r.port, "SET one-more x").contains("OOM"));
    let sitrep = Sitrep::new();
    let v = sitrep.run("redis/memory", "cache", &base, &[]);
    let i = issue_with(&v, &["near its maxmemory"]);
    assert_eq!(i["data"]["policy"], "noeviction");
    assert_eq!(
        i["data"]["suggested_policy"],
        "allkeys-lru",
        "{}",
        pretty(&i)
    );
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut s = base.to_vec();
        s.extend_from_slice(extra);
        s
    };
    let v = sitrep.try_run(
        "redis/set-eviction-policy",
        "cache",
        &with(&[("MAXMEMORY_POLICY", "lru-please")]),
        &[],
    );
    assert_eq!(exit_code(&v), Some(2), "{}", pretty(&v));
    let v = sitrep.run(
        "redis/set-eviction-policy",
        "cache",
        &with(&[("MAXMEMORY_POLICY", "allkeys-lru")]),
        &[],
    );
    let rep = report(&v);
    assert!(
        rep.contains("noeviction -> allkeys-lru")
            && rep.contains("CONFIG SET maxmemory-policy noeviction"),
        "{}",
        pretty(&v)
    );
    assert_eq!(
        rcli(r.port, "CONFIG GET maxmemory-policy").lines().last(),
        Some("allkeys-lru")
    );
    assert_eq!(rcli(r.port, "SET one-more x"), "OK");
    let v = sitrep.run(
        "redis/set-eviction-policy",
        "cache",
        &with(&[("MAXMEMORY_POLICY", "allkeys-lru")]),
        &[],
    );
    assert!(report(&v).contains("nothing changed"), "{}", pretty(&v));
    sitrep.run(
        "redis/set-eviction-policy",
        "cache",
        &with(&[("MAXMEMORY_POLICY", "allkeys-lru"), ("MAXMEMORY", "8mb")]),
        &[],
    );
    assert_eq!(
        rcli(r.port, "CONFIG GET maxmemory").lines().last(),
        Some("8388608")
    );
}

// ---------------------------------------------------------------------------------------------
// Prometheus (a throwaway server scraping a port where nothing listens)

/// target-errors raises one issue per unhealthy target, about the target (job/instance, as
/// down-targets names it), with the scrape error in its data.
#[test]
fn prometheus_target_errors_name_the_target() {
    if !crate::collection::have("prometheus") {
        return skip("prometheus missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let (port, dead) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!("global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: orders\n    static_configs: [{{ targets: ['127.0.0.1:{dead}'] }}]\n"),
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
    wait_for(60, "the target to be down", || {
        String::from_utf8_lossy(&sh(&format!("curl -s -m 5 {url}/api/v1/targets")).stdout)
            .contains("\"health\":\"down\"")
    });
    let v = Sitrep::new().run(
        "prometheus/target-errors",
        "prometheus",
        &[("PROMETHEUS_URL", &url)],
        &[],
    );
    let i = issue_with(&v, &["cannot scrape", &format!("127.0.0.1:{dead}")]);
    assert_eq!(severity(&i), 2);
    let d = &i["data"];
    assert_eq!(
        (d["job"].as_str(), d["instance"].as_str()),
        (Some("orders"), Some(format!("127.0.0.1:{dead}").as_str()))
    );
    assert!(
        d["error"].as_str().unwrap().contains("refused"),
        "{}",
        pretty(&i)
    );
}
