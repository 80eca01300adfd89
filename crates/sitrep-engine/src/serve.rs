//! Background work: the scheduler runs every SLX's health tasks at their interval until the
//! edge says stop; then it stops scheduling, lets running tasks finish within the grace
//! period, and interrupts (and records) the rest.

use crate::views::PassView;
use crate::{Result, Sitrep};
use sitrep_runner::scheduler::{Executor, Job, Scheduler};
use sitrep_store::Store;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct ServeOptions {}

impl Sitrep {
    /// The scheduler over this engine's one run path; `failed` counts runs that did not
    /// succeed (or could not start).
    fn scheduler(
        &self,
        store: Arc<dyn Store>,
        catalog: Arc<sitrep_bundles::Catalog>,
        failed: Arc<AtomicUsize>,
    ) -> Scheduler {
        let me = self.clone();
        let execute: Executor = Arc::new(move |job: Job| {
            let (me, failed) = (me.clone(), failed.clone());
            Box::pin(async move {
                if let Some(due) = job.due {
                    let lag_ms = me.now().since(due).as_millis() as u64;
                    tracing::debug!(slx = %job.slx.name, lag_ms, "scheduled run started");
                    me.publish(crate::events::Event::ScheduledRunStarted {
                        slx: job.slx.name.clone(),
                        lag_ms,
                    });
                }
                match me.run_slx_tasks(&job.slx, &job.tasks).await {
                    Ok((runs, problems)) => {
                        let n = runs.iter().filter(|r| r.failed()).count() + problems.len();
                        failed.fetch_add(n, Ordering::Relaxed);
                        for p in problems {
                            tracing::warn!(slx = %job.slx.name, problem = %p, "cannot run task");
                        }
                    }
                    Err(e) => {
                        failed.fetch_add(job.tasks.len(), Ordering::Relaxed);
                        tracing::warn!(slx = %job.slx.name, error = %e, "slx run failed");
                    }
                }
            })
        });
        let mut scheduler = Scheduler::new(
            store,
            catalog,
            self.inner.clock.clone(),
            self.workspace(),
            execute,
        );
        scheduler.robot_runtime = Some(sitrep_runner::RobotRuntime::new(&self.runtimes_dir()));
        scheduler
    }

    /// What a start-up of background work does before running anything: says how tasks are
    /// isolated, recovers the runs of sitrep processes that died with runs in progress
    /// (records them interrupted, kills their leftover processes, removes their directories),
    /// and raises (or resolves) sitrep's own issues about bundles left out of the catalog.
    async fn start_up(&self) -> Result<()> {
        let runner = self.runner().await?;
        runner.isolation().announce();
        runner.recover().await?;
        self.check_catalog().await
    }

