//! The Map: discovered resources, the edges between them, and the queries investigations
//! make over it (neighbours, upstream and downstream paths, loose-name lookup).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;

/// Something discovered. `key` is its identity across indexers and runs (two indexers that
/// see the same PostgreSQL produce the same key, and their findings merge); `name` is what
/// people and SLXs call it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub key: String,
    /// `postgres`, `redis`, `nginx`, `http-service`, `process`, `k8s-pod`, ...
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Other names people use for it ("orders-db", a Prometheus `resource` label).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The indexers that reported it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl Resource {
    pub fn new(key: impl Into<String>, kind: impl Into<String>, name: impl Into<String>) -> Self {
        Resource {
            key: key.into(),
            kind: kind.into(),
            name: name.into(),
            labels: BTreeMap::new(),
            properties: serde_json::Map::new(),
            aliases: vec![],
            sources: vec![],
        }
    }

    pub fn with_prop(mut self, k: &str, v: impl Into<serde_json::Value>) -> Self {
        self.properties.insert(k.to_string(), v.into());
        self
    }

    pub fn prop_str(&self, k: &str) -> Option<&str> {
        self.properties.get(k).and_then(|v| v.as_str())
    }

    /// Folds what another indexer saw of the same resource into this one. The first
    /// indexer's kind and name win unless it only knew a generic kind.
    fn absorb(&mut self, mut other: Resource) {
        // Prometheus scrapes over HTTP: a listener it scrapes speaks HTTP.
        let pair = |x: &str, y: &str, a: &str, b: &str| (x == a && y == b) || (x == b && y == a);
        if pair(&self.kind, &other.kind, "service", "scrape-target") {
            self.kind = "http-service".into();
            other.kind = "http-service".into();
        }
        // An exporter is named after the job that scrapes it, which Prometheus knows whether
        // the exporter runs or not (its program name stays an alias).
        let job_names_exporter = pair(&self.kind, &other.kind, "exporter", "scrape-target");
        if job_names_exporter {
            let (target, exporter) = if self.kind == "scrape-target" {
                (self.name.clone(), other.name.clone())
            } else {
                (other.name.clone(), self.name.clone())
            };
            self.kind = "exporter".into();
            self.name = target;
            push_unique(&mut self.aliases, exporter);
            other.kind = "exporter".into();
            other.name = self.name.clone();
        }
        if kind_rank(&other.kind) > kind_rank(&self.kind) {
            if self.name != other.name {
                push_unique(&mut self.aliases, std::mem::take(&mut self.name));
            }
            self.kind = other.kind;
            self.name = other.name;
        } else if other.name != self.name {
            push_unique(&mut self.aliases, other.name);
        }
        for (k, v) in other.labels {
            self.labels.entry(k).or_insert(v);
        }
        for (k, v) in other.properties {
            self.properties.entry(k).or_insert(v);
        }
        for a in other.aliases {
            if a != self.name {
                push_unique(&mut self.aliases, a);
            }
        }
        for s in other.sources {
            push_unique(&mut self.sources, s);
        }
    }
}

/// How much a kind says: a specific server kind beats an HTTP service, which beats a bare
/// process or listener, which beats an address someone scrapes or declared.
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "endpoint" | "scrape-target" => 0,
        "process" | "service" => 1,
        "http-service" => 2,
        _ => 3,
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !s.is_empty() && !v.contains(&s) {
        v.push(s);
    }
}

macro_rules! edge_kinds {
    ($($variant:ident = $s:literal),+ $(,)?) => {
        /// How two resources relate. `from` depends on / runs on / is part of / is owned by... `to`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum EdgeKind { $($variant),+ }
        impl EdgeKind {
            pub fn as_str(self) -> &'static str { match self { $(EdgeKind::$variant => $s),+ } }
        }
        impl FromStr for EdgeKind {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(EdgeKind::$variant),)+
                    other => Err(format!("unknown edge kind {other:?} (expected {})", [$($s),+].join(", "))),
                }
            }
        }
    };
}

