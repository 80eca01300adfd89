//! The issue lifecycle: what one finished run does to the issues of its scope.
//!
//! A raise opens an issue or bumps the open one with the same fingerprint; a successful run that
//! no longer raises an open issue resolves it; a raise of a resolved issue reopens it. A failed
//! run proves nothing, so it resolves nothing.

use crate::fingerprint::issue_fingerprint;
use crate::{Issue, IssueDraft, IssueEventKind, IssueStatus, Timestamp};
use std::collections::HashMap;

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
    run_succeeded: bool,
    now: Timestamp,
    mut new_id: impl FnMut() -> String,
) -> Vec<IssueChange> {
    let by_fp: HashMap<&str, &Issue> = existing
        .iter()
        .map(|i| (i.fingerprint.as_str(), i))
        .collect();
    let mut changes = Vec::new();
    // Merge raises that share a fingerprint within the run: the most severe wins.
    let mut merged: Vec<(String, IssueDraft)> = Vec::new();
    for d in drafts {
        let fp = issue_fingerprint(scope.workspace, scope.scope, scope.task, &d.title);
        match merged.iter_mut().find(|(f, _)| *f == fp) {
            Some((_, prev)) if d.severity < prev.severity => *prev = d.clone(),
            Some(_) => {}
            None => merged.push((fp, d.clone())),
        }
    }

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
                    data: serde_json::Map::new(),
                };
                apply_draft(&mut issue, d, scope);
                changes.push(IssueChange::Open(issue));
            }
        }
    }

    if run_succeeded {
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

        let c = reconcile(&scope(), &store, &raise(12), true, Timestamp(1), &mut mint);
        assert!(matches!(c.as_slice(), [IssueChange::Open(_)]));
        apply(&mut store, c);

        let c = reconcile(&scope(), &store, &raise(15), true, Timestamp(2), &mut mint);
        assert_eq!(c[0].event_kind(), IssueEventKind::Repeated);
        apply(&mut store, c);
        assert_eq!(store[0].count, 2);
        assert_eq!(store[0].title, "Application batch holds 15 idle sessions");
        assert_eq!(store[0].last_seen, Timestamp(2));
        assert_eq!(store[0].first_seen, Timestamp(1));

        // A failed run resolves nothing.
        assert!(reconcile(&scope(), &store, &[], false, Timestamp(3), &mut mint).is_empty());

        let c = reconcile(&scope(), &store, &[], true, Timestamp(4), &mut mint);
        assert_eq!(
            c,
            vec![IssueChange::Resolve {
                issue_id: "i1".into(),
                at: Timestamp(4)
            }]
        );
        apply(&mut store, c);

        // Resolving twice does nothing.
        assert!(reconcile(&scope(), &store, &[], true, Timestamp(5), &mut mint).is_empty());

        let c = reconcile(&scope(), &store, &raise(20), true, Timestamp(6), &mut mint);
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
        let c = reconcile(&scope(), &[], &drafts, true, Timestamp(1), ids());
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
        let c = reconcile(&scope(), &store, &two, true, Timestamp(1), ids());
        apply(&mut store, c);
        let one = vec![IssueDraft::new(Severity::MAJOR, "Disk /var full")];
        let c = reconcile(&scope(), &store, &one, true, Timestamp(2), ids());
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
}
