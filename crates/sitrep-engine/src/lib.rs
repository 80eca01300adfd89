//! The one API every edge calls (the CLI today, the server next). [`Sitrep`] owns the
//! settings, opens what a call needs (store, catalog, runner) on first use, runs tasks and
//! SLXs, discovery, map queries, the background scheduler with graceful shutdown, approvals
//! and investigations, and publishes domain [`events::Event`]s. Its inputs and outputs are
//! plain serialisable types ([`views`]), so `--json` and the HTTP API print the same shapes.
//!
//! The edges hold no logic: if an edge needs something, it belongs here or below.

pub mod access;
pub mod analyze;
pub mod apply;
mod approvals;
mod bootstrap;
pub mod commands;
mod deliver;
mod discover;
mod duration_text;
mod error;
pub mod events;
mod files;
mod group_commit;
pub mod intake;
pub mod investigate;
mod issues;
pub mod knowledge;
mod mail;
mod map;
mod pagerduty;
pub mod rules;
mod runs;
mod runtimes;
mod serve;
pub mod settings;
mod slack;
pub mod sli;
mod slo_watch;
mod slx;
pub mod studio;
pub mod vault;
pub mod views;
pub mod webhooks;
pub mod workflows;
mod workspaces;

pub use approvals::{Actor, ApprovalQuery};

/// The errors of the layers below, which [`EngineError`] wraps: an edge that maps errors to
/// its own codes (the server's HTTP statuses) matches on them.
pub mod errors {
    pub use sitrep_bundles::BundleError;
    pub use sitrep_runner::RunError;
    pub use sitrep_store::StoreError;
}
pub use deliver::sign as sign_delivery;
pub use discover::{DiscoveryProgress, NoProgress};
pub use error::{EngineError, Result};
pub use issues::IssueQuery;
pub use map::MapQuery;
pub use rules::IssueView;
pub use runs::RunTaskRequest;
pub use serve::ServeOptions;
pub use settings::{Overrides, Settings};
pub use workspaces::{WorkspaceView, Workspaces};

