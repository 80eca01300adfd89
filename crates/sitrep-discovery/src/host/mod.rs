//! The local host: processes, listening sockets and established TCP connections from `/proc`.
//!
//! A process that listens becomes a resource (its children, such as PostgreSQL backends or
//! nginx workers, belong to it); a long-running process that only connects out becomes one
//! too (a worker such as `batch`). An established connection from a process of A to a
//! listener of B is the edge A depends-on B (or A monitors B when A is Prometheus or an
//! exporter). Reading other users' `/proc/PID/fd` needs root or CAP_SYS_PTRACE; without it
//! only the caller's own processes show their connections.

pub mod files;
pub mod nginx_conf;
pub mod procfs;

use crate::config::HostConfig;
use crate::{DiscoveryError, endpoint_key};
use procfs::{SockAddr, TCP_ESTABLISHED, TCP_LISTEN, TcpEntry};
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource, STATUS};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

pub const SOURCE: &str = "host";

/// One process as read from `/proc`.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// Basename of `/proc/PID/exe` (falls back to argv[0], then comm).
    pub exe: String,
    pub exe_path: String,
    pub args: Vec<String>,
    pub user: String,
    /// Seconds since it started.
    pub age_s: f64,
}

/// Everything the host indexer reads, so that building the inventory is a pure function.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub hostname: String,
    pub kernel: String,
    pub procs: HashMap<u32, Proc>,
    pub sockets: Vec<TcpEntry>,
    pub inode_pids: HashMap<u64, Vec<u32>>,
    /// The scanning process: it and its descendants are never mapped.
    pub self_pid: u32,
    /// nginx config text by root pid (read during the scan).
    pub nginx_confs: HashMap<u32, nginx_conf::NginxConf>,
}

/// Reads `/proc` (blocking: call from `spawn_blocking`). Sockets are sampled `samples` times
/// so that connections that come and go (a pool's idle connection, a scrape) are caught.
pub fn read_snapshot(cfg: &HostConfig) -> Result<Snapshot, DiscoveryError> {
    let proc_root = Path::new("/proc");
    let io = |what: &str, e: std::io::Error| DiscoveryError::Io {
        what: what.to_string(),
        source: e,
    };
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .map_err(|e| io("/proc/uptime", e))?
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // SAFETY: sysconf only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let users: HashMap<u32, String> = std::fs::read_to_string("/etc/passwd")
        .map(|t| procfs::parse_passwd(&t).into_iter().collect())
        .unwrap_or_default();
    let mut snap = Snapshot {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".into()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        self_pid: std::process::id(),
        ..Snapshot::default()
    };
    let pids: Vec<u32> = std::fs::read_dir(proc_root)
        .map_err(|e| io("/proc", e))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for &pid in &pids {
        let dir = proc_root.join(pid.to_string());
        // Processes exit while we read: anything missing just skips the process.
        let Some(stat) = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .and_then(|s| procfs::parse_stat(&s))
        else {
            continue;
        };
        let args = std::fs::read(dir.join("cmdline"))
            .map(|b| procfs::parse_cmdline(&b))
            .unwrap_or_default();
        if args.is_empty() {
            continue; // kernel threads
        }
        let exe_path = std::fs::read_link(dir.join("exe"))
            .map(|p| {
                p.to_string_lossy()
                    .trim_end_matches(" (deleted)")
                    .to_string()
            })
            .unwrap_or_else(|_| args[0].clone());
        let exe = basename(&exe_path);
        let uid = std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| procfs::parse_uid(&s));
        snap.procs.insert(
            pid,
            Proc {
                pid,
                ppid: stat.ppid,
                comm: stat.comm,
                exe,
                exe_path,
                args,
                user: uid
                    .map(|u| users.get(&u).cloned().unwrap_or_else(|| u.to_string()))
                    .unwrap_or_default(),
                age_s: uptime - stat.start_ticks as f64 / ticks,
            },
        );
    }
    let mut seen = BTreeSet::new();
    for i in 0..cfg.samples.max(1) {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(cfg.sample_interval_ms));
        }
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            if let Ok(text) = std::fs::read_to_string(file) {
                for e in procfs::parse_tcp(&text) {
                    if (e.state == TCP_LISTEN || e.state == TCP_ESTABLISHED)
                        && e.inode != 0
                        && seen.insert(e.inode)
                    {
                        snap.sockets.push(e);
                    }
                }
            }
        }
        // Sockets opened between samples have new inodes: map them to processes again.
        for &pid in snap.procs.keys() {
            let Ok(fds) = std::fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if let Some(inode) = std::fs::read_link(fd.path())
                    .ok()
                    .and_then(|l| procfs::socket_inode(&l.to_string_lossy()))
                {
                    let v = snap.inode_pids.entry(inode).or_default();
                    if !v.contains(&pid) {
                        v.push(pid);
                    }
                }
            }
        }
    }
    for p in snap.procs.values() {
        if p.exe == "nginx" && snap.procs.get(&p.ppid).is_none_or(|pp| pp.exe != "nginx") {
            if let Some(conf) = read_nginx_conf(p) {
                snap.nginx_confs.insert(p.pid, conf);
            }
        }
    }
    Ok(snap)
}

