//! The host's inventory from a snapshot (pure).
//!
//! What runs: every process that listens becomes a resource (its children belong to it), and
//! so does every long-running process that connects to one or is configured (command line,
//! configuration file) to use a data store. What is configured: the DSNs and addresses those
//! processes name, a standby's `primary_conninfo`, nginx's upstreams and the commands
//! supervisors run keep a server on the map while it is down, under the name and kind it has
//! when it is up, with `status.health = "down"`.

use super::classify::{classify, command_proc, is_specific, monitors, well_known};
use super::evidence::Reference;
use super::procfs::{self, SockAddr, TCP_ESTABLISHED, TCP_LISTEN};
use super::{SOURCE, Snapshot};
use crate::config::HostConfig;
use crate::{connect_host, endpoint_key, is_local_host};
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource, STATUS};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Kind of the resource a database of a PostgreSQL server becomes.
pub const POSTGRES_DATABASE: &str = "postgres-database";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Local(u32),
    Remote(SockAddr),
}

/// A server known from configuration that nothing listens for right now.
#[derive(Debug, Default)]
struct Down {
    kind: Option<&'static str>,
    /// Base of the name and the program, when a supervisor's command says what runs there.
    program: Option<(&'static str, String, Vec<String>)>,
    host: String,
    /// Resources whose configuration names it.
    named_by: BTreeSet<String>,
    /// Why it counts as down, when more is known than "nothing listens".
    reason: Option<String>,
    /// A standby streams from it.
    upstream_of_standby: bool,
    databases: BTreeSet<String>,
    /// A physical standby's catalog: the same databases as its primary's.
    catalog: Option<Vec<String>>,
}

struct View<'a> {
    s: &'a Snapshot,
    cfg: &'a HostConfig,
}

impl View<'_> {
    fn parent(&self, pid: u32) -> Option<u32> {
        self.s.procs.get(&pid).map(|p| p.ppid)
    }
    fn ancestors(&self, pid: u32) -> Vec<u32> {
        let mut v = vec![pid];
        let mut cur = pid;
        for _ in 0..64 {
            match self.parent(cur) {
                Some(pp) if pp != 0 && pp != cur => {
                    v.push(pp);
                    cur = pp;
                }
                _ => break,
            }
        }
        v
    }
    /// sitrep itself and what it runs.
    fn own(&self, pid: u32) -> bool {
        self.ancestors(pid).iter().any(|a| {
            *a == self.s.self_pid || self.s.procs.get(a).is_some_and(|p| p.exe == "sitrep")
        })
    }
    fn excluded(&self, pid: u32) -> bool {
        self.own(pid) || self.s.procs.get(&pid).is_some_and(|p| {
            self.cfg.exclude_users.contains(&p.user)
                || self.name_excluded(&p.exe, &classify(p, false).1)
        })
    }
    fn name_excluded(&self, exe: &str, base: &str) -> bool {
        self.cfg
            .exclude_processes
            .iter()
            .any(|x| x == exe || x == base)
    }
    fn old_enough(&self, pid: u32) -> bool {
        self.s
            .procs
            .get(&pid)
            .is_some_and(|p| p.age_s >= self.cfg.min_age_s)
    }
    /// The process running the command a supervisor runs, if it runs now.
    fn running(&self, cmd: &[String]) -> Option<u32> {
        self.s
            .procs
            .values()
            .filter(|p| {
                p.args == cmd || (p.exe_path == cmd[0] && p.args.get(1..) == cmd.get(1..))
            })
            .map(|p| p.pid)
            .min()
    }
}

