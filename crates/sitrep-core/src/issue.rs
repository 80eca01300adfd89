//! The issue lifecycle: what one finished run does to the issues of its scope.
//!
//! A raise opens an issue or bumps the open one with the same fingerprint; a successful run that
//! no longer raises an open issue resolves it; a raise of a resolved issue reopens it. A failed
//! or inconclusive run proves nothing, so it resolves nothing.
//!
//! An issue raised from events in a time window (it carries `last_event_at`) counts as raised
//! only while its latest event is within the check's quiet period ([`quiet_period`], a few
//! intervals), not the task's whole look-back window: once the events stop, the next measured
//! run resolves it. How current issues are, and the order they are shown in, is
//! [`crate::currency`].

use crate::fingerprint::issue_fingerprint;
use crate::{Issue, IssueDraft, IssueEventKind, IssueStatus, Timestamp};
use std::collections::HashMap;
use std::time::Duration;

/// The interval assumed for a check that declares none (diagnostics run by hand).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// The quiet period is this many intervals of the check.
pub const QUIET_INTERVALS: u32 = 2;

/// How long after its last evidence an issue stays current: [`QUIET_INTERVALS`] intervals of
/// the check that raises it. Two, so that one late or skipped run does not resolve it.
pub fn quiet_period(interval: Duration) -> Duration {
    interval.saturating_mul(QUIET_INTERVALS)
}

/// How a run ended, as far as its issues are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd {
    /// The run measured what it checks (`RunStatus::measured`); only such a run resolves.
    pub measured: bool,
    pub now: Timestamp,
    /// The quiet period of the check ([`quiet_period`] of its interval).
    pub quiet: Duration,
}

/// Where a run's issues live: workspace, scope (SLX name or resource) and task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunScope<'a> {
    pub workspace: &'a str,
    pub scope: &'a str,
    pub resource: &'a str,
    pub task: &'a str,
    pub run_id: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IssueChange {
    /// A new issue; store it whole.
    Open(Issue),
    /// An existing issue raised again (open: repeated; resolved: reopened). Carries the new
    /// content: the latest raise wins for severity and text.
    Raise {
        issue: Issue,
        kind: IssueEventKind,
    },
    Resolve {
        issue_id: String,
        at: Timestamp,
    },
}

impl IssueChange {
    pub fn issue_id(&self) -> &str {
        match self {
            IssueChange::Open(i) | IssueChange::Raise { issue: i, .. } => &i.id,
            IssueChange::Resolve { issue_id, .. } => issue_id,
        }
    }
    pub fn event_kind(&self) -> IssueEventKind {
        match self {
            IssueChange::Open(_) => IssueEventKind::Opened,
            IssueChange::Raise { kind, .. } => *kind,
            IssueChange::Resolve { .. } => IssueEventKind::Resolved,
        }
    }
}

/// Computes the changes a finished run makes.
///
/// `existing` holds the scope's issues for this task, open or resolved, as stored (one per
/// fingerprint). `new_id` mints ids for issues opened by this run.
pub fn reconcile(
    scope: &RunScope<'_>,
    existing: &[Issue],
    drafts: &[IssueDraft],
    end: RunEnd,
    mut new_id: impl FnMut() -> String,
) -> Vec<IssueChange> {
    let now = end.now;
    let by_fp: HashMap<&str, &Issue> = existing
        .iter()
        .map(|i| (i.fingerprint.as_str(), i))
        .collect();
    let mut changes = Vec::new();
    // Merge raises that share a fingerprint within the run: the most severe wins, and the
    // latest event of any of them is the issue's.
    let mut merged: Vec<(String, IssueDraft)> = Vec::new();
    for d in drafts {
        let fp = issue_fingerprint(scope.workspace, scope.scope, scope.task, &d.title);
        match merged.iter_mut().find(|(f, _)| *f == fp) {
            Some((_, prev)) => {
                let last_event_at = prev.last_event_at.max(d.last_event_at);
                if d.severity < prev.severity {
                    *prev = d.clone();
                }
                prev.last_event_at = last_event_at;
            }
            None => merged.push((fp, d.clone())),
        }
    }
    // Events older than the quiet period are history, not a current problem.
    merged.retain(|(_, d)| d.last_event_at.is_none_or(|at| now.since(at) <= end.quiet));

    for (fp, d) in &merged {
        let seen = d.observed_at.unwrap_or(now);
        match by_fp.get(fp.as_str()) {
            Some(prev) => {
                let kind = if prev.status == IssueStatus::Open {
                    IssueEventKind::Repeated
                } else {
                    IssueEventKind::Reopened
                };
                let mut issue = (*prev).clone();
                apply_draft(&mut issue, d, scope);
                issue.status = IssueStatus::Open;
                issue.count += 1;
                issue.last_seen = seen.max(prev.last_seen);
                issue.resolved_at = None;
                if d.last_event_at.is_some() {
                    issue.last_event_at = d.last_event_at.max(prev.last_event_at);
                }
                issue.current_until = Some(evidence(&issue).add(end.quiet));
                changes.push(IssueChange::Raise { issue, kind });
            }
            None => {
                let mut issue = Issue {
                    id: new_id(),
                    workspace: scope.workspace.to_string(),
                    fingerprint: fp.clone(),
                    scope: scope.scope.to_string(),
                    resource: String::new(),
                    task: scope.task.to_string(),
                    severity: d.severity,
                    title: String::new(),
                    expected: String::new(),
                    actual: String::new(),
                    details: String::new(),
                    next_steps: String::new(),
                    reproduce_hint: String::new(),
                    status: IssueStatus::Open,
                    count: 1,
                    first_seen: seen,
                    last_seen: seen,
                    resolved_at: None,
                    last_run_id: String::new(),
                    last_event_at: d.last_event_at,
                    current_until: None,
                    data: serde_json::Map::new(),
                };
                apply_draft(&mut issue, d, scope);
                issue.current_until = Some(evidence(&issue).add(end.quiet));
                changes.push(IssueChange::Open(issue));
            }
        }
    }

    if end.measured {
        for prev in existing {
            let still_raised = merged.iter().any(|(fp, _)| *fp == prev.fingerprint);
            if prev.status == IssueStatus::Open && !still_raised {
                changes.push(IssueChange::Resolve {
                    issue_id: prev.id.clone(),
                    at: now,
                });
            }
        }
    }
    changes
}

