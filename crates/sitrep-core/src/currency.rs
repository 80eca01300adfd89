//! How current an issue is, and the one order every listing and investigation ranks issues in.
//!
//! An open issue is *current* while its last evidence (its latest event, or its latest raise)
//! is within the quiet period of the check that raised it (`Issue::current_until`, set by
//! `issue::reconcile`). A stale severity-2 issue from an earlier problem must not outrank the
//! severity-3 cause happening now, so the order is: open before resolved, current before not,
//! then severity, then the most recent evidence first.

use crate::issue::evidence;
use crate::{Issue, IssueStatus, Timestamp};
use std::cmp::Ordering;
use std::time::Duration;

/// Whether `issue` is open and its evidence is still current at `now`. Issues stored before
/// `current_until` existed count as current while open.
pub fn is_current(issue: &Issue, now: Timestamp) -> bool {
    issue.status == IssueStatus::Open && issue.current_until.is_none_or(|until| now <= until)
}

/// The ranking order at `now` (most important first); see the module docs.
pub fn compare(a: &Issue, b: &Issue, now: Timestamp) -> Ordering {
    let key = |i: &Issue| {
        (
            i.status != IssueStatus::Open,
            !is_current(i, now),
            i.severity,
        )
    };
    key(a)
        .cmp(&key(b))
        .then_with(|| evidence(b).cmp(&evidence(a)))
        .then_with(|| a.id.cmp(&b.id))
}

/// Sorts `issues` most important first at `now`.
pub fn rank(issues: &mut [Issue], now: Timestamp) {
    issues.sort_by(|a, b| compare(a, b, now));
}

/// A short note on how old the evidence is, shown while it matters: "last seen 12 min ago" for
/// an issue raised from events, "not confirmed for 3 h" for an open issue no longer current.
pub fn age_note(issue: &Issue, now: Timestamp) -> Option<String> {
    if let Some(at) = issue.last_event_at {
        return Some(format!("last seen {} ago", ago(now.since(at))));
    }
    (issue.status == IssueStatus::Open && !is_current(issue, now))
        .then(|| format!("not confirmed for {}", ago(now.since(issue.last_seen))))
}

/// `45 s`, `12 min`, `5 h`, `3 d`: rounded down to the largest unit that fits twice.
pub fn ago(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7_200 => format!("{} min", s / 60),
        7_200..172_800 => format!("{} h", s / 3_600),
        _ => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    const MIN: i64 = 60_000;

    fn issue(id: &str, severity: Severity, last_seen: i64, current_until: i64) -> Issue {
        Issue {
            id: id.into(),
            workspace: "w".into(),
            fingerprint: id.into(),
            scope: "pg".into(),
            resource: "pg".into(),
            task: "t".into(),
            severity,
            title: id.into(),
            expected: String::new(),
            actual: String::new(),
            details: String::new(),
            next_steps: String::new(),
            reproduce_hint: String::new(),
            status: IssueStatus::Open,
            count: 1,
            first_seen: Timestamp(last_seen),
            last_seen: Timestamp(last_seen),
            resolved_at: None,
            last_run_id: "r".into(),
            last_event_at: None,
            current_until: Some(Timestamp(current_until)),
            data: serde_json::Map::new(),
        }
    }

    #[test]
    fn a_current_minor_issue_outranks_a_stale_major_one() {
        let now = Timestamp(60 * MIN);
        // An OOM kill 40 min ago (quiet period over) against lock waits seen a minute ago.
        let mut old = issue("old", Severity::MAJOR, 59 * MIN, 30 * MIN);
        old.last_event_at = Some(Timestamp(20 * MIN));
        let new = issue("new", Severity::MINOR, 59 * MIN, 69 * MIN);
        let mut list = vec![old, new];
        rank(&mut list, now);
        assert_eq!(list[0].id, "new");
        assert!(is_current(&list[0], now) && !is_current(&list[1], now));
        assert_eq!(
            age_note(&list[1], now).as_deref(),
            Some("last seen 40 min ago")
        );
        assert_eq!(age_note(&list[0], now), None);
    }

    #[test]
    fn among_current_issues_severity_then_recency_decides() {
        let now = Timestamp(10 * MIN);
        let mut list = vec![
            issue("minor", Severity::MINOR, 9 * MIN, 20 * MIN),
            issue("major-older", Severity::MAJOR, 5 * MIN, 20 * MIN),
            issue("major-newer", Severity::MAJOR, 9 * MIN, 20 * MIN),
        ];
        let mut resolved = issue("resolved", Severity::CRITICAL, 9 * MIN, 20 * MIN);
        resolved.status = IssueStatus::Resolved;
        list.insert(0, resolved);
        rank(&mut list, now);
        let ids: Vec<&str> = list.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["major-newer", "major-older", "minor", "resolved"]);
    }

    #[test]
    fn an_open_issue_nobody_confirms_any_more_says_so() {
        let i = issue("x", Severity::MAJOR, 0, 10 * MIN);
        assert_eq!(
            age_note(&i, Timestamp(3 * 60 * MIN)).as_deref(),
            Some("not confirmed for 3 h")
        );
        let mut legacy = i.clone();
        legacy.current_until = None;
        assert!(is_current(&legacy, Timestamp(i64::MAX)));
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(Duration::from_secs(45)), "45 s");
        assert_eq!(ago(Duration::from_secs(12 * 60 + 5)), "12 min");
        assert_eq!(ago(Duration::from_secs(5 * 3600)), "5 h");
        assert_eq!(ago(Duration::from_secs(3 * 86_400)), "3 d");
    }
}
