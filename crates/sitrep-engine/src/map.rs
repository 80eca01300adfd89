//! Map queries, and finding the resource a URL, DSN or host:port points at.

use crate::views::MapView;
use crate::{EngineError, Result, Sitrep};
use sitrep_core::map::{Map, Resource};
use sitrep_core::map_query::Paths;
use sitrep_store::Store;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct MapQuery {
    /// Only this resource and its neighbours (a loose name works: "the orders db").
    pub around: Option<String>,
    /// Include resources discovery no longer finds.
    pub include_stale: bool,
}

impl Sitrep {
    pub(crate) async fn load_map(&self, include_stale: bool) -> Result<Map> {
        let stored = self.store().await?.load_map(self.workspace()).await?;
        Ok(if include_stale {
            stored.all()
        } else {
            stored.live()
        })
    }

    fn resolve_loose<'m>(map: &'m Map, name: &str) -> Result<&'m Resource> {
        if map.resources().is_empty() {
            return Err(EngineError::Invalid(
                "the map is empty: run discovery first".into(),
            ));
        }
        map.by_name(name)
            .or_else(|| map.lookup(name).first().copied())
            .ok_or_else(|| EngineError::not_found("resource", name, "see the map for names"))
    }

    /// The Map, or the neighbourhood of one resource.
    pub async fn map(&self, q: &MapQuery) -> Result<MapView> {
        let map = self.load_map(q.include_stale).await?;
        match &q.around {
            // Empty until discovery runs.
            None => Ok(MapView {
                resources: map.resources().to_vec(),
                edges: map.edges().to_vec(),
            }),
            Some(name) => {
                let r = Self::resolve_loose(&map, name)?;
                let n = map
                    .neighbourhood(&r.key)
                    .expect("a resource found in the map has a neighbourhood");
                Ok(MapView {
                    resources: n.resources,
                    edges: n.edges,
                })
            }
        }
    }

    /// What a resource needs and what needs it, as paths of names.
    pub async fn map_paths(&self, name: &str, include_stale: bool) -> Result<Paths> {
        let map = self.load_map(include_stale).await?;
        let r = Self::resolve_loose(&map, name)?;
        Ok(map
            .path_names(&r.key, 6, 50)
            .expect("a resource found in the map has paths"))
    }
}

/// What a task's configuration points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub scheme: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// For http(s): the URL without its query.
    pub url: Option<String>,
}

impl Target {
    /// The name a resource gets when the Map does not know the target.
    pub fn label(&self) -> String {
        if let Some(u) = &self.url {
            return u.clone();
        }
        match (&self.scheme, self.port) {
            (Some(s), Some(p)) => format!("{s}://{}:{p}", self.host),
            (None, Some(p)) => format!("{}:{p}", self.host),
            (Some(s), None) => format!("{s}://{}", self.host),
            (None, None) => self.host.clone(),
        }
    }
}

fn parse_url(v: &str) -> Option<Target> {
    let (scheme, rest) = v.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (h, after) = inner.split_once(']')?;
        (
            h.to_string(),
            after.strip_prefix(':').and_then(|p| p.parse().ok()),
        )
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" | "postgresql" => Some(5432),
        "redis" => Some(6379),
        "mysql" => Some(3306),
        _ => None,
    };
    let url = matches!(scheme.as_str(), "http" | "https")
        .then(|| v.split(['?', '#']).next().unwrap_or(v).to_string());
    Some(Target {
        scheme: Some(scheme),
        host,
        port: port.or(default_port),
        url,
    })
}