fn read_nginx_conf(p: &Proc) -> Option<nginx_conf::NginxConf> {
    // The master retitles itself: "nginx: master process /usr/sbin/nginx -p DIR -c FILE" is one
    // argument.
    let args: Vec<String> = p
        .args
        .iter()
        .flat_map(|a| a.split_whitespace())
        .map(str::to_string)
        .collect();
    let flag = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let prefix = flag("-p").unwrap_or_else(|| "/etc/nginx/".into());
    let path = flag("-c").unwrap_or_else(|| "/etc/nginx/nginx.conf".into());
    let abs = |f: &str| {
        if f.starts_with('/') {
            f.to_string()
        } else {
            format!("{}/{f}", prefix.trim_end_matches('/'))
        }
    };
    let mut conf = nginx_conf::parse(&std::fs::read_to_string(abs(&path)).ok()?);
    conf.path = Some(abs(&path));
    for inc in conf.includes.clone() {
        if inc.contains('*') {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(abs(&inc)) {
            let sub = nginx_conf::parse(&text);
            conf.upstreams.extend(sub.upstreams);
            conf.error_log = conf.error_log.or(sub.error_log);
            conf.access_log = conf.access_log.or(sub.access_log);
            conf.status_path = conf.status_path.or(sub.status_path);
        }
    }
    conf.error_log = conf.error_log.map(|f| abs(&f));
    conf.access_log = conf.access_log.map(|f| abs(&f));
    conf.upstreams.sort();
    conf.upstreams.dedup();
    conf.includes.clear();
    Some(conf)
}

fn basename(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// (kind, base name) of a process.
fn classify(p: &Proc, listens: bool) -> (&'static str, String) {
    // argv[0] first: Debian's redis-server is a symlink to redis-check-rdb, and servers that
    // retitle themselves ("nginx: master process") keep their name there.
    let argv0 = p
        .args
        .first()
        .and_then(|a| a.split_whitespace().next())
        .map(|a| basename(a.trim_end_matches(':')))
        .unwrap_or_default();
    if let Some(k) = known_server(&argv0) {
        return (k.0, k.1.to_string());
    }
    let exe = p.exe.as_str();
    if let Some(k) = known_server(exe) {
        return (k.0, k.1.to_string());
    }
    if exe.contains("exporter") {
        return (
            "exporter",
            exe.trim_start_matches("prometheus-").replace('_', "-"),
        );
    }
    generic_name(p, listens)
}

fn known_server(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "postgres" | "postmaster" => Some(("postgres", "postgres")),
        "redis-server" => Some(("redis", "redis")),
        "nginx" => Some(("nginx", "nginx")),
        "prometheus" => Some(("prometheus", "prometheus")),
        "alertmanager" | "prometheus-alertmanager" => Some(("alertmanager", "alertmanager")),
        "mysqld" | "mariadbd" => Some(("mysql", "mysql")),
        _ => None,
    }
}

fn generic_name(p: &Proc, listens: bool) -> (&'static str, String) {
    let exe = p.exe.as_str();
    let generic = if listens { "service" } else { "process" };
    let is_interpreter = ["python", "node", "ruby", "perl", "java", "bash", "sh"]
        .iter()
        .any(|i| {
            exe == *i || exe.starts_with(&format!("{i}3")) || exe.starts_with(&format!("{i}2"))
        });
    if is_interpreter {
        let mut it = p.args.iter().skip(1);
        while let Some(a) = it.next() {
            if a == "-m" {
                if let Some(m) = it.next() {
                    return (generic, m.rsplit('.').next().unwrap_or(m).to_string());
                }
            }
            if !a.starts_with('-') {
                let b = basename(a);
                return (generic, b.split('.').next().unwrap_or(&b).to_string());
            }
        }
        return (generic, exe.to_string());
    }
    let sub = p.args.get(1).filter(|a| {
        a.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !matches!(
                a.as_str(),
                "serve" | "server" | "start" | "run" | "daemon" | "web"
            )
    });
    match sub {
        Some(s) => (generic, format!("{exe}-{s}")),
        None => (generic, exe.to_string()),
    }
}

fn monitors(kind: &str) -> bool {
    matches!(kind, "prometheus" | "exporter")
}

/// Well-known data-service ports: a connection to one of these on another host is worth a
/// resource even though we cannot see the far process.
fn well_known(port: u16) -> Option<&'static str> {
    match port {
        5432 => Some("postgres"),
        6379 => Some("redis"),
        3306 => Some("mysql"),
        27017 => Some("mongodb"),
        9092 => Some("kafka"),
        11211 => Some("memcached"),
        _ => None,
    }
}

