//! Conformance cases for run outcomes and issue lifetimes: inconclusive runs, event-window
//! issues and their quiet period, ranking by currency.

use super::*;
use sitrep_core::currency;
use std::time::Duration;

const MIN: i64 = 60_000;

fn results(drafts: Vec<IssueDraft>, interval_min: u64) -> RunResults {
    RunResults {
        issues: drafts,
        interval: Some(Duration::from_secs(interval_min * 60)),
        ..Default::default()
    }
}

fn event(severity: Severity, title: &str, at: i64) -> IssueDraft {
    let mut d = IssueDraft::new(severity, title);
    d.last_event_at = Some(Timestamp(at));
    d
}

async fn exec_task(
    s: &SqlStore,
    task: &str,
    id: &str,
    at: i64,
    status: RunStatus,
    res: RunResults,
) -> Vec<IssueChange> {
    let r = run("w", "pg-main", task, id, at);
    s.start_run(&r, OWNER).await.unwrap();
    s.finish_run(&finished(r, status, at), &res).await.unwrap()
}

pub async fn inconclusive_runs_keep_their_reason_and_resolve_nothing(s: &SqlStore) {
    exec(
        s,
        "w",
        "pg-main",
        "r1",
        1000,
        RunStatus::Succeeded,
        issues(&["t"]),
    )
    .await;
    let mut r = finished(
        run("w", "pg-main", "core/pg/idle", "r2", 2000),
        RunStatus::Inconclusive,
        2005,
    );
    s.start_run(&run("w", "pg-main", "core/pg/idle", "r2", 2000), OWNER)
        .await
        .unwrap();
    r.reason = Some("no response from pg-main: connection refused".into());
    let changes = s.finish_run(&r, &RunResults::default()).await.unwrap();
    assert!(changes.is_empty(), "{changes:?}");
    let got = s.get_run("w", "r2").await.unwrap().unwrap();
    assert_eq!(got.status, RunStatus::Inconclusive);
    assert_eq!(got.reason, r.reason);
    assert_eq!(
        s.list_issues("w", &IssueFilter::default())
            .await
            .unwrap()
            .len(),
        1,
        "an inconclusive run must not resolve"
    );
}

pub async fn event_issues_resolve_after_the_quiet_period(s: &SqlStore) {
    // Every 5 min, looking back an hour: the kill at 0 is current for 10 min.
    let task = "core/linux-host/oom-kills";
    let kill = || vec![event(Severity::MAJOR, "Process worker was OOM-killed", 0)];
    let c = exec_task(s, task, "r1", MIN, RunStatus::Succeeded, results(kill(), 5)).await;
    assert!(matches!(c.as_slice(), [IssueChange::Open(_)]), "{c:?}");
    let open = s.list_issues("w", &IssueFilter::default()).await.unwrap();
    assert_eq!(open[0].last_event_at, Some(Timestamp(0)));
    assert_eq!(open[0].current_until, Some(Timestamp(10 * MIN)));

    let c = exec_task(
        s,
        task,
        "r2",
        6 * MIN,
        RunStatus::Succeeded,
        results(kill(), 5),
    )
    .await;
    assert_eq!(c[0].event_kind(), IssueEventKind::Repeated);
    // Still in the look-back window, but quiet for longer than two intervals: resolved.
    let c = exec_task(
        s,
        task,
        "r3",
        11 * MIN,
        RunStatus::Succeeded,
        results(kill(), 5),
    )
    .await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].event_kind(), IssueEventKind::Resolved);
    assert!(
        s.list_issues("w", &IssueFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn the_current_issue_ranks_before_an_older_more_severe_one(s: &SqlStore) {
    // An OOM kill at 0 opened a major issue; its check has not run since. At 30 min a lock
    // chain raises a minor issue on the same resource.
    let oom = vec![event(Severity::MAJOR, "Process worker was OOM-killed", 0)];
    exec_task(
        s,
        "core/linux-host/oom-kills",
        "r1",
        MIN,
        RunStatus::Succeeded,
        results(oom, 5),
    )
    .await;
    let locks = vec![IssueDraft::new(
        Severity::MINOR,
        "Lock chain rooted at batch",
    )];
    exec_task(
        s,
        "core/pg/locks",
        "r2",
        30 * MIN,
        RunStatus::Succeeded,
        results(locks, 1),
    )
    .await;

    let mut list = s.list_issues("w", &IssueFilter::default()).await.unwrap();
    assert_eq!(list.len(), 2);
    let now = Timestamp(31 * MIN);
    currency::rank(&mut list, now);
    assert_eq!(list[0].title, "Lock chain rooted at batch");
    assert!(currency::is_current(&list[0], now));
    assert!(!currency::is_current(&list[1], now));
    assert_eq!(
        currency::age_note(&list[1], now).as_deref(),
        Some("last seen 31 min ago")
    );
}