use sitrep_bundles::Catalog;
use sitrep_core::Clock;
use sitrep_runner::{Limits, Runner, RunnerConfig, SystemClock};
use sitrep_store::{EngineStore, SqlStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{OnceCell, broadcast};

/// How to open sitrep: where its home is, what overrides the settings file, and the
/// `sitrep` binary tasks call for `sitrep emit`.
#[derive(Clone)]
pub struct OpenOptions {
    pub home: PathBuf,
    pub overrides: Overrides,
    /// The binary tasks find on their PATH as `sitrep` (default: this process's executable).
    pub sitrep_exe: Option<PathBuf>,
    pub clock: Arc<dyn Clock>,
}

impl OpenOptions {
    pub fn new(home: impl Into<PathBuf>) -> Self {
        OpenOptions {
            home: home.into(),
            overrides: Overrides::default(),
            sitrep_exe: std::env::current_exe().ok(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// sitrep, opened on one home and one workspace. Cheap to clone (a handle).
#[derive(Clone)]
pub struct Sitrep {
    inner: Arc<Inner>,
}

struct Inner {
    home: PathBuf,
    settings: Settings,
    sitrep_exe: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    /// What every workspace of this home shares.
    shared: Arc<Shared>,
    runner: OnceCell<Arc<Runner>>,
    knowledge: knowledge::SharedIndex,
    events: broadcast::Sender<events::Event>,
    /// Wakes the intake worker when an alert is stored.
    intake: tokio::sync::Notify,
    /// One handler of pending alerts at a time.
    intake_lock: tokio::sync::Mutex<()>,
    /// Wakes the delivery worker when an investigation it delivers for ends.
    deliver: tokio::sync::Notify,
}

/// The database and the collections: one per home, whichever workspace a handle serves.
#[derive(Default)]
struct Shared {
    store: OnceCell<Arc<SqlStore>>,
    catalog: OnceCell<Arc<Catalog>>,
    /// The writer of received alerts, started on first use.
    inbound: OnceCell<group_commit::GroupCommit>,
}

impl Sitrep {
    /// Loads and checks the settings. Nothing else is opened until a call needs it.
    pub fn open(opts: OpenOptions) -> Result<Sitrep> {
        let settings = Settings::load(&opts.home, &opts.overrides)?;
        Ok(Sitrep::with_settings(opts, settings))
    }

    fn with_settings(opts: OpenOptions, settings: Settings) -> Sitrep {
        Sitrep::build(opts, settings, Arc::default())
    }

    fn build(opts: OpenOptions, settings: Settings, shared: Arc<Shared>) -> Sitrep {
        let (events, _) = broadcast::channel(events::CAPACITY);
        Sitrep {
            inner: Arc::new(Inner {
                home: opts.home,
                settings,
                sitrep_exe: opts.sitrep_exe,
                clock: opts.clock,
                shared,
                runner: OnceCell::new(),
                knowledge: Default::default(),
                events,
                intake: tokio::sync::Notify::new(),
                intake_lock: tokio::sync::Mutex::new(()),
                deliver: tokio::sync::Notify::new(),
            }),
        }
    }

    pub fn home(&self) -> &Path {
        &self.inner.home
    }
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
    pub fn workspace(&self) -> &str {
        &self.inner.settings.workspace
    }
    pub(crate) fn now(&self) -> sitrep_core::Timestamp {
        self.inner.clock.now()
    }

    /// The knowledge search index of this workspace, opened on first use.
    pub(crate) fn knowledge_index(&self) -> knowledge::SharedIndex {
        self.inner.knowledge.clone()
    }

    /// Domain events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<events::Event> {
        self.inner.events.subscribe()
    }
    pub(crate) fn publish(&self, e: events::Event) {
        // No subscriber is fine: events are notifications, the store is the record.
        let _ = self.inner.events.send(e);
    }

    /// The store, opened (and migrated) on first use.
    pub(crate) async fn store(&self) -> Result<Arc<SqlStore>> {
        let s = self
            .inner
            .shared
            .store
            .get_or_try_init(|| async {
                std::fs::create_dir_all(&self.inner.home)
                    .map_err(|e| EngineError::io(&self.inner.home, e))?;
                let url = self.inner.settings.database_url(&self.inner.home);
                Ok::<_, EngineError>(Arc::new(SqlStore::connect(&url).await?))
            })
            .await?;
        Ok(s.clone())
    }
    /// Closes the store if it was opened: waits for its connections to close, so the last
    /// one folds SQLite's write-ahead log back into the database. A process that ends
    /// without it leaves the log behind, and the next start reads all of it back (a
    /// one-shot `run` paid about a millisecond for every ten runs before it).
    pub async fn close(&self) {
        if let Some(store) = self.inner.shared.store.get() {
            store.close().await;
        }
    }

    pub(crate) async fn engine_store(&self) -> Result<Arc<dyn EngineStore>> {
        Ok(self.store().await?)
    }

    /// Every collection (the built-in `core` and those in the settings), loaded on first use.
    pub(crate) async fn catalog(&self) -> Result<Arc<Catalog>> {
        let c = self
            .inner
            .shared
            .catalog
            .get_or_try_init(|| async {
                let sources = self.inner.settings.collections.clone();
                let cache = self.inner.home.join("cache");
                // Extraction and git fetches touch the disk and the network.
                // RunWhen collections (`kind: runwhen`) are read by sitrep-runwhen.
                let readers = sitrep_bundles::Readers {
                    runwhen: Some(sitrep_runwhen::read_collection),
                };
                let catalog = tokio::task::spawn_blocking(move || {
                    Catalog::load_with(&sources, &cache, readers)
                })
                .await
                .map_err(|e| EngineError::Invalid(format!("loading bundles crashed: {e}")))??;
                for q in &catalog.quarantined {
                    tracing::warn!(problems = %q, "left out of the catalog; everything else runs");
                }
                Ok::<_, EngineError>(Arc::new(catalog))
            })
            .await?;
        Ok(c.clone())
    }

    /// The runner, shared by every run of this process (its SLI watch keeps state).
    pub(crate) async fn runner(&self) -> Result<Arc<Runner>> {
        let r = self
            .inner
            .runner
            .get_or_try_init(|| async {
                let s = &self.inner.settings;
                let mut cfg = RunnerConfig::new(&s.workspace, self.inner.home.join("runtime"));
                cfg.sitrep_exe = self.inner.sitrep_exe.clone();
                cfg.runtimes_dir = self.runtimes_dir();
                cfg.limits = Limits {
                    max_concurrent: s.runner.max_concurrent,
                    max_per_resource: s.runner.max_per_resource,
                };
                cfg.output_cap = s.runner.output_cap_bytes;
                // Opened side by side: the catalog is read on a blocking thread meanwhile.
                let (store, catalog) = tokio::try_join!(self.store(), self.catalog())?;
                let store: Arc<dyn Store> = store;
                let runner = Runner::new(cfg, catalog, store, self.inner.clock.clone())?
                    .with_sli_watch(s.sli_watch.watch());
                Ok::<_, EngineError>(Arc::new(runner))
            })
            .await?;
        Ok(r.clone())
    }
}

/// Checks a collection or bundle folder without opening anything: every problem with its
/// file, line and field. A RunWhen collection (a folder with `codebundles/`), codebundle or
/// suite file is checked by sitrep-runwhen.
pub async fn validate_bundles(path: &Path) -> Result<Vec<views::ProblemView>> {
    let p = path.to_path_buf();
    let problems = tokio::task::spawn_blocking(move || {
        if sitrep_runwhen::is_runwhen_path(&p) {
            sitrep_runwhen::validate_path(&p).map_err(|e| EngineError::Invalid(e.to_string()))
        } else {
            Ok(sitrep_bundles::validate_path(&p)?)
        }
    })
    .await
    .map_err(|e| EngineError::Invalid(format!("validation crashed: {e}")))??;
    Ok(problems.iter().map(views::ProblemView::from).collect())
}