/// The first URL or DSN among the config values (keys named like `*_DSN`/`*_URL` first),
/// else a `*_HOST` with its `*_PORT`.
pub(crate) fn target_of(config: &BTreeMap<String, String>) -> Option<Target> {
    let mut keys: Vec<&String> = config.keys().collect();
    keys.sort_by_key(|k| {
        let k = k.to_ascii_uppercase();
        !(k.ends_with("DSN") || k.ends_with("URL"))
    });
    for k in keys {
        if let Some(t) = parse_url(&config[k]) {
            return Some(t);
        }
    }
    for (k, host) in config {
        let Some(prefix) = k.strip_suffix("HOST") else {
            continue;
        };
        if host.trim().is_empty() {
            continue;
        }
        let port = config
            .get(&format!("{prefix}PORT"))
            .and_then(|p| p.trim().parse().ok());
        return Some(Target {
            scheme: None,
            host: host.trim().to_string(),
            port,
            url: None,
        });
    }
    None
}

fn is_local(h: &str) -> bool {
    matches!(
        h,
        "127.0.0.1" | "localhost" | "::1" | "0.0.0.0" | "::" | "*"
    )
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (is_local(a) && is_local(b))
}

/// The Map resource serving `t`: an http endpoint with that URL, else whatever listens on its
/// host and port.
pub(crate) fn resource_for_target<'m>(map: &'m Map, t: &Target) -> Option<&'m Resource> {
    if let Some(u) = &t.url
        && let Some(r) = map
            .resources()
            .iter()
            .find(|r| r.name == *u || r.prop_str("url") == Some(u))
    {
        return Some(r);
    }
    let port = t.port?;
    map.resources().iter().find(|r| {
        let own = r.prop_str("host").is_some_and(|h| same_host(h, &t.host))
            && r.properties.get("port").and_then(|p| p.as_u64()) == Some(u64::from(port));
        let listens = r
            .properties
            .get("listen")
            .and_then(|l| l.as_array())
            .is_some_and(|l| {
                l.iter().filter_map(|v| v.as_str()).any(|a| {
                    a.rsplit_once(':').is_some_and(|(h, p)| {
                        p.parse::<u16>().ok() == Some(port)
                            && same_host(h.trim_matches(['[', ']']), &t.host)
                    })
                })
            });
        own || listens
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn targets_come_from_dsns_urls_and_host_port_pairs() {
        let t = target_of(&cfg(&[
            ("MAX", "5"),
            (
                "PG_DSN",
                "postgres://monitor:pw@db.internal:5433/shop?sslmode=disable",
            ),
        ]))
        .unwrap();
        assert_eq!((t.host.as_str(), t.port), ("db.internal", Some(5433)));
        assert_eq!(t.label(), "postgres://db.internal:5433");
        let t = target_of(&cfg(&[("URL", "http://127.0.0.1:8080/health?x=1")])).unwrap();
        assert_eq!(t.label(), "http://127.0.0.1:8080/health");
        let t = target_of(&cfg(&[("REDIS_HOST", "10.0.0.5"), ("REDIS_PORT", "6380")])).unwrap();
        assert_eq!(t.label(), "10.0.0.5:6380");
        assert_eq!(target_of(&cfg(&[("THRESHOLD", "80")])), None);
        assert_eq!(
            target_of(&cfg(&[("PG_DSN", "postgres://[::1]/x")]))
                .unwrap()
                .port,
            Some(5432)
        );
    }

    #[test]
    fn a_target_finds_the_resource_listening_there() {
        use sitrep_core::map::{Inventory, Resource};
        let pg = Resource::new("tcp:localhost:25432", "postgres", "postgres-25432")
            .with_prop("host", "127.0.0.1")
            .with_prop("port", 25432)
            .with_prop("listen", serde_json::json!(["127.0.0.1:25432"]));
        let map = Map::new(Inventory {
            resources: vec![pg],
            edges: vec![],
        });
        let t = target_of(&cfg(&[("PG_DSN", "postgres://m@localhost:25432/shop")])).unwrap();
        assert_eq!(
            resource_for_target(&map, &t).unwrap().name,
            "postgres-25432"
        );
        let t = target_of(&cfg(&[("PG_DSN", "postgres://m@localhost:5432/shop")])).unwrap();
        assert!(resource_for_target(&map, &t).is_none());
    }
}
