//! `discovery:` in sitrep.yaml.

use serde::{Deserialize, Serialize};
use sitrep_bundles::rules::LevelOfDetail;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// The local host's processes and connections; on by default.
    #[serde(default)]
    pub host: HostConfig,
    /// Prometheus servers whose targets and rules to read.
    #[serde(default)]
    pub prometheus: Vec<PrometheusSource>,
    /// URLs, DSNs and host:ports you name yourself.
    #[serde(default)]
    pub declared: Vec<Declared>,
    #[serde(default)]
    pub kubernetes: Vec<KubernetesSource>,
    /// `basic` (default) or `detailed`: how many SLXs generation rules make.
    #[serde(default)]
    pub level_of_detail: LevelOfDetail,
    /// Free-form values for generation templates (`{{ vars.postgres_user }}`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// How long an edge stays on the map after its connection was last seen.
    #[serde(default = "default_edge_ttl")]
    pub edge_ttl: String,
    /// How long a process seen running stays on the map, as down, after it was last seen
    /// (a crashed server keeps its SLXs through the incident).
    #[serde(default = "default_edge_ttl")]
    pub down_ttl: String,
}

fn default_edge_ttl() -> String {
    "24h".into()
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            host: HostConfig::default(),
            prometheus: vec![],
            declared: vec![],
            kubernetes: vec![],
            level_of_detail: LevelOfDetail::default(),
            vars: BTreeMap::new(),
            edge_ttl: default_edge_ttl(),
            down_ttl: default_edge_ttl(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Processes younger than this are not mapped (a psql session is not a service).
    #[serde(default = "default_min_age")]
    pub min_age_s: f64,
    /// Reads of the socket tables, to catch connections that come and go.
    #[serde(default = "default_samples")]
    pub samples: u32,
    #[serde(default = "default_sample_interval")]
    pub sample_interval_ms: u64,
    /// Ask unknown listeners whether they speak HTTP (GET /health, /healthz, /).
    #[serde(default = "yes")]
    pub probe_http: bool,
    /// Programs never mapped: an executable name (`psql`) or a program name as shown on the
    /// map (`shopfront-loadgen`).
    #[serde(default)]
    pub exclude_processes: Vec<String>,
    /// Users whose processes are never mapped (interactive sessions, test harnesses).
    #[serde(default)]
    pub exclude_users: Vec<String>,
}

fn yes() -> bool {
    true
}
fn default_min_age() -> f64 {
    10.0
}
fn default_samples() -> u32 {
    3
}
fn default_sample_interval() -> u64 {
    200
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            enabled: true,
            min_age_s: default_min_age(),
            samples: default_samples(),
            sample_interval_ms: default_sample_interval(),
            probe_http: true,
            exclude_processes: vec![],
            exclude_users: vec![],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSource {
    pub url: String,
}

/// One thing you name yourself. Give exactly one of `url`, `dsn` or `address`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    pub name: String,
    /// An HTTP(S) endpoint: becomes an `http-endpoint` that depends on whatever serves it.
    #[serde(default)]
    pub url: Option<String>,
    /// `postgres://user@host:port/db`, `redis://host:port`, `mysql://...` (no password: name
    /// a workspace secret in `secret`).
    #[serde(default)]
    pub dsn: Option<String>,
    /// `host:port` of a server, with `kind`.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The workspace secret holding this resource's password (generation rules use it).
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSource {
    /// Default: $KUBECONFIG, then ~/.kube/config.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// Default: the kubeconfig's current context.
    #[serde(default)]
    pub context: Option<String>,
    /// Only these namespaces (empty: all).
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default = "default_excluded_namespaces")]
    pub exclude_namespaces: Vec<String>,
    /// Objects with any of these labels (`key` or `key=value`) are skipped.
    #[serde(default)]
    pub exclude_labels: Vec<String>,
    #[serde(default = "default_excluded_annotations")]
    pub exclude_annotations: Vec<String>,
    /// Page size of list calls.
    #[serde(default = "default_page")]
    pub page_size: u32,
}

fn default_excluded_namespaces() -> Vec<String> {
    vec!["kube-node-lease".into(), "kube-public".into()]
}
fn default_excluded_annotations() -> Vec<String> {
    vec!["sitrep.io/exclude=true".into()]
}
fn default_page() -> u32 {
    500
}
