//! The plain, serialisable shapes the engine returns. `--json` prints them as they are, and
//! the HTTP API will too, so every edge shows the same thing.

use serde::{Deserialize, Serialize};
use sitrep_core::map::{Edge, MapDiff, Resource};
use sitrep_core::{
    IssueDraft, IssueEventKind, Risk, RunStatus, TaskKind, TaskRun, TaskType, Timestamp,
};
use std::collections::BTreeMap;

pub use sitrep_core::map_query::Paths;
pub use sitrep_discovery::IndexerOutcome;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamView {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub task: String,
    pub kind: TaskKind,
    #[serde(rename = "type")]
    pub ty: TaskType,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<u64>,
    pub timeout_s: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    pub params: Vec<ParamView>,
    pub secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsightView {
    pub text: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricView {
    pub name: String,
    pub value: f64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueChangeView {
    pub kind: IssueEventKind,
    pub issue_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Since when the checks have seen it: when it opened, or was reopened by this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

/// One task run and what it reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub run: TaskRun,
    pub issues: Vec<IssueDraft>,
    pub insights: Vec<InsightView>,
    pub metrics: Vec<MetricView>,
    pub report: String,
    pub changes: Vec<IssueChangeView>,
    /// Issues this run resolved.
    pub resolved: Vec<String>,
    /// The approval record the run executed under (remediations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

impl RunView {
    pub fn succeeded(&self) -> bool {
        self.run.status == RunStatus::Succeeded
    }
    /// The raises the issue lifecycle kept (opened or raised again): an event older than its
    /// check's quiet period is reported by the task but is not a current problem.
    pub fn kept_issues(&self) -> impl Iterator<Item = &IssueDraft> {
        self.issues.iter().filter(|d| {
            self.changes.iter().any(|c| {
                c.kind != IssueEventKind::Resolved && c.title.as_deref() == Some(d.title.as_str())
            })
        })
    }
    /// The task itself went wrong (an inconclusive run ran fine but could not measure).
    pub fn failed(&self) -> bool {
        matches!(
            self.run.status,
            RunStatus::Failed | RunStatus::TimedOut | RunStatus::Interrupted
        )
    }
}

/// The runs of one SLX's health tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlxRunView {
    pub slx: String,
    pub runs: Vec<RunView>,
    /// Entries of the SLX that could not run, and why.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemView {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl From<&sitrep_bundles::Problem> for ProblemView {
    fn from(p: &sitrep_bundles::Problem) -> Self {
        ProblemView {
            file: p.file.display().to_string(),
            line: p.line,
            field: p.field.clone(),
            message: p.message.clone(),
        }
    }
}

impl std::fmt::Display for ProblemView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What `init` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitView {
    pub home: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrote_config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_slx: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlxPlanView {
    pub create: Vec<sitrep_core::Slx>,
    pub update: Vec<sitrep_core::Slx>,
    pub retire: Vec<sitrep_core::Slx>,
    pub unchanged: Vec<String>,
    pub conflicts: Vec<String>,
    pub covered: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryView {
    pub dry_run: bool,
    pub resources: Vec<Resource>,
    pub edges: Vec<Edge>,
    pub slxs: SlxPlanView,
    pub changes: MapDiff,
    pub indexers: Vec<IndexerOutcome>,
    /// What SLX generation could not do, each naming its file (`docs/runwhen.md`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl DiscoveryView {
    pub fn failed_indexers(&self) -> usize {
        self.indexers.iter().filter(|o| o.error.is_some()).count()
    }
}

/// The Map, or the part of it around one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapView {
    pub resources: Vec<Resource>,
    pub edges: Vec<Edge>,
}

/// What a `serve --once` pass did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassView {
    pub tasks: usize,
    pub failed: usize,
}

/// A run in a listing: everything but its captured output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub task: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slx: Option<String>,
    pub kind: sitrep_core::TaskKind,
    pub status: RunStatus,
    pub started_at: sitrep_core::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<sitrep_core::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed, timed out or was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why an inconclusive run could not measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&TaskRun> for RunSummary {
    fn from(r: &TaskRun) -> Self {
        RunSummary {
            id: r.id.clone(),
            task: r.task.clone(),
            resource: r.resource.clone(),
            slx: r.slx.clone(),
            kind: r.kind,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms(),
            exit_code: r.exit_code,
            error: r.error.clone(),
            reason: r.reason.clone(),
        }
    }
}

/// Which slice of a listing to return: `limit` items (default [`Page::DEFAULT_LIMIT`], at
/// most [`Page::MAX_LIMIT`]) after skipping `offset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: Option<usize>,
}

/// One slice of a listing, in the listing's order, with how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

impl<T> Page<T> {
    pub const DEFAULT_LIMIT: usize = 100;
    pub const MAX_LIMIT: usize = 1000;

    /// How many of a listing's first items a page of `q` needs (its offset plus its limit; at
    /// most twice [`Self::MAX_LIMIT`], beyond which pages are empty), for a store read.
    pub fn wanted(q: &PageQuery) -> usize {
        q.offset
            .unwrap_or(0)
            .saturating_add(q.limit.unwrap_or(Self::DEFAULT_LIMIT))
            .min(Self::MAX_LIMIT * 2)
    }

    pub fn of(all: Vec<T>, q: PageQuery) -> Page<T> {
        let limit = q.limit.unwrap_or(Self::DEFAULT_LIMIT).min(Self::MAX_LIMIT);
        let offset = q.offset.unwrap_or(0);
        let total = all.len();
        let items = all.into_iter().skip(offset).take(limit).collect();
        Page {
            items,
            total,
            offset,
            limit,
        }
    }
}

/// A page of issues, and how many of all of them (not only the page's) have each severity, by
/// its number (`"1"` critical to `"4"` info, each present): an overview counts without
/// fetching every issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuePage {
    #[serde(flatten)]
    pub page: Page<crate::rules::IssueView>,
    pub by_severity: std::collections::BTreeMap<u8, usize>,
}

impl IssuePage {
    pub fn of(all: Vec<crate::rules::IssueView>, q: PageQuery) -> IssuePage {
        let mut by_severity: std::collections::BTreeMap<u8, usize> =
            (1..=4).map(|n| (n, 0)).collect();
        for i in &all {
            *by_severity.entry(i.severity.get()).or_default() += 1;
        }
        IssuePage {
            page: Page::of(all, q),
            by_severity,
        }
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;

    #[test]
    fn an_issue_page_counts_every_issue_by_severity_not_only_its_own() {
        let issue = |n: usize, sev: u8| -> crate::rules::IssueView {
            serde_json::from_value(serde_json::json!({
                "id": format!("i{n}"), "workspace": "w", "fingerprint": format!("f{n}"),
                "scope": "s", "resource": "r", "task": "c/b/t", "severity": sev,
                "title": format!("t{n}"), "expected": "", "actual": "", "details": "",
                "next_steps": "", "reproduce_hint": "", "status": "open", "count": 1,
                "first_seen": 1, "last_seen": 2, "resolved_at": null, "last_run_id": "run",
            }))
            .unwrap()
        };
        let all: Vec<_> = (0..7).map(|n| issue(n, [1, 2, 2, 3][n % 4])).collect();
        let page = IssuePage::of(
            all,
            PageQuery {
                limit: Some(2),
                offset: Some(1),
            },
        );
        assert_eq!((page.page.items.len(), page.page.total), (2, 7));
        assert_eq!(
            page.by_severity.into_iter().collect::<Vec<_>>(),
            [(1, 2), (2, 4), (3, 1), (4, 0)]
        );
        let json = serde_json::to_value(IssuePage::of(vec![], PageQuery::default())).unwrap();
        assert_eq!(
            json["by_severity"],
            serde_json::json!({"1": 0, "2": 0, "3": 0, "4": 0})
        );
        assert_eq!(
            json["total"], 0,
            "the page's fields stay at the top: {json}"
        );
    }

    #[test]
    fn a_page_is_a_bounded_slice_with_the_total() {
        let p = Page::of(
            (0..10).collect(),
            PageQuery {
                limit: Some(3),
                offset: Some(8),
            },
        );
        assert_eq!(
            (p.items, p.total, p.offset, p.limit),
            (vec![8, 9], 10, 8, 3)
        );
        let p = Page::of(
            (0..5000).collect::<Vec<_>>(),
            PageQuery {
                limit: Some(1_000_000),
                offset: None,
            },
        );
        assert_eq!(p.items.len(), Page::<u8>::MAX_LIMIT);
        assert_eq!(
            Page::of(vec![1], PageQuery::default()).limit,
            Page::<u8>::DEFAULT_LIMIT
        );
    }
}
