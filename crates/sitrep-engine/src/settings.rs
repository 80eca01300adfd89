//! `$SITREP_HOME/sitrep.yaml`: every key, its default, and its validation. Loaded once per
//! process by every edge through [`Settings::load`], so a bad value is refused the same way by
//! every command. `docs/configuration.md` documents each key.

use serde::{Deserialize, Serialize};
use sitrep_bundles::CollectionSource;
use sitrep_discovery::DiscoveryConfig;
use sitrep_runner::SliWatchConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CONFIG_FILE: &str = "sitrep.yaml";
/// Where the folders of a home's other workspaces are (`$SITREP_HOME/workspaces/NAME`).
pub const WORKSPACES_DIR: &str = "workspaces";
const DOCS: &str = "docs/configuration.md";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message} (every key is described in {DOCS})")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {key}: {message} (see {DOCS})")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// Values from outside the file, highest precedence first: a flag the edge parsed, then the
/// environment (`SITREP_DATABASE_URL`, `SITREP_WORKSPACE`), then the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub workspace: Option<String>,
    /// `SITREP_LISTEN`: where `serve` takes HTTP requests (`off`: nowhere).
    pub listen: Option<String>,
}

impl Overrides {
    /// The `SITREP_*` environment variables the settings honour.
    pub fn from_env() -> Overrides {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Overrides {
            database_url: var("SITREP_DATABASE_URL"),
            workspace: var("SITREP_WORKSPACE"),
            listen: var("SITREP_LISTEN"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
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
    /// Generated SLXs refer to them as `secret:NAME`, which is looked up here first, then in
    /// the vault; values are never stored here.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// `vault:` where the key of stored secrets is (`SITREP_VAULT_KEY` wins over it).
    #[serde(default)]
    pub vault: VaultSettings,
    #[serde(default)]
    pub discovery: DiscoveryConfig,
    #[serde(default)]
    pub sli_watch: SliWatchSettings,
    #[serde(default)]
    pub serve: ServeSettings,
    #[serde(default)]
    pub intake: IntakeSettings,
    #[serde(default)]
    pub assistants: Vec<crate::investigate::AssistantSettings>,
    #[serde(default)]
    pub investigation: crate::investigate::InvestigationSettings,
    /// The workspace folder: `rules/`, `commands/` and `knowledge/` (default: `$SITREP_HOME`;
    /// a relative path is under `$SITREP_HOME`).
    #[serde(default)]
    pub workspace_dir: Option<PathBuf>,
    /// Set on another workspace's settings ([`Settings::for_workspace`]): the name the file
    /// gives its own workspace, and that workspace's `workspace_dir`.
    #[serde(skip)]
    pub primary_workspace: Option<String>,
    #[serde(skip)]
    pub primary_workspace_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        yaml_serde::from_str("{}").expect("every key has a default")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerSettings {
    /// Runs in flight at once.
    pub max_concurrent: usize,
    /// Runs in flight against one resource.
    pub max_per_resource: usize,
    /// Bytes kept of each of a task's stdout and stderr.
    pub output_cap_bytes: usize,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            max_concurrent: 16,
            max_per_resource: 2,
            output_cap_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSettings {
    /// How long a stopping `serve` waits for running tasks before it interrupts them.
    #[serde(with = "crate::duration_text")]
    pub shutdown_grace: Duration,
    /// The address the HTTP API listens on (`HOST:PORT`), or `off`.
    pub listen: String,
    /// Requests a second each token may make (`docs/api.md`).
    pub rate_limit: RateLimitSettings,
}

/// `serve.rate_limit:` per-token request rates, as token buckets (0 = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Requests a second a token may make to the API and MCP, sustained.
    pub per_second: u32,
    /// How many it may make at once above that.
    pub burst: u32,
    /// The same for the alert and webhook hooks, counted apart (a storm is what they are for).
    pub hooks_per_second: u32,
    pub hooks_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_second: 100,
            burst: 200,
            hooks_per_second: 2000,
            hooks_burst: 10_000,
        }
    }
}

/// `intake:` alert webhooks (`docs/api.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeSettings {
    /// An alert of the same group (Alertmanager `groupKey`, PagerDuty incident) within this
    /// long of the investigation it started joins it instead of starting another.
    #[serde(with = "crate::duration_text")]
    pub cooldown: Duration,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            cooldown: Duration::from_secs(600),
        }
    }
}