edge_kinds!(
    DependsOn = "depends-on",
    RunsOn = "runs-on",
    PartOf = "part-of",
    Owns = "owns",
    Monitors = "monitors",
);

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EdgeKind {
    /// Edges a failure travels along: if `to` breaks, `from` may break with it.
    pub fn propagates_failure(self) -> bool {
        matches!(
            self,
            EdgeKind::DependsOn | EdgeKind::RunsOn | EdgeKind::Owns
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
}

impl Edge {
    pub fn new(from: impl Into<String>, to: impl Into<String>, kind: EdgeKind) -> Self {
        Edge {
            from: from.into(),
            to: to.into(),
            kind,
        }
    }
}

/// What one or more indexers found. Merging is by resource key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub resources: Vec<Resource>,
    pub edges: Vec<Edge>,
}

impl Inventory {
    /// Merges inventories: resources with one key become one (the most specific kind wins; on
    /// a tie the earlier part names it, so pass parts in a fixed order); edges are deduplicated and
    /// edges whose ends are unknown are dropped (an indexer may point at something outside
    /// what was scanned). Output is sorted, so equal findings give equal inventories.
    pub fn merge(parts: impl IntoIterator<Item = Inventory>) -> Inventory {
        let mut by_key: BTreeMap<String, Resource> = BTreeMap::new();
        let mut edges = BTreeSet::new();
        for part in parts {
            for r in part.resources {
                match by_key.get_mut(&r.key) {
                    Some(existing) => existing.absorb(r),
                    None => {
                        by_key.insert(r.key.clone(), r);
                    }
                }
            }
            edges.extend(part.edges);
        }
        let edges = edges
            .into_iter()
            .filter(|e| {
                e.from != e.to && by_key.contains_key(&e.from) && by_key.contains_key(&e.to)
            })
            .collect();
        let mut resources: Vec<Resource> = by_key.into_values().collect();
        for r in &mut resources {
            r.aliases.sort();
            r.sources.sort();
        }
        Inventory { resources, edges }
    }
}

/// A step of a path: the edge taken and the resource reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop<'a> {
    pub edge: &'a Edge,
    pub resource: &'a Resource,
}

/// Which way to walk: downstream follows `from → to` (what this needs), upstream the reverse
/// (what needs this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Downstream,
    Upstream,
}

/// The Map with indexes for the queries; built once per load.
#[derive(Debug, Clone)]
pub struct Map {
    resources: Vec<Resource>,
    edges: Vec<Edge>,
    by_key: HashMap<String, usize>,
    out: Vec<Vec<usize>>,
    inc: Vec<Vec<usize>>,
}

