//! Discovery: indexers find what exists (the local host, Prometheus, declared endpoints,
//! Kubernetes), their findings merge into the Map, and the bundles' generation rules turn
//! resources into SLXs, applied idempotently (see `sitrep_core::slx_plan`).

pub mod config;
pub mod declared;
pub mod host;
pub mod kubernetes;
pub mod prometheus;
mod run;
pub mod runwhen;

pub use config::DiscoveryConfig;
pub use run::{Discovery, DiscoveryReport, IndexerOutcome, Progress};

use async_trait::async_trait;
use sitrep_core::map::Inventory;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cannot read {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("kubernetes ({context}): {message}")]
    Kubernetes { context: String, message: String },
    #[error("discovery.declared[{index}] ({name}): {message}")]
    Declared {
        index: usize,
        name: String,
        message: String,
    },
    #[error(transparent)]
    Rules(#[from] sitrep_bundles::rules::RuleError),
    #[error(transparent)]
    Store(#[from] sitrep_store::StoreError),
    #[error("an indexer crashed: {0} (a bug: please report it with SITREP_LOG=debug output)")]
    Crashed(String),
    #[error("discovery.{field}: {message} (write a duration such as 30m or 24h)")]
    Config {
        field: &'static str,
        message: String,
    },
}

/// One source of resources and edges.
#[async_trait]
pub trait Indexer: Send + Sync {
    /// Names the source on resources (`sources`), so only it can retire what it found.
    fn source(&self) -> String;
    async fn index(&self) -> Result<Inventory, DiscoveryError>;
}

/// The key of a TCP server: local addresses (loopback, wildcard, `localhost`) collapse to
/// `localhost`, so the host indexer's listener and a declared `127.0.0.1:5432` DSN meet.
pub fn endpoint_key(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if is_local_host(host) {
        format!("tcp:localhost:{port}")
    } else {
        format!("tcp:{}:{port}", host.to_lowercase())
    }
}

pub fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// The address generated configuration connects to: `127.0.0.1` for every local address
/// (loopback, wildcard, `localhost`), so that a server's SLX is the same whichever source
/// found it.
pub(crate) fn connect_host(host: &str) -> String {
    if is_local_host(host) {
        "127.0.0.1".into()
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    }
}

/// `scheme://[user[:pass]@]host[:port][/path]` → (scheme, host, port, path). Enough for DSNs and
/// URLs without pulling a URL crate into the hot path.
pub(crate) fn split_url(url: &str) -> Option<(String, String, Option<u16>, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let hostport = authority.rsplit('@').next()?;
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, rest) = h.split_once(']')?;
        (
            h.to_string(),
            rest.strip_prefix(':').and_then(|p| p.parse().ok()),
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
    Some((scheme.to_lowercase(), host, port, path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_collapse_local_addresses() {
        assert_eq!(endpoint_key("127.0.0.1", 5432), "tcp:localhost:5432");
        assert_eq!(endpoint_key("localhost", 5432), "tcp:localhost:5432");
        assert_eq!(endpoint_key("[::1]", 5432), "tcp:localhost:5432");
        assert_eq!(endpoint_key("0.0.0.0", 80), "tcp:localhost:80");
        assert_eq!(endpoint_key("DB.internal", 5432), "tcp:db.internal:5432");
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("postgres://u:p@127.0.0.1:25432/shop?sslmode=disable"),
            Some((
                "postgres".into(),
                "127.0.0.1".into(),
                Some(25432),
                "/shop?sslmode=disable".into()
            ))
        );
        assert_eq!(
            split_url("http://[::1]:8080"),
            Some(("http".into(), "::1".into(), Some(8080), "".into()))
        );
        assert_eq!(split_url("https://x/y").unwrap().2, None);
        assert_eq!(split_url("nope"), None);
        assert_eq!(split_url("http://h:notaport/"), None);
    }

    proptest! {
        #[test]
        fn split_url_never_panics(s in "\\PC{0,80}") {
            let _ = split_url(&s);
        }
    }
}