/// Builds the inventory from a snapshot.
pub fn build(s: &Snapshot, cfg: &HostConfig) -> Inventory {
    let v = View { s, cfg };

    // Ports some configuration names: a young listener there is that server restarted.
    let mut known_ports: BTreeSet<u16> = s.known_ports.clone();
    for (pid, f) in &s.facts {
        if !v.excluded(*pid) {
            known_ports.extend(
                f.references
                    .iter()
                    .filter(|r| is_local_host(&r.host))
                    .map(|r| r.port),
            );
        }
    }
    for sv in s.supervised.values() {
        known_ports.extend(sv.facts.listens.iter().map(|l| l.port));
        known_ports.extend(
            sv.facts
                .references
                .iter()
                .filter(|r| is_local_host(&r.host))
                .map(|r| r.port),
        );
    }
    for pg in s.postgres.values() {
        known_ports.extend(
            pg.upstream
                .iter()
                .filter(|r| is_local_host(&r.host))
                .map(|r| r.port),
        );
    }
    for c in s.nginx_confs.values() {
        known_ports.extend(c.upstreams.iter().filter_map(|u| local_port(u)));
    }

    // Listeners → the root-most process holding the socket.
    let mut roots: BTreeMap<u32, Vec<SockAddr>> = BTreeMap::new();
    let mut listener_owner: HashMap<SockAddr, u32> = HashMap::new();
    let mut wildcard_owner: HashMap<u16, u32> = HashMap::new();
    // Local ports something listens on, mapped or not (excluded, too young to tell).
    let mut occupied: BTreeSet<u16> = BTreeSet::new();
    for e in s.sockets.iter().filter(|e| e.state == TCP_LISTEN) {
        if e.local.is_local() {
            occupied.insert(e.local.port);
        }
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
            .filter(|p| v.parent(*p).is_none_or(|pp| !pids.contains(&pp)))
            .min()
        else {
            continue;
        };
        let known =
            known_ports.contains(&e.local.port) || is_specific(classify(&s.procs[&root], true).0);
        if v.excluded(root) || !(v.old_enough(root) || known) {
            continue;
        }
        let r = roots.entry(root).or_default();
        if !r.contains(&e.local) {
            r.push(e.local);
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
        v.ancestors(pid)
            .into_iter()
            .find(|a| roots.contains_key(a) || client_roots.contains(a))
    };
    // Climb to the top of a same-program process family (a forking worker).
    let family_top = |pid: u32| {
        let exe = &s.procs[&pid].exe;
        let mut top = pid;
        while let Some(pp) = v
            .parent(top)
            .filter(|pp| s.procs.get(pp).is_some_and(|p| &p.exe == exe))
        {
            top = pp;
        }
        top
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
            if !s.procs.contains_key(&pid) || v.excluded(pid) {
                continue;
            }
            let src = match attribute(pid, &client_roots) {
                Some(r) => r,
                None => {
                    let top = family_top(pid);
                    if !v.old_enough(top) {
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
    // A long-running process started with a DSN (its command line or configuration file, not
    // an environment inherited from a shell) is a client even while its data store is down.
    let mut pids: Vec<&u32> = s.facts.keys().collect();
    pids.sort();
    for &pid in pids {
        let configured = s.facts[&pid]
            .references
            .iter()
            .any(|r| r.is_data_store() && !r.origin.starts_with("env "));
        if !configured
            || !s.procs.contains_key(&pid)
            || v.excluded(pid)
            || attribute(pid, &client_roots).is_some()
        {
            continue;
        }
        let top = family_top(pid);
        if v.old_enough(top) && !v.excluded(top) {
            client_roots.insert(top);
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
    for (&pid, listen) in roots
        .iter()
        .map(|(p, r)| (p, Some(r)))
        .chain(client_roots.iter().map(|p| (p, None)))
    {
        let p = &s.procs[&pid];
        let (kind, base) = classify(p, listen.is_some());
        let mut listen: Vec<SockAddr> = listen.cloned().unwrap_or_default();
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
            r.properties
                .insert("host".into(), connect_host(&a.ip.to_string()).into());
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
            for (k, val) in [
                ("error_log", &c.error_log),
                ("access_log", &c.access_log),
                ("status_path", &c.status_path),
                ("config", &c.path),
            ] {
                if let Some(val) = val {
                    r.properties.insert(k.into(), val.clone().into());
                }
            }
            if let Some(tls) = c.tls_ports.first() {
                r.properties.insert("tls_port".into(), (*tls).into());
            }
            for u in &c.upstreams {
                if let Some((h, port)) = split_host_port(u) {
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

    // Servers configured but not listening now.
    let owner_port: HashMap<u16, u32> = roots
        .iter()
        .flat_map(|(pid, addrs)| {
            addrs
                .iter()
                .filter(|a| a.is_local())
                .map(move |a| (a.port, *pid))
        })
        .collect();
    let mut links = Links {
        owner_port: &owner_port,
        occupied: &occupied,
        key_of: &key_of,
        down: BTreeMap::new(),
        edges: vec![],
        externals: vec![],
        named: HashMap::new(),
    };
    // Supervised programs that are not running.
    let mut sups: Vec<&u32> = s.supervised.keys().collect();
    sups.sort();
    for &sup in sups {
        let sv = &s.supervised[&sup];
        // The program, not its supervisor (often root's), is what exclusions are about.
        if v.own(sup) || sv.args.is_empty() {
            continue;
        }
        let running = v.running(&sv.args);
        let cmd = command_proc(&sv.args);
        let listens: Vec<(String, u16)> = sv
            .facts
            .listens
            .iter()
            .filter(|l| is_local_host(&l.host))
            .map(|l| (connect_host(&l.host), l.port))
            .collect();
        let (kind, base) = classify(&cmd, !listens.is_empty());
        if v.name_excluded(&cmd.exe, &base) {
            continue;
        }
        let refs: Vec<&Reference> = sv.facts.references.iter().collect();
        match listens.first() {
            // Down, or started but not listening yet (starting, crash-looping).
            Some((host, port)) => {
                if !listens.iter().all(|(_, p)| links.free(*p)) {
                    continue;
                }
                let d = links.down.entry(*port).or_default();
                d.program = Some((kind, base.clone(), sv.args.clone()));
                d.reason = Some(match running {
                    Some(pid) => format!(
                        "started (pid {pid}) but not listening on port {port}: starting or failing; its supervisor (pid {sup}) restarts it"
                    ),
                    None => format!("not running; its supervisor (pid {sup}) restarts it"),
                });
                d.host = host.clone();
                let key = endpoint_key(host, *port);
                links.add(&key, &format!("{base}-{port}"), &refs, false, Some(*port));
            }
            None if running.is_none() && refs.iter().any(|r| r.is_data_store()) => {
                // A worker that is down: known by its program.
                let key = format!("proc:{}:{base}", s.hostname);
                if key_of.values().any(|k| k == &key) {
                    continue;
                }
                let mut r = Resource::new(&key, kind, &base)
                    .with_prop("exe", sv.args[0].clone())
                    .with_prop("program", base.clone())
                    .with_prop("cmdline", procfs::redact_cmdline(&sv.args))
                    .with_prop(
                        STATUS,
                        down_status(
                            format!("not running; its supervisor (pid {sup}) restarts it"),
                            &BTreeSet::new(),
                        ),
                    );
                r.sources.push(SOURCE.into());
                inv.edges.push(Edge::new(&key, &host_key, EdgeKind::RunsOn));
                inv.resources.push(r);
                links.add(&key, &base, &refs, false, None);
            }
            None => {}
        }
    }
    // References of every resource process (and its children) to the servers it uses.
    let mut by_root: BTreeMap<u32, BTreeSet<&Reference>> = BTreeMap::new();
    for (pid, f) in &s.facts {
        if v.excluded(*pid) {
            continue;
        }
        if let Some(root) = attribute(*pid, &client_roots) {
            by_root.entry(root).or_default().extend(f.references.iter());
        }
    }
    for (root, refs) in &by_root {
        let key = &key_of[root];
        let name = inv
            .resources
            .iter()
            .find(|r| &r.key == key)
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let refs: Vec<&Reference> = refs.iter().copied().collect();
        links.add(key, &name, &refs, monitors(kind_of[root]), None);
    }
    // A standby's primary: a PostgreSQL server, and a primary, up or not.
    for (pid, pg) in &s.postgres {
        let (Some(up), Some(from)) = (&pg.upstream, key_of.get(pid)) else {
            continue;
        };
        links.edges.push(Edge::new(
            from,
            endpoint_key(&up.host, up.port),
            EdgeKind::DependsOn,
        ));
        if is_local_host(&up.host) && links.free(up.port) {
            let d = links.down.entry(up.port).or_default();
            d.kind = Some("postgres");
            d.upstream_of_standby = true;
            if pg.catalog_read {
                d.catalog = Some(pg.databases.clone());
            }
            if d.host.is_empty() {
                d.host = connect_host(&up.host);
            }
        }
    }
    // nginx proxies over HTTP: what it proxies to speaks HTTP.
    let mut http_ports: BTreeSet<u16> = BTreeSet::new();
    for c in s.nginx_confs.values() {
        http_ports.extend(c.http_upstreams.iter().filter_map(|u| local_port(u)));
    }
    let Links {
        down,
        edges,
        externals,
        named,
        ..
    } = links;
    inv.edges.extend(edges);
    inv.resources.extend(externals);

    for (port, d) in down {
        let (kind, base) = match (&d.program, d.kind) {
            (Some((k, _, _)), Some(dk)) if !is_specific(k) => (dk, dk.to_string()),
            (Some((k, b, _)), _) => (*k, b.clone()),
            (None, Some(dk)) => (dk, dk.to_string()),
            (None, None) => continue,
        };
        let kind = if kind == "service" && http_ports.contains(&port) {
            "http-service"
        } else {
            kind
        };
        let host = if d.host.is_empty() {
            "127.0.0.1".to_string()
        } else {
            d.host.clone()
        };
        let key = endpoint_key(&host, port);
        let mut r = Resource::new(&key, kind, format!("{base}-{port}"))
            .with_prop("host", host)
            .with_prop("port", port)
            .with_prop(
                STATUS,
                down_status(
                    d.reason
                        .clone()
                        .unwrap_or_else(|| format!("nothing listens on port {port}")),
                    &d.named_by,
                ),
            );
        if let Some((_, b, args)) = &d.program {
            r.properties.insert("exe".into(), args[0].clone().into());
            r.properties.insert("program".into(), b.clone().into());
            r.properties
                .insert("cmdline".into(), procfs::redact_cmdline(args).into());
        }
        if kind == "postgres" {
            if d.upstream_of_standby {
                r.labels.insert("role".into(), "primary".into());
                r.properties.insert("role".into(), "primary".into());
            }
            let dbs: Vec<String> = match &d.catalog {
                Some(c) => c.clone(),
                None => d.databases.iter().cloned().collect(),
            };
            r.properties.insert("databases".into(), dbs.into());
        }
        r.sources.push(SOURCE.into());
        inv.edges.push(Edge::new(&key, &host_key, EdgeKind::RunsOn));
        inv.resources.push(r);
    }

    // Listening services nginx proxies to over HTTP are HTTP services, answering or not.
    for r in &mut inv.resources {
        if r.kind == "service"
            && r.properties
                .get("port")
                .and_then(|p| p.as_u64())
                .is_some_and(|p| http_ports.contains(&(p as u16)))
        {
            r.kind = "http-service".into();
        }
    }
    postgres_roles_and_databases(s, &key_of, &named, &mut inv);

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

fn down_status(reason: String, named_by: &BTreeSet<String>) -> serde_json::Value {
    let mut st = serde_json::json!({"health": "down", "reason": reason});
    if !named_by.is_empty() {
        st["configured_in"] = named_by.iter().take(8).cloned().collect::<Vec<_>>().into();
    }
    st
}

/// Edges from resources to the servers their configuration names, and the data stores among
/// those that nothing serves locally right now.
struct Links<'a> {
    /// Local port → the root process listening there (mapped).
    owner_port: &'a HashMap<u16, u32>,
    /// Local ports something listens on, mapped or not.
    occupied: &'a BTreeSet<u16>,
    key_of: &'a HashMap<u32, String>,
    down: BTreeMap<u16, Down>,
    edges: Vec<Edge>,
    externals: Vec<Resource>,
    /// Databases clients name, by server key.
    named: HashMap<String, BTreeSet<String>>,
}

impl Links<'_> {
    fn free(&self, port: u16) -> bool {
        !self.owner_port.contains_key(&port) && !self.occupied.contains(&port)
    }

    fn add(
        &mut self,
        from: &str,
        from_name: &str,
        refs: &[&Reference],
        monitoring: bool,
        own_port: Option<u16>,
    ) {
        let kind = if monitoring {
            EdgeKind::Monitors
        } else {
            EdgeKind::DependsOn
        };
        for r in refs {
            let target = endpoint_key(&r.host, r.port);
            if let Some(db) = r.database.as_ref().filter(|_| r.kind == "postgres") {
                self.named
                    .entry(target.clone())
                    .or_default()
                    .insert(db.clone());
            }
            if !is_local_host(&r.host) {
                if r.is_data_store() {
                    let mut e =
                        Resource::new(&target, r.kind, format!("{}-{}-{}", r.kind, r.host, r.port))
                            .with_prop("host", r.host.clone())
                            .with_prop("port", r.port)
                            .with_prop("external", true);
                    e.sources.push(SOURCE.into());
                    self.externals.push(e);
                    self.edges.push(Edge::new(from, &target, kind));
                }
                continue;
            }
            if Some(r.port) == own_port {
                continue;
            }
            if let Some(to) = self
                .owner_port
                .get(&r.port)
                .and_then(|o| self.key_of.get(o))
            {
                if to != from {
                    self.edges.push(Edge::new(from, to, kind));
                }
                continue;
            }
            if !(r.is_data_store() && (self.free(r.port) || self.down.contains_key(&r.port))) {
                continue;
            }
            let d = self.down.entry(r.port).or_default();
            d.kind = d.kind.or(Some(r.kind));
            d.named_by.insert(from_name.to_string());
            if d.host.is_empty() {
                d.host = connect_host(&r.host);
            }
            if let Some(db) = &r.database {
                d.databases.insert(db.clone());
            }
            self.edges.push(Edge::new(from, &target, kind));
        }
    }
}

/// Role (primary or replica) and databases of each running PostgreSQL, and one
/// `postgres-database` resource per database of every PostgreSQL on the map.
fn postgres_roles_and_databases(
    s: &Snapshot,
    key_of: &HashMap<u32, String>,
    named: &HashMap<String, BTreeSet<String>>,
    inv: &mut Inventory,
) {
    for (pid, key) in key_of {
        let Some(r) = inv.resources.iter_mut().find(|r| &r.key == key) else {
            continue;
        };
        if r.kind != "postgres" {
            continue;
        }
        let facts = s.postgres.get(pid).cloned().unwrap_or_default();
        let walreceiver = s.procs.values().any(|c| {
            c.ppid == *pid
                && c.args
                    .first()
                    .is_some_and(|a| a.starts_with("postgres: walreceiver"))
        });
        let role = if facts.standby || walreceiver {
            "replica"
        } else {
            "primary"
        };
        r.labels.insert("role".into(), role.into());
        r.properties.insert("role".into(), role.into());
        let mut dbs: BTreeSet<String> = facts.databases.iter().cloned().collect();
        dbs.extend(s.procs.values().filter(|c| c.ppid == *pid).filter_map(|c| {
            c.args
                .first()
                .and_then(|t| super::postgres::backend_database(t))
        }));
        if !facts.catalog_read {
            dbs.extend(named.get(key).cloned().unwrap_or_default());
        }
        r.properties.insert(
            "databases".into(),
            dbs.into_iter().collect::<Vec<_>>().into(),
        );
    }
    // Down servers got their databases from their clients already.
    let servers: Vec<Resource> = inv
        .resources
        .iter()
        .filter(|r| r.kind == "postgres" && !r.properties.contains_key("external"))
        .cloned()
        .collect();
    for server in servers {
        let dbs: Vec<String> = server
            .properties
            .get("databases")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .unwrap_or_default();
        for db in dbs.into_iter().filter(|d| !super::postgres::is_template(d)) {
            let key = format!("pgdb:{}/{db}", server.key);
            let mut r = Resource::new(&key, POSTGRES_DATABASE, format!("{}-{db}", server.name))
                .with_prop("database", db.clone())
                .with_prop("server", server.name.clone());
            for k in ["host", "port"] {
                if let Some(val) = server.properties.get(k) {
                    r.properties.insert(k.into(), val.clone());
                }
            }
            if let Some(role) = server.labels.get("role") {
                r.labels.insert("role".into(), role.clone());
            }
            r.sources.push(SOURCE.into());
            inv.edges
                .push(Edge::new(&key, &server.key, EdgeKind::RunsOn));
            inv.resources.push(r);
        }
    }
}

fn split_host_port(u: &str) -> Option<(&str, u16)> {
    u.rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
}

fn local_port(u: &str) -> Option<u16> {
    split_host_port(u)
        .filter(|(h, _)| is_local_host(h))
        .map(|(_, p)| p)
}
