//! `$SITREP_HOME/sitrep.yaml`, with environment and flag overrides.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sitrep_bundles::CollectionSource;
use sitrep_discovery::DiscoveryConfig;
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
";
