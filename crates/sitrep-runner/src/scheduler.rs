//! The scheduler: every SLX's health tasks at their interval, with stable jitter.
//!
//! One SLX never runs twice at once: the tasks of an SLX that fall due together run one after
//! another in one job, and a tick that comes while the SLX is still busy is skipped, not
//! queued. After a restart the next run is computed from the stored last run. Time comes from
//! the injected clock and tokio's timers, so tests drive it with `tokio::time::pause`.

use sitrep_bundles::Catalog;
use sitrep_bundles::slx::slx_health_tasks;
use sitrep_core::schedule::next_due;
use sitrep_core::{Clock, Slx, TaskRef, Timestamp};
use sitrep_store::Store;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// One unit of scheduled work: the due health tasks of one SLX, run in order.
#[derive(Debug, Clone)]
pub struct Job {
    pub slx: Slx,
    pub tasks: Vec<TaskRef>,
    /// When the earliest of its tasks was due (`None` for `run_once`): the executor tells
    /// how late the job started from it.
    pub due: Option<Timestamp>,
}

pub type Executor = Arc<dyn Fn(Job) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Debug, Clone)]
struct Entry {
    slx: String,
    task: TaskRef,
    interval: Duration,
    due: Timestamp,
}

pub struct Scheduler {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    workspace: String,
    execute: Executor,
    /// How often the SLX list is re-read, so edits take effect without a restart.
    pub reload_every: Duration,
    /// Robot health tasks are scheduled while this runtime is installed and current (checked
    /// at every reload); `None`: never.
    pub robot_runtime: Option<crate::RobotRuntime>,
}

impl Scheduler {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        workspace: &str,
        execute: Executor,
    ) -> Self {
        Scheduler {
            store,
            catalog,
            clock,
            workspace: workspace.into(),
            execute,
            reload_every: Duration::from_secs(60),
            robot_runtime: None,
        }
    }

    /// The health tasks of every live SLX with their intervals (the one rule in
    /// `sitrep_bundles::slx`); problems (an SLX naming a task that does not exist) are logged
    /// and the rest still runs.
    async fn plan(
        &self,
    ) -> sitrep_store::Result<(HashMap<String, Slx>, Vec<(String, TaskRef, Duration)>)> {
        let mut slxs = HashMap::new();
        let mut out = Vec::new();
        let robot = self
            .robot_runtime
            .as_ref()
            .is_some_and(crate::RobotRuntime::is_current);
        for slx in self.store.list_slxs(&self.workspace).await? {
            if slx.stale {
                continue;
            }
            let (tasks, problems) = slx_health_tasks(&self.catalog, &slx, robot);
            for p in problems {
                tracing::warn!(slx = %slx.name, problem = %p, "slx entry skipped");
            }
            for t in tasks {
                out.push((slx.name.clone(), t.task, t.interval));
            }
            slxs.insert(slx.name.clone(), slx);
        }
        Ok((slxs, out))
    }

    async fn entries(
        &self,
        previous: &[Entry],
    ) -> sitrep_store::Result<(HashMap<String, Slx>, Vec<Entry>)> {
        let (slxs, plan) = self.plan().await?;
        let last: HashMap<(String, String), Timestamp> = self
            .store
            .last_run_starts(&self.workspace)
            .await?
            .into_iter()
            .map(|(s, t, at)| ((s, t), at))
            .collect();
        let now = self.clock.now();
        let entries = plan
            .into_iter()
            .map(|(slx, task, interval)| {
                // Keep the schedule of entries that survive a reload.
                if let Some(p) = previous
                    .iter()
                    .find(|p| p.slx == slx && p.task == task && p.interval == interval)
                {
                    return p.clone();
                }
                let key = format!("{slx}/{task}");
                let due = next_due(
                    &key,
                    interval,
                    last.get(&(slx.clone(), task.to_string())).copied(),
                    now,
                    true,
                );
                Entry {
                    slx,
                    task,
                    interval,
                    due,
                }
            })
            .collect();
        Ok((slxs, entries))
    }

    /// Runs until `shutdown` turns true, then waits for the jobs in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> sitrep_store::Result<()> {
        let (mut slxs, mut entries) = self.entries(&[]).await?;
        tracing::info!(
            slxs = slxs.len(),
            tasks = entries.len(),
            "scheduler started"
        );
        let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut jobs = JoinSet::new();
        let mut next_reload = self.clock.now().add(self.reload_every);
        loop {
            let now = self.clock.now();
            let wake = entries
                .iter()
                .map(|e| e.due)
                .min()
                .unwrap_or(next_reload)
                .min(next_reload);
            let nap = wake.since(now);
            if !nap.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(nap) => {}
                    _ = shutdown.changed() => {}
                    Some(_) = jobs.join_next(), if !jobs.is_empty() => continue,
                }
            }
            if *shutdown.borrow() {
                break;
            }
            let now = self.clock.now();
            if now >= next_reload {
                match self.entries(&entries).await {
                    Ok((s, e)) => (slxs, entries) = (s, e),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot reload slxs; keeping the current schedule")
                    }
                }
                next_reload = now.add(self.reload_every);
            }
            let mut due_by_slx: HashMap<String, (Vec<TaskRef>, Timestamp)> = HashMap::new();
            for e in entries.iter_mut().filter(|e| e.due <= now) {
                let key = format!("{}/{}", e.slx, e.task);
                if busy.lock().unwrap().contains(&e.slx) {
                    tracing::debug!(slx = %e.slx, task = %e.task, "slx busy; tick skipped");
                    e.due = next_due(&key, e.interval, Some(e.due), now, false);
                    continue;
                }
                let job = due_by_slx
                    .entry(e.slx.clone())
                    .or_insert_with(|| (vec![], e.due));
                job.0.push(e.task.clone());
                job.1 = job.1.min(e.due);
                e.due = next_due(&key, e.interval, Some(now), now, false);
            }
            for (name, (tasks, due)) in due_by_slx {
                let Some(slx) = slxs.get(&name).cloned() else {
                    continue;
                };
                busy.lock().unwrap().insert(name.clone());
                let (execute, busy) = (self.execute.clone(), busy.clone());
                jobs.spawn(async move {
                    execute(Job {
                        slx,
                        tasks,
                        due: Some(due),
                    })
                    .await;
                    busy.lock().unwrap().remove(&name);
                });
            }
        }
        tracing::info!(
            in_flight = jobs.len(),
            "scheduler stopping; waiting for runs in flight"
        );
        while jobs.join_next().await.is_some() {}
        Ok(())
    }

    /// Runs every scheduled task once (an SLX's tasks in order, SLXs concurrently) and returns.
    pub async fn run_once(&self) -> sitrep_store::Result<usize> {
        let (slxs, plan) = self.plan().await?;
        let mut by_slx: HashMap<String, Vec<TaskRef>> = HashMap::new();
        for (slx, task, _) in plan {
            by_slx.entry(slx).or_default().push(task);
        }
        let count = by_slx.values().map(Vec::len).sum();
        let mut jobs = JoinSet::new();
        for (name, tasks) in by_slx {
            if let Some(slx) = slxs.get(&name).cloned() {
                jobs.spawn((self.execute)(Job {
                    slx,
                    tasks,
                    due: None,
                }));
            }
        }
        while jobs.join_next().await.is_some() {}
        Ok(count)
    }
}