#[derive(Debug, Default)]
struct Root {
    listen: Vec<SockAddr>,
}

/// Builds the inventory from a snapshot.
pub fn build(s: &Snapshot, cfg: &HostConfig) -> Inventory {
    let parent = |pid: u32| s.procs.get(&pid).map(|p| p.ppid);
    let ancestors = |pid: u32| {
        let mut v = vec![pid];
        let mut cur = pid;
        for _ in 0..64 {
            match parent(cur) {
                Some(pp) if pp != 0 && pp != cur => {
                    v.push(pp);
                    cur = pp;
                }
                _ => break,
            }
        }
        v
    };
    let excluded = |pid: u32| {
        let own = ancestors(pid)
            .iter()
            .any(|a| *a == s.self_pid || s.procs.get(a).is_some_and(|p| p.exe == "sitrep"));
        own || s.procs.get(&pid).is_some_and(|p| {
            cfg.exclude_users.contains(&p.user)
                || cfg
                    .exclude_processes
                    .iter()
                    .any(|x| x == &p.exe || *x == classify(p, false).1)
        })
    };
    let old_enough = |pid: u32| s.procs.get(&pid).is_some_and(|p| p.age_s >= cfg.min_age_s);

    // Listeners → the root-most process holding the socket.
    let mut roots: BTreeMap<u32, Root> = BTreeMap::new();
    let mut listener_owner: HashMap<SockAddr, u32> = HashMap::new();
    let mut wildcard_owner: HashMap<u16, u32> = HashMap::new();
    for e in s.sockets.iter().filter(|e| e.state == TCP_LISTEN) {
        let Some(pids) = s.inode_pids.get(&e.inode) else {
            continue;
        };
        let pids: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| s.procs.contains_key(p))
            .collect();
        let Some(root) = pids
            .iter()
            .copied()
            .filter(|p| parent(*p).is_none_or(|pp| !pids.contains(&pp)))
            .min()
        else {
            continue;
        };
        if excluded(root) || !old_enough(root) {
            continue;
        }
        let r = roots.entry(root).or_default();
        if !r.listen.contains(&e.local) {
            r.listen.push(e.local);
        }
        if e.local.is_wildcard() {
            wildcard_owner.insert(e.local.port, root);
        } else {
            listener_owner.insert(e.local, root);
        }
    }
    let owner_of = |addr: &SockAddr| -> Option<u32> {
        listener_owner.get(addr).copied().or_else(|| {
            addr.is_local()
                .then(|| wildcard_owner.get(&addr.port).copied())
                .flatten()
        })
    };

    // Established connections → edges; long-running clients become resources.
    let mut client_roots: BTreeSet<u32> = BTreeSet::new();
    let attribute = |pid: u32, client_roots: &BTreeSet<u32>| {
        ancestors(pid)
            .into_iter()
            .find(|a| roots.contains_key(a) || client_roots.contains(a))
    };
    let mut conns: BTreeSet<(u32, Target)> = BTreeSet::new();
    for e in s.sockets.iter().filter(|e| e.state == TCP_ESTABLISHED) {
        let target = match owner_of(&e.remote) {
            Some(o) => Target::Local(o),
            None if !e.remote.is_local() && well_known(e.remote.port).is_some() => {
                Target::Remote(e.remote)
            }
            None => continue,
        };
        let Some(pids) = s.inode_pids.get(&e.inode) else {
            continue;
        };
        for &pid in pids {
            if !s.procs.contains_key(&pid) || excluded(pid) {
                continue;
            }
            let src = match attribute(pid, &client_roots) {
                Some(r) => r,
                None => {
                    // Climb to the top of a same-program process family (a forking worker).
                    let exe = &s.procs[&pid].exe;
                    let mut top = pid;
                    while let Some(pp) =
                        parent(top).filter(|pp| s.procs.get(pp).is_some_and(|p| &p.exe == exe))
                    {
                        top = pp;
                    }
                    if !old_enough(top) {
                        continue;
                    }
                    client_roots.insert(top);
                    top
                }
            };
            if Target::Local(src) != target {
                conns.insert((src, target));
            }
        }
    }

    let host_key = format!("host:{}", s.hostname);
    let mut host = Resource::new(&host_key, "host", &s.hostname);
    host.aliases.push("localhost".into());
    host.properties
        .insert("kernel".into(), s.kernel.clone().into());
    host.sources.push(SOURCE.into());
    let mut inv = Inventory {
        resources: vec![host],
        edges: vec![],
    };
    let mut key_of: HashMap<u32, String> = HashMap::new();
    let mut kind_of: HashMap<u32, &'static str> = HashMap::new();
    for (&pid, root) in roots
        .iter()
        .map(|(p, r)| (p, Some(r)))
        .chain(client_roots.iter().map(|p| (p, None)))
    {
        let p = &s.procs[&pid];
        let (kind, base) = classify(p, root.is_some());
        let mut listen: Vec<SockAddr> = root.map(|r| r.listen.clone()).unwrap_or_default();
        listen.sort_by_key(|a| (a.port, a.to_string()));
        let (key, name) = match listen.first() {
            Some(a) => (
                endpoint_key(&a.ip.to_string(), a.port),
                format!("{base}-{}", a.port),
            ),
            None => (format!("proc:{}:{base}", s.hostname), base.clone()),
        };
        let mut r = Resource::new(&key, kind, &name);
        r.sources.push(SOURCE.into());
        // A restart changes the pid, not what the resource is.
        r.properties
            .insert(STATUS.into(), serde_json::json!({"pid": pid}));
        r.properties.insert("exe".into(), p.exe_path.clone().into());
        r.properties.insert("user".into(), p.user.clone().into());
        r.properties
            .insert("cmdline".into(), procfs::redact_cmdline(&p.args).into());
        r.properties.insert("program".into(), base.clone().into());
        if let Some(a) = listen.first() {
            let host = if a.is_wildcard() || a.ip.is_loopback() {
                "127.0.0.1".to_string()
            } else {
                a.ip.to_string()
            };
            r.properties.insert("host".into(), host.into());
            r.properties.insert("port".into(), a.port.into());
            r.properties.insert(
                "listen".into(),
                listen
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        if kind == "postgres" {
            let replica = s.procs.values().any(|c| {
                c.ppid == pid
                    && c.args
                        .first()
                        .is_some_and(|a| a.starts_with("postgres: walreceiver"))
            });
            let role = if replica { "replica" } else { "primary" };
            r.labels.insert("role".into(), role.into());
            r.properties.insert("role".into(), role.into());
            if let Some(d) = p
                .args
                .iter()
                .position(|a| a == "-D")
                .and_then(|i| p.args.get(i + 1))
            {
                r.properties.insert("data_dir".into(), d.clone().into());
            }
        }
        if let Some(c) = s.nginx_confs.get(&pid) {
            if let Some(v) = &c.error_log {
                r.properties.insert("error_log".into(), v.clone().into());
            }
            if let Some(v) = &c.access_log {
                r.properties.insert("access_log".into(), v.clone().into());
            }
            if let Some(v) = &c.status_path {
                r.properties.insert("status_path".into(), v.clone().into());
            }
            if let Some(v) = &c.path {
                r.properties.insert("config".into(), v.clone().into());
            }
            for u in &c.upstreams {
                if let Some((h, port)) = u
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                {
                    inv.edges
                        .push(Edge::new(&key, endpoint_key(h, port), EdgeKind::DependsOn));
                }
            }
        }
        inv.edges.push(Edge::new(&key, &host_key, EdgeKind::RunsOn));
        key_of.insert(pid, key);
        kind_of.insert(pid, kind);
        inv.resources.push(r);
    }
    for (src, target) in conns {
        let (Some(from), Some(kind)) = (key_of.get(&src), kind_of.get(&src)) else {
            continue;
        };
        let edge_kind = if monitors(kind) {
            EdgeKind::Monitors
        } else {
            EdgeKind::DependsOn
        };
        match target {
            Target::Local(t) => {
                if let Some(to) = key_of.get(&t) {
                    inv.edges.push(Edge::new(from, to, edge_kind));
                }
            }
            Target::Remote(addr) => {
                let ip = addr.ip.to_string();
                let key = endpoint_key(&ip, addr.port);
                let kind = well_known(addr.port).unwrap_or("endpoint");
                let mut r = Resource::new(&key, kind, format!("{kind}-{ip}-{}", addr.port))
                    .with_prop("host", ip)
                    .with_prop("port", addr.port)
                    .with_prop("external", true);
                r.sources.push(SOURCE.into());
                inv.resources.push(r);
                inv.edges.push(Edge::new(from, key, edge_kind));
            }
        }
    }
    inv
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Local(u32),
    Remote(SockAddr),
}

#[cfg(test)]
mod tests;

pub struct HostIndexer {
    pub config: HostConfig,
    pub client: reqwest::Client,
}

#[async_trait::async_trait]
impl crate::Indexer for HostIndexer {
    fn source(&self) -> String {
        SOURCE.into()
    }

    async fn index(&self) -> Result<Inventory, DiscoveryError> {
        let cfg = self.config.clone();
        // /proc reads and the sampling sleeps block: keep them off the runtime's workers.
        let snap = tokio::task::spawn_blocking(move || read_snapshot(&cfg))
            .await
            .map_err(|e| DiscoveryError::Io {
                what: "/proc".into(),
                source: std::io::Error::other(e.to_string()),
            })??;
        let mut inv = build(&snap, &self.config);
        inv = files::attach(inv).await;
        if self.config.probe_http {
            probe_http(&self.client, &mut inv).await;
        }
        Ok(inv)
    }
}

/// Asks each unknown listener whether it speaks HTTP; those that do become `http-service`s
/// with the first health path that answers 2xx.
async fn probe_http(client: &reqwest::Client, inv: &mut Inventory) {
    let mut set = tokio::task::JoinSet::new();
    for (i, r) in inv.resources.iter().enumerate() {
        if r.kind != "service" {
            continue;
        }
        let (Some(host), Some(port)) = (
            r.prop_str("host"),
            r.properties.get("port").and_then(|p| p.as_u64()),
        ) else {
            continue;
        };
        let base = format!("http://{host}:{port}");
        let client = client.clone();
        set.spawn(async move {
            let mut http = false;
            for path in ["/health", "/healthz", "/"] {
                let resp = client
                    .get(format!("{base}{path}"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                if let Ok(resp) = resp {
                    http = true;
                    if resp.status().is_success() {
                        return (i, base, Some(path));
                    }
                }
            }
            (i, base, http.then_some("/"))
        });
    }
    while let Some(Ok((i, base, path))) = set.join_next().await {
        if let Some(path) = path {
            let r = &mut inv.resources[i];
            r.kind = "http-service".into();
            r.properties.insert("url".into(), base.clone().into());
            r.properties
                .insert("health_url".into(), format!("{base}{path}").into());
        }
    }
}