/// `vault:` the secrets vault (`docs/secrets.md`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// The key file (default `$SITREP_HOME/vault.key`; a relative path is under
    /// `$SITREP_HOME`), created on the first secret set when it does not exist.
    pub key_file: Option<PathBuf>,
}

impl VaultSettings {
    pub fn key_file(&self, home: &Path) -> PathBuf {
        match &self.key_file {
            Some(p) => home.join(p),
            None => home.join(crate::vault::KEY_FILE),
        }
    }
}

/// Where `serve` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";

impl ServeSettings {
    /// The socket address to listen on, or `None` when HTTP is `off`.
    pub fn listen_addr(&self) -> Option<std::net::SocketAddr> {
        (self.listen != "off").then(|| self.listen.parse().expect("checked by validate"))
    }
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            shutdown_grace: Duration::from_secs(10),
            listen: DEFAULT_LISTEN.to_string(),
            rate_limit: RateLimitSettings::default(),
        }
    }
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
    /// The runner's watch, `None` when disabled. Values were checked by [`Settings::validate`].
    pub fn watch(&self) -> Option<SliWatchConfig> {
        if !self.enabled {
            return None;
        }
        let mut c = SliWatchConfig::default();
        c.threshold = self.threshold;
        c.calm = self.calm;
        c.detector.warmup = self.warmup;
        c.max_series = self.max_series;
        c.replay = self.replay;
        c.detector.extreme_tolerance = self.extreme_tolerance;
        Some(c)
    }
}

fn default_workspace() -> String {
    sitrep_core::DEFAULT_WORKSPACE.into()
}

impl Settings {
    /// Reads `home/sitrep.yaml` (defaults when it does not exist), applies `overrides`, and
    /// checks every value.
    pub fn load(home: &Path, overrides: &Overrides) -> Result<Settings, SettingsError> {
        let path = home.join(CONFIG_FILE);
        let mut s = match std::fs::read_to_string(&path) {
            Ok(text) => Settings::parse(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        if let Some(u) = &overrides.database_url {
            s.database_url = Some(u.clone());
        }
        if let Some(w) = &overrides.workspace
            && *w != s.workspace
        {
            s = s.for_workspace(w);
        }
        if let Some(l) = &overrides.listen {
            s.serve.listen = l.clone();
        }
        s.validate(&path)?;
        Ok(s)
    }

    /// The settings of another workspace of the same home: the same database, collections
    /// and everything else, with its own name and its own folder,
    /// `$SITREP_HOME/workspaces/NAME` (the file's `workspace_dir` is the file's workspace's).
    pub fn for_workspace(&self, name: &str) -> Settings {
        let mut s = self.clone();
        if s.primary_workspace.is_none() {
            s.primary_workspace = Some(s.workspace.clone());
            s.primary_workspace_dir = s.workspace_dir.take();
        }
        s.workspace = name.to_string();
        s.workspace_dir = Some(PathBuf::from(WORKSPACES_DIR).join(name));
        s
    }

    /// Parses the file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        if text.trim().is_empty() {
            return Ok(Settings::default());
        }
        yaml_serde::from_str(text).map_err(|e| SettingsError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Every rule a value must meet; the first broken one is reported with its key.
    pub fn validate(&self, path: &Path) -> Result<(), SettingsError> {
        let bad = |key: &str, message: String| {
            Err(SettingsError::Invalid {
                path: path.to_path_buf(),
                key: key.into(),
                message,
            })
        };
        let valid_name = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        };
        if self.serve.listen != "off" && self.serve.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return bad(
                "serve.listen",
                format!(
                    "{:?} is not an address: use HOST:PORT with an IP address (e.g. {DEFAULT_LISTEN}), or off",
                    self.serve.listen
                ),
            );
        }
        if !valid_name(&self.workspace) || self.workspace.chars().all(|c| c == '.') {
            return bad(
                "workspace",
                format!(
                    "{:?} must be 1-64 letters, digits, '-', '_' or '.' (not only dots)",
                    self.workspace
                ),
            );
        }
        if let Some(u) = &self.database_url
            && !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://"))
        {
            return bad(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://".into(),
            );
        }
        let r = &self.runner;
        if r.max_concurrent == 0 || r.max_concurrent > 1024 {
            return bad(
                "runner.max_concurrent",
                format!("must be 1 to 1024, got {}", r.max_concurrent),
            );
        }
        if r.max_per_resource == 0 || r.max_per_resource > r.max_concurrent {
            return bad(
                "runner.max_per_resource",
                format!(
                    "must be 1 to runner.max_concurrent ({}), got {}",
                    r.max_concurrent, r.max_per_resource
                ),
            );
        }
        if r.output_cap_bytes < 1024 || r.output_cap_bytes > 64 * 1024 * 1024 {
            return bad(
                "runner.output_cap_bytes",
                format!("must be 1024 to 67108864, got {}", r.output_cap_bytes),
            );
        }
        for (name, at) in &self.secrets {
            if !(at.starts_with("env:") || at.starts_with("file:")) {
                return bad(
                    &format!("secrets.{name}"),
                    "must be env:VARIABLE or file:/path (values never go in this file)".into(),
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.collections {
            if c.name == "core" {
                return bad(
                    "collections",
                    "the name `core` is the built-in collection's".into(),
                );
            }
            if !seen.insert(&c.name) {
                return bad(
                    "collections",
                    format!("collection {:?} is listed twice", c.name),
                );
            }
            if c.path.is_some() == c.git.is_some() {
                return bad(
                    &format!("collections.{}", c.name),
                    "give exactly one of `path` or `git` (with `ref`)".into(),
                );
            }
        }
        let w = &self.sli_watch;
        if !(w.threshold > 0.0 && w.threshold <= 1.0) {
            return bad(
                "sli_watch.threshold",
                format!("must be in (0, 1], got {}", w.threshold),
            );
        }
        if !(w.extreme_tolerance >= 0.0) {
            return bad(
                "sli_watch.extreme_tolerance",
                format!("must be 0 (off) or more, got {}", w.extreme_tolerance),
            );
        }
        if w.calm == 0 {
            return bad("sli_watch.calm", "must be at least 1".into());
        }
        if w.max_series == 0 {
            return bad("sli_watch.max_series", "must be at least 1".into());
        }
        crate::investigate::validate_settings(self).map_err(|(key, message)| {
            SettingsError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            }
        })
    }

    /// The workspace folder (see `workspace_dir`).
    pub fn workspace_dir(&self, home: &Path) -> PathBuf {
        match &self.workspace_dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => home.join(d),
            None => home.to_path_buf(),
        }
    }

    pub fn database_url(&self, home: &Path) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", home.join("sitrep.db").display()))
    }
}

