use super::*;
use procfs::parse_tcp;
use sitrep_core::map::{EdgeKind, Resource, STATUS};
use std::collections::BTreeMap;
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

use evidence::{Facts, Listen, Reference};
use postgres::PgFacts;

fn reference(kind: &'static str, port: u16, db: Option<&str>, origin: &str) -> Reference {
    Reference {
        kind,
        host: "127.0.0.1".into(),
        port,
        database: db.map(str::to_string),
        origin: origin.into(),
    }
}

/// The sandbox-shaped host with what configuration says: shopfront's and batch's config files
/// name PostgreSQL (database shop) and Redis, the exporter's environment names PostgreSQL, the
/// replica streams from the primary, shopfront runs under a supervisor, and the data
/// directories' catalogs list the databases.
fn configured() -> Snapshot {
    let mut s = snapshot();
    let conf = |refs: Vec<Reference>| Facts {
        references: refs.into_iter().collect(),
        listens: Default::default(),
    };
    s.facts.insert(
        501,
        conf(vec![
            reference("postgres", 5432, Some("shop"), "/c: database_url"),
            reference("redis", 6379, None, "/c: redis_addr"),
        ]),
    );
    s.facts.insert(
        502,
        conf(vec![reference(
            "postgres",
            5432,
            Some("shop"),
            "/c2: database_url",
        )]),
    );
    s.facts.insert(
        600,
        conf(vec![reference(
            "postgres",
            5432,
            Some("postgres"),
            "env DATA_SOURCE_NAME",
        )]),
    );
    let catalog = vec!["postgres".to_string(), "shop".to_string()];
    s.postgres.insert(
        100,
        PgFacts {
            databases: catalog.clone(),
            catalog_read: true,
            ..PgFacts::default()
        },
    );
    s.postgres.insert(
        200,
        PgFacts {
            standby: true,
            upstream: Some(reference("postgres", 5432, None, "primary_conninfo")),
            databases: catalog,
            catalog_read: true,
        },
    );
    let mut listens = Facts::default();
    listens.listens.insert(Listen {
        host: "127.0.0.1".into(),
        port: 8000,
    });
    listens.references.insert(reference(
        "postgres",
        5432,
        Some("shop"),
        "/c: database_url",
    ));
    s.supervised.insert(
        500,
        Supervised {
            args: ["/srv/shopfront", "serve", "--config", "/c"]
                .map(String::from)
                .to_vec(),
            facts: listens,
        },
    );
    s
}

/// The snapshot with these processes gone (stopped, crashed), sockets and all.
fn without(mut s: Snapshot, pids: &[u32]) -> Snapshot {
    s.procs.retain(|p, _| !pids.contains(p));
    let gone: BTreeSet<u64> = s
        .inode_pids
        .iter()
        .filter(|(_, ps)| ps.iter().all(|p| pids.contains(p)))
        .map(|(i, _)| *i)
        .collect();
    s.sockets.retain(|e| !gone.contains(&e.inode));
    // The other side of a connection to a server that is gone is gone too.
    let ports: BTreeSet<u16> = s
        .sockets
        .iter()
        .filter(|e| e.state == procfs::TCP_LISTEN)
        .map(|e| e.local.port)
        .collect();
    s.sockets.retain(|e| {
        e.state == procfs::TCP_LISTEN || ports.contains(&e.remote.port) || !e.remote.is_local()
    });
    s.postgres.retain(|p, _| !pids.contains(p));
    s.facts.retain(|p, _| !pids.contains(p));
    s
}

fn find<'a>(inv: &'a Inventory, key: &str) -> &'a Resource {
    inv.resources
        .iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("no {key} in {:#?}", inv.resources))
}

/// What generated SLXs are made of: everything but the observed state.
fn identity(
    r: &Resource,
) -> (
    String,
    String,
    serde_json::Value,
    serde_json::Value,
    BTreeMap<String, String>,
    serde_json::Value,
) {
    let p = |k: &str| r.properties.get(k).cloned().unwrap_or_default();
    (
        r.kind.clone(),
        r.name.clone(),
        p("host"),
        p("port"),
        r.labels.clone(),
        p("databases"),
    )
}

#[test]
fn a_stopped_postgres_stays_mapped_as_it_is_when_up() {
    let up = Inventory::merge([build(&configured(), &cfg())]);
    let down = Inventory::merge([build(&without(configured(), &[100, 101, 102]), &cfg())]);
    let (u, d) = (
        find(&up, "tcp:localhost:5432"),
        find(&down, "tcp:localhost:5432"),
    );
    assert_eq!(identity(u), identity(d));
    assert_eq!(u.labels["role"], "primary");
    assert_eq!(
        u.properties["databases"],
        serde_json::json!(["postgres", "shop"])
    );
    assert_eq!(d.properties[STATUS]["health"], "down");
    assert!(
        d.properties[STATUS]["configured_in"]
            .as_array()
            .unwrap()
            .contains(&"shopfront-8000".into())
    );
    // Its databases too, and who depends on it.
    for inv in [&up, &down] {
        find(inv, "pgdb:tcp:localhost:5432/shop");
        assert!(inv.edges.iter().any(|e| e.from == "tcp:localhost:8000"
            && e.to == "tcp:localhost:5432"
            && e.kind == EdgeKind::DependsOn));
        assert!(
            inv.edges
                .iter()
                .any(|e| e.from == "tcp:localhost:5433" && e.to == "tcp:localhost:5432")
        );
    }
    // Without its walreceiver (its primary is down) the standby is still a replica.
    assert_eq!(find(&down, "tcp:localhost:5433").labels["role"], "replica");
}

