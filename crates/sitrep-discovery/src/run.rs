//! One discovery: run the indexers concurrently, merge, reconcile with the stored map,
//! generate SLXs and apply them (unless it is a dry run).

use crate::config::DiscoveryConfig;
use crate::declared::DeclaredIndexer;
use crate::host::HostIndexer;
use crate::kubernetes::KubernetesIndexer;
use crate::prometheus::PrometheusIndexer;
use crate::{DiscoveryError, Indexer};
use serde::Serialize;
use sitrep_bundles::Catalog;
use sitrep_bundles::rules::{self, GenerationContext};
use sitrep_core::map::{self, Inventory, MapDiff, StoredMap};
use sitrep_core::slx_plan::{self, SlxPlan};
use sitrep_core::{Slx, Timestamp};
use sitrep_store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// Progress of a long scan, for the CLI to show.
pub trait Progress: Send + Sync {
    fn started(&self, source: &str);
    fn finished(&self, outcome: &IndexerOutcome);
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexerOutcome {
    pub source: String,
    pub resources: usize,
    pub edges: usize,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryReport {
    pub dry_run: bool,
    pub indexers: Vec<IndexerOutcome>,
    /// The map after this discovery (what would be stored, on a dry run).
    pub map: StoredMap,
    pub changes: MapDiff,
    pub slxs: SlxPlan,
    /// Generated SLXs left out because a hand-written SLX already watches that resource
    /// with that bundle.
    pub covered: Vec<String>,
    /// What generation could not do (a RunWhen template variable sitrep does not provide, a
    /// match rule over a property the Map does not keep), each naming its file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Generated SLXs, those left out as covered by a hand-written SLX, and warnings.
type Generated = (Vec<Slx>, Vec<String>, Vec<String>);

pub struct Discovery {
    pub config: DiscoveryConfig,
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn Store>,
    pub workspace: String,
    /// Names of the workspace's secrets (never their values).
    pub secret_names: Vec<String>,
}

impl Discovery {
    /// The indexers this configuration runs; `old` is the stored map (what earlier
    /// discoveries found).
    fn indexers(&self, old: &StoredMap) -> Vec<Arc<dyn Indexer>> {
        let client = http_client();
        let mut v: Vec<Arc<dyn Indexer>> = vec![];
        if self.config.host.enabled {
            v.push(Arc::new(HostIndexer {
                config: self.config.host.clone(),
                client: client.clone(),
                known_ports: known_local_ports(old),
            }));
        }
        for p in &self.config.prometheus {
            v.push(Arc::new(PrometheusIndexer {
                url: p.url.clone(),
                client: client.clone(),
            }));
        }
        // Always, even with nothing declared: removing the last entry must retire its SLX.
        v.push(Arc::new(DeclaredIndexer {
            entries: self.config.declared.clone(),
        }));
        for k in &self.config.kubernetes {
            v.push(Arc::new(KubernetesIndexer { config: k.clone() }));
        }
        v
    }

    pub async fn run(
        &self,
        dry_run: bool,
        progress: &dyn Progress,
        now: Timestamp,
    ) -> Result<DiscoveryReport, DiscoveryError> {
        let ttl = |field: &'static str, v: &str| {
            sitrep_core::time::parse_duration(v)
                .map(|d| d.as_millis() as i64)
                .map_err(|message| DiscoveryError::Config { field, message })
        };
        let retention = map::Retention {
            edge_ttl_ms: ttl("edge_ttl", &self.config.edge_ttl)?,
            down_ttl_ms: ttl("down_ttl", &self.config.down_ttl)?,
        };
        let old = self.store.load_map(&self.workspace).await?;
        let mut set = tokio::task::JoinSet::new();
        for ix in self.indexers(&old) {
            progress.started(&ix.source());
            set.spawn(async move {
                let t = Instant::now();
                let r = ix.index().await;
                (ix.source(), r, t.elapsed())
            });
        }
        let mut outcomes = vec![];
        let mut parts = vec![];
        let mut scanned = BTreeSet::new();
        while let Some(joined) = set.join_next().await {
            let (source, result, elapsed) =
                joined.map_err(|e| DiscoveryError::Crashed(e.to_string()))?;
            let outcome = match result {
                Ok(inv) => {
                    let o = IndexerOutcome {
                        source: source.clone(),
                        resources: inv.resources.len(),
                        edges: inv.edges.len(),
                        elapsed_ms: elapsed.as_millis() as u64,
                        error: None,
                    };
                    scanned.insert(source.clone());
                    parts.push((source, inv));
                    o
                }
                Err(e) => {
                    tracing::warn!(source = %source, error = %e, "indexer failed; what it found before stays on the map");
                    IndexerOutcome {
                        source,
                        resources: 0,
                        edges: 0,
                        elapsed_ms: elapsed.as_millis() as u64,
                        error: Some(e.to_string()),
                    }
                }
            };
            progress.finished(&outcome);
            outcomes.push(outcome);
        }
        outcomes.sort_by(|a, b| a.source.cmp(&b.source));
        // Fixed precedence for names: what runs (host, cluster) over what is scraped or declared;
        // the others' names become aliases.
        parts.sort_by_key(|(source, _)| source_rank(source));
        let found = Inventory::merge(parts.into_iter().map(|(_, inv)| inv));
        let (map, changes) = map::reconcile(&old, found, &scanned, now, retention);

        let existing = self.store.list_slxs(&self.workspace).await?;
        let (generated, covered, warnings) = self.generate(&map, &existing)?;
        for w in &warnings {
            tracing::debug!("generation: {w}");
        }
        let slxs = slx_plan::plan(&existing, generated, &scanned);
        if !dry_run {
            self.store.replace_map(&self.workspace, &map).await?;
            let writes: Vec<Slx> = slxs.writes().cloned().collect();
            self.store.put_slxs(&writes, now).await?;
        }
        Ok(DiscoveryReport {
            dry_run,
            indexers: outcomes,
            map,
            changes,
            slxs,
            covered,
            warnings,
        })
    }

    fn generate(&self, map: &StoredMap, existing: &[Slx]) -> Result<Generated, DiscoveryError> {
        let live: Vec<_> = map
            .resources
            .iter()
            .filter(|r| !r.stale)
            .map(|r| r.resource.clone())
            .collect();
        let ctx = GenerationContext {
            workspace: self.workspace.clone(),
            level_of_detail: self.config.level_of_detail,
            secret_names: self.secret_names.clone(),
            vars: self.config.vars.clone(),
        };
        let mut out = vec![];
        let mut covered = vec![];
        let mut warnings = vec![];
        for c in &self.catalog.collections {
            let mut generated = vec![];
            if crate::runwhen::is_runwhen(c) {
                let (slxs, w) = crate::runwhen::generate(c, &live, &ctx);
                generated.extend(slxs);
                warnings.extend(w);
            }
            for b in &c.bundles {
                generated.extend(rules::generate(&c.name, b, &live, &ctx)?);
            }
            for slx in generated {
                let resource = live.iter().find(|r| {
                    slx.generated
                        .as_ref()
                        .is_some_and(|o| o.resource_key == r.key)
                });
                let hand_written = existing.iter().find(|e| {
                    e.generated.is_none()
                        && e.bundle == slx.bundle
                        && resource.is_some_and(|r| {
                            e.resource == r.name || r.aliases.contains(&e.resource)
                        })
                });
                match hand_written {
                    Some(h) => covered.push(format!("{} (watched by {})", slx.name, h.name)),
                    None => out.push(slx),
                }
            }
        }
        Ok((out, covered, warnings))
    }
}

fn source_rank(source: &str) -> u8 {
    match source {
        crate::host::SOURCE => 0,
        s if s.starts_with("kubernetes") => 1,
        crate::prometheus::SOURCE => 2,
        _ => 3,
    }
}

/// Ports of the local servers on the stored map, live or not.
fn known_local_ports(old: &StoredMap) -> std::collections::BTreeSet<u16> {
    old.resources
        .iter()
        .filter(|r| r.resource.key.starts_with("tcp:localhost:"))
        .filter_map(|r| r.resource.properties.get("port")?.as_u64())
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

/// For reading what a TLS listener presents, whether or not its certificate verifies
/// (discovery only chooses which URL to watch; the SLX's tasks judge the certificate).
pub(crate) fn insecure_http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("sitrep-discovery/", env!("CARGO_PKG_VERSION")))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap_or_default()
}

pub(crate) fn http_client() -> reqwest::Client {
    // reqwest is built without a default TLS provider; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("sitrep-discovery/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