impl Map {
    pub fn new(inventory: Inventory) -> Map {
        let Inventory { resources, edges } = inventory;
        let by_key: HashMap<String, usize> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key.clone(), i))
            .collect();
        let mut out = vec![vec![]; resources.len()];
        let mut inc = vec![vec![]; resources.len()];
        for (ei, e) in edges.iter().enumerate() {
            if let (Some(&f), Some(&t)) = (by_key.get(&e.from), by_key.get(&e.to)) {
                out[f].push(ei);
                inc[t].push(ei);
            }
        }
        Map {
            resources,
            edges,
            by_key,
            out,
            inc,
        }
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }
    pub fn get(&self, key: &str) -> Option<&Resource> {
        self.by_key.get(key).map(|&i| &self.resources[i])
    }

    /// Every resource one edge away, either direction.
    pub fn neighbours(&self, key: &str) -> Vec<Hop<'_>> {
        let Some(&i) = self.by_key.get(key) else {
            return vec![];
        };
        let mut hops: Vec<Hop<'_>> = self.out[i]
            .iter()
            .map(|&e| (e, &self.edges[e].to))
            .chain(self.inc[i].iter().map(|&e| (e, &self.edges[e].from)))
            .map(|(e, other)| Hop {
                edge: &self.edges[e],
                resource: &self.resources[self.by_key[other]],
            })
            .collect();
        hops.sort_by(|a, b| a.resource.name.cmp(&b.resource.name));
        hops
    }

    /// Every simple path from `key` along failure-propagating edges, breadth first, at most
    /// `max_depth` hops long and `max_paths` in number. Paths end where nothing more follows.
    pub fn paths(
        &self,
        key: &str,
        dir: Direction,
        max_depth: usize,
        max_paths: usize,
    ) -> Vec<Vec<Hop<'_>>> {
        let Some(&start) = self.by_key.get(key) else {
            return vec![];
        };
        let mut done = vec![];
        let mut queue: VecDeque<Vec<usize>> = VecDeque::from([vec![]]);
        while let Some(path) = queue.pop_front() {
            if done.len() >= max_paths {
                break;
            }
            let at = path.last().map_or(start, |&e| self.far_end(e, dir));
            let next: Vec<usize> = self
                .step(at, dir)
                .filter(|&e| {
                    let n = self.far_end(e, dir);
                    n != start && !path.iter().any(|&p| self.far_end(p, dir) == n)
                })
                .collect();
            if next.is_empty() || path.len() >= max_depth {
                if !path.is_empty() {
                    done.push(path);
                }
                continue;
            }
            for e in next {
                let mut p = path.clone();
                p.push(e);
                queue.push_back(p);
            }
        }
        done.into_iter()
            .map(|p| {
                p.into_iter()
                    .map(|e| Hop {
                        edge: &self.edges[e],
                        resource: &self.resources[self.far_end(e, dir)],
                    })
                    .collect()
            })
            .collect()
    }

    fn step(&self, at: usize, dir: Direction) -> impl Iterator<Item = usize> + '_ {
        let list = match dir {
            Direction::Downstream => &self.out[at],
            Direction::Upstream => &self.inc[at],
        };
        list.iter()
            .copied()
            .filter(|&e| self.edges[e].kind.propagates_failure())
    }

    fn far_end(&self, e: usize, dir: Direction) -> usize {
        let edge = &self.edges[e];
        let k = match dir {
            Direction::Downstream => &edge.to,
            Direction::Upstream => &edge.from,
        };
        self.by_key[k]
    }

    /// Resources matching the loose names people use ("checkout", "the orders db", "redis"),
    /// best first. Every query word must match something about the resource (its name,
    /// aliases, kind, labels, or a word for its kind such as "db" or "cache"); exact name
    /// matches rank first.
    pub fn lookup(&self, query: &str) -> Vec<&Resource> {
        let words: Vec<String> = words(query)
            .into_iter()
            .filter(|w| !STOP_WORDS.contains(&w.as_str()))
            .collect();
        if words.is_empty() {
            return vec![];
        }
        let q = query.trim().to_lowercase();
        let mut scored: Vec<(u32, &Resource)> = self
            .resources
            .iter()
            .filter_map(|r| score(r, &q, &words).map(|s| (s, r)))
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        scored.into_iter().map(|(_, r)| r).collect()
    }
}

const STOP_WORDS: &[&str] = &["the", "a", "an", "our", "my", "of", "on", "in", "for"];

