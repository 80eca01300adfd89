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
        Scheduler::new(
            store,
            catalog,
            self.inner.clock.clone(),
            self.workspace(),
            execute,
        )
    }

    /// What a start-up must do before running anything: record runs a stopped sitrep left
    /// running.
    async fn recover(&self) -> Result<()> {
        let store = self.store().await?;
        let interrupted = store.mark_interrupted(self.now()).await?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "marked runs left running by a previous stop as interrupted"
            );
        }
        Ok(())
    }

    /// Runs every live SLX's health tasks once (an SLX's tasks in order, SLXs concurrently).
    pub async fn run_once(&self) -> Result<PassView> {
        self.recover().await?;
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
        self.recover().await?;
        let store: Arc<dyn Store> = self.store().await?;
        let scheduler = self.scheduler(store, self.catalog().await?, Arc::default());
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut running = tokio::spawn(scheduler.run(rx));
        tokio::select! {
            r = &mut running => return flatten(r),
            _ = shutdown => {}
        }
        let grace = self.settings().serve.shutdown_grace;
        tracing::info!(grace_s = grace.as_secs(), "shutting down: no new runs; waiting for runs in flight");
        let _ = tx.send(true);
        match tokio::time::timeout(grace, &mut running).await {
            Ok(r) => flatten(r),
            Err(_) => {
                tracing::warn!("runs still in flight after the grace period; interrupting them");
                running.abort();
                Ok(())
            }
        }
    }
}

fn flatten(
    r: std::result::Result<sitrep_store::Result<()>, tokio::task::JoinError>,
) -> Result<()> {
    match r {
        Ok(r) => Ok(r?),
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(crate::EngineError::Invalid(format!("the scheduler crashed: {e}"))),
    }
}
