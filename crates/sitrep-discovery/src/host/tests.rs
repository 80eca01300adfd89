use super::*;
use procfs::parse_tcp;
use sitrep_core::map::EdgeKind;
use std::collections::BTreeSet;

fn proc(pid: u32, ppid: u32, exe: &str, args: &[&str], age_s: f64) -> Proc {
    Proc {
        pid,
        ppid,
        comm: exe.chars().take(15).collect(),
        exe: exe.into(),
        exe_path: format!("/usr/bin/{exe}"),
        args: args.iter().map(|s| s.to_string()).collect(),
        user: "u".into(),
        age_s,
    }
}

/// A sandbox-shaped machine: PostgreSQL primary and replica, Redis, nginx (master + worker)
/// proxying to an HTTP service, a worker writing to PostgreSQL, an exporter, a short-lived
/// psql, and sitrep itself.
fn snapshot() -> Snapshot {
    let procs = vec![
        proc(
            100,
            1,
            "postgres",
            &["/usr/lib/postgresql/15/bin/postgres", "-D", "/data/primary"],
            600.0,
        ),
        proc(
            101,
            100,
            "postgres",
            &["postgres: shop_app shop 127.0.0.1(40000) idle"],
            500.0,
        ),
        proc(102, 100, "postgres", &["postgres: walsender"], 500.0),
        proc(
            200,
            1,
            "postgres",
            &["/usr/lib/postgresql/15/bin/postgres", "-D", "/data/replica"],
            600.0,
        ),
        proc(
            201,
            200,
            "postgres",
            &["postgres: walreceiver streaming 0/9C523F8"],
            600.0,
        ),
        proc(
            300,
            1,
            "redis-server",
            &["/usr/bin/redis-server 127.0.0.1:6379"],
            600.0,
        ),
        proc(
            400,
            1,
            "nginx",
            &["nginx: master process /usr/sbin/nginx"],
            600.0,
        ),
        proc(401, 400, "nginx", &["nginx: worker process"], 600.0),
        proc(
            500,
            1,
            "bash",
            &["bash", "/srv/supervise", "shopfront"],
            600.0,
        ),
        proc(
            501,
            500,
            "shopfront",
            &["/srv/shopfront", "serve", "--config", "/c"],
            600.0,
        ),
        proc(
            502,
            500,
            "shopfront",
            &["/srv/shopfront", "batch", "--db-password", "hunter2"],
            600.0,
        ),
        proc(
            600,
            1,
            "prometheus-postgres-exporter",
            &["/usr/bin/prometheus-postgres-exporter"],
            600.0,
        ),
        proc(
            700,
            1,
            "psql",
            &["psql", "postgres://u:pw@127.0.0.1:5432/x"],
            2.0,
        ),
        proc(800, 1, "sitrep", &["sitrep", "serve"], 600.0),
        proc(801, 800, "psql", &["psql"], 600.0),
    ]
    .into_iter()
    .map(|p| (p.pid, p))
    .collect();
    // Listeners: pg 5432 (inode 1), replica 5433 (2), redis 6379 (3), nginx 80 on 0.0.0.0
    // held by master and worker (4), shopfront 8000 (5), exporter 9187 (6).
    let tcp = "h
 0: 0100007F:1538 00000000:0000 0A 0:0 0:0 0 0 0 1
 1: 0100007F:1539 00000000:0000 0A 0:0 0:0 0 0 0 2
 2: 0100007F:18EB 00000000:0000 0A 0:0 0:0 0 0 0 3
 3: 00000000:0050 00000000:0000 0A 0:0 0:0 0 0 0 4
 4: 0100007F:1F40 00000000:0000 0A 0:0 0:0 0 0 0 5
 5: 0100007F:23E3 00000000:0000 0A 0:0 0:0 0 0 0 6
 6: 0100007F:9C40 0100007F:1538 01 0:0 0:0 0 0 0 10
 7: 0100007F:1538 0100007F:9C40 01 0:0 0:0 0 0 0 11
 8: 0100007F:9C41 0100007F:18EB 01 0:0 0:0 0 0 0 12
 9: 0100007F:9C42 0100007F:1538 01 0:0 0:0 0 0 0 13
10: 0100007F:9C43 0100007F:1538 01 0:0 0:0 0 0 0 14
11: 0100007F:9C44 0100007F:1538 01 0:0 0:0 0 0 0 15
12: 0100007F:9C45 0100007F:1538 01 0:0 0:0 0 0 0 16
13: 0100007F:9C46 0100007F:1538 01 0:0 0:0 0 0 0 17
14: 0500000A:9C47 0900000A:1538 01 0:0 0:0 0 0 0 18
";
    let inode_pids = [
        (1, vec![100]),
        (2, vec![200]),
        (3, vec![300]),
        (4, vec![400, 401]),
        (5, vec![501]),
        (6, vec![600]),
        (10, vec![501]), // shopfront → pg
        (11, vec![101]), // pg backend's side of it
        (12, vec![501]), // shopfront → redis
        (13, vec![502]), // batch → pg
        (14, vec![201]), // walreceiver → primary
        (15, vec![600]), // exporter → pg
        (16, vec![700]), // a fresh psql → pg
        (17, vec![801]), // sitrep's own psql → pg
        (18, vec![502]), // batch → a remote PostgreSQL
    ]
    .into_iter()
    .collect();
    let mut nginx_confs = HashMap::new();
    let mut conf = nginx_conf::parse("upstream s { server 127.0.0.1:8000; }");
    conf.finish();
    nginx_confs.insert(400, conf);
    Snapshot {
        hostname: "box".into(),
        kernel: "6.1".into(),
        procs,
        sockets: parse_tcp(tcp),
        inode_pids,
        self_pid: 999,
        nginx_confs,
        ..Snapshot::default()
    }
}

