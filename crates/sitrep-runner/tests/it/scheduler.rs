//! The scheduler under a paused tokio clock: intervals, jitter, skipped ticks, restarts.
//!
//! The scheduler reads only SLXs and last-run times from the store; these tests give it an
//! in-memory store with just those (sqlx's pool timeouts fire at once under a paused clock).

use sitrep_bundles::{Catalog, CollectionSource};
use sitrep_core::{Clock, RunStatus, Slx, SlxTask, TaskKind, TaskRun, Timestamp};
use sitrep_runner::TokioClock;
use sitrep_runner::scheduler::{Executor, Job, Scheduler};
use sitrep_store::{RunResults, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct SchedStore {
    slxs: Mutex<Vec<Slx>>,
    last: Mutex<Vec<(String, String, Timestamp)>>,
}

#[async_trait::async_trait]
impl Store for SchedStore {
    async fn list_slxs(&self, _: &str) -> sitrep_store::Result<Vec<Slx>> {
        Ok(self.slxs.lock().unwrap().clone())
    }
    async fn last_run_starts(
        &self,
        _: &str,
    ) -> sitrep_store::Result<Vec<(String, String, Timestamp)>> {
        Ok(self.last.lock().unwrap().clone())
    }
    async fn put_slx(&self, slx: &Slx, _: Timestamp) -> sitrep_store::Result<()> {
        self.slxs.lock().unwrap().push(slx.clone());
        Ok(())
    }
    async fn start_run(&self, _: &TaskRun, _: &str) -> sitrep_store::Result<()> {
        Ok(())
    }
    async fn running_runs(&self, _: &str) -> sitrep_store::Result<Vec<sitrep_store::RunningRun>> {
        unreachable!()
    }
    async fn interrupt_runs(
        &self,
        _: &str,
        _: &[String],
        _: Timestamp,
        _: &str,
    ) -> sitrep_store::Result<u64> {
        unreachable!()
    }
    async fn finish_run(
        &self,
        _: &TaskRun,
        _: &RunResults,
    ) -> sitrep_store::Result<Vec<sitrep_core::issue::IssueChange>> {
        unreachable!()
    }
    async fn mark_interrupted(&self, _: Timestamp) -> sitrep_store::Result<u64> {
        unreachable!()
    }
    async fn get_run(&self, _: &str, _: &str) -> sitrep_store::Result<Option<TaskRun>> {
        unreachable!()
    }
    async fn recent_runs(&self, _: &str, _: i64) -> sitrep_store::Result<Vec<TaskRun>> {
        unreachable!()
    }
    async fn list_issues(
        &self,
        _: &str,
        _: &sitrep_store::IssueFilter,
    ) -> sitrep_store::Result<Vec<sitrep_core::Issue>> {
        unreachable!()
    }
    async fn get_issue(
        &self,
        _: &str,
        _: &str,
    ) -> sitrep_store::Result<Option<sitrep_core::Issue>> {
        unreachable!()
    }
    async fn issue_events(
        &self,
        _: &str,
        _: &str,
    ) -> sitrep_store::Result<Vec<sitrep_core::IssueEvent>> {
        unreachable!()
    }
    async fn current_insights(&self, _: &str) -> sitrep_store::Result<Vec<sitrep_core::Insight>> {
        unreachable!()
    }
    async fn metric_series(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Timestamp,
    ) -> sitrep_store::Result<Vec<sitrep_core::MetricSample>> {
        unreachable!()
    }
    async fn scope_metric_samples(
        &self,
        _: &str,
        _: &str,
        _: Timestamp,
        _: i64,
    ) -> sitrep_store::Result<Vec<sitrep_core::MetricSample>> {
        unreachable!()
    }
    async fn scope_insights(
        &self,
        _: &str,
        _: &str,
        _: Timestamp,
    ) -> sitrep_store::Result<Vec<sitrep_core::Insight>> {
        unreachable!()
    }
    async fn recent_series_values(
        &self,
        _: &str,
        _: &sitrep_store::SeriesKey<'_>,
        _: i64,
    ) -> sitrep_store::Result<Vec<f64>> {
        unreachable!()
    }
    async fn delete_slx(&self, _: &str, _: &str) -> sitrep_store::Result<bool> {
        unreachable!()
    }
    async fn put_slxs(&self, slxs: &[Slx], now: Timestamp) -> sitrep_store::Result<()> {
        for s in slxs {
            self.put_slx(s, now).await?;
        }
        Ok(())
    }
    async fn load_map(&self, _: &str) -> sitrep_store::Result<sitrep_core::map::StoredMap> {
        Ok(Default::default())
    }
    async fn replace_map(
        &self,
        _: &str,
        _: &sitrep_core::map::StoredMap,
    ) -> sitrep_store::Result<()> {
        Ok(())
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Arc<SchedStore>,
    catalog: Arc<Catalog>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let col = dir.path().join("col");
    std::fs::create_dir_all(col.join("bundles/b")).unwrap();
    std::fs::write(col.join("collection.yaml"), "name: t\n").unwrap();
    std::fs::write(
        col.join("bundles/b/bundle.yaml"),
        "name: b\ntasks:\n  - name: fast\n    kind: health\n    type: bash\n    script: x.sh\n    interval: 1m\n  - name: slow\n    kind: health\n    type: bash\n    script: x.sh\n    interval: 5m\n  - name: diag\n    kind: diagnostic\n    type: bash\n    script: x.sh\n",
    )
    .unwrap();
    std::fs::write(col.join("bundles/b/x.sh"), "true\n").unwrap();
    let source = CollectionSource {
        name: "t".into(),
        path: Some(col),
        git: None,
        rev: None,
        kind: Default::default(),
    };
    let catalog = Arc::new(Catalog::load(&[source], &dir.path().join("cache")).unwrap());
    let store = Arc::new(SchedStore::default());
    World {
        _dir: dir,
        store,
        catalog,
    }
}

fn slx(name: &str, tasks: Vec<SlxTask>) -> Slx {
    Slx {
        workspace: "w".into(),
        name: name.into(),
        resource: name.into(),
        bundle: "t/b".into(),
        description: String::new(),
        tasks,
        config: BTreeMap::new(),
        secrets: BTreeMap::new(),
        stale: false,
        generated: None,
    }
}

type Log = Arc<Mutex<Vec<(String, String, i64)>>>;

/// Records (slx, task, seconds since start) and takes `busy` of (paused) time per job.
fn recorder(clock: TokioClock, log: Log, busy: Duration) -> Executor {
    Arc::new(move |job: Job| {
        let log = log.clone();
        Box::pin(async move {
            for t in &job.tasks {
                log.lock().unwrap().push((
                    job.slx.name.clone(),
                    t.task.clone(),
                    clock.now().0 / 1000,
                ));
            }
            tokio::time::sleep(busy).await;
        })
    })
}

async fn run_for(w: &World, clock: TokioClock, exec: Executor, d: Duration) {
    let store: Arc<dyn Store> = w.store.clone();
    let s = Scheduler::new(store, w.catalog.clone(), Arc::new(clock), "w", exec);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let h = tokio::spawn(s.run(rx));
    tokio::time::sleep(d).await;
    tx.send(true).unwrap();
    h.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn health_tasks_run_at_their_interval_with_jitter() {
    let w = world().await;
    w.store
        .put_slx(&slx("a", vec![]), Timestamp(0))
        .await
        .unwrap();
    let clock = TokioClock::starting_at(Timestamp(0));
    let log: Log = Arc::default();
    run_for(
        &w,
        clock,
        recorder(clock, log.clone(), Duration::from_millis(10)),
        Duration::from_secs(600),
    )
    .await;
    let log = log.lock().unwrap();
    let fast: Vec<i64> = log.iter().filter(|e| e.1 == "fast").map(|e| e.2).collect();
    let slow: Vec<i64> = log.iter().filter(|e| e.1 == "slow").map(|e| e.2).collect();
    assert!(
        log.iter().all(|e| e.1 != "diag"),
        "diagnostics are never scheduled"
    );
    assert_eq!(fast.len(), 10, "{fast:?}");
    assert_eq!(slow.len(), 2, "{slow:?}");
    assert!(fast[0] < 6, "first run within the jitter window: {fast:?}");
    for pair in fast.windows(2) {
        assert_eq!(pair[1] - pair[0], 60, "{fast:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_busy_slx_skips_ticks_instead_of_queueing_them() {
    let w = world().await;
    w.store
        .put_slx(
            &slx(
                "a",
                vec![SlxTask {
                    task: "fast".into(),
                    interval: None,
                }],
            ),
            Timestamp(0),
        )
        .await
        .unwrap();
    let clock = TokioClock::starting_at(Timestamp(0));
    let log: Log = Arc::default();
    // Each run takes 150 s against a 60 s interval.
    run_for(
        &w,
        clock,
        recorder(clock, log.clone(), Duration::from_secs(150)),
        Duration::from_secs(600),
    )
    .await;
    let starts: Vec<i64> = log.lock().unwrap().iter().map(|e| e.2).collect();
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= 150, "never two runs of one SLX at once: {starts:?}");
        assert_eq!(gap % 60, 0, "runs stay on the interval grid: {starts:?}");
    }
    assert!(
        starts.len() <= 4,
        "missed ticks were not queued: {starts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_the_next_run_follows_the_stored_last_run() {
    let w = world().await;
    w.store
        .put_slx(
            &slx(
                "a",
                vec![SlxTask {
                    task: "slow".into(),
                    interval: None,
                }],
            ),
            Timestamp(0),
        )
        .await
        .unwrap();
    // The last run started 100 s before "now" (which is 1000 s).
    let run = TaskRun {
        id: "r".into(),
        workspace: "w".into(),
        scope: "a".into(),
        slx: Some("a".into()),
        resource: "a".into(),
        task: "t/b/slow".into(),
        kind: TaskKind::Health,
        status: RunStatus::Succeeded,
        exit_code: Some(0),
        started_at: Timestamp(900_000),
        finished_at: Some(Timestamp(900_100)),
        stdout: String::new(),
        stderr: String::new(),
        report: String::new(),
        error: None,
        reason: None,
    };
    w.store
        .last
        .lock()
        .unwrap()
        .push((run.scope.clone(), run.task.clone(), run.started_at));
    let clock = TokioClock::starting_at(Timestamp(1_000_000));
    let log: Log = Arc::default();
    run_for(
        &w,
        clock,
        recorder(clock, log.clone(), Duration::from_millis(1)),
        Duration::from_secs(400),
    )
    .await;
    let starts: Vec<i64> = log.lock().unwrap().iter().map(|e| e.2).collect();
    // 900 + 300 = 1200: not at startup, not a full interval after the restart.
    assert_eq!(starts, vec![1200], "{starts:?}");
}

#[tokio::test(start_paused = true)]
async fn stale_slxs_and_unknown_tasks_are_not_scheduled() {
    let w = world().await;
    let mut s = slx("gone", vec![]);
    s.stale = true;
    w.store.put_slx(&s, Timestamp(0)).await.unwrap();
    w.store
        .put_slx(
            &slx(
                "typo",
                vec![SlxTask {
                    task: "nope".into(),
                    interval: None,
                }],
            ),
            Timestamp(0),
        )
        .await
        .unwrap();
    let clock = TokioClock::starting_at(Timestamp(0));
    let log: Log = Arc::default();
    run_for(
        &w,
        clock,
        recorder(clock, log.clone(), Duration::from_millis(1)),
        Duration::from_secs(300),
    )
    .await;
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn each_job_carries_when_it_was_due_so_its_lag_can_be_told() {
    let w = world().await;
    w.store
        .put_slx(&slx("a", vec![]), Timestamp(0))
        .await
        .unwrap();
    let clock = TokioClock::starting_at(Timestamp(0));
    // (the job's due time, when it started)
    type Seen = Arc<Mutex<Vec<(Option<Timestamp>, Timestamp)>>>;
    let seen: Seen = Arc::default();
    let exec: Executor = {
        let seen = seen.clone();
        Arc::new(move |job: Job| {
            seen.lock().unwrap().push((job.due, clock.now()));
            Box::pin(async {})
        })
    };
    run_for(&w, clock, exec, Duration::from_secs(300)).await;
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    for (due, started) in seen.iter() {
        let due = due.expect("a scheduled job has a due time");
        // The timer wakes the loop at the due time (paused time: no lag at all).
        assert!(due <= *started, "{due:?} {started:?}");
        assert!(started.since(due) < Duration::from_secs(1), "{seen:?}");
    }
}
