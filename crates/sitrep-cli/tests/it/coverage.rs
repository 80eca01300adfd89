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
        sitrep.run(&format!("postgres-database/{task}"), "pg/app", &all, &secrets)
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
    assert!(i["actual"].as_str().unwrap().contains("4000 dead"), "{}", pretty(&i));
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
    assert!(!failed.status.success(), "the build over duplicates must fail");
    let v = run("invalid-indexes", &[]);
    let i = issue_with(&v, &["public.skus_code", "is invalid"]);
    assert!(
        i["actual"].as_str().unwrap().contains("CREATE UNIQUE INDEX"),
        "{}",
        pretty(&i)
    );

    // The diagnostics see the application's database, not `postgres`.
    psql_value(&db.dsn, "select count(*) from orders; create index orders_note on orders (note)");
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
                .args(["--reuid", "postgres", "--regid", "postgres", "--clear-groups"])
                .arg(bin.join(prog))
                .args(args)
                .output()
                .expect("setpriv")
        };
        let data = dir.path().join("data");
        let out = as_pg(
            "initdb",
            &["-D", data.to_str()?, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
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
            &["-D", data.to_str()?, "-o", &opts, "-l", log.to_str()?, "-w", "start"],
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
            .args(["--reuid", "postgres", "--regid", "postgres", "--clear-groups"])
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
        (f.first() == Some(&user)).then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
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
    psql_value(&pg.dsn, "select pg_switch_wal() from (select txid_current()) x");
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
    assert!(i["actual"].as_str().unwrap().contains(&pp), "{}", pretty(&i));
    // the primary itself is gone: its checks are inconclusive, ping raises it once
    let v = sitrep.try_run("redis/replication", "cache", &at(&pp), &[]);
    assert_eq!(v["run"]["status"], "inconclusive", "{}", pretty(&v));
    let v = sitrep.run("redis/ping", "cache", &at(&pp), &[]);
    issue_with(&v, &["refuses connections"]);
}
