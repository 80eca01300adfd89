//! `sitrep discover`, `slx` and `map` against the sandbox: real PostgreSQL primary and replica,
//! Redis, nginx, shopfront, batch, Prometheus, Alertmanager and exporters.
//!
//! A test binary of its own, unlike the rest of the CLI's tests (`tests/it`): host discovery
//! observes the whole machine and this test asserts that the generated SLXs pass on a healthy
//! sandbox, so it must not run alongside tests that start servers or break the sandbox on
//! purpose. Cargo runs test binaries one after another.

#[path = "../common/discover.rs"]
mod common;

use common::{assert_no_changes, names, pretty, resource, sitrep, sitrep_json};
use serde_json::Value;

/// `scripts/test` starts the sandbox; nothing is skipped to get green.
fn skip(why: &str) {
    panic!("cannot run this test: {why} (run scripts/test, which starts what the tests need)");
}

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => {
            skip(&format!(
                "{name} is not set (start the sandbox: sandbox/up; . sandbox/env)"
            ));
            unreachable!()
        }
    }
}

fn by_port<'a>(v: &'a Value, kind: &str, port: u64) -> &'a Value {
    resource(v, |r| r["kind"] == kind && r["properties"]["port"] == port)
        .unwrap_or_else(|| panic!("no {kind} on port {port} in {}", pretty(&v["resources"])))
}

fn has_edge(v: &Value, from: &Value, to: &Value, kind: &str) -> bool {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["from"] == from["key"] && e["to"] == to["key"] && e["kind"] == kind)
}

fn sandbox_config(declare_storefront: bool) -> String {
    let nginx = env("SANDBOX_NGINX_URL");
    let storefront = if declare_storefront {
        format!("    - {{name: storefront, url: '{nginx}/catalog', aliases: [checkout, shop]}}\n")
    } else {
        String::new()
    };
    format!(
        "secrets:\n  postgres-password: env:SANDBOX_PG_ADMIN_PASSWORD\n\
         discovery:\n\
         \x20 # The sandbox's services run as their own users; root's processes here are the test\n\
         \x20 # harness's temporary servers. The load generator opens a connection per request.\n\
         \x20 host: {{exclude_users: [root], exclude_processes: [shopfront-loadgen]}}\n\
         \x20 prometheus: [{{url: '{prom}'}}]\n\
         \x20 declared:\n{storefront}\
         \x20   - {{name: orders-db, dsn: 'postgres://postgres@127.0.0.1:{pg}/postgres?sslmode=disable', aliases: [orders], secret: postgres-password}}\n",
        prom = env("SANDBOX_PROMETHEUS_URL"),
        pg = env("SANDBOX_PG_PORT"),
    )
}