#[test]
fn a_crash_looping_service_keeps_its_name_and_kind() {
    let mut s = configured();
    // nginx proxies to it over HTTP.
    let mut conf = nginx_conf::parse(
        "upstream s { server 127.0.0.1:8000; } server { location / { proxy_pass http://s; } }",
    );
    conf.finish();
    s.nginx_confs.insert(400, conf);
    let up = Inventory::merge([build(&s, &cfg())]);
    let down = Inventory::merge([build(&without(s.clone(), &[501]), &cfg())]);
    let (u, d) = (
        find(&up, "tcp:localhost:8000"),
        find(&down, "tcp:localhost:8000"),
    );
    assert_eq!(
        (u.kind.as_str(), u.name.as_str()),
        ("http-service", "shopfront-8000")
    );
    assert_eq!(identity(u), identity(d));
    assert!(
        d.properties[STATUS]["reason"]
            .as_str()
            .unwrap()
            .contains("supervisor (pid 500)")
    );
    assert!(
        down.edges
            .iter()
            .any(|e| e.from == "tcp:localhost:8000" && e.to == "tcp:localhost:5432")
    );
    // Restarted a moment ago and not listening yet: the same.
    let mut restarting = without(s, &[501]);
    restarting.procs.insert(
        503,
        proc(
            503,
            500,
            "shopfront",
            &["/srv/shopfront", "serve", "--config", "/c"],
            1.0,
        ),
    );
    let r = Inventory::merge([build(&restarting, &cfg())]);
    assert_eq!(identity(find(&r, "tcp:localhost:8000")), identity(u));
    assert!(
        find(&r, "tcp:localhost:8000").properties[STATUS]["reason"]
            .as_str()
            .unwrap()
            .contains("started (pid 503)")
    );
}

#[test]
fn a_young_process_on_a_known_port_is_that_server_restarted() {
    let mut s = configured();
    // Redis restarted two seconds ago: younger than min_age_s, but clients name its port.
    s.procs.get_mut(&300).unwrap().age_s = 2.0;
    let inv = build(&s, &cfg());
    let redis = inv
        .resources
        .iter()
        .find(|r| r.key == "tcp:localhost:6379")
        .unwrap();
    assert_eq!(redis.properties[STATUS]["pid"], 300);
    // An unknown young listener is still not mapped.
    s.procs.get_mut(&501).unwrap().age_s = 2.0;
    s.facts.clear();
    s.supervised.clear();
    s.nginx_confs.clear();
    let inv = build(&s, &cfg());
    assert!(!inv.resources.iter().any(|r| r.key == "tcp:localhost:8000"));
    s.known_ports.insert(8000);
    let inv = build(&s, &cfg());
    assert!(
        inv.resources.iter().any(|r| r.key == "tcp:localhost:8000"),
        "an earlier discovery knew the port"
    );
}

#[test]
fn a_stopped_redis_is_known_from_its_clients() {
    let up = Inventory::merge([build(&configured(), &cfg())]);
    let down = Inventory::merge([build(&without(configured(), &[300]), &cfg())]);
    let (u, d) = (
        find(&up, "tcp:localhost:6379"),
        find(&down, "tcp:localhost:6379"),
    );
    assert_eq!(identity(u), identity(d));
    assert_eq!(d.properties[STATUS]["health"], "down");
    // A reference from an inherited environment alone maps nothing: a shell is no client.
    let mut s = without(configured(), &[300, 501, 502]);
    s.supervised.clear();
    s.procs.insert(900, proc(900, 1, "bash", &["bash"], 600.0));
    s.facts.clear();
    s.facts.insert(
        900,
        Facts {
            references: [reference("redis", 6379, None, "env REDIS_URL")]
                .into_iter()
                .collect(),
            listens: Default::default(),
        },
    );
    let inv = build(&s, &cfg());
    assert!(!inv.resources.iter().any(|r| r.key == "tcp:localhost:6379"));
}

#[test]
fn a_known_servers_environment_names_no_dependencies() {
    // PostgreSQL restarted from a shell that exported every URL it knew.
    let mut s = configured();
    s.facts.insert(
        100,
        Facts {
            references: [
                reference("redis", 6379, None, "env REDIS_URL"),
                reference("http", 8000, None, "env SHOPFRONT_URL"),
            ]
            .into_iter()
            .collect(),
            listens: Default::default(),
        },
    );
    let inv = Inventory::merge([build(&s, &cfg())]);
    let from_pg: Vec<&str> = inv
        .edges
        .iter()
        .filter(|e| e.from == "tcp:localhost:5432" && e.kind == EdgeKind::DependsOn)
        .map(|e| e.to.as_str())
        .collect();
    assert!(from_pg.is_empty(), "postgres depends on {from_pg:?}");
    // An exporter is configured by its environment: that still counts.
    assert!(
        inv.edges
            .iter()
            .any(|e| e.to == "tcp:localhost:5432" && e.kind == EdgeKind::Monitors)
    );
}
