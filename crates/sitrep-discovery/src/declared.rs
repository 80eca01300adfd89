//! Declared endpoints: the URLs, DSNs and servers a user lists in sitrep.yaml. A declared
//! server merges with what the host indexer finds at the same address (its name becomes an
//! alias); a URL becomes an `http-endpoint` that depends on the server answering it.

use crate::config::Declared;
use crate::{DiscoveryError, Indexer, endpoint_key, split_url};
use async_trait::async_trait;
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource};

pub const SOURCE: &str = "declared";

pub struct DeclaredIndexer {
    pub entries: Vec<Declared>,
}

#[async_trait]
impl Indexer for DeclaredIndexer {
    fn source(&self) -> String {
        SOURCE.into()
    }
    async fn index(&self) -> Result<Inventory, DiscoveryError> {
        build(&self.entries)
    }
}

fn scheme_kind(scheme: &str) -> Option<(&'static str, u16)> {
    match scheme {
        "postgres" | "postgresql" => Some(("postgres", 5432)),
        "redis" | "rediss" => Some(("redis", 6379)),
        "mysql" | "mariadb" => Some(("mysql", 3306)),
        "http" => Some(("http-endpoint", 80)),
        "https" => Some(("http-endpoint", 443)),
        _ => None,
    }
}

pub fn build(entries: &[Declared]) -> Result<Inventory, DiscoveryError> {
    let mut inv = Inventory::default();
    for (index, d) in entries.iter().enumerate() {
        let err = |message: String| DiscoveryError::Declared {
            index,
            name: d.name.clone(),
            message,
        };
        let given = [d.url.is_some(), d.dsn.is_some(), d.address.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(err("give exactly one of url, dsn or address".into()));
        }
        let mut r = if let Some(url) = &d.url {
            let (scheme, host, port, path) =
                split_url(url).ok_or_else(|| err(format!("{url:?} is not a URL")))?;
            let (_, default_port) = scheme_kind(&scheme)
                .filter(|(k, _)| *k == "http-endpoint")
                .ok_or_else(|| err(format!("url must be http:// or https://, got {scheme}://")))?;
            let port = port.unwrap_or(default_port);
            let key = format!("url:{url}");
            inv.edges.push(Edge::new(
                &key,
                endpoint_key(&host, port),
                EdgeKind::DependsOn,
            ));
            Resource::new(key, "http-endpoint", &d.name)
                .with_prop("url", url.clone())
                .with_prop("path", path)
                .with_prop("host", host)
                .with_prop("port", port)
        } else if let Some(dsn) = &d.dsn {
            let (scheme, host, port, path) =
                split_url(dsn).ok_or_else(|| err(format!("{dsn:?} is not a DSN")))?;
            let authority = dsn.split("://").nth(1).unwrap_or("");
            let userinfo = authority.split(['/', '?']).next().unwrap_or("");
            if userinfo.contains('@') && userinfo.split('@').next().unwrap_or("").contains(':') {
                return Err(err(
                    "the dsn holds a password: remove it and name a workspace secret in `secret` instead".into(),
                ));
            }
            let (kind, default_port) = scheme_kind(&scheme)
                .filter(|(k, _)| *k != "http-endpoint")
                .ok_or_else(|| {
                    err(format!(
                        "unknown dsn scheme {scheme}:// (postgres, redis or mysql)"
                    ))
                })?;
            let port = port.unwrap_or(default_port);
            let database = path.trim_start_matches('/').split('?').next().unwrap_or("");
            let mut r = Resource::new(
                endpoint_key(&host, port),
                d.kind.as_deref().unwrap_or(kind),
                &d.name,
            )
            .with_prop("dsn", dsn.clone())
            .with_prop("host", host)
            .with_prop("port", port);
            if !database.is_empty() {
                r = r.with_prop("database", database.to_string());
                if kind == "postgres" {
                    // The database it names, for the checks that look inside one.
                    let mut db = Resource::new(
                        format!("pgdb:{}/{database}", r.key),
                        crate::host::POSTGRES_DATABASE,
                        format!("{}-{database}", d.name),
                    )
                    .with_prop("database", database.to_string())
                    .with_prop("server", d.name.clone())
                    .with_prop("dsn", dsn.clone());
                    for k in ["host", "port"] {
                        if let Some(v) = r.properties.get(k) {
                            db.properties.insert(k.into(), v.clone());
                        }
                    }
                    if let Some(s) = &d.secret {
                        db.properties
                            .insert("password_secret".into(), s.clone().into());
                    }
                    db.sources.push(SOURCE.into());
                    inv.edges.push(Edge::new(&db.key, &r.key, EdgeKind::RunsOn));
                    inv.resources.push(db);
                }
            }
            r
        } else {
            let address = d.address.as_deref().unwrap_or_default();
            let (host, port) = address
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                .ok_or_else(|| err(format!("address {address:?} must be host:port")))?;
            Resource::new(
                endpoint_key(host, port),
                d.kind.as_deref().unwrap_or("endpoint"),
                &d.name,
            )
            .with_prop("host", host.to_string())
            .with_prop("port", port)
        };
        if let Some(s) = &d.secret {
            r.properties
                .insert("password_secret".into(), s.clone().into());
        }
        r.aliases.extend(d.aliases.iter().cloned());
        r.labels.extend(d.labels.clone());
        r.sources.push(SOURCE.into());
        inv.resources.push(r);
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(yaml: &str) -> Vec<Declared> {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn urls_dsns_and_addresses() {
        let inv = build(&decl(
            "- {name: checkout, url: 'http://127.0.0.1:28080/checkout'}\n- {name: orders-db, dsn: 'postgres://postgres@127.0.0.1:25432/shop', aliases: [orders], secret: pg-admin}\n- {name: cache, address: 'localhost:26379', kind: redis}\n",
        ))
        .unwrap();
        assert_eq!(inv.resources[0].key, "url:http://127.0.0.1:28080/checkout");
        assert_eq!(inv.edges[0].to, "tcp:localhost:28080");
        let db = inv
            .resources
            .iter()
            .find(|r| r.key == "tcp:localhost:25432")
            .unwrap();
        assert_eq!(
            (db.key.as_str(), db.kind.as_str()),
            ("tcp:localhost:25432", "postgres")
        );
        assert_eq!(db.prop_str("database"), Some("shop"));
        assert_eq!(db.prop_str("password_secret"), Some("pg-admin"));
        // The database it names is a resource of its own, reached with the declared DSN.
        let shop = inv
            .resources
            .iter()
            .find(|r| r.key == "pgdb:tcp:localhost:25432/shop")
            .unwrap();
        assert_eq!(
            (shop.kind.as_str(), shop.name.as_str(), shop.prop_str("dsn")),
            (
                "postgres-database",
                "orders-db-shop",
                Some("postgres://postgres@127.0.0.1:25432/shop")
            )
        );
        assert_eq!(shop.prop_str("password_secret"), Some("pg-admin"));
        assert!(inv.resources.iter().any(|r| r.key == "tcp:localhost:26379"));
    }

    #[test]
    fn clear_errors() {
        let e = build(&decl("- {name: db, dsn: 'postgres://u:secret@h/db'}"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("discovery.declared[0] (db)")
                && e.contains("password")
                && !e.contains("secret@"),
            "{e}"
        );
        let e = build(&decl("- {name: x}")).unwrap_err().to_string();
        assert!(e.contains("exactly one of url, dsn or address"), "{e}");
        let e = build(&decl("- {name: x, url: 'ftp://h/'}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("http:// or https://"), "{e}");
    }
}