#[test]
fn discovery_maps_the_sandbox_generates_slxs_that_pass_and_is_idempotent() {
    // Event issues whose last event is older than this test are what an earlier user of the
    // shared sandbox did (a fault drill's 503s stay in the access log's window for a minute).
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(h.join("sitrep.yaml"), sandbox_config(true)).unwrap();
    sitrep(h, &["init"]);
    let v = sitrep_json(h, &["discover", "--json"]);

    let primary = by_port(&v, "postgres", 25432);
    let replica = by_port(&v, "postgres", 25433);
    assert_eq!(primary["labels"]["role"], "primary");
    assert_eq!(replica["labels"]["role"], "replica");
    assert!(
        primary["aliases"]
            .as_array()
            .unwrap()
            .contains(&"orders-db".into())
    );
    let redis = by_port(&v, "redis", 26379);
    let nginx = by_port(&v, "nginx", 28080);
    let shopfront = by_port(&v, "http-service", 28000);
    assert_eq!(shopfront["properties"]["program"], "shopfront");
    let batch = resource(&v, |r| r["properties"]["program"] == "shopfront-batch")
        .unwrap_or_else(|| panic!("batch not found: {}", pretty(&v["resources"])));
    by_port(&v, "prometheus", 29090);
    by_port(&v, "alertmanager", 29093);
    for port in [29100, 29187, 29188, 29121, 29113, 29115] {
        let e = by_port(&v, "exporter", port);
        assert!(
            e["sources"]
                .as_array()
                .unwrap()
                .contains(&"prometheus".into()),
            "{e}"
        );
    }
    for (from, to, what) in [
        (shopfront, primary, "shopfront -> PostgreSQL"),
        (shopfront, redis, "shopfront -> Redis"),
        (nginx, shopfront, "nginx -> shopfront"),
        (batch, primary, "batch -> PostgreSQL"),
        (replica, primary, "replica -> primary"),
    ] {
        assert!(
            has_edge(&v, from, to, "depends-on"),
            "missing edge {what}: {}",
            pretty(&v["edges"])
        );
    }
    // Nothing of the test harness (root) nor sitrep itself is on the map.
    assert!(resource(&v, |r| r["properties"]["user"] == "root").is_none());

    // Generated SLXs run and pass on the healthy sandbox.
    let created = names(&v["slxs"]["create"]);
    for want in [
        "postgres-25432-health",
        "postgres-25433-health",
        "redis-26379-health",
        "nginx-28080-health",
        "shopfront-28000-http",
        "prometheus-29090-health",
        "storefront-http",
        // Exporters are named after the Prometheus job that scrapes them.
        "node-29100-scrape",
        // The certificate nginx presents on its TLS listener (from its configuration).
        "nginx-28080-tls",
        // The application's database, seen from inside (not only database `postgres`).
        "postgres-25432-shop-db",
    ] {
        assert!(
            created.contains(&want.to_string()),
            "no SLX {want} in {created:?}"
        );
    }
    let pg_slx = v["slxs"]["create"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "postgres-25432-health")
        .unwrap();
    assert_eq!(
        pg_slx["secrets"]["PGPASSWORD"], "secret:postgres-password",
        "secrets by name, never values"
    );
    let slx = |name: &str| {
        v["slxs"]["create"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no SLX {name}"))
            .clone()
    };
    let pg = env("SANDBOX_PG_PORT");
    assert_eq!(
        slx("postgres-25432-shop-db")["config"]["PG_DSN"],
        format!("postgres://postgres@127.0.0.1:{pg}/shop?sslmode=prefer")
    );
    // PostgreSQL's own catalog lists the databases it serves.
    let dbs = primary["properties"]["databases"].as_array().unwrap();
    assert!(
        dbs.contains(&"shop".into()) && dbs.contains(&"postgres".into()),
        "{dbs:?}"
    );
    assert_eq!(
        slx("shopfront-28000-http")["config"]["URL"],
        format!("{}/health", env("SANDBOX_SHOPFRONT_URL"))
    );
    // A hand edit, which the second discovery below must keep: nginx's log checks look at the
    // last minute only (the fault drills of an earlier `scripts/test` leave upstream errors in
    // the default 15 minutes, though their issues would no longer be current).
    let (code, out, err) = sitrep(h, &["slx", "set", "nginx-28080-health", "LOG_WINDOW_MIN=1"]);
    assert_eq!(code, 0, "{out}{err}");
    // Other tests create and drop databases of their own on the shared PostgreSQL: only the
    // sandbox's databases' SLXs are run.
    let theirs =
        |n: &str| n.ends_with("-db") && !n.ends_with("-shop-db") && !n.ends_with("-postgres-db");
    for name in created.iter().filter(|n| !theirs(n)) {
        // `slx run` exits non-zero unless every run succeeded; tls-expiry on a plain http://
        // URL is inconclusive (nothing to measure), and so is a configuration tracker's first
        // look (it records the known-good version), which is not a failure of the SLX.
        let (_, out, err) = sitrep(h, &["slx", "run", name, "--json"]);
        let r: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("slx run {name}: no JSON ({e}):\n{out}\n{err}"));
        for out in r["runs"].as_array().unwrap() {
            // Each entry is a run's outcome: the run record under `run`, its issues beside it.
            // A tracker's first look records the known-good version: inconclusive by design.
            let run = &out["run"];
            let inconclusive_by_design = run["status"] == "inconclusive"
                && (run["task"] == "core/http-endpoint/tls-expiry"
                    || run["task"]
                        .as_str()
                        .unwrap_or("")
                        .ends_with("/config-watch"));
            assert!(
                run["status"] == "succeeded" || inconclusive_by_design,
                "SLX {name}: {}",
                pretty(out)
            );
        }
    }
    // The services' own checks open nothing on a healthy sandbox. Issues are what the lifecycle
    // keeps open (events older than a check's quiet period are history). Prometheus'
    // firing-alerts may report a busy shared machine (HostHighCpu), and a restart of a sandbox
    // service in the last minutes (a fault drill) is a real event, so those are left out, and
    // so are event issues whose every event came before this test began.
    let open = sitrep_json(h, &["issues", "--json"]);
    let unexpected: Vec<&Value> = open
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            !i["scope"].as_str().unwrap_or("").starts_with("prometheus")
                && !i["task"].as_str().unwrap_or("").ends_with("/restarts")
                && i["last_event_at"].as_i64().is_none_or(|t| t >= started_ms)
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "issues on a healthy sandbox: {}",
        pretty(&Value::from(
            unexpected.into_iter().cloned().collect::<Vec<_>>()
        ))
    );

    // Twice changes nothing; a hand edit survives.
    let (code, out, err) = sitrep(
        h,
        &["slx", "set", "postgres-25432-health", "CONN_WARN_PCT=70"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let again = sitrep_json(h, &["discover", "--json"]);
    assert_no_changes(&again);
    let slx = sitrep_json(h, &["slx", "show", "postgres-25432-health", "--json"]);
    assert_eq!(slx["config"]["CONN_WARN_PCT"], "70");
    let slx = sitrep_json(h, &["slx", "show", "nginx-28080-health", "--json"]);
    assert_eq!(slx["config"]["LOG_WINDOW_MIN"], "1");

    // Map queries by the names people use.
    let m = sitrep_json(h, &["map", "--around", "the orders db", "--json"]);
    assert_eq!(m["resources"][0]["key"], primary["key"]);
    let m = sitrep_json(h, &["map", "--around", "redis", "--json"]);
    assert_eq!(m["resources"][0]["key"], redis["key"]);
    let p = sitrep_json(h, &["map", "--around", "checkout", "--paths", "--json"]);
    assert_eq!(p["resource"]["name"], "storefront");
    let down: Vec<Vec<String>> = serde_json::from_value(p["downstream"].clone()).unwrap();
    let pg_name = primary["name"].as_str().unwrap();
    assert!(
        down.iter().any(|path| path.first().map(String::as_str)
            == Some(nginx["name"].as_str().unwrap())
            && path.contains(&shopfront["name"].as_str().unwrap().to_string())
            && path.contains(&pg_name.to_string())),
        "no checkout -> nginx -> shopfront -> PostgreSQL path in {down:?}"
    );
    let (code, dot, _) = sitrep(h, &["map", "--dot"]);
    assert_eq!(code, 0);
    assert!(dot.starts_with("digraph sitrep {") && dot.contains("depends-on"));

    // A resource that is gone retires its SLX (stale), it is not deleted.
    std::fs::write(h.join("sitrep.yaml"), sandbox_config(false)).unwrap();
    let gone = sitrep_json(h, &["discover", "--json"]);
    assert_eq!(names(&gone["slxs"]["retire"]), vec!["storefront-http"]);
    let list = sitrep_json(h, &["slx", "list", "--json"]);
    let s = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "storefront-http")
        .unwrap();
    assert_eq!(s["stale"], true);
}

