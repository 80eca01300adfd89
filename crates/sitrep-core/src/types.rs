//! The nouns of sitrep: tasks, runs, issues, insights and metric samples.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The tenancy boundary. Every stored row carries one; nothing is read across two.
pub const DEFAULT_WORKSPACE: &str = "default";

/// 1 critical, 2 major, 3 minor, 4 info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Severity(u8);

impl Severity {
    pub const CRITICAL: Severity = Severity(1);
    pub const MAJOR: Severity = Severity(2);
    pub const MINOR: Severity = Severity(3);
    pub const INFO: Severity = Severity(4);

    pub fn new(n: u8) -> Result<Self, String> {
        if (1..=4).contains(&n) {
            Ok(Severity(n))
        } else {
            Err(format!(
                "severity must be 1 (critical) to 4 (info), got {n}"
            ))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
    pub fn label(self) -> &'static str {
        match self.0 {
            1 => "critical",
            2 => "major",
            3 => "minor",
            _ => "info",
        }
    }
}

impl TryFrom<u8> for Severity {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        Severity::new(n)
    }
}
impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s.0
    }
}
impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? } expected $expected:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?} (expected {})", stringify!($name).to_lowercase(), $expected)),
                }
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// What a task is for; decides scheduling and the approval gate.
    TaskKind { Health = "health", Diagnostic = "diagnostic", Remediation = "remediation" }
    expected "health, diagnostic or remediation"
);

string_enum!(
    /// How a task runs. `Robot`: a Robot Framework task of a RunWhen codebundle
    /// (`sitrep-runwhen`); native `bundle.yaml` tasks never have it.
    TaskType { Bash = "bash", Python = "python", Sql = "sql", Http = "http", Promql = "promql", Robot = "robot" }
    expected "bash, python, sql, http, promql or robot"
);

string_enum!(
    /// How a run ended. `Inconclusive`: the task ran but could not measure, because a
    /// precondition another task checks did not hold (no response at all, not HTTPS, the
    /// server down); it proves nothing either way, so it resolves nothing (see `issue`).
    RunStatus { Running = "running", Succeeded = "succeeded", Inconclusive = "inconclusive", Failed = "failed", TimedOut = "timed-out", Interrupted = "interrupted" }
    expected "running, succeeded, inconclusive, failed, timed-out or interrupted"
);

impl RunStatus {
    /// Whether the run measured what it checks, so that what it did not raise is known to be
    /// absent. Only such runs resolve issues.
    pub fn measured(self) -> bool {
        self == RunStatus::Succeeded
    }
}

string_enum!(
    IssueStatus { Open = "open", Resolved = "resolved" }
    expected "open or resolved"
);

string_enum!(
    Risk { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
    expected "low, medium, high or critical"
);

/// `collection/bundle/task`, the name users type (`core/postgres/idle-in-transaction`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskRef {
    pub collection: String,
    pub bundle: String,
    pub task: String,
}

impl TaskRef {
    pub fn new(collection: &str, bundle: &str, task: &str) -> Self {
        TaskRef {
            collection: collection.into(),
            bundle: bundle.into(),
            task: task.into(),
        }
    }
    /// Accepts `collection/bundle/task` or `bundle/task` (collection `core`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [c, b, t] if !c.is_empty() && !b.is_empty() && !t.is_empty() => {
                Ok(TaskRef::new(c, b, t))
            }
            [b, t] if !b.is_empty() && !t.is_empty() => Ok(TaskRef::new("core", b, t)),
            _ => Err(format!(
                "invalid task {s:?}: write BUNDLE/TASK or COLLECTION/BUNDLE/TASK (see `sitrep tasks`)"
            )),
        }
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.collection, self.bundle, self.task)
    }
}

/// An issue as a task raises it, before deduplication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueDraft {
    pub severity: Severity,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expected: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actual: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_steps: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reproduce_hint: String,
    /// Overrides the run's resource for display (a down target named by a Prometheus check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Timestamp>,
    /// Set on issues raised from events in a time window (log lines, kernel messages, rule
    /// evaluation failures, restarts): when the latest of those events happened. Such an issue
    /// is current only while that is within the quiet period (`issue::quiet_period`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<Timestamp>,
    /// Structured facts behind the issue (a declarative task's row, or what a script passed):
    /// investigations name culprits and fill remediation parameters from them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl IssueDraft {
    pub fn new(severity: Severity, title: impl Into<String>) -> Self {
        IssueDraft {
            severity,
            title: title.into(),
            expected: String::new(),
            actual: String::new(),
            details: String::new(),
            next_steps: String::new(),
            reproduce_hint: String::new(),
            resource: None,
            observed_at: None,
            last_event_at: None,
            data: serde_json::Map::new(),
        }
    }
}

