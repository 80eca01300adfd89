//! Servers that configuration names but that nothing serves right now: down, restarting or
//! crash-looping. They stay on the map under the name and kind they have when up, with
//! `status.health = "down"` (pure; part of `build`).

use super::build::{Mapped, View};
use super::classify::{classify, command_proc, is_specific, monitors};
use super::evidence::Reference;
use super::{SOURCE, procfs};
use crate::{connect_host, endpoint_key, is_local_host};
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource, STATUS};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The program a supervisor's command runs.
#[derive(Debug)]
struct Program {
    kind: &'static str,
    /// Base of the resource name.
    base: String,
    args: Vec<String>,
}

/// A server known from configuration that nothing listens for right now.
#[derive(Debug, Default)]
struct Down {
    kind: Option<&'static str>,
    /// When a supervisor's command says what runs there.
    program: Option<Program>,
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

/// What the configuration pass found besides resources and edges.
pub(super) struct Configured {
    /// Databases clients name, by server key.
    pub named: HashMap<String, BTreeSet<String>>,
    /// Local ports nginx proxies HTTP to.
    pub http_ports: BTreeSet<u16>,
}

/// Adds the servers configuration names that do not listen, and the edges configuration
/// says exist (who uses which server, up or not).
pub(super) fn configured(v: &View<'_>, m: &Mapped, inv: &mut Inventory) -> Configured {
    let s = v.s;
    // Servers configured but not listening now.
    let mut links = Links {
        owner_port: &m.owner_port,
        occupied: &m.occupied,
        key_of: &m.key_of,
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
                d.program = Some(Program {
                    kind,
                    base: base.clone(),
                    args: sv.args.clone(),
                });
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
                if m.key_of.values().any(|k| k == &key) {
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
                inv.edges
                    .push(Edge::new(&key, &m.host_key, EdgeKind::RunsOn));
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
        if let Some(root) = m.attribute(v, *pid) {
            by_root
                .entry(root)
                .or_default()
                .extend(v.references(*pid, f));
        }
    }
    for (root, refs) in &by_root {
        let key = &m.key_of[root];
        let name = inv
            .resources
            .iter()
            .find(|r| &r.key == key)
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let refs: Vec<&Reference> = refs.iter().copied().collect();
        links.add(key, &name, &refs, monitors(m.kind_of[root]), None);
    }
    // A standby's primary: a PostgreSQL server, and a primary, up or not.
    for (pid, pg) in &s.postgres {
        let (Some(up), Some(from)) = (&pg.upstream, m.key_of.get(pid)) else {
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
            (Some(p), Some(dk)) if !is_specific(p.kind) => (dk, dk.to_string()),
            (Some(p), _) => (p.kind, p.base.clone()),
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
        if let Some(p) = &d.program {
            r.properties.insert("exe".into(), p.args[0].clone().into());
            r.properties.insert("program".into(), p.base.clone().into());
            r.properties
                .insert("cmdline".into(), procfs::redact_cmdline(&p.args).into());
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
        inv.edges
            .push(Edge::new(&key, &m.host_key, EdgeKind::RunsOn));
        inv.resources.push(r);
    }
    Configured { named, http_ports }
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

fn local_port(u: &str) -> Option<u16> {
    u.rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .filter(|(h, _)| is_local_host(h))
        .map(|(_, p)| p)
}
