//! Wiring: configuration, store, catalog and runner for one command.

use crate::config::{CONFIG_FILE, Config};
use anyhow::{Context, Result};
use sitrep_bundles::Catalog;
use sitrep_runner::{Limits, Runner, RunnerConfig, SystemClock};
use sitrep_store::{SqlStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct App {
    pub config: Config,
    pub store: Arc<SqlStore>,
    pub catalog: Arc<Catalog>,
    pub home: PathBuf,
}

impl App {
    pub async fn open(home: &Path, db_flag: Option<&str>) -> Result<App> {
        std::fs::create_dir_all(home)
            .with_context(|| format!("cannot create SITREP_HOME {}", home.display()))?;
        let config = Config::load(home)?;
        let url = config.database_url(home, db_flag);
        let store = Arc::new(SqlStore::connect(&url).await?);
        let catalog = Arc::new(load_catalog(home, &config).await?);
        Ok(App {
            config,
            store,
            catalog,
            home: home.to_path_buf(),
        })
    }

    pub fn runner(&self) -> Result<Runner> {
        let mut cfg = RunnerConfig::new(&self.config.workspace, self.home.join("runtime"));
        cfg.sitrep_exe = std::env::current_exe().ok();
        cfg.limits = Limits {
            max_concurrent: self.config.runner.max_concurrent,
            max_per_resource: self.config.runner.max_per_resource,
        };
        cfg.output_cap = self.config.runner.output_cap_bytes;
        let store: Arc<dyn Store> = self.store.clone();
        let watch = self.config.sli_watch.watch().with_context(|| {
            format!(
                "{}: invalid configuration",
                self.home.join(CONFIG_FILE).display()
            )
        })?;
        Ok(
            Runner::new(cfg, self.catalog.clone(), store, Arc::new(SystemClock))?
                .with_sli_watch(watch),
        )
    }

    pub fn workspace(&self) -> &str {
        &self.config.workspace
    }
}

pub async fn load_catalog(home: &Path, config: &Config) -> Result<Catalog> {
    let sources = config.collections.clone();
    let cache = home.join("cache");
    // Extraction and git fetches touch the disk and the network.
    Ok(tokio::task::spawn_blocking(move || Catalog::load(&sources, &cache)).await??)
}