/// A Redis of this test's own (its own port and directory), and a long-running client whose
/// configuration file names it.
struct OwnRedis {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<std::process::Child>,
    client: std::process::Child,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.path().join("app.conf");
        std::fs::write(&conf, format!("cache_url = redis://127.0.0.1:{port}/0\n")).unwrap();
        let client = std::process::Command::new("python3")
            .args(["-c", "import sys; sys.stdin.read()", "--config"])
            .arg(&conf)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut r = OwnRedis {
            dir,
            port,
            server: None,
            client,
        };
        r.start_server();
        r
    }

    fn start_server(&mut self) {
        let server = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (sandbox/up installs it)");
        self.server = Some(server);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not listen"
            );
            std::thread::yield_now();
        }
    }

    fn stop_server(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop_server();
        let _ = self.client.kill();
        let _ = self.client.wait();
    }
}

/// This test's processes are root's like the harness's: nothing is excluded. `min_age_s`:
/// how old a process must be to count as a client (this test's client is seconds old).
fn own_config(h: &std::path::Path, min_age_s: u32) {
    std::fs::write(
        h.join("sitrep.yaml"),
        format!("discovery:\n  host: {{min_age_s: {min_age_s}, probe_http: false}}\n"),
    )
    .unwrap();
}

fn slx_of(v: &Value, name: &str) -> Option<Value> {
    ["create", "update"].iter().find_map(|k| {
        v["slxs"][k]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .cloned()
    })
}

