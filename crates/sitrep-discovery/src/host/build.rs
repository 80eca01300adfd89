//! The host's inventory from a snapshot (pure).
//!
//! What runs: every process that listens becomes a resource (its children belong to it), and
//! so does every long-running process that connects to one or is configured (command line,
//! configuration file) to use a data store. What is configured: the DSNs and addresses those
//! processes name, a standby's `primary_conninfo`, nginx's upstreams and the commands
//! supervisors run keep a server on the map while it is down, under the name and kind it has
//! when it is up, with `status.health = "down"`.

use super::classify::{classify, is_specific, monitors, well_known};
use super::down::{self, Configured};
use super::postgres;
use super::procfs::{self, SockAddr, TCP_ESTABLISHED, TCP_LISTEN};
use super::{SOURCE, Snapshot};
use crate::config::HostConfig;
use crate::{connect_host, endpoint_key, is_local_host};
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource, STATUS};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Kind of the resource a database of a PostgreSQL server becomes.
pub const POSTGRES_DATABASE: &str = "postgres-database";

/// What the processes' own sockets mapped, for the configuration pass (`down`).
pub(super) struct Mapped {
    /// Listening root processes and their addresses.
    pub roots: BTreeMap<u32, Vec<SockAddr>>,
    /// Processes that only connect out, or are configured to use a data store.
    pub client_roots: BTreeSet<u32>,
    /// Local port → the root process listening there.
    pub owner_port: HashMap<u16, u32>,
    /// Local ports something listens on, mapped or not (excluded, too young to tell).
    pub occupied: BTreeSet<u16>,
    pub key_of: HashMap<u32, String>,
    pub kind_of: HashMap<u32, &'static str>,
    pub host_key: String,
}

impl Mapped {
    /// The resource process a process belongs to (itself or an ancestor).
    pub fn attribute(&self, v: &View<'_>, pid: u32) -> Option<u32> {
        v.ancestors(pid)
            .into_iter()
            .find(|a| self.roots.contains_key(a) || self.client_roots.contains(a))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Local(u32),
    Remote(SockAddr),
}

pub(super) struct View<'a> {
    pub s: &'a Snapshot,
    pub cfg: &'a HostConfig,
}

impl View<'_> {
    fn parent(&self, pid: u32) -> Option<u32> {
        self.s.procs.get(&pid).map(|p| p.ppid)
    }
    pub(super) fn ancestors(&self, pid: u32) -> Vec<u32> {
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
    pub(super) fn own(&self, pid: u32) -> bool {
        self.ancestors(pid).iter().any(|a| {
            *a == self.s.self_pid || self.s.procs.get(a).is_some_and(|p| p.exe == "sitrep")
        })
    }
    /// What a process's configuration names. A server sitrep knows (PostgreSQL, Redis, nginx,
    /// ...) takes its configuration from its files and command line; its environment is only
    /// what the shell or supervisor that started it exported (a restart from an operator's
    /// shell would make it "depend" on everything that shell knew).
    pub(super) fn references<'f>(
        &self,
        pid: u32,
        facts: &'f super::evidence::Facts,
    ) -> impl Iterator<Item = &'f super::evidence::Reference> + 'f {
        let known_server = self.s.procs.get(&pid).is_some_and(|p| {
            let kind = classify(p, false).0;
            is_specific(kind) && kind != "exporter"
        });
        facts
            .references
            .iter()
            .filter(move |r| !(known_server && r.origin.starts_with("env ")))
    }
    pub(super) fn excluded(&self, pid: u32) -> bool {
        self.own(pid)
            || self.s.procs.get(&pid).is_some_and(|p| {
                self.cfg.exclude_users.contains(&p.user)
                    || self.name_excluded(&p.exe, &classify(p, false).1)
            })
    }
    pub(super) fn name_excluded(&self, exe: &str, base: &str) -> bool {
        self.cfg
            .exclude_processes
            .iter()
            .any(|x| x == exe || x == base)
    }
    pub(super) fn old_enough(&self, pid: u32) -> bool {
        self.s
            .procs
            .get(&pid)
            .is_some_and(|p| p.age_s >= self.cfg.min_age_s)
    }
    /// The process running the command a supervisor runs, if it runs now.
    pub(super) fn running(&self, cmd: &[String]) -> Option<u32> {
        self.s
            .procs
            .values()
            .filter(|p| p.args == cmd || (p.exe_path == cmd[0] && p.args.get(1..) == cmd.get(1..)))
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
                v.references(*pid, f)
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

    let mapped = Mapped {
        owner_port: roots
            .iter()
            .flat_map(|(pid, addrs)| {
                addrs
                    .iter()
                    .filter(|a| a.is_local())
                    .map(move |a| (a.port, *pid))
            })
            .collect(),
        roots,
        client_roots,
        occupied,
        key_of,
        kind_of,
        host_key,
    };
    let Configured { named, http_ports } = down::configured(&v, &mapped, &mut inv);
    let Mapped {
        key_of, kind_of, ..
    } = mapped;

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
    postgres::roles_and_databases(s, &key_of, &named, &mut inv);

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

fn split_host_port(u: &str) -> Option<(&str, u16)> {
    u.rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
}

fn local_port(u: &str) -> Option<u16> {
    split_host_port(u)
        .filter(|(h, _)| is_local_host(h))
        .map(|(_, p)| p)
}