/// When the issue was last evidenced: its latest event, or else its latest raise.
pub fn evidence(issue: &Issue) -> Timestamp {
    issue.last_event_at.unwrap_or(issue.last_seen)
}

fn apply_draft(issue: &mut Issue, d: &IssueDraft, scope: &RunScope<'_>) {
    issue.severity = d.severity;
    issue.title = d.title.clone();
    issue.expected = d.expected.clone();
    issue.actual = d.actual.clone();
    issue.details = d.details.clone();
    issue.next_steps = d.next_steps.clone();
    issue.reproduce_hint = d.reproduce_hint.clone();
    issue.resource = d
        .resource
        .clone()
        .unwrap_or_else(|| scope.resource.to_string());
    issue.last_run_id = scope.run_id.to_string();
    issue.data = d.data.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn scope() -> RunScope<'static> {
        RunScope {
            workspace: "w",
            scope: "pg-main",
            resource: "pg-main",
            task: "core/postgres/idle",
            run_id: "r1",
        }
    }

    const MIN: i64 = 60_000;

    fn end(measured: bool, at: i64) -> RunEnd {
        RunEnd {
            measured,
            now: Timestamp(at),
            quiet: Duration::from_secs(600),
        }
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("i{n}")
        }
    }

    fn apply(existing: &mut Vec<Issue>, changes: Vec<IssueChange>) {
        for c in changes {
            match c {
                IssueChange::Open(i) => existing.push(i),
                IssueChange::Raise { issue, .. } => {
                    let slot = existing.iter_mut().find(|e| e.id == issue.id).unwrap();
                    *slot = issue;
                }
                IssueChange::Resolve { issue_id, at } => {
                    let slot = existing.iter_mut().find(|e| e.id == issue_id).unwrap();
                    slot.status = IssueStatus::Resolved;
                    slot.resolved_at = Some(at);
                }
            }
        }
    }

    #[test]
    fn open_repeat_resolve_reopen() {
        let mut store = Vec::new();
        let mut mint = ids();
        let raise = |n: u32| {
            vec![IssueDraft::new(
                Severity::MAJOR,
                format!("Application batch holds {n} idle sessions"),
            )]
        };

        let c = reconcile(&scope(), &store, &raise(12), end(true, 1), &mut mint);
        assert!(matches!(c.as_slice(), [IssueChange::Open(_)]));
        apply(&mut store, c);

        let c = reconcile(&scope(), &store, &raise(15), end(true, 2), &mut mint);
        assert_eq!(c[0].event_kind(), IssueEventKind::Repeated);
        apply(&mut store, c);
        assert_eq!(store[0].count, 2);
        assert_eq!(store[0].title, "Application batch holds 15 idle sessions");
        assert_eq!(store[0].last_seen, Timestamp(2));
        assert_eq!(store[0].first_seen, Timestamp(1));

        // A failed run resolves nothing.
        assert!(reconcile(&scope(), &store, &[], end(false, 3), &mut mint).is_empty());

        let c = reconcile(&scope(), &store, &[], end(true, 4), &mut mint);
        assert_eq!(
            c,
            vec![IssueChange::Resolve {
                issue_id: "i1".into(),
                at: Timestamp(4)
            }]
        );
        apply(&mut store, c);

        // Resolving twice does nothing.
        assert!(reconcile(&scope(), &store, &[], end(true, 5), &mut mint).is_empty());

        let c = reconcile(&scope(), &store, &raise(20), end(true, 6), &mut mint);
        assert_eq!(c[0].event_kind(), IssueEventKind::Reopened);
        apply(&mut store, c);
        assert_eq!(store.len(), 1);
        assert_eq!(store[0].status, IssueStatus::Open);
        assert_eq!(store[0].resolved_at, None);
    }

    #[test]
    fn duplicate_raises_in_one_run_merge_to_the_most_severe() {
        let drafts = vec![
            IssueDraft::new(Severity::MINOR, "Disk / is 91% full"),
            IssueDraft::new(Severity::CRITICAL, "Disk / is 99% full"),
        ];
        let c = reconcile(&scope(), &[], &drafts, end(true, 1), ids());
        assert_eq!(c.len(), 1);
        let IssueChange::Open(i) = &c[0] else {
            panic!()
        };
        assert_eq!(i.severity, Severity::CRITICAL);
    }

    #[test]
    fn only_unraised_issues_resolve() {
        let mut store = Vec::new();
        let two = vec![
            IssueDraft::new(Severity::MAJOR, "Disk / full"),
            IssueDraft::new(Severity::MAJOR, "Disk /var full"),
        ];
        let c = reconcile(&scope(), &store, &two, end(true, 1), ids());
        apply(&mut store, c);
        let one = vec![IssueDraft::new(Severity::MAJOR, "Disk /var full")];
        let c = reconcile(&scope(), &store, &one, end(true, 2), ids());
        let resolved: Vec<_> = c
            .iter()
            .filter(|c| c.event_kind() == IssueEventKind::Resolved)
            .collect();
        assert_eq!(resolved.len(), 1);
        assert_eq!(
            resolved[0].issue_id(),
            store.iter().find(|i| i.title == "Disk / full").unwrap().id
        );
    }

    fn event(title: &str, at: i64) -> IssueDraft {
        let mut d = IssueDraft::new(Severity::MAJOR, title);
        d.last_event_at = Some(Timestamp(at));
        d
    }

    #[test]
    fn an_event_issue_resolves_after_the_quiet_period_not_the_look_back_window() {
        // A check every 5 min looks back 60 min; its quiet period is 10 min.
        let mut store = Vec::new();
        let mut mint = ids();
        let oom = |at| vec![event("Process worker was OOM-killed", at)];

        let c = reconcile(&scope(), &store, &oom(0), end(true, MIN), &mut mint);
        apply(&mut store, c);
        assert_eq!(store[0].last_event_at, Some(Timestamp(0)));
        assert_eq!(store[0].current_until, Some(Timestamp(10 * MIN)));

        // 5 min later the kill is still in the window and within the quiet period.
        let c = reconcile(&scope(), &store, &oom(0), end(true, 6 * MIN), &mut mint);
        assert_eq!(c[0].event_kind(), IssueEventKind::Repeated);
        apply(&mut store, c);

        // 11 min after the kill the window still shows it, but it is history: resolved.
        let c = reconcile(&scope(), &store, &oom(0), end(true, 11 * MIN), &mut mint);
        assert_eq!(
            c,
            vec![IssueChange::Resolve {
                issue_id: "i1".into(),
                at: Timestamp(11 * MIN)
            }]
        );
        apply(&mut store, c);

        // An old event never opens an issue; a new one reopens it.
        assert!(reconcile(&scope(), &store, &oom(0), end(true, 16 * MIN), &mut mint).is_empty());
        let c = reconcile(
            &scope(),
            &store,
            &oom(20 * MIN),
            end(true, 21 * MIN),
            &mut mint,
        );
        assert_eq!(c[0].event_kind(), IssueEventKind::Reopened);
        apply(&mut store, c);
        assert_eq!(store[0].last_event_at, Some(Timestamp(20 * MIN)));
    }

    #[test]
    fn an_unmeasured_run_resolves_nothing_even_when_the_events_are_old() {
        let mut store = Vec::new();
        let mut mint = ids();
        let c = reconcile(
            &scope(),
            &store,
            &[event("t", 0)],
            end(true, MIN),
            &mut mint,
        );
        apply(&mut store, c);
        assert!(reconcile(&scope(), &store, &[], end(false, 60 * MIN), &mut mint).is_empty());
    }

    #[test]
    fn merged_event_raises_keep_the_latest_event_and_the_worst_severity() {
        let mut worst = event("Rule group api fails", 3 * MIN);
        worst.severity = Severity::CRITICAL;
        let drafts = vec![event("Rule group api fails", 5 * MIN), worst];
        let c = reconcile(&scope(), &[], &drafts, end(true, 6 * MIN), ids());
        let IssueChange::Open(i) = &c[0] else {
            panic!("{c:?}")
        };
        assert_eq!(i.severity, Severity::CRITICAL);
        assert_eq!(i.last_event_at, Some(Timestamp(5 * MIN)));
    }

    #[test]
    fn a_condition_issue_stays_current_for_a_quiet_period_after_each_raise() {
        let d = vec![IssueDraft::new(Severity::MINOR, "Disk / is 91% full")];
        let c = reconcile(&scope(), &[], &d, end(true, 7 * MIN), ids());
        let IssueChange::Open(i) = &c[0] else {
            panic!()
        };
        assert_eq!(i.last_event_at, None);
        assert_eq!(i.current_until, Some(Timestamp(17 * MIN)));
    }

    #[test]
    fn the_quiet_period_is_two_intervals() {
        assert_eq!(
            quiet_period(Duration::from_secs(300)),
            Duration::from_secs(600)
        );
    }
}