/// `~/.sitrep`, where everything lives unless `SITREP_HOME` says otherwise.
pub fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".sitrep")
}

/// What `sitrep init` writes: every key with its default, commented where optional.
pub const TEMPLATE: &str = include_str!("settings_template.yaml");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Settings, SettingsError> {
        let s = Settings::parse(s, Path::new("sitrep.yaml"))?;
        s.validate(Path::new("sitrep.yaml"))?;
        Ok(s)
    }

    #[test]
    fn the_init_template_parses_to_the_defaults() {
        let t = parse(TEMPLATE).unwrap();
        let d = Settings::default();
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            serde_json::to_value(&d).unwrap()
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        for (yaml, key) in [
            ("runner: {max_concurrent: 0}", "runner.max_concurrent"),
            ("runner: {max_per_resource: 99}", "runner.max_per_resource"),
            ("sli_watch: {threshold: 1.5}", "sli_watch.threshold"),
            ("secrets: {pg: hunter2}", "secrets.pg"),
            ("workspace: 'a b'", "workspace"),
            ("database_url: mysql://x", "database_url"),
            ("collections: [{name: core, path: /x}]", "collections"),
        ] {
            let e = parse(yaml).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(DOCS), "{yaml}: {e}");
        }
        let typo = parse("sli_watch: {treshold: 0.5}").unwrap_err().to_string();
        assert!(typo.contains("treshold") && typo.contains(DOCS), "{typo}");
    }

    #[test]
    fn sli_watch_settings_reach_the_runner() {
        let c = parse("sli_watch: {threshold: 0.8, warmup: 20, replay: 0, extreme_tolerance: 0}")
            .unwrap();
        let w = c.sli_watch.watch().unwrap();
        assert_eq!(w.threshold, 0.8);
        assert_eq!(w.detector.warmup, 20);
        assert_eq!(w.replay, 0);
        let off = parse("sli_watch: {enabled: false}").unwrap();
        assert!(off.sli_watch.watch().is_none());
    }

    #[test]
    fn overrides_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "workspace: a\n").unwrap();
        let s = Settings::load(
            dir.path(),
            &Overrides {
                database_url: Some("sqlite:///tmp/x.db".into()),
                workspace: Some("b".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (s.workspace.as_str(), s.database_url(dir.path()).as_str()),
            ("b", "sqlite:///tmp/x.db")
        );
    }
}
