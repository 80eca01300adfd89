//! The map as stored between discoveries, and folding a discovery's findings into it.

use super::{Edge, Inventory, Map, Resource};
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A resource as stored: with when it was first and last seen, and whether it is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResource {
    #[serde(flatten)]
    pub resource: Resource,
    pub stale: bool,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEdge {
    #[serde(flatten)]
    pub edge: Edge,
    pub last_seen: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredMap {
    pub resources: Vec<StoredResource>,
    pub edges: Vec<StoredEdge>,
}

impl StoredMap {
    /// The live part (stale resources and their edges left out) as a queryable Map.
    pub fn live(&self) -> Map {
        let resources: Vec<Resource> = self
            .resources
            .iter()
            .filter(|r| !r.stale)
            .map(|r| r.resource.clone())
            .collect();
        let edges = self.edges.iter().map(|e| e.edge.clone()).collect();
        Map::new(Inventory::merge([Inventory { resources, edges }]))
    }
}

/// What a discovery changed in the stored map.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MapDiff {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub retired: Vec<String>,
    pub edges_added: Vec<Edge>,
    pub edges_removed: Vec<Edge>,
}

impl MapDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.retired.is_empty()
            && self.edges_added.is_empty()
            && self.edges_removed.is_empty()
    }
}

/// Observed state (a target's health, a pod's phase, which alerts fire) lives under the
/// `status` property: it is stored, but a change of status alone is not a change of the map.
pub const STATUS: &str = "status";

fn same_structure(a: &Resource, b: &Resource) -> bool {
    let strip = |r: &Resource| {
        let mut p = r.properties.clone();
        p.remove(STATUS);
        p
    };
    a.key == b.key
        && a.kind == b.kind
        && a.name == b.name
        && a.labels == b.labels
        && a.aliases == b.aliases
        && a.sources == b.sources
        && strip(a) == strip(b)
}

/// How long what was seen stays on the map after it was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// An edge whose connection is not seen again (a pool's idle connection is still one).
    pub edge_ttl_ms: i64,
    /// A resource that was seen running (its status carried a `pid`) and that no indexer
    /// reports any more: it stays on the map, as down, this long before it is retired.
    pub down_ttl_ms: i64,
}

/// Was it seen running (a process with a pid), rather than known from configuration only?
fn observed(r: &Resource) -> bool {
    r.properties
        .get(STATUS)
        .is_some_and(|s| s.get("pid").is_some() || s.get("last_pid").is_some())
}

/// A resource that was seen running is down now: it keeps everything it was known by (kind,
/// name, the properties read from its process), with the new observed state.
fn still_known(prev: &Resource, mut now: Resource) -> Resource {
    let mut kept = prev.clone();
    let mut status = now
        .properties
        .remove(STATUS)
        .filter(|s| s.is_object())
        .unwrap_or_else(|| serde_json::json!({}));
    if status.get("health").is_none() {
        status["health"] = "down".into();
    }
    kept.properties.insert(STATUS.into(), status);
    for s in now.sources {
        if !kept.sources.contains(&s) {
            kept.sources.push(s);
        }
    }
    kept.sources.sort();
    kept
}

