//! The scheduler: every SLX's health tasks at their interval, with stable jitter.
//!
//! One SLX never runs twice at once: the tasks of an SLX that fall due together run one after
//! another in one job, and a tick that comes while the SLX is still busy is skipped, not
//! queued. After a restart the next run is computed from the stored last run. Time comes from
//! the injected clock and tokio's timers, so tests drive it with `tokio::time::pause`.

use sitrep_bundles::Catalog;
use sitrep_core::schedule::next_due;
use sitrep_core::time::parse_duration;
use sitrep_core::{Clock, Slx, TaskKind, TaskRef, Timestamp};
use sitrep_store::Store;
use std::collections::{BTreeMap, HashMap, HashSet};
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
        }
    }

    /// The health tasks of every live SLX with their intervals; problems (an SLX naming a task
    /// that does not exist) are logged and the rest still runs.
    async fn plan(
        &self,
    ) -> sitrep_store::Result<(HashMap<String, Slx>, Vec<(String, TaskRef, Duration)>)> {
        let mut slxs = HashMap::new();
        let mut out = Vec::new();
        for slx in self.store.list_slxs(&self.workspace).await? {
            if slx.stale {
                continue;
            }
            let Some((collection, bundle_name)) = slx.bundle.split_once('/') else {
                tracing::warn!(slx = %slx.name, bundle = %slx.bundle, "slx bundle must be COLLECTION/BUNDLE; skipped");
                continue;
            };
            let bundle = self
                .catalog
                .collections
                .iter()
                .find(|c| c.name == collection)
                .and_then(|c| c.bundle(bundle_name));
            let Some(bundle) = bundle else {
                tracing::warn!(slx = %slx.name, bundle = %slx.bundle, "slx names an unknown bundle; skipped");
                continue;
            };
            let chosen: Vec<(String, Option<String>)> = if slx.tasks.is_empty() {
                bundle
                    .tasks
                    .iter()
                    .filter(|t| t.kind == TaskKind::Health)
                    .map(|t| (t.name.clone(), None))
                    .collect()
            } else {
                slx.tasks
                    .iter()
                    .map(|t| (t.task.clone(), t.interval.clone()))
                    .collect()
            };
            for (name, interval) in chosen {
                let Some(task) = bundle.task(&name).filter(|t| t.kind == TaskKind::Health) else {
                    tracing::warn!(slx = %slx.name, task = %name, "slx names no health task of that name; skipped");
                    continue;
                };
                let interval = interval
                    .and_then(|i| parse_duration(&i).ok())
                    .or(task.interval)
                    .unwrap_or(sitrep_bundles::DEFAULT_INTERVAL);
                out.push((
                    slx.name.clone(),
                    TaskRef::new(collection, bundle_name, &name),
                    interval,
                ));
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
            let mut due_by_slx: HashMap<String, Vec<TaskRef>> = HashMap::new();
            for e in entries.iter_mut().filter(|e| e.due <= now) {
                let key = format!("{}/{}", e.slx, e.task);
                if busy.lock().unwrap().contains(&e.slx) {
                    tracing::debug!(slx = %e.slx, task = %e.task, "slx busy; tick skipped");
                    e.due = next_due(&key, e.interval, Some(e.due), now, false);
                    continue;
                }
                due_by_slx
                    .entry(e.slx.clone())
                    .or_default()
                    .push(e.task.clone());
                e.due = next_due(&key, e.interval, Some(now), now, false);
            }
            for (name, tasks) in due_by_slx {
                let Some(slx) = slxs.get(&name).cloned() else {
                    continue;
                };
                busy.lock().unwrap().insert(name.clone());
                let (execute, busy) = (self.execute.clone(), busy.clone());
                jobs.spawn(async move {
                    execute(Job { slx, tasks }).await;
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
                jobs.spawn((self.execute)(Job { slx, tasks }));
            }
        }
        while jobs.join_next().await.is_some() {}
        Ok(count)
    }
}

/// The executor of scheduled jobs: the SLX's due tasks in order, on the SLX's resource with its
/// config and its secrets resolved (`named`: the workspace's secrets, for `secret:NAME`
/// references). A job stops at its first refused run once the runner shuts down, so the rest
/// of its tasks do not each log a refusal.
pub fn slx_executor(runner: Arc<crate::Runner>, named: BTreeMap<String, String>) -> Executor {
    let named = Arc::new(named);
    Arc::new(move |job: Job| {
        let runner = runner.clone();
        let named = named.clone();
        Box::pin(async move {
            let secrets = match crate::secrets::resolve_all(&job.slx.secrets, &named) {
                Ok(s) => s,
                Err((name, e)) => {
                    tracing::warn!(slx = %job.slx.name, secret = %name, error = %e, "cannot resolve secret; slx skipped");
                    return;
                }
            };
            for task in job.tasks {
                let req = crate::RunRequest {
                    task: task.clone(),
                    resource: job.slx.resource.clone(),
                    slx: Some(job.slx.name.clone()),
                    config: job.slx.config.clone(),
                    secrets: secrets.clone(),
                    approved: false,
                };
                match runner.run(req).await {
                    Ok(_) => {}
                    Err(crate::RunError::ShuttingDown { .. }) => {
                        tracing::debug!(slx = %job.slx.name, "runner shutting down; rest of the job skipped");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(slx = %job.slx.name, task = %task, error = %e, "cannot run task")
                    }
                }
            }
        })
    })
}