#[test]
fn a_server_that_is_down_stays_on_the_map_with_the_same_slx() {
    let mut redis = OwnRedis::start();
    let key = format!("tcp:localhost:{}", redis.port);
    let name = format!("redis-{}", redis.port);
    let slx_name = format!("{name}-health");

    // Up, and younger than min_age_s: a known kind of server is mapped anyway (a restart).
    let up_home = tempfile::tempdir().unwrap();
    own_config(up_home.path(), 10);
    let up = sitrep_json(up_home.path(), &["discover", "--json"]);
    let r = resource(&up, |r| r["key"] == key.as_str())
        .unwrap_or_else(|| panic!("no {key} in {}", pretty(&up["resources"])));
    assert_eq!(
        (r["kind"].as_str(), r["name"].as_str()),
        (Some("redis"), Some(name.as_str()))
    );
    assert!(r["properties"]["status"]["pid"].is_u64());
    let up_slx = slx_of(&up, &slx_name).expect("an SLX for the running Redis");

    redis.stop_server();

    // A fresh install now: the client's configuration keeps it on the map, as down.
    let fresh = tempfile::tempdir().unwrap();
    own_config(fresh.path(), 0);
    let down = sitrep_json(fresh.path(), &["discover", "--json"]);
    let r = resource(&down, |r| r["key"] == key.as_str())
        .unwrap_or_else(|| panic!("{key} is gone: {}", pretty(&down["resources"])));
    assert_eq!(
        (r["kind"].as_str(), r["name"].as_str()),
        (Some("redis"), Some(name.as_str()))
    );
    assert_eq!(r["properties"]["status"]["health"], "down", "{}", pretty(r));
    let down_slx = slx_of(&down, &slx_name).expect("the same SLX while it is down");
    for field in ["bundle", "config", "tasks", "secrets", "description"] {
        assert_eq!(up_slx[field], down_slx[field], "{field} differs");
    }
    // And its health check says so, naming it.
    let (_, out, _) = sitrep(fresh.path(), &["slx", "run", &slx_name, "--json"]);
    let run: Value = serde_json::from_str(&out).unwrap();
    let issues: Vec<&Value> = run["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["issues"].as_array().unwrap())
        .collect();
    assert!(!issues.is_empty(), "no issue from {}", pretty(&run));

    // The install that saw it running keeps it (and its SLX) too, evidence or not.
    let again = sitrep_json(up_home.path(), &["discover", "--json"]);
    let r = resource(&again, |r| r["key"] == key.as_str()).expect("still mapped");
    assert_eq!(r["properties"]["status"]["health"], "down");
    assert!(
        !names(&again["slxs"]["retire"]).contains(&slx_name),
        "its SLX was retired: {}",
        pretty(&again["slxs"])
    );

    // Back up: the same resource, running again.
    redis.start_server();
    let back = sitrep_json(up_home.path(), &["discover", "--json"]);
    let r = resource(&back, |r| r["key"] == key.as_str()).unwrap();
    assert!(r["properties"]["status"]["pid"].is_u64(), "{}", pretty(r));
    assert!(!names(&back["slxs"]["update"]).contains(&slx_name));
}