/// Folds a discovery's findings into the stored map.
///
/// - Found resources are upserted (first_seen kept) and revived if stale. One that was seen
///   running before and is now only known from configuration or a scrape target (not running)
///   keeps its kind and name: a crash does not rename it.
/// - A stored resource not found is marked stale only if one of the indexers that reported it
///   completed this time (`scanned`); an unreachable cluster retires nothing. One that was seen
///   running stays live, as down, for `down_ttl_ms` after it was last seen.
/// - Edges are sticky for `edge_ttl_ms`: a connection seen a minute ago is still a dependency
///   even if it was idle during this scan. Edges touching a stale resource are dropped.
pub fn reconcile(
    old: &StoredMap,
    found: Inventory,
    scanned: &BTreeSet<String>,
    now: Timestamp,
    retention: Retention,
) -> (StoredMap, MapDiff) {
    let mut diff = MapDiff::default();
    let old_by_key: HashMap<&str, &StoredResource> = old
        .resources
        .iter()
        .map(|r| (r.resource.key.as_str(), r))
        .collect();
    let found_keys: BTreeSet<String> = found.resources.iter().map(|r| r.key.clone()).collect();
    let mut resources = Vec::with_capacity(found.resources.len() + old.resources.len());
    for r in found.resources {
        match old_by_key.get(r.key.as_str()) {
            None => {
                diff.added.push(r.key.clone());
                resources.push(StoredResource {
                    resource: r,
                    stale: false,
                    first_seen: now,
                    last_seen: now,
                });
            }
            Some(prev) => {
                let r = if !prev.stale && observed(&prev.resource) && !observed(&r) {
                    still_known(&prev.resource, r)
                } else {
                    r
                };
                if prev.stale || !same_structure(&prev.resource, &r) {
                    diff.changed.push(r.key.clone());
                }
                resources.push(StoredResource {
                    resource: r,
                    stale: false,
                    first_seen: prev.first_seen,
                    last_seen: now,
                });
            }
        }
    }
    for prev in &old.resources {
        if found_keys.contains(&prev.resource.key) {
            continue;
        }
        let mut kept = prev.clone();
        if !prev.stale && prev.resource.sources.iter().any(|s| scanned.contains(s)) {
            if observed(&prev.resource) && now.0 - prev.last_seen.0 < retention.down_ttl_ms {
                let mut status = serde_json::json!({
                    "health": "down",
                    "reason": format!("not seen running since {}", prev.last_seen),
                });
                if let Some(pid) = prev
                    .resource
                    .properties
                    .get(STATUS)
                    .and_then(|s| s.get("pid").or_else(|| s.get("last_pid")))
                {
                    status["last_pid"] = pid.clone();
                }
                kept.resource.properties.insert(STATUS.into(), status);
            } else {
                kept.stale = true;
                diff.retired.push(prev.resource.key.clone());
            }
        }
        resources.push(kept);
    }
    resources.sort_by(|a, b| a.resource.key.cmp(&b.resource.key));

    let live: BTreeSet<&str> = resources
        .iter()
        .filter(|r| !r.stale)
        .map(|r| r.resource.key.as_str())
        .collect();
    let mut edges: BTreeMap<Edge, Timestamp> = BTreeMap::new();
    let cutoff = now.0 - retention.edge_ttl_ms;
    for e in &old.edges {
        if e.last_seen.0 >= cutoff
            && live.contains(e.edge.from.as_str())
            && live.contains(e.edge.to.as_str())
        {
            edges.insert(e.edge.clone(), e.last_seen);
        }
    }
    for e in found.edges {
        edges.insert(e, now);
    }
    let old_edges: BTreeSet<&Edge> = old.edges.iter().map(|e| &e.edge).collect();
    diff.edges_added = edges
        .keys()
        .filter(|e| !old_edges.contains(e))
        .cloned()
        .collect();
    diff.edges_removed = old
        .edges
        .iter()
        .filter(|e| !edges.contains_key(&e.edge))
        .map(|e| e.edge.clone())
        .collect();
    let edges = edges
        .into_iter()
        .map(|(edge, last_seen)| StoredEdge { edge, last_seen })
        .collect();
    (StoredMap { resources, edges }, diff)
}

#[cfg(test)]
mod reconcile_tests {
    use super::*;
    use crate::map::EdgeKind;

    fn ttl(edge_ttl_ms: i64) -> Retention {
        Retention {
            edge_ttl_ms,
            down_ttl_ms: 0,
        }
    }

    fn found(keys: &[&str], edges: &[(&str, &str)]) -> Inventory {
        Inventory {
            resources: keys
                .iter()
                .map(|k| {
                    let mut r = Resource::new(*k, "service", *k);
                    r.sources.push("host".into());
                    r
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(a, b)| Edge::new(*a, *b, EdgeKind::DependsOn))
                .collect(),
        }
    }

    #[test]
    fn twice_is_a_noop_and_idle_edges_stick() {
        let scanned: BTreeSet<String> = ["host".to_string()].into();
        let (m1, d1) = reconcile(
            &StoredMap::default(),
            found(&["a", "b"], &[("a", "b")]),
            &scanned,
            Timestamp(0),
            ttl(1000),
        );
        assert_eq!(d1.added.len(), 2);
        assert_eq!(d1.edges_added.len(), 1);
        let (m2, d2) = reconcile(
            &m1,
            found(&["a", "b"], &[("a", "b")]),
            &scanned,
            Timestamp(10),
            ttl(1000),
        );
        assert!(d2.is_empty(), "{d2:?}");
        // The connection was idle during this scan: still an edge within the ttl...
        let (m3, d3) = reconcile(
            &m2,
            found(&["a", "b"], &[]),
            &scanned,
            Timestamp(500),
            ttl(1000),
        );
        assert!(d3.is_empty());
        assert_eq!(m3.edges.len(), 1);
        // ...and gone after it.
        let (_, d4) = reconcile(
            &m3,
            found(&["a", "b"], &[]),
            &scanned,
            Timestamp(2000),
            ttl(1000),
        );
        assert_eq!(d4.edges_removed.len(), 1);
    }

    #[test]
    fn a_status_change_is_stored_but_is_no_change() {
        let scanned: BTreeSet<String> = ["host".to_string()].into();
        let with = |health: &str| {
            let mut inv = found(&["a"], &[]);
            inv.resources[0]
                .properties
                .insert(STATUS.into(), serde_json::json!({"health": health}));
            inv
        };
        let (m1, _) = reconcile(
            &StoredMap::default(),
            with("up"),
            &scanned,
            Timestamp(0),
            ttl(1000),
        );
        let (m2, d) = reconcile(&m1, with("down"), &scanned, Timestamp(1), ttl(1000));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            m2.resources[0].resource.properties[STATUS]["health"],
            "down"
        );
        let mut renamed = with("down");
        renamed.resources[0]
            .properties
            .insert("port".into(), 1.into());
        assert_eq!(
            reconcile(&m2, renamed, &scanned, Timestamp(2), ttl(1000))
                .1
                .changed,
            vec!["a"]
        );
    }