    /// Records the catalog's health as a run of the built-in check [`SELF_CHECK_TASK`] on the
    /// resource `sitrep`: one issue per bundle or collection left out, resolved by the next
    /// start that loads it.
    async fn check_catalog(&self) -> Result<()> {
        let (catalog, store, runner) = (
            self.catalog().await?,
            self.store().await?,
            self.runner().await?,
        );
        let now = self.now();
        let mut run = sitrep_core::TaskRun::started(
            uuid::Uuid::new_v4().to_string(),
            self.workspace().to_string(),
            SELF_CHECK_TASK.into(),
            sitrep_core::TaskKind::Health,
            SELF_RESOURCE.into(),
            now,
        );
        store.start_run(&run, runner.owner()).await?;
        let results = sitrep_store::RunResults {
            issues: catalog
                .quarantined
                .iter()
                .map(|q| q.issue_draft())
                .collect(),
            ..Default::default()
        };
        run.status = sitrep_core::RunStatus::Succeeded;
        run.exit_code = Some(0);
        run.finished_at = Some(self.now());
        run.report = if catalog.quarantined.is_empty() {
            "every bundle of every collection loaded".into()
        } else {
            catalog
                .quarantined
                .iter()
                .map(|q| q.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        for c in store.finish_run(&run, &results).await? {
            self.publish(crate::events::Event::from_change(&c));
        }
        Ok(())
    }

    /// Runs every live SLX's health tasks once (an SLX's tasks in order, SLXs concurrently).
    pub async fn run_once(&self) -> Result<PassView> {
        self.start_up().await?;
        let store: Arc<dyn Store> = self.store().await?;
        let failed = Arc::new(AtomicUsize::new(0));
        let scheduler = self.scheduler(store, self.catalog().await?, failed.clone());
        let tasks = scheduler.run_once().await?;
        Ok(PassView {
            tasks,
            failed: failed.load(Ordering::Relaxed),
        })
    }

    /// Runs the scheduler until `shutdown` completes, then shuts down gracefully.
    pub async fn serve(
        &self,
        _opts: &crate::ServeOptions,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        self.start_up().await?;
        let store: Arc<dyn Store> = self.store().await?;
        let scheduler = self.scheduler(store, self.catalog().await?, Arc::default());
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let me = self.clone();
        let intake = tokio::spawn({
            let stop = stopped(rx.clone());
            async move { me.intake_worker(stop).await }
        });
        let me = self.clone();
        let workflows = tokio::spawn({
            let stop = stopped(rx.clone());
            async move { me.workflow_worker(stop).await }
        });
        let me = self.clone();
        let schedules = tokio::spawn({
            let stop = stopped(rx.clone());
            async move { me.schedule_worker(stop).await }
        });
        let me = self.clone();
        let delivery = tokio::spawn({
            let stop = stopped(rx.clone());
            async move { me.delivery_worker(stop).await }
        });
        let mut running = tokio::spawn(scheduler.run(rx));
        tokio::select! {
            r = &mut running => {
                intake.abort();
                workflows.abort();
                schedules.abort();
                delivery.abort();
                return flatten(r);
            }
            _ = shutdown => {}
        }
        let grace = self.settings().serve.shutdown_grace;
        tracing::info!(
            grace_s = grace.as_secs(),
            "shutting down: no new runs; waiting for runs in flight"
        );
        let _ = tx.send(true);
        // The intake worker stops at its next wait; alerts not yet handled stay pending.
        let _ = tokio::time::timeout(RECORD_WAIT, intake).await;
        // Deliveries not yet sent stay pending for the next start.
        let _ = tokio::time::timeout(RECORD_WAIT, workflows).await;
        let _ = tokio::time::timeout(RECORD_WAIT, schedules).await;
        let _ = tokio::time::timeout(RECORD_WAIT, delivery).await;
        // Runs in flight get the grace period; the rest are interrupted (their process trees
        // killed) and recorded before this returns.
        let stop = self
            .runner()
            .await?
            .shutdown("sitrep is stopping", grace, RECORD_WAIT)
            .await;
        if stop.interrupted > 0 {
            tracing::warn!(
                runs = stop.interrupted,
                recorded = stop.idle,
                "interrupted runs still in flight after the grace period"
            );
        }
        // The scheduler's jobs end once their runs are refused or recorded.
        match tokio::time::timeout(RECORD_WAIT, &mut running).await {
            Ok(r) => flatten(r),
            Err(_) => {
                running.abort();
                Ok(())
            }
        }
    }

    /// Whether this sitrep can take work: its store answers and its catalog is loaded.
    pub async fn ready(&self) -> Result<()> {
        self.store().await?.ping().await?;
        self.catalog().await?;
        Ok(())
    }

    /// Interrupts every run this process has in flight: their process trees are killed and
    /// each run is recorded `interrupted` with `reason`; new runs are refused from now on.
    /// For an edge that received a stop signal while a run (or an investigation) is going.
    pub fn interrupt(&self, reason: &str) {
        if let Some(runner) = self.inner.runner.get() {
            runner.interrupt_all(reason);
        }
    }
}

/// How long a stop waits for interrupted runs to be recorded.
const RECORD_WAIT: Duration = Duration::from_secs(10);
/// The resource of sitrep's own checks.
pub const SELF_RESOURCE: &str = "sitrep";
/// The built-in check whose issues are the bundles and collections left out of the catalog.
pub const SELF_CHECK_TASK: &str = "sitrep/self/catalog";

fn flatten(r: std::result::Result<sitrep_store::Result<()>, tokio::task::JoinError>) -> Result<()> {
    match r {
        Ok(r) => Ok(r?),
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(crate::EngineError::Invalid(format!(
            "the scheduler crashed: {e}"
        ))),
    }
}