/// Words people use for a kind of resource.
fn kind_words(kind: &str) -> &'static [&'static str] {
    match kind {
        "postgres" => &["db", "database", "pg", "postgresql", "sql"],
        "mysql" => &["db", "database", "mariadb", "sql"],
        "postgres-database" => &["db", "database", "pg", "postgresql", "sql"],
        "redis" => &["cache", "kv"],
        "nginx" => &["proxy", "lb", "web", "ingress", "frontend"],
        "prometheus" => &["monitoring", "metrics", "prom"],
        "alertmanager" => &["alerts", "alerting", "monitoring"],
        "exporter" => &["metrics", "monitoring"],
        "http-service" | "service" => &["service", "app", "api"],
        "process" => &["worker", "job", "app"],
        "http-endpoint" => &["endpoint", "url", "site"],
        "k8s-deployment" | "k8s-statefulset" | "k8s-daemonset" => {
            &["deployment", "app", "workload"]
        }
        "k8s-service" => &["service", "svc"],
        "k8s-pod" => &["pod"],
        "k8s-namespace" => &["namespace", "ns"],
        "k8s-ingress" => &["ingress"],
        "host" => &["host", "machine", "server", "node"],
        _ => &[],
    }
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn score(r: &Resource, query: &str, words_q: &[String]) -> Option<u32> {
    let name = r.name.to_lowercase();
    if name == query || r.aliases.iter().any(|a| a.to_lowercase() == query) {
        return Some(1000);
    }
    let mut name_words = words(&r.name);
    for a in &r.aliases {
        name_words.extend(words(a));
    }
    let mut other_words: Vec<String> = words(&r.kind);
    other_words.extend(kind_words(&r.kind).iter().map(|s| s.to_string()));
    for (k, v) in &r.labels {
        other_words.extend(words(k));
        other_words.extend(words(v));
    }
    for k in [
        "role",
        "namespace",
        "database",
        "job",
        "path",
        "application",
    ] {
        if let Some(v) = r.properties.get(k) {
            match v {
                serde_json::Value::String(s) => other_words.extend(words(s)),
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .for_each(|s| other_words.extend(words(s))),
                _ => {}
            }
        }
    }
    let mut total = 0;
    for w in words_q {
        // A word naming the kind itself ("redis") marks the thing, not a job or dashboard
        // that merely carries the name.
        let kind_bonus = if words(&r.kind).iter().any(|k| k == w) {
            4
        } else {
            0
        };
        let s = kind_bonus
            + if name_words.iter().any(|n| n == w) {
                10
            } else if other_words.iter().any(|n| n == w) {
                5
            } else if w.len() >= 3 && (name.contains(w.as_str())) {
                3
            } else {
                return None;
            };
        total += s;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(key: &str, kind: &str, name: &str) -> Resource {
        Resource::new(key, kind, name)
    }

    fn sample() -> Map {
        let mut pg = res("tcp:localhost:5432", "postgres", "postgres-5432");
        pg.labels.insert("role".into(), "primary".into());
        pg.aliases.push("orders-db".into());
        let inv = Inventory {
            resources: vec![
                res("tcp:localhost:80", "nginx", "nginx-80"),
                res("tcp:localhost:8000", "http-service", "shopfront-8000"),
                pg,
                res("tcp:localhost:6379", "redis", "redis-6379"),
                res("tcp:localhost:9090", "prometheus", "prometheus-9090"),
                res("prom-job:redis", "prometheus-job", "job-redis"),
                res("url:http://localhost/checkout", "http-endpoint", "checkout"),
            ],
            edges: vec![
                Edge::new(
                    "url:http://localhost/checkout",
                    "tcp:localhost:80",
                    EdgeKind::DependsOn,
                ),
                Edge::new(
                    "tcp:localhost:80",
                    "tcp:localhost:8000",
                    EdgeKind::DependsOn,
                ),
                Edge::new(
                    "tcp:localhost:8000",
                    "tcp:localhost:5432",
                    EdgeKind::DependsOn,
                ),
                Edge::new(
                    "tcp:localhost:8000",
                    "tcp:localhost:6379",
                    EdgeKind::DependsOn,
                ),
                Edge::new(
                    "tcp:localhost:9090",
                    "tcp:localhost:8000",
                    EdgeKind::Monitors,
                ),
            ],
        };
        Map::new(Inventory::merge([inv]))
    }

    #[test]
    fn downstream_paths_follow_dependencies_not_monitoring() {
        let m = sample();
        let paths = m.paths(
            "url:http://localhost/checkout",
            Direction::Downstream,
            8,
            50,
        );
        let names: Vec<Vec<&str>> = paths
            .iter()
            .map(|p| p.iter().map(|h| h.resource.name.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["nginx-80", "shopfront-8000", "postgres-5432"],
                vec!["nginx-80", "shopfront-8000", "redis-6379"],
            ]
        );
        let up = m.paths("tcp:localhost:5432", Direction::Upstream, 8, 50);
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].last().unwrap().resource.name, "checkout");
    }

    #[test]
    fn paths_are_bounded_and_survive_cycles() {
        let inv = Inventory {
            resources: vec![
                res("a", "service", "a"),
                res("b", "service", "b"),
                res("c", "service", "c"),
            ],
            edges: vec![
                Edge::new("a", "b", EdgeKind::DependsOn),
                Edge::new("b", "c", EdgeKind::DependsOn),
                Edge::new("c", "a", EdgeKind::DependsOn),
            ],
        };
        let m = Map::new(inv);
        let p = m.paths("a", Direction::Downstream, 8, 10);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].len(), 2);
        assert_eq!(m.paths("a", Direction::Downstream, 1, 10)[0].len(), 1);
    }

    #[test]
    fn neighbours_both_directions() {
        let m = sample();
        let n: Vec<&str> = m
            .neighbours("tcp:localhost:8000")
            .iter()
            .map(|h| h.resource.name.as_str())
            .collect();
        assert_eq!(
            n,
            vec!["nginx-80", "postgres-5432", "prometheus-9090", "redis-6379"]
        );
    }

    #[test]
    fn lookup_by_loose_names() {
        let m = sample();
        let first = |q: &str| m.lookup(q).first().map(|r| r.name.clone());
        assert_eq!(first("redis").as_deref(), Some("redis-6379"));
        assert_eq!(first("the orders db").as_deref(), Some("postgres-5432"));
        assert_eq!(first("checkout").as_deref(), Some("checkout"));
        assert_eq!(first("primary database").as_deref(), Some("postgres-5432"));
        assert_eq!(first("the cache").as_deref(), Some("redis-6379"));
        assert_eq!(first("shopfront").as_deref(), Some("shopfront-8000"));
        assert!(m.lookup("kafka").is_empty());
        assert!(m.lookup("the").is_empty());
    }

    #[test]
    fn prometheus_names_exporters_and_says_who_speaks_http() {
        let src = |mut r: Resource, s: &str| {
            r.sources.push(s.into());
            Inventory {
                resources: vec![r],
                edges: vec![],
            }
        };
        let exporter = res("tcp:localhost:9121", "exporter", "redis-exporter-9121");
        let target = res("tcp:localhost:9121", "scrape-target", "redis-9121");
        for parts in [
            [
                src(exporter.clone(), "host"),
                src(target.clone(), "prometheus"),
            ],
            [
                src(target.clone(), "prometheus"),
                src(exporter.clone(), "host"),
            ],
        ] {
            let m = Inventory::merge(parts);
            let r = &m.resources[0];
            assert_eq!(
                (r.kind.as_str(), r.name.as_str()),
                ("exporter", "redis-9121"),
                "the same whichever indexer came first"
            );
            assert_eq!(r.aliases, vec!["redis-exporter-9121"]);
        }
        let service = res("tcp:localhost:8000", "service", "app-8000");
        let scraped = res("tcp:localhost:8000", "scrape-target", "app-8000");
        let m = Inventory::merge([src(service, "host"), src(scraped, "prometheus")]);
        assert_eq!(m.resources[0].kind, "http-service");
        assert!(m.resources[0].aliases.is_empty());
    }

    #[test]
    fn merge_folds_same_key_and_drops_dangling_edges() {
        let a = Inventory {
            resources: vec![
                res("tcp:localhost:5432", "postgres", "postgres-5432").with_prop("port", 5432),
            ],
            edges: vec![Edge::new(
                "tcp:localhost:5432",
                "nowhere",
                EdgeKind::DependsOn,
            )],
        };
        let mut declared = res("tcp:localhost:5432", "endpoint", "orders-db").with_prop("dsn", "x");
        declared.sources.push("declared".into());
        let m = Inventory::merge([
            a.clone(),
            Inventory {
                resources: vec![declared],
                edges: vec![],
            },
        ]);
        assert_eq!(m.resources.len(), 1);
        let r = &m.resources[0];
        assert_eq!(r.kind, "postgres");
        assert_eq!(r.name, "postgres-5432");
        assert_eq!(r.aliases, vec!["orders-db"]);
        assert_eq!(r.prop_str("dsn"), Some("x"));
        assert!(m.edges.is_empty());
        // Order of arrival does not change the result's kind or name.
        let mut declared2 = res("tcp:localhost:5432", "endpoint", "orders-db");
        declared2.sources.push("declared".into());
        let m2 = Inventory::merge([
            Inventory {
                resources: vec![declared2],
                edges: vec![],
            },
            a,
        ]);
        assert_eq!(m2.resources[0].kind, "postgres");
        assert_eq!(m2.resources[0].name, "postgres-5432");
        assert_eq!(m2.resources[0].aliases, vec!["orders-db"]);
    }
}

mod stored;
pub use stored::{MapDiff, Retention, STATUS, StoredEdge, StoredMap, StoredResource, reconcile};
