//! `$SITREP_HOME/sitrep.yaml`, with environment and flag overrides.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sitrep_bundles::CollectionSource;
use sitrep_discovery::DiscoveryConfig;
use sitrep_runner::SliWatchConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_workspace")]
    pub workspace: String,
    /// Defaults to SQLite at `$SITREP_HOME/sitrep.db`.
    #[serde(default)]
    pub database_url: Option<String>,
    #[serde(default)]
    pub collections: Vec<CollectionSource>,
    #[serde(default)]
    pub runner: RunnerSettings,
    /// Workspace secrets by name → where the value lives (`env:VAR` or `file:/path`).
    /// Generated SLXs refer to them as `secret:NAME`; values are never stored.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    #[serde(default)]
    pub discovery: DiscoveryConfig,
    #[serde(default)]
    pub sli_watch: SliWatchSettings,
}

/// `sli_watch:` the anomalous-SLI insights raised from health tasks' metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SliWatchSettings {
    pub enabled: bool,
    /// Score (0..1] at which an episode opens and its insight is raised.
    pub threshold: f64,
    /// Consecutive calm samples that close an episode.
    pub calm: usize,
    /// Samples a series only learns from.
    pub warmup: usize,
    /// Series tracked at once (least recently updated dropped first).
    pub max_series: usize,
    /// Stored samples replayed into a series after a restart (0 = start cold).
    pub replay: usize,
    /// How far beyond its known range, as a share of it, a value must be to count as a
    /// new extreme.
    pub extreme_tolerance: f64,
}

impl Default for SliWatchSettings {
    fn default() -> Self {
        let c = SliWatchConfig::default();
        SliWatchSettings {
            enabled: true,
            threshold: c.threshold,
            calm: c.calm,
            warmup: c.detector.warmup,
            max_series: c.max_series,
            replay: c.replay,
            extreme_tolerance: c.detector.extreme_tolerance,
        }
    }
}

impl SliWatchSettings {
    /// The runner's watch, `None` when disabled.
    pub fn watch(&self) -> Result<Option<SliWatchConfig>> {
        if !self.enabled {
            return Ok(None);
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            bail!(
                "sli_watch.threshold must be in (0, 1], got {}",
                self.threshold
            );
        }
        if !(self.extreme_tolerance >= 0.0) {
            bail!(
                "sli_watch.extreme_tolerance must be 0 (off) or more, got {}",
                self.extreme_tolerance
            );
        }
        let mut c = SliWatchConfig::default();
        c.threshold = self.threshold;
        c.calm = self.calm.max(1);
        c.detector.warmup = self.warmup;
        c.max_series = self.max_series.max(1);
        c.replay = self.replay;
        c.detector.extreme_tolerance = self.extreme_tolerance;
        Ok(Some(c))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerSettings {
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    #[serde(default = "default_max_per_resource")]
    pub max_per_resource: usize,
    #[serde(default = "default_output_cap")]
    pub output_cap_bytes: usize,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            max_concurrent: default_max_concurrent(),
            max_per_resource: default_max_per_resource(),
            output_cap_bytes: default_output_cap(),
        }
    }
}

fn default_workspace() -> String {
    sitrep_core::DEFAULT_WORKSPACE.into()
}
fn default_max_concurrent() -> usize {
    16
}
fn default_max_per_resource() -> usize {
    2
}
fn default_output_cap() -> usize {
    1024 * 1024
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workspace: default_workspace(),
            database_url: None,
            collections: vec![],
            runner: RunnerSettings::default(),
            secrets: BTreeMap::new(),
            discovery: DiscoveryConfig::default(),
            sli_watch: SliWatchSettings::default(),
        }
    }
}

pub const CONFIG_FILE: &str = "sitrep.yaml";

impl Config {
    /// Reads `home/sitrep.yaml` if it exists; defaults otherwise.
    pub fn load(home: &Path) -> Result<Config> {
        let path = home.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => yaml_serde::from_str(&text).with_context(|| {
                format!(
                    "{}: invalid configuration (see `sitrep init --help` for the format)",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn database_url(&self, home: &Path, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.database_url.clone())
            .unwrap_or_else(|| format!("sqlite://{}", home.join("sitrep.db").display()))
    }
}

pub fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".sitrep")
}

pub const TEMPLATE: &str = "\
# sitrep configuration. Every key is optional; these are the defaults.
workspace: default
# database_url: postgres://sitrep@127.0.0.1/sitrep   # default: SQLite at $SITREP_HOME/sitrep.db
collections: []          # the built-in `core` collection is always loaded
#  - name: mine
#    path: /srv/sitrep/collection
#  - name: team
#    git: https://git.example.com/sre/bundles.git
#    ref: v1.0.0
runner:
  max_concurrent: 16     # runs in flight at once
  max_per_resource: 2    # runs in flight against one resource
  output_cap_bytes: 1048576
# secrets:               # by name; generated SLXs refer to them, values stay where they are
#   postgres-password: env:PGPASSWORD
#   redis-password: file:/run/secrets/redis
# discovery:             # `sitrep discover`
#   host: {enabled: true, min_age_s: 10}       # processes, listeners, connections from /proc
#   prometheus: [{url: http://127.0.0.1:9090}]
#   declared:
#     - {name: checkout, url: https://shop.example.com/checkout}
#     - {name: orders-db, dsn: postgres://monitor@db.internal:5432/orders, secret: postgres-password}
#   kubernetes: [{context: prod, exclude_namespaces: [kube-system]}]
#   level_of_detail: basic                     # or detailed
#   vars: {postgres_user: monitor}             # visible to generation templates
sli_watch:               # anomalous-SLI insights from health tasks' metrics
  enabled: true
  threshold: 0.9         # anomaly score (0..1] that opens an episode: one insight each
  calm: 10               # calm samples that close it
  warmup: 60             # samples a new series only learns from
  max_series: 10000
  replay: 1000           # stored samples replayed into a series after a restart
  extreme_tolerance: 0.5 # a new extreme must exceed the known range by this share of it
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_template_parses_to_the_defaults() {
        let c: Config = yaml_serde::from_str(TEMPLATE).unwrap();
        let d = Config::default();
        assert_eq!(c.workspace, d.workspace);
        assert_eq!(c.runner.max_concurrent, d.runner.max_concurrent);
        assert_eq!(
            c.sli_watch.watch().unwrap(),
            SliWatchConfig::default().into()
        );
    }

    #[test]
    fn sli_watch_settings_reach_the_runner_and_bad_ones_say_why() {
        let c: Config = yaml_serde::from_str(
            "sli_watch: {threshold: 0.8, warmup: 20, replay: 0, extreme_tolerance: 0}",
        )
        .unwrap();
        let w = c.sli_watch.watch().unwrap().unwrap();
        assert_eq!(
            (
                w.threshold,
                w.detector.warmup,
                w.replay,
                w.detector.extreme_tolerance
            ),
            (0.8, 20, 0, 0.0)
        );
        let off: Config = yaml_serde::from_str("sli_watch: {enabled: false}").unwrap();
        assert_eq!(off.sli_watch.watch().unwrap(), None);
        let bad: Config = yaml_serde::from_str("sli_watch: {threshold: 1.5}").unwrap();
        let e = bad.sli_watch.watch().unwrap_err().to_string();
        assert!(
            e.contains("sli_watch.threshold") && e.contains("1.5"),
            "{e}"
        );
        let typo = yaml_serde::from_str::<Config>("sli_watch: {treshold: 0.5}");
        assert!(typo.unwrap_err().to_string().contains("treshold"));
    }
}
