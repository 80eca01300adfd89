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