/// A deduplicated, stored issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: String,
    pub workspace: String,
    pub fingerprint: String,
    /// The SLX name, or the run's resource when the task ran outside an SLX. Resolution is per scope.
    pub scope: String,
    pub resource: String,
    pub task: String,
    pub severity: Severity,
    pub title: String,
    pub expected: String,
    pub actual: String,
    pub details: String,
    pub next_steps: String,
    pub reproduce_hint: String,
    pub status: IssueStatus,
    pub count: i64,
    pub first_seen: Timestamp,
    /// The latest run (or `observed_at`) that raised it.
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub last_run_id: String,
    /// For event-window issues: when the latest event happened (see [`IssueDraft`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<Timestamp>,
    /// Until when the evidence counts as current: the last evidence (the latest event, or the
    /// latest raise) plus the quiet period of the check. `None` on issues stored before it
    /// existed. See `issue::rank`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_until: Option<Timestamp>,
    /// The latest raise's structured facts (see [`IssueDraft::data`]).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// One change in an issue's life, kept as history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueEvent {
    pub issue_id: String,
    pub at: Timestamp,
    pub kind: IssueEventKind,
    pub run_id: String,
}

string_enum!(
    IssueEventKind { Opened = "opened", Repeated = "repeated", Resolved = "resolved", Reopened = "reopened" }
    expected "opened, repeated, resolved or reopened"
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    pub workspace: String,
    pub run_id: String,
    pub scope: String,
    pub resource: String,
    pub task: String,
    pub text: String,
    #[serde(default)]
    pub data: serde_json::Value,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    pub workspace: String,
    pub run_id: String,
    pub scope: String,
    pub resource: String,
    pub task: String,
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub at: Timestamp,
}

/// One execution of one task. Recorded when it starts, so a crash leaves `running` rows that the
/// next start marks `interrupted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRun {
    pub id: String,
    pub workspace: String,
    pub scope: String,
    pub slx: Option<String>,
    pub resource: String,
    pub task: String,
    pub kind: TaskKind,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub stdout: String,
    pub stderr: String,
    pub report: String,
    pub error: Option<String>,
    /// Why an `inconclusive` run could not measure (the precondition that did not hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TaskRun {
    /// A run of `task` on `resource` starting `at`: running, nothing captured yet, from no
    /// SLX. Its scope is its resource: one problem, one issue, whichever way the task ran.
    pub fn started(
        id: String,
        workspace: String,
        task: String,
        kind: TaskKind,
        resource: String,
        at: Timestamp,
    ) -> Self {
        TaskRun {
            id,
            workspace,
            scope: resource.clone(),
            slx: None,
            resource,
            task,
            kind,
            status: RunStatus::Running,
            exit_code: None,
            started_at: at,
            finished_at: None,
            stdout: String::new(),
            stderr: String::new(),
            report: String::new(),
            error: None,
            reason: None,
        }
    }

    pub fn duration_ms(&self) -> Option<i64> {
        self.finished_at.map(|f| f.0 - self.started_at.0)
    }
}

/// A Service Level eXpectation: one resource, the bundle tasks that watch it, and the config
/// values and secret references they run with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slx {
    pub workspace: String,
    pub name: String,
    pub resource: String,
    /// `collection/bundle`.
    pub bundle: String,
    #[serde(default)]
    pub description: String,
    /// Health tasks to schedule; empty means every health task of the bundle.
    #[serde(default)]
    pub tasks: Vec<SlxTask>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Secret name → where its value lives (`env:VAR` or `file:/path`); values are never stored.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Marked by discovery when the resource is gone; the scheduler skips it. Never deleted
    /// automatically, so hand-written history and config survive a flapping resource.
    #[serde(default)]
    pub stale: bool,
    /// Set when discovery generated this SLX; `None` for hand-written ones, which discovery
    /// never touches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<crate::slx_plan::SlxOrigin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlxTask {
    pub task: String,
    /// Overrides the task's declared interval (`30s`, `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}
