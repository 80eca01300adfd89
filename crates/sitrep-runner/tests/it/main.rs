//! The runner's integration tests (one binary): the scheduler under a paused clock
//! (`scheduler.rs`), the anomalous-SLI hook (`sli.rs`), and task processes: timeouts,
//! interruption, shutdown and recovery after `kill -9` (`processes.rs`).

mod issues;
mod processes;
mod python;
mod robot;
mod scheduler;
mod secrets;
mod sli;

use sitrep_bundles::{Catalog, CollectionSource};
use sitrep_runner::{Runner, RunnerConfig, SystemClock};
use sitrep_store::{SqlStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A collection `t` with the given bundles (name, bundle.yaml, scripts), a SQLite store and a
/// runtime directory, all in one temp dir.
/// A bundle: its name, its bundle.yaml and its scripts (file name, text).
pub type BundleFiles<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

pub struct Home {
    pub dir: tempfile::TempDir,
    pub catalog: Arc<Catalog>,
    pub store: Arc<SqlStore>,
}

impl Home {
    pub async fn new(bundles: &[BundleFiles<'_>]) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let col = dir.path().join("col");
        std::fs::create_dir_all(&col).unwrap();
        std::fs::write(col.join("collection.yaml"), "name: t\n").unwrap();
        for (name, yaml, scripts) in bundles {
            let b = col.join("bundles").join(name);
            std::fs::create_dir_all(&b).unwrap();
            std::fs::write(b.join("bundle.yaml"), yaml).unwrap();
            for (file, text) in *scripts {
                std::fs::write(b.join(file), text).unwrap();
            }
        }
        let store = Arc::new(SqlStore::connect(&Home::db_url(dir.path())).await.unwrap());
        Home {
            catalog: Arc::new(Home::catalog_at(dir.path())),
            store,
            dir,
        }
    }

    pub fn db_url(dir: &Path) -> String {
        format!("sqlite://{}", dir.join("sitrep.db").display())
    }

    pub fn catalog_at(dir: &Path) -> Catalog {
        let source = CollectionSource {
            name: "t".into(),
            path: Some(dir.join("col")),
            git: None,
            rev: None,
            kind: Default::default(),
        };
        Catalog::load(&[source], &dir.join("cache")).unwrap()
    }

    pub fn runtime(&self) -> PathBuf {
        self.dir.path().join("runtime")
    }

    pub fn config(&self) -> RunnerConfig {
        RunnerConfig::new("w", self.runtime())
    }

    pub fn runner(&self, cfg: RunnerConfig) -> Arc<Runner> {
        let store: Arc<dyn Store> = self.store.clone();
        Arc::new(Runner::new(cfg, self.catalog.clone(), store, Arc::new(SystemClock)).unwrap())
    }
}

/// This test binary run as a helper process: only `test` (an ignored test that acts when
/// `SITREP_TEST_HOLD_DIR` is set), holding a task of the home at `dir` until it is killed.
pub fn helper_process(test: &str, dir: &Path) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--ignored", "--test-threads=1"])
        .env("SITREP_TEST_HOLD_DIR", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}