    #[test]
    fn vanished_resources_go_stale_only_for_their_indexer() {
        let host: BTreeSet<String> = ["host".to_string()].into();
        let k8s: BTreeSet<String> = ["kubernetes".to_string()].into();
        let (m1, _) = reconcile(
            &StoredMap::default(),
            found(&["a", "b"], &[("a", "b")]),
            &host,
            Timestamp(0),
            ttl(1000),
        );
        let (m2, d2) = reconcile(&m1, found(&["a"], &[]), &k8s, Timestamp(1), ttl(1000));
        assert!(d2.retired.is_empty());
        assert!(m2.resources.iter().all(|r| !r.stale));
        let (m3, d3) = reconcile(&m1, found(&["a"], &[]), &host, Timestamp(1), ttl(1000));
        assert_eq!(d3.retired, vec!["b"]);
        assert!(m3.edges.is_empty(), "edges to a stale resource are dropped");
        assert_eq!(m3.live().resources().len(), 1);
        let (m4, d4) = reconcile(&m3, found(&["a", "b"], &[]), &host, Timestamp(2), ttl(1000));
        assert_eq!(d4.changed, vec!["b"], "revived");
        assert_eq!(m4.resources[1].first_seen, Timestamp(0));
    }

    fn running(key: &str, kind: &str, name: &str, pid: u32) -> Resource {
        let mut r =
            Resource::new(key, kind, name).with_prop(STATUS, serde_json::json!({"pid": pid}));
        r.sources.push("host".into());
        r
    }

    #[test]
    fn a_server_seen_running_stays_as_down_until_its_ttl() {
        let host: BTreeSet<String> = ["host".to_string()].into();
        let keep = Retention {
            edge_ttl_ms: 10_000,
            down_ttl_ms: 5000,
        };
        let seen = Inventory {
            resources: vec![
                running("tcp:localhost:6379", "redis", "redis-6379", 42),
                running("tcp:localhost:80", "service", "app-80", 7),
            ],
            edges: vec![Edge::new(
                "tcp:localhost:80",
                "tcp:localhost:6379",
                EdgeKind::DependsOn,
            )],
        };
        let (m1, _) = reconcile(&StoredMap::default(), seen, &host, Timestamp(0), keep);
        let only_app = Inventory {
            resources: vec![running("tcp:localhost:80", "service", "app-80", 7)],
            edges: vec![],
        };
        let (m2, d2) = reconcile(&m1, only_app.clone(), &host, Timestamp(3000), keep);
        assert!(d2.retired.is_empty(), "{d2:?}");
        let redis = m2
            .resources
            .iter()
            .find(|r| r.resource.kind == "redis")
            .unwrap();
        assert!(!redis.stale);
        assert_eq!(redis.resource.properties[STATUS]["health"], "down");
        assert_eq!(redis.resource.properties[STATUS]["last_pid"], 42);
        assert_eq!(m2.edges.len(), 1, "its dependents still depend on it");
        // Still gone after the ttl: retired.
        let (m3, d3) = reconcile(&m2, only_app, &host, Timestamp(6000), keep);
        assert_eq!(d3.retired, vec!["tcp:localhost:6379"]);
        assert!(
            m3.resources
                .iter()
                .find(|r| r.resource.kind == "redis")
                .unwrap()
                .stale
        );
    }

    #[test]
    fn a_crash_does_not_rename_what_was_seen_running() {
        let host_and_prom: BTreeSet<String> = ["host".to_string(), "prometheus".to_string()].into();
        let keep = Retention {
            edge_ttl_ms: 1000,
            down_ttl_ms: 5000,
        };
        let up = running("tcp:localhost:9121", "exporter", "redis-exporter-9121", 9);
        let (m1, _) = reconcile(
            &StoredMap::default(),
            Inventory {
                resources: vec![up],
                edges: vec![],
            },
            &host_and_prom,
            Timestamp(0),
            keep,
        );
        // Now only the scrape target says anything about that address.
        let mut target = Resource::new("tcp:localhost:9121", "scrape-target", "redis-9121")
            .with_prop(STATUS, serde_json::json!({"health": "down"}));
        target.sources.push("prometheus".into());
        let (m2, _) = reconcile(
            &m1,
            Inventory {
                resources: vec![target],
                edges: vec![],
            },
            &host_and_prom,
            Timestamp(1),
            keep,
        );
        let r = &m2.resources[0].resource;
        assert_eq!(
            (r.kind.as_str(), r.name.as_str()),
            ("exporter", "redis-exporter-9121")
        );
        assert_eq!(r.properties[STATUS]["health"], "down");
        assert_eq!(r.sources, vec!["host", "prometheus"]);
    }
}