fn cfg() -> HostConfig {
    HostConfig::default()
}

#[test]
fn resources_and_edges_of_a_sandbox_shaped_host() {
    let inv = sitrep_core::map::Inventory::merge([build(&snapshot(), &cfg())]);
    let names: BTreeSet<(&str, &str)> = inv
        .resources
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str()))
        .collect();
    let want: BTreeSet<(&str, &str)> = [
        ("host", "box"),
        ("postgres", "postgres-10.0.0.9-5432"),
        ("postgres", "postgres-5432"),
        ("postgres", "postgres-5433"),
        ("redis", "redis-6379"),
        ("nginx", "nginx-80"),
        ("service", "shopfront-8000"),
        ("exporter", "postgres-exporter-9187"),
        ("process", "shopfront-batch"),
        // A backend's process title names the database it serves.
        ("postgres-database", "postgres-5432-shop"),
    ]
    .into_iter()
    .collect();
    assert_eq!(names, want);
    let name = |k: &str| {
        inv.resources
            .iter()
            .find(|r| r.key == k)
            .unwrap()
            .name
            .clone()
    };
    let edges: BTreeSet<(String, String, EdgeKind)> = inv
        .edges
        .iter()
        .filter(|e| e.kind != EdgeKind::RunsOn)
        .map(|e| (name(&e.from), name(&e.to), e.kind))
        .collect();
    let want: BTreeSet<(String, String, EdgeKind)> = [
        ("shopfront-8000", "postgres-5432", EdgeKind::DependsOn),
        ("shopfront-8000", "redis-6379", EdgeKind::DependsOn),
        ("shopfront-batch", "postgres-5432", EdgeKind::DependsOn),
        (
            "shopfront-batch",
            "postgres-10.0.0.9-5432",
            EdgeKind::DependsOn,
        ),
        ("postgres-5433", "postgres-5432", EdgeKind::DependsOn),
        (
            "postgres-exporter-9187",
            "postgres-5432",
            EdgeKind::Monitors,
        ),
        ("nginx-80", "shopfront-8000", EdgeKind::DependsOn),
    ]
    .into_iter()
    .map(|(a, b, k)| (a.to_string(), b.to_string(), k))
    .collect();
    assert_eq!(edges, want);
    let pg = inv
        .resources
        .iter()
        .find(|r| r.name == "postgres-5432")
        .unwrap();
    assert_eq!(pg.labels["role"], "primary");
    let replica = inv
        .resources
        .iter()
        .find(|r| r.name == "postgres-5433")
        .unwrap();
    assert_eq!(replica.labels["role"], "replica");
    assert_eq!(replica.prop_str("data_dir"), Some("/data/replica"));
    let batch = inv
        .resources
        .iter()
        .find(|r| r.name == "shopfront-batch")
        .unwrap();
    assert!(!batch.prop_str("cmdline").unwrap().contains("hunter2"));
    // Every process resource runs on the host.
    let runs_on = inv
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::RunsOn && e.to == "host:box")
        .count();
    assert_eq!(runs_on, 7);
}

#[test]
fn short_lived_and_own_processes_are_not_mapped() {
    let inv = build(&snapshot(), &cfg());
    assert!(
        !inv.resources
            .iter()
            .any(|r| r.name.contains("psql") || r.name.contains("sitrep"))
    );
    let mut c = cfg();
    c.min_age_s = 0.0;
    let inv = build(&snapshot(), &c);
    assert!(
        inv.resources.iter().any(|r| r.name == "psql"),
        "a fresh psql counts once min_age is 0"
    );
    assert!(!inv.resources.iter().any(|r| r.name.contains("sitrep")));
}

#[test]
fn building_twice_gives_the_same_inventory() {
    assert_eq!(build(&snapshot(), &cfg()), build(&snapshot(), &cfg()));
}

#[test]
fn users_and_programs_can_be_excluded() {
    let mut c = cfg();
    c.exclude_processes = vec!["shopfront-batch".into(), "redis-server".into()];
    let inv = build(&snapshot(), &c);
    assert!(
        !inv.resources
            .iter()
            .any(|r| r.name == "shopfront-batch" || r.kind == "redis")
    );
    let mut c = cfg();
    c.exclude_users = vec!["u".into()];
    assert_eq!(
        build(&snapshot(), &c).resources.len(),
        1,
        "only the host is left"
    );
}
