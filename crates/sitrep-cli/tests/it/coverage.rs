//! The tasks added to close the collection's coverage gaps (collections/core/README.md, "Failure
//! modes"), each against the real service: the condition is created, the issue is raised, the
//! condition is removed and a new run raises nothing.

use crate::collection::{
    Sitrep, assert_actionable, issue_with, issues, pretty, psql_value, sandbox_pg, severity, skip,
    wait_for,
};

/// A database of its own on the sandbox's PostgreSQL, dropped when the test ends.
struct TempDb {
    admin_dsn: String,
    name: String,
    /// The admin DSN pointing at this database, with its password.
    dsn: String,
    /// The same without its password (it goes in as the PGPASSWORD secret).
    dsn_no_password: String,
}

impl TempDb {
    fn new(admin_dsn: &str, admin_dsn_no_password: &str) -> TempDb {
        let name = format!(
            "sitrep_t_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        psql_value(admin_dsn, &format!("create database {name}"));
        let swap = |dsn: &str| {
            let (base, query) = dsn.split_once('?').map_or((dsn, ""), |(b, q)| (b, q));
            let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
            format!("{base}/{name}?{query}")
        };
        TempDb {
            admin_dsn: admin_dsn.to_string(),
            dsn: swap(admin_dsn),
            dsn_no_password: swap(admin_dsn_no_password),
            name,
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                self.admin_dsn.as_str(),
                "-X",
                "-q",
                "-c",
                &format!("drop database if exists {} with (force)", self.name),
            ])
            .output();
    }
}

