//! The Map's views for people and investigations: a resource's neighbourhood, its paths by
//! name, resources a sentence mentions, and lookups by name or alias. Built on `map`'s
//! queries; every edge shows the same shapes.

use crate::map::{Direction, Edge, Map, Resource, StoredMap};
use serde::Serialize;

/// A resource and everything one edge away from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbourhood {
    pub resources: Vec<Resource>,
    pub edges: Vec<Edge>,
}

/// What a resource needs (downstream) and what needs it (upstream), by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paths {
    pub resource: Resource,
    pub downstream: Vec<Vec<String>>,
    pub upstream: Vec<Vec<String>>,
}

impl StoredMap {
    /// Every resource, stale ones too, as a queryable Map.
    pub fn all(&self) -> Map {
        let mut all = self.clone();
        all.resources.iter_mut().for_each(|r| r.stale = false);
        all.live()
    }
}

impl Map {
    pub fn neighbourhood(&self, key: &str) -> Option<Neighbourhood> {
        let r = self.get(key)?;
        let hops = self.neighbours(key);
        let mut resources = vec![r.clone()];
        let mut edges = vec![];
        for h in hops {
            if !resources.iter().any(|x| x.key == h.resource.key) {
                resources.push(h.resource.clone());
            }
            edges.push(h.edge.clone());
        }
        Some(Neighbourhood { resources, edges })
    }

    pub fn path_names(&self, key: &str, max_depth: usize, max_paths: usize) -> Option<Paths> {
        let r = self.get(key)?;
        let names = |dir| -> Vec<Vec<String>> {
            self.paths(key, dir, max_depth, max_paths)
                .iter()
                .map(|p| p.iter().map(|h| h.resource.name.clone()).collect())
                .collect()
        };
        Some(Paths {
            resource: r.clone(),
            downstream: names(Direction::Downstream),
            upstream: names(Direction::Upstream),
        })
    }

    /// The resource with this key, name or alias (exact, case-insensitive for names).
    pub fn by_name(&self, name: &str) -> Option<&Resource> {
        self.get(name).or_else(|| {
            self.resources().iter().find(|r| {
                r.name.eq_ignore_ascii_case(name)
                    || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            })
        })
    }

    /// Resources a sentence names: a name or alias that appears in it as a whole word or
    /// phrase ("why is shopfront-28000 slow?"), longest names first. Kind words ("the
    /// database") are not names; `lookup` handles those.
    pub fn mentioned_in(&self, text: &str) -> Vec<&Resource> {
        let hay = format!(" {} ", normalise(text));
        let mut found: Vec<(usize, &Resource)> = self
            .resources()
            .iter()
            .filter_map(|r| {
                std::iter::once(&r.name)
                    .chain(r.aliases.iter())
                    .map(|n| normalise(n))
                    .filter(|n| n.len() >= 3 && hay.contains(&format!(" {n} ")))
                    .map(|n| n.len())
                    .max()
                    .map(|len| (len, r))
            })
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        found.into_iter().map(|(_, r)| r).collect()
    }
}

/// Lower case, runs of anything but letters, digits, `-`, `.`, `:` and `/` become one space.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_alphanumeric() || "-.:/".contains(c) {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    // A sentence's full stop or colon is not part of the last word.
    out.split(' ')
        .map(|w| w.trim_end_matches(['.', ':']))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use crate::map::{Edge, EdgeKind, Inventory, Map, Resource};

    fn map() -> Map {
        let mut pg = Resource::new("tcp:localhost:5432", "postgres", "postgres-5432");
        pg.aliases.push("orders-db".into());
        Map::new(Inventory {
            resources: vec![
                pg,
                Resource::new("tcp:localhost:8000", "http-service", "shopfront"),
                Resource::new("tcp:localhost:80", "nginx", "nginx-80"),
            ],
            edges: vec![
                Edge::new(
                    "tcp:localhost:8000",
                    "tcp:localhost:5432",
                    EdgeKind::DependsOn,
                ),
                Edge::new(
                    "tcp:localhost:80",
                    "tcp:localhost:8000",
                    EdgeKind::DependsOn,
                ),
            ],
        })
    }

    #[test]
    fn sentences_name_resources_by_whole_names_and_aliases() {
        let m = map();
        let names =
            |t: &str| -> Vec<String> { m.mentioned_in(t).iter().map(|r| r.name.clone()).collect() };
        assert_eq!(names("Why is shopfront slow?"), ["shopfront"]);
        assert_eq!(
            names("orders-db and nginx-80: both down."),
            ["postgres-5432", "nginx-80"]
        );
        assert!(names("the shopfronts are fine").is_empty());
        assert!(names("database errors").is_empty());
    }

    #[test]
    fn neighbourhood_and_paths_by_name() {
        let m = map();
        let n = m.neighbourhood("tcp:localhost:8000").unwrap();
        assert_eq!(n.resources.len(), 3);
        assert_eq!(n.edges.len(), 2);
        let p = m.path_names("tcp:localhost:80", 6, 50).unwrap();
        assert_eq!(
            p.downstream,
            vec![vec!["shopfront".to_string(), "postgres-5432".into()]]
        );
        assert!(p.upstream.is_empty());
        assert_eq!(m.by_name("ORDERS-DB").unwrap().name, "postgres-5432");
    }
}
