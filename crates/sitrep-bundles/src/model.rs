//! A loaded, validated collection. The raw YAML shapes live in `load.rs`; these types only
//! exist once every check passed.

use serde::{Deserialize, Serialize};
use sitrep_core::{Risk, TaskKind, TaskType};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// One value for the scheduler and the issue lifecycle.
pub const DEFAULT_INTERVAL: Duration = sitrep_core::issue::DEFAULT_INTERVAL;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collection {
    pub name: String,
    pub description: String,
    pub version: String,
    pub root: PathBuf,
    pub bundles: Vec<Bundle>,
}

impl Collection {
    pub fn bundle(&self, name: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|b| b.name == name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub name: String,
    pub description: String,
    pub resource_type: String,
    pub tags: Vec<String>,
    pub params: Vec<ParamDecl>,
    pub secrets: Vec<SecretDecl>,
    pub tasks: Vec<Task>,
    pub hypotheses: Vec<Hypothesis>,
    /// Which discovered resources get an SLX of this bundle (see `rules`).
    pub generation_rules: Vec<crate::rules::GenerationRule>,
    pub dir: PathBuf,
}

impl Bundle {
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }
    pub fn param(&self, name: &str) -> Option<&ParamDecl> {
        self.params.iter().find(|p| p.name == name)
    }
    pub fn secret(&self, name: &str) -> Option<&SecretDecl> {
        self.secrets.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SecretAs {
    #[default]
    Env,
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretDecl {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "as")]
    pub as_: SecretAs,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hypothesis {
    pub id: String,
    pub statement: String,
    #[serde(default)]
    pub symptoms: Vec<String>,
    #[serde(default)]
    pub tested_by: Vec<String>,
    /// The remediation that fixes it: a task of this bundle, or `BUNDLE/TASK` of another
    /// bundle of the same collection (run on the resource, or on what it runs on).
    #[serde(default)]
    pub remediation: Option<String>,
    /// The remediation's parameters as `{column}` templates over the confirming issue's
    /// data, e.g. `APPLICATION: "{app}"`. A parameter that cannot be filled blocks the
    /// proposal rather than guessing.
    #[serde(default)]
    pub remediation_params: BTreeMap<String, String>,
    /// Names who or what holds the problem, as a template over the confirming issue's data
    /// (`"{app} (user {usr})"`).
    #[serde(default)]
    pub culprit: Option<String>,
    /// A signal, not a cause: confirmed, it says a problem was detected (an alert firing
    /// about something else) and is followed, but never concluded as the root cause.
    #[serde(default)]
    pub signal: bool,
    /// A recent change (configuration, deploy). Confirmed on a resource, it explains the
    /// failures found by following the Map through that resource, which are then its
    /// consequences rather than rival causes.
    #[serde(default)]
    pub change: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub name: String,
    pub description: String,
    pub kind: TaskKind,
    #[serde(rename = "type")]
    pub ty: TaskType,
    /// Health tasks only.
    pub interval: Option<Duration>,
    pub timeout: Duration,
    pub tags: Vec<String>,
    pub risk: Option<Risk>,
    pub rollback: Option<String>,
    /// Params this task needs beyond the bundle's.
    pub params: Vec<String>,
    pub spec: TaskSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TaskSpec {
    Script {
        interpreter: Interpreter,
        path: PathBuf,
    },
    Sql(SqlSpec),
    Http(HttpSpec),
    Promql(PromqlSpec),
    /// A Robot Framework task of a RunWhen codebundle (`docs/runwhen.md`): loaded, listed and
    /// validated, but not run yet (the runner refuses it with a typed error).
    Robot(RobotSpec),
}

/// What to run: a suite file and, for a runbook task, exactly one of its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotSpec {
    /// `runbook.robot` or `sli.robot`, relative to the bundle folder.
    pub file: String,
    /// The task's name as written, for `robot --test "<name>"`. `None` runs the whole suite:
    /// an SLI's tasks build on each other (suite variables) and push one score together.
    pub test: Option<String>,
    /// The task's (for a whole suite: its first task's) line.
    pub line: usize,
    /// `[Timeout]` as written; Robot Framework enforces it itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Interpreter {
    Bash,
    Python,
}

impl Interpreter {
    pub fn program(self) -> &'static str {
        match self {
            Interpreter::Bash => "bash",
            Interpreter::Python => "python3",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RaiseRule {
    #[serde(default)]
    pub when: Option<String>,
    pub severity: u8,
    pub title: String,
    #[serde(default)]
    pub expected: String,
    #[serde(default)]
    pub actual: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub next_steps: String,
    #[serde(default)]
    pub reproduce_hint: String,
    #[serde(default)]
    pub resource: Option<String>,
    /// For issues raised from events in a time window: a template giving when the latest event
    /// happened (RFC 3339 or Unix seconds), e.g. `{last_nonzero_at}`. The issue then resolves
    /// once that is older than the check's quiet period, not its whole window.
    #[serde(default)]
    pub last_event_at: Option<String>,
}

/// When a declarative task could not measure: the run is `inconclusive` (it proves nothing
/// and resolves nothing) and no rule raises. Exactly one of `when` and `no_rows`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InconclusiveRule {
    /// A row expression: inconclusive when any row matches.
    #[serde(default)]
    pub when: Option<String>,
    /// Inconclusive when the query returns no rows at all.
    #[serde(default)]
    pub no_rows: bool,
    /// Why the task could not measure; `{column}` and `${NAME}` are filled.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InsightRule {
    #[serde(default)]
    pub when: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricRule {
    pub name: String,
    pub column: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SqlSpec {
    pub dsn: String,
    #[serde(default)]
    pub password: Option<String>,
    pub query: String,
    #[serde(default)]
    pub inconclusive: Vec<InconclusiveRule>,
    #[serde(default)]
    pub raise: Vec<RaiseRule>,
    #[serde(default)]
    pub insights: Vec<InsightRule>,
    #[serde(default)]
    pub metrics: Vec<MetricRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub expect: HttpExpect,
    #[serde(default = "default_http_severity")]
    pub severity: u8,
}

fn default_method() -> String {
    "GET".into()
}
fn default_http_severity() -> u8 {
    2
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    #[serde(default)]
    pub status: Option<StatusList>,
    #[serde(default)]
    pub body_contains: Option<String>,
    #[serde(default)]
    pub max_latency: Option<String>,
    #[serde(default)]
    pub cert_min_days: Option<i64>,
}

/// `status: 200` or `status: [200, 204]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum StatusList {
    One(u16),
    Many(Vec<u16>),
}

impl StatusList {
    pub fn contains(&self, s: u16) -> bool {
        match self {
            StatusList::One(x) => *x == s,
            StatusList::Many(v) => v.contains(&s),
        }
    }
    pub fn describe(&self) -> String {
        match self {
            StatusList::One(x) => x.to_string(),
            StatusList::Many(v) => v
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromqlSpec {
    pub url: String,
    pub query: String,
    #[serde(default)]
    pub range: Option<String>,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub inconclusive: Vec<InconclusiveRule>,
    #[serde(default)]
    pub raise: Vec<RaiseRule>,
    #[serde(default)]
    pub insights: Vec<InsightRule>,
    #[serde(default)]
    pub metrics: Vec<MetricRule>,
}

/// The row rules of a declarative task: result rows become issues, insights and metrics.
#[derive(Debug, Clone, Copy)]
pub struct RowRules<'a> {
    pub inconclusive: &'a [InconclusiveRule],
    pub raise: &'a [RaiseRule],
    pub insights: &'a [InsightRule],
    pub metrics: &'a [MetricRule],
}

impl SqlSpec {
    pub fn rules(&self) -> RowRules<'_> {
        RowRules {
            inconclusive: &self.inconclusive,
            raise: &self.raise,
            insights: &self.insights,
            metrics: &self.metrics,
        }
    }
}

impl PromqlSpec {
    pub fn rules(&self) -> RowRules<'_> {
        RowRules {
            inconclusive: &self.inconclusive,
            raise: &self.raise,
            insights: &self.insights,
            metrics: &self.metrics,
        }
    }
}
