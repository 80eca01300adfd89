//! Discovery: find resources and edges, merge them into the Map, generate SLXs.

use crate::views::{DiscoveryView, SlxPlanView};
use crate::{Result, Sitrep};
use sitrep_discovery::{Discovery, IndexerOutcome, Progress};

/// Progress of a discovery, for an edge to show.
pub trait DiscoveryProgress: Send + Sync {
    fn started(&self, source: &str);
    fn finished(&self, outcome: &IndexerOutcome);
}

/// Shows nothing.
pub struct NoProgress;

impl DiscoveryProgress for NoProgress {
    fn started(&self, _: &str) {}
    fn finished(&self, _: &IndexerOutcome) {}
}

struct Adapter<'a>(&'a dyn DiscoveryProgress);

impl Progress for Adapter<'_> {
    fn started(&self, source: &str) {
        self.0.started(source)
    }
    fn finished(&self, o: &IndexerOutcome) {
        self.0.finished(o)
    }
}

impl Sitrep {
    /// Runs every configured indexer, reconciles the Map and applies generated SLXs (or only
    /// reports what would change, on a dry run).
    pub async fn discover(
        &self,
        dry_run: bool,
        progress: &dyn DiscoveryProgress,
    ) -> Result<DiscoveryView> {
        // Generation rules may name the workspace's secrets: those of the settings and the
        // vault's.
        let mut secret_names: Vec<String> = self.settings().secrets.keys().cloned().collect();
        secret_names.extend(self.secrets().await?.into_iter().map(|s| s.name));
        secret_names.sort();
        secret_names.dedup();
        let d = Discovery {
            config: self.settings().discovery.clone(),
            catalog: self.catalog().await?,
            store: self.store().await?,
            workspace: self.workspace().to_string(),
            secret_names,
        };
        let report = d.run(dry_run, &Adapter(progress), self.now()).await?;
        let live = report.map.live();
        Ok(DiscoveryView {
            dry_run: report.dry_run,
            resources: live.resources().to_vec(),
            edges: live.edges().to_vec(),
            slxs: SlxPlanView {
                create: report.slxs.create,
                update: report.slxs.update,
                retire: report.slxs.retire,
                unchanged: report.slxs.unchanged,
                conflicts: report.slxs.conflicts,
                covered: report.covered,
            },
            changes: report.changes,
            indexers: report.indexers,
            warnings: report.warnings,
        })
    }
}