#[test]
fn postgres_database_bloat_and_invalid_indexes_in_the_application_database() {
    let Some(pg) = sandbox_pg() else {
        return skip("sandbox PostgreSQL or psql missing");
    };
    let db = TempDb::new(&pg.admin_dsn, &pg.dsn);
    let sitrep = Sitrep::new();
    let secrets = [("PGPASSWORD", pg.password.as_str())];
    let run = |task: &str, sets: &[(&str, &str)]| {
        let mut all = vec![("PG_DSN", db.dsn_no_password.as_str())];
        all.extend_from_slice(sets);
        sitrep.run(
            &format!("postgres-database/{task}"),
            "pg/app",
            &all,
            &secrets,
        )
    };
    // 4000 of 5000 rows deleted with autovacuum off for the table: bloat.
    psql_value(
        &db.dsn,
        "create table orders (id int, note text) with (autovacuum_enabled = false); \
         insert into orders select g, 'x' from generate_series(1, 5000) g; \
         delete from orders where id <= 4000",
    );
    wait_for(10, "the dead tuples in the statistics", || {
        psql_value(
            &db.dsn,
            "select n_dead_tup from pg_stat_user_tables where relname = 'orders'",
        )
        .parse::<i64>()
        .unwrap_or(0)
            >= 4000
    });
    let bloat = [("DEAD_TUPLE_MIN", "1000")];
    let v = run("table-bloat", &bloat);
    let i = issue_with(&v, &["public.orders", &db.name, "bloated"]);
    assert_eq!(severity(&i), 3);
    assert!(
        i["actual"].as_str().unwrap().contains("4000 dead"),
        "{}",
        pretty(&i)
    );
    assert_actionable(&i);

    // A unique index built concurrently over duplicates fails and stays behind, invalid.
    psql_value(
        &db.dsn,
        "create table skus (code text); insert into skus values ('a'), ('a')",
    );
    let failed = std::process::Command::new("psql")
        .args([
            db.dsn.as_str(),
            "-X",
            "-q",
            "-c",
            "create unique index concurrently skus_code on skus (code)",
        ])
        .output()
        .unwrap();
    assert!(
        !failed.status.success(),
        "the build over duplicates must fail"
    );
    let v = run("invalid-indexes", &[]);
    let i = issue_with(&v, &["public.skus_code", "is invalid"]);
    assert!(
        i["actual"]
            .as_str()
            .unwrap()
            .contains("CREATE UNIQUE INDEX"),
        "{}",
        pretty(&i)
    );

    // The diagnostics see the application's database, not `postgres`.
    psql_value(
        &db.dsn,
        "select count(*) from orders; create index orders_note on orders (note)",
    );
    for (task, sets) in [
        ("largest-tables", vec![]),
        ("sequential-scans", vec![("SEQ_SCAN_MIN_ROWS", "1")]),
        ("unused-indexes", vec![("UNUSED_INDEX_MIN_BYTES", "0")]),
    ] {
        let v = run(task, &sets);
        assert!(
            v["report"].as_str().unwrap_or("").contains("orders"),
            "{task} lists the application's table: {}",
            pretty(&v)
        );
    }

    // Fixed: vacuumed, and the invalid index dropped. Both issues resolve.
    psql_value(&db.dsn, "vacuum orders");
    psql_value(&db.dsn, "drop index skus_code");
    wait_for(10, "the vacuum in the statistics", || {
        psql_value(
            &db.dsn,
            "select n_dead_tup from pg_stat_user_tables where relname = 'orders'",
        ) == "0"
    });
    assert!(issues(&run("table-bloat", &bloat)).is_empty());
    let v = run("invalid-indexes", &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

/// A PostgreSQL of its own (initdb, started on a free port as the `postgres` user), for
/// settings the shared sandbox must not change: archiving, prepared transactions, a fresh start.
struct ThrowawayPg {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    dsn: String,
}

impl ThrowawayPg {
    fn start(settings: &[&str]) -> Option<ThrowawayPg> {
        use std::os::unix::fs::chown;
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()?;
        let uid = users_id("postgres")?;
        let dir = tempfile::tempdir().ok()?;
        chown(dir.path(), Some(uid.0), Some(uid.1)).ok()?;
        let port = crate::collection::free_port();
        let as_pg = |prog: &str, args: &[&str]| {
            std::process::Command::new("setpriv")
                .args([
                    "--reuid",
                    "postgres",
                    "--regid",
                    "postgres",
                    "--clear-groups",
                ])
                .arg(bin.join(prog))
                .args(args)
                .output()
                .expect("setpriv")
        };
        let data = dir.path().join("data");
        let out = as_pg(
            "initdb",
            &[
                "-D",
                data.to_str()?,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(out.status.success(), "initdb: {out:?}");
        let mut opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        for s in settings {
            opts.push_str(&format!(" -c {s}"));
        }
        let log = dir.path().join("log");
        let out = as_pg(
            "pg_ctl",
            &[
                "-D",
                data.to_str()?,
                "-o",
                &opts,
                "-l",
                log.to_str()?,
                "-w",
                "start",
            ],
        );
        assert!(out.status.success(), "pg_ctl start: {out:?}");
        Some(ThrowawayPg {
            dsn: format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable"),
            bin,
            dir,
        })
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        let _ = std::process::Command::new("setpriv")
            .args([
                "--reuid",
                "postgres",
                "--regid",
                "postgres",
                "--clear-groups",
            ])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.dir.path().join("data").display().to_string()])
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// (uid, gid) of a user, from /etc/passwd.
fn users_id(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

#[test]
fn postgres_restart_failing_archiving_and_an_orphaned_prepared_transaction() {
    if !crate::collection::have("psql") {
        return skip("psql missing");
    }
    let Some(pg) = ThrowawayPg::start(&[
        "archive_mode=on",
        "archive_command=false",
        "max_prepared_transactions=5",
    ]) else {
        return skip("no PostgreSQL server binaries (postgresql) or no postgres user");
    };
    let sitrep = Sitrep::new();
    let run = |task: &str, sets: &[(&str, &str)]| {
        let mut all = vec![("PG_DSN", pg.dsn.as_str())];
        all.extend_from_slice(sets);
        sitrep.run(&format!("postgres/{task}"), "pg-new", &all, &[])
    };
    // Just started: a restart, an event carrying its time.
    let v = run("restarts", &[]);
    let i = issue_with(&v, &["PostgreSQL restarted"]);
    assert!(i["last_event_at"].as_i64().is_some(), "{}", pretty(&i));
    assert_actionable(&i);
    assert!(issues(&run("restarts", &[("RESTART_WINDOW_S", "0")])).is_empty());

    // archive_command=false: every segment switch fails to archive.
    psql_value(
        &pg.dsn,
        "select pg_switch_wal() from (select txid_current()) x",
    );
    wait_for(20, "a failed archive attempt", || {
        psql_value(&pg.dsn, "select failed_count from pg_stat_archiver") != "0"
    });
    let v = run("wal-archiving", &[]);
    let i = issue_with(&v, &["WAL archiving fails"]);
    assert!(i["last_event_at"].as_i64().is_some(), "{}", pretty(&i));

    psql_value(
        &pg.dsn,
        "create table t (id int); begin; insert into t values (1); prepare transaction 'orphan-1'",
    );
    let v = run("prepared-transactions", &[("PREPARED_XACT_MAX_AGE_S", "0")]);
    let i = issue_with(&v, &["orphan-1", "not resolved"]);
    assert_eq!(severity(&i), 2);
    psql_value(&pg.dsn, "rollback prepared 'orphan-1'");
    let v = run("prepared-transactions", &[("PREPARED_XACT_MAX_AGE_S", "0")]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    // nothing is archived or prepared on a server that does neither
    let v = run("availability", &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn redis_restart_and_a_replica_that_loses_its_primary() {
    use crate::collection::{rcli, redis_server};
    let Some(primary) = redis_server(&[]) else {
        return skip("redis-server missing");
    };
    let pp = primary.port.to_string();
    let Some(replica) = redis_server(&["--replicaof", "127.0.0.1", &pp]) else {
        return skip("redis-server missing");
    };
    let rp = replica.port.to_string();
    let sitrep = Sitrep::new();
    fn at(port: &str) -> Vec<(&'static str, &str)> {
        vec![("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", port)]
    }

    let v = sitrep.run("redis/restarts", "cache", &at(&pp), &[]);
    let i = issue_with(&v, &["restarted"]);
    assert!(i["last_event_at"].as_i64().is_some(), "{}", pretty(&i));
    let mut quiet = at(&pp);
    quiet.push(("RESTART_WINDOW_S", "0"));
    assert!(issues(&sitrep.run("redis/restarts", "cache", &quiet, &[])).is_empty());

    wait_for(20, "the replica's link", || {
        rcli(replica.port, "INFO replication").contains("master_link_status:up")
    });
    let v = sitrep.run("redis/replication", "cache-replica", &at(&rp), &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    let mut expect2 = at(&pp);
    expect2.push(("EXPECTED_REPLICAS", "2"));
    let v = sitrep.run("redis/replication", "cache", &expect2, &[]);
    issue_with(&v, &["fewer replicas than expected"]);

    drop(primary);
    wait_for(20, "the replica to notice", || {
        rcli(replica.port, "INFO replication").contains("master_link_status:down")
    });
    let v = sitrep.run("redis/replication", "cache-replica", &at(&rp), &[]);
    let i = issue_with(&v, &["lost its link to its primary"]);
    assert!(
        i["actual"].as_str().unwrap().contains(&pp),
        "{}",
        pretty(&i)
    );
    // the primary itself is gone: its checks are inconclusive, ping raises it once
    let v = sitrep.try_run("redis/replication", "cache", &at(&pp), &[]);
    assert_eq!(v["run"]["status"], "inconclusive", "{}", pretty(&v));
    let v = sitrep.run("redis/ping", "cache", &at(&pp), &[]);
    issue_with(&v, &["refuses connections"]);
}

/// `date` N minutes ago in the ISO form `journalctl -o short-iso` and `dmesg --time-format iso` use.
fn iso_minutes_ago(n: u32) -> String {
    let out = crate::collection::sh(&format!("date -u -d '-{n} min' +%Y-%m-%dT%H:%M:%S+0000"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn open_issue_titles(sitrep: &Sitrep) -> Vec<String> {
    let out = assert_cmd::Command::cargo_bin("sitrep")
        .unwrap()
        .env("SITREP_HOME", sitrep.home.path())
        .args(["issues", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("issues --json");
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A kernel log written for the test: what the kernel prints, with timestamps, so the test
/// controls when each event happened.
#[test]
fn kernel_log_events_are_current_only_within_the_quiet_period() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("kern.log");
    let (now2, now3, old) = (iso_minutes_ago(2), iso_minutes_ago(3), iso_minutes_ago(40));
    std::fs::write(
        &log,
        format!(
            "{old} host kernel: Memory cgroup out of memory: Killed process 4242 (old-hog) total-vm:9000kB, anon-rss:900kB, file-rss:0kB, shmem-rss:0kB\n\
             {now3} host kernel: memory: usage 32768kB, limit 32768kB, failcnt 17\n\
             {now3} host kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/app.slice,task_memcg=/app.slice,task=worker,pid=4343,uid=0\n\
             {now3} host kernel: Memory cgroup out of memory: Killed process 4343 (worker) total-vm:20000kB, anon-rss:768kB, file-rss:1536kB, shmem-rss:0kB, UID:0\n\
             {now2} host kernel: blk_update_request: I/O error, dev sdb, sector 123456 op 0x1:(WRITE) flags 0x0\n\
             {now2} host kernel: EXT4-fs (sdb1): Remounting filesystem read-only\n\
             {now2} host kernel: nf_conntrack: nf_conntrack: table full, dropping packet\n\
             {now2} host kernel: INFO: task postgres:812 blocked for more than 120 seconds.\n\
             {old} host kernel: report-gen[999]: segfault at 0 ip 000055d5 sp 00007ffd error 4 in report-gen[55d5+1000]\n"
        ),
    )
    .unwrap();
    let sitrep = Sitrep::new();
    let kl = [("KERNEL_LOG", log.to_str().unwrap())];

    let v = sitrep.run("linux-host/oom-kills", "host", &kl, &[]);
    let i = issue_with(&v, &["killed worker"]);
    let actual = i["actual"].as_str().unwrap();
    assert!(
        actual.contains("768 kB anonymous"),
        "real units, not '0 MiB': {actual}"
    );
    assert!(actual.contains("1.5 MiB file-backed"), "{actual}");
    assert!(
        i["details"]
            .as_str()
            .unwrap()
            .contains("32.0 MiB used of a 32.0 MiB limit"),
        "{}",
        pretty(&i)
    );
    let v = sitrep.run("linux-host/kernel-errors", "host", &kl, &[]);
    for words in [
        &["Disk sdb", "I/O errors"][..],
        &["Filesystem sdb1", "read-only"],
        &["Connection tracking table", "full"],
        &["hang in the kernel", "postgres"],
        &["report-gen", "segfaults"],
    ] {
        assert!(issue_with(&v, words)["last_event_at"].as_i64().is_some());
    }
    // Both old events are still inside the 60-minute window, but 40 minutes is past the quiet
    // period of a 5-minute check: they open nothing.
    let open = open_issue_titles(&sitrep);
    assert!(open.iter().any(|t| t.contains("killed worker")), "{open:?}");
    assert!(open.iter().any(|t| t.contains("Disk sdb")), "{open:?}");
    assert!(!open.iter().any(|t| t.contains("old-hog")), "{open:?}");
    assert!(!open.iter().any(|t| t.contains("report-gen")), "{open:?}");
}

#[test]
fn file_descriptors_name_the_program_near_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let hog = dir.path().join("sitrep-fdhog");
    let python = String::from_utf8(
        crate::collection::sh("python3 -c 'import os; print(os.readlink(\"/proc/self/exe\"))'")
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    if python.is_empty() || std::os::unix::fs::symlink(&python, &hog).is_err() {
        return skip("python3 missing");
    }
    let ready = dir.path().join("ready");
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64; exec {} -c 'import time; fs = [open(\"/dev/null\") for _ in range(59)]; open(\"{}\", \"w\").close(); time.sleep(60)'",
            hog.display(),
            ready.display()
        ))
        .spawn()
        .unwrap();
    wait_for(10, "the descriptor hog", || ready.exists());
    let sitrep = Sitrep::new();
    let v = sitrep.run(
        "linux-host/file-descriptors",
        "host",
        &[("FD_MIN", "10")],
        &[],
    );
    let i = issue_with(&v, &["sitrep-fdhog", "open-file limit"]);
    assert!(
        i["actual"].as_str().unwrap().contains("of a limit of 64"),
        "{}",
        pretty(&i)
    );
    assert_eq!(severity(&i), 2, "62 of 64 is above 95%");
    let _ = child.kill();
    let _ = child.wait();
    let v = sitrep.run(
        "linux-host/file-descriptors",
        "host",
        &[("FD_MIN", "10")],
        &[],
    );
    assert!(
        !issues(&v)
            .iter()
            .any(|i| i["title"].as_str().unwrap_or("").contains("sitrep-fdhog")),
        "{}",
        pretty(&v)
    );
}

#[test]
fn nginx_server_errors_from_the_access_log() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let iso = |min: u32| {
        let out = crate::collection::sh(&format!("date -d '-{min} min' +%Y-%m-%dT%H:%M:%S%:z"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let combined = |min: u32| {
        let out = crate::collection::sh(&format!("date -d '-{min} min' '+%d/%b/%Y:%H:%M:%S %z'"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let mut log = String::new();
    for i in 0..20 {
        log.push_str(&format!(
            "10.0.0.{i} [{}] \"GET /catalog HTTP/1.1\" 200 348 rt=0.001\n",
            iso(1)
        ));
    }
    for _ in 0..12 {
        log.push_str(&format!(
            "10.0.0.9 - - [{}] \"POST /checkout?id=1 HTTP/1.1\" 500 61 \"-\" \"curl\"\n",
            combined(1)
        ));
    }
    for _ in 0..5 {
        // nginx's own gateway errors belong to upstream-failures
        log.push_str(&format!(
            "10.0.0.8 [{}] \"GET /catalog HTTP/1.1\" 502 150 rt=0.001\n",
            iso(1)
        ));
    }
    std::fs::write(&access, log).unwrap();
    let sitrep = Sitrep::new();
    let sets = [("ACCESS_LOG", access.to_str().unwrap())];
    let v = sitrep.run("nginx/server-errors", "edge", &sets, &[]);
    let i = issue_with(&v, &["fail with server errors"]);
    let actual = i["actual"].as_str().unwrap();
    assert!(actual.starts_with("12 of 37 requests (32.4%)"), "{actual}");
    assert!(actual.contains("12 x 500"), "{actual}");
    assert!(
        i["details"]
            .as_str()
            .unwrap()
            .contains("POST /checkout (12)"),
        "{}",
        pretty(&i)
    );
    assert!(i["last_event_at"].as_i64().is_some());

    // The same errors 20 minutes ago are outside the 15-minute window: nothing.
    std::fs::write(
        &access,
        format!(
            "10.0.0.9 [{}] \"POST /checkout HTTP/1.1\" 500 61\n",
            iso(20)
        )
        .repeat(12),
    )
    .unwrap();
    let v = sitrep.run("nginx/server-errors", "edge", &sets, &[]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}
