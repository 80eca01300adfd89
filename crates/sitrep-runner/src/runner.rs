//! The runner: resolves a task, prepares its run, executes it under the limits, redacts
//! everything it captured and records the run and its results.

use crate::capture::DEFAULT_CAP;
use crate::error::RunError;
use crate::exec::forkserver::{ForkServer, LazyServer, ServerSpec};
use crate::exec::{self, Outcome, http::HttpClients, sql::Pools};
use crate::lifecycle::{Interrupt, Lifecycle};
use crate::limits::{Gate, Limits};
use crate::prepare::{redact_results, variables};
use crate::robot::ManagedRobot;
use crate::rows;
use crate::sli_watch::{Metric, SliWatch, SliWatchConfig};
use crate::tree::cgroup::Isolation;
use crate::tree::owner::Owner;
use sitrep_bundles::{Catalog, Interpreter, ResolvedTask, TaskSpec};
use sitrep_core::approval::ApprovalGrant;
use sitrep_core::issue::IssueChange;
use sitrep_core::redact::Redactor;
use sitrep_core::template::substitute;
use sitrep_core::time::parse_duration;
use sitrep_core::{Clock, RunStatus, TaskKind, TaskRef, TaskRun};
use sitrep_store::{RunResults, SeriesKey, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub workspace: String,
    /// Holds per-run temp dirs and the `bin/sitrep` link for `sitrep emit`.
    pub runtime_dir: PathBuf,
    /// The `sitrep` binary tasks call as `sitrep emit`; `None` leaves PATH as it is.
    pub sitrep_exe: Option<PathBuf>,
    pub limits: Limits,
    pub output_cap: usize,
    /// How task process trees are contained; `None`: detected on this host when first needed
    /// ([`Isolation::detect`]).
    pub isolation: Option<Isolation>,
    /// Holds the managed runtimes (`robot/`, installed on the first robot task's run).
    pub runtimes_dir: PathBuf,
}

impl RunnerConfig {
    pub fn new(workspace: &str, runtime_dir: PathBuf) -> Self {
        RunnerConfig {
            workspace: workspace.into(),
            sitrep_exe: None,
            limits: Limits::default(),
            output_cap: DEFAULT_CAP,
            isolation: None,
            runtimes_dir: runtime_dir.join("runtimes"),
            runtime_dir,
        }
    }
}

/// What to run, and with what.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub task: TaskRef,
    /// What the task looks at; the scope of the issues it raises, however it was started.
    pub resource: String,
    /// The SLX it runs for, if any; recorded on the run.
    pub slx: Option<String>,
    pub config: BTreeMap<String, String>,
    /// Secret name → value. Never stored; redacted from everything kept.
    pub secrets: BTreeMap<String, String>,
    /// A human's approval of exactly this remediation run. Remediation tasks run only with
    /// one; only the engine's approvals module creates it, from a stored, granted record.
    pub approval: Option<ApprovalGrant>,
}

#[derive(Debug, Clone)]
pub struct RunOutput {
    pub run: TaskRun,
    pub results: RunResults,
    pub changes: Vec<IssueChange>,
}

fn lock(watch: &std::sync::Mutex<SliWatch>) -> std::sync::MutexGuard<'_, SliWatch> {
    // A panic while holding it cannot leave a detector half-updated in a harmful way.
    watch.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Runner {
    cfg: RunnerConfig,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    gate: Gate,
    http: HttpClients,
    pools: Pools,
    /// Base PATH for tasks: the `sitrep` link dir, then the system's.
    path: String,
    /// Per-series anomaly detectors over the metrics of health runs (`None` = off). In the
    /// runner because that is where a finished run's metrics are in hand, so the insight is
    /// stored in the same transaction as the run; it lives as long as the runner (`sitrep
    /// serve`) and warms series from the store's history.
    sli: Option<std::sync::Mutex<SliWatch>>,
    life: Lifecycle,
    /// This process, as recorded with each run ([`Owner::token`]).
    owner: String,
    /// Where run directories go: `runs_dir/OWNER/RUN_ID`.
    runs_dir: crate::rundir::RunsDir,
    isolation: std::sync::OnceLock<Isolation>,
    robot: ManagedRobot,
    /// Python tasks: forks of one `python3` (`exec::forkserver`), not a new one each.
    python: LazyServer,
}

/// How a [`Runner::shutdown`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shutdown {
    /// Runs still in flight when the grace period ended, which were interrupted.
    pub interrupted: usize,
    /// Whether every run had ended (and was recorded) when it returned.
    pub idle: bool,
}

impl Runner {
    pub fn new(
        cfg: RunnerConfig,
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Runner, RunError> {
        let runs_dir = crate::rundir::choose(&cfg.runtime_dir);
        std::fs::create_dir_all(&runs_dir.path).map_err(|source| RunError::RunDir {
            path: runs_dir.path.display().to_string(),
            source,
        })?;
        let system_path =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let path = match &cfg.sitrep_exe {
            Some(exe) => {
                let bin = exec::script::emit_dir(&cfg.runtime_dir, exe).map_err(|source| {
                    RunError::RunDir {
                        path: cfg.runtime_dir.display().to_string(),
                        source,
                    }
                })?;
                format!("{}:{system_path}", bin.display())
            }
            None => system_path,
        };
        Ok(Runner {
            gate: Gate::new(cfg.limits),
            catalog,
            store,
            clock,
            http: HttpClients::default(),
            pools: Pools::default(),
            path,
            sli: Some(std::sync::Mutex::default()),
            life: Lifecycle::default(),
            owner: Owner::current().token(),
            runs_dir,
            isolation: std::sync::OnceLock::new(),
            robot: ManagedRobot::new(&cfg.runtimes_dir),
            python: LazyServer::default(),
            cfg,
        })
    }

    /// Replaces the anomalous-SLI watch (and forgets its series); `None` turns it off.
    pub fn with_sli_watch(mut self, cfg: Option<SliWatchConfig>) -> Self {
        self.sli = cfg.map(|c| std::sync::Mutex::new(SliWatch::new(c)));
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn workspace(&self) -> &str {
        &self.cfg.workspace
    }

    /// How this runner contains task process trees. Call [`Isolation::announce`] once at
    /// start-up so a host without cgroup v2 says so.
    pub fn isolation(&self) -> &Isolation {
        self.isolation.get_or_init(|| {
            self.cfg
                .isolation
                .clone()
                .unwrap_or_else(|| Isolation::detect().clone())
        })
    }

    /// Refuses new runs from now on ([`RunError::ShuttingDown`]); runs in flight go on.
    pub fn drain(&self, reason: &str) {
        tracing::info!(reason, in_flight = self.in_flight(), "runner draining");
        self.life.drain(reason);
    }

    /// Cuts every run in flight: process trees are killed and queries dropped, and each run is
    /// recorded `interrupted` with `reason` (its `Runner::run` returns `Ok`). New runs are
    /// refused from now on.
    pub fn interrupt_all(&self, reason: &str) {
        tracing::warn!(
            reason,
            in_flight = self.in_flight(),
            "interrupting runs in flight"
        );
        self.life.interrupt_all(reason);
    }

    /// Runs admitted and not yet recorded as finished (including those waiting for a slot).
    pub fn in_flight(&self) -> usize {
        self.life.in_flight()
    }

    /// Waits up to `timeout` for every run to finish and be recorded; returns whether they did.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        self.life.wait_idle(timeout).await
    }

    /// A graceful stop: no new runs; runs in flight get `grace` to finish, then the rest are
    /// interrupted, and their ends recorded (waiting up to `record` for that).
    pub async fn shutdown(&self, reason: &str, grace: Duration, record: Duration) -> Shutdown {
        self.drain(reason);
        if self.wait_idle(grace).await {
            return Shutdown {
                interrupted: 0,
                idle: true,
            };
        }
        let interrupted = self.in_flight();
        self.interrupt_all(&format!(
            "{reason}, and the run did not finish within {} s",
            grace.as_secs()
        ));
        Shutdown {
            interrupted,
            idle: self.wait_idle(record).await,
        }
    }

    /// This process's owner token, recorded on every run it starts (`Runner::recover` reads
    /// it back to tell a live owner from a gone one).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// `RUNS/OWNER`: this process's run directories.
    pub(crate) fn owner_dir(&self) -> PathBuf {
        self.runs_dir.path.join(&self.owner)
    }

    /// Where this runner's run directories go: a private folder on tmpfs when the host has one
    /// (`$XDG_RUNTIME_DIR/sitrep/KEY` or `/dev/shm/sitrep-UID/KEY`), else `RUNTIME/runs`.
    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir.path
    }

    /// Whether run directories are on tmpfs (their file work is then done inline).
    pub(crate) fn runs_on_tmpfs(&self) -> bool {
        self.runs_dir.tmpfs
    }

    pub(crate) fn program_path(&self) -> &str {
        &self.path
    }

    /// The fork server of python tasks: the `python3` of their PATH, with the environment a
    /// task's interpreter starts in (`HOME` for the user's site-packages, the locale, no
    /// bytecode files); each task then gets exactly its own environment.
    async fn python_server(&self) -> Option<std::sync::Arc<ForkServer>> {
        self.python
            .get(|| {
                let mut env = vec![
                    ("PATH".to_string(), self.path.clone()),
                    ("LANG".into(), "C.UTF-8".into()),
                    ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
                ];
                for pass in ["HOME", "USER", "LOGNAME", "TZ"] {
                    if let Ok(v) = std::env::var(pass) {
                        env.push((pass.into(), v));
                    }
                }
                ServerSpec {
                    python: Interpreter::Python.program().into(),
                    flags: &[],
                    modules: &[],
                    env,
                }
            })
            .await
    }

    pub(crate) fn output_cap(&self) -> usize {
        self.cfg.output_cap
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub(crate) fn robot(&self) -> &ManagedRobot {
        &self.robot
    }

    pub(crate) fn runtime_dir(&self) -> &Path {
        &self.cfg.runtime_dir
    }

    /// Runs one task and records it. Errors mean the task could not be started (bad request);
    /// a task that started and failed is an `Ok` with a failed run.
    ///
    /// Once the runner drains or interrupts, runs are refused with [`RunError::ShuttingDown`]
    /// (also those still waiting for a slot); a run cut by [`Runner::interrupt_all`] is an
    /// `Ok` with status `interrupted`.
    pub async fn run(&self, req: RunRequest) -> Result<RunOutput, RunError> {
        let _in_flight = self.life.admit()?;
        let resolved = self.catalog.resolve(&req.task)?;
        if matches!(resolved.task.spec, TaskSpec::Robot(_)) {
            self.robot
                .ensure()
                .await
                .map_err(|source| RunError::Runtime {
                    task: req.task.to_string(),
                    source,
                })?;
        }
        if resolved.task.kind == TaskKind::Remediation {
            let task = req.task.to_string();
            match &req.approval {
                None => return Err(RunError::NeedsApproval(task)),
                Some(grant) => grant
                    .check(&task, &req.resource, self.clock.now())
                    .map_err(RunError::Approval)?,
            }
        }
        let vars = variables(&resolved, &req)?;
        let redactor = Redactor::new(req.secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())));

        let mut interrupt = self.life.interrupt();
        let _permits = tokio::select! {
            p = self.gate.enter(&req.resource) => p,
            reason = interrupt.fired() => return Err(RunError::ShuttingDown { reason: reason.to_string() }),
        };
        self.life.refuse_if_closed()?;
        let mut run = TaskRun::started(
            uuid::Uuid::new_v4().to_string(),
            self.cfg.workspace.clone(),
            req.task.to_string(),
            resolved.task.kind,
            req.resource.clone(),
            self.clock.now(),
        );
        run.slx = req.slx.clone();
        self.store.start_run(&run, &self.owner).await?;
        tracing::debug!(run = %run.id, task = %run.task, resource = %run.resource, "run started");

        let outcome = self
            .execute(&resolved, &req, &vars, &redactor, &run.id, interrupt)
            .await;

        let mut results = outcome.results;
        redact_results(&mut results, &redactor);
        results.interval = Some(self.interval(&resolved, &req).await);
        run.status = outcome.status.unwrap_or(RunStatus::Failed);
        if let (RunStatus::Succeeded, Some(reason)) = (run.status, &outcome.inconclusive) {
            run.status = RunStatus::Inconclusive;
            run.reason = Some(redactor.redact(reason));
        }
        run.exit_code = outcome.exit_code;
        run.finished_at = Some(self.clock.now());
        run.stdout = redactor.redact(&outcome.stdout);
        run.stderr = redactor.redact(&outcome.stderr);
        run.report = redactor.redact(&outcome.report);
        run.error =
            (!outcome.errors.is_empty()).then(|| redactor.redact(&outcome.errors.join("\n")));
        // Only successful health runs: their metrics are the SLI series; a failed run's
        // partial output would read as an anomaly of the SLI rather than of the check.
        if let Some(watch) = self
            .sli
            .as_ref()
            .filter(|_| run.kind == TaskKind::Health && run.status == RunStatus::Succeeded)
        {
            self.warm_sli(watch, &run, &results.metrics).await;
            let at = run.finished_at.unwrap_or(run.started_at);
            let raised =
                lock(watch).observe(&run.workspace, &run.scope, &run.task, &results.metrics, at);
            for (text, data) in raised {
                tracing::info!(run = %run.id, task = %run.task, scope = %run.scope, "anomalous sli");
                results.insights.push((text, data));
            }
        }
        let changes = self.store.finish_run(&run, &results).await?;
        tracing::info!(run = %run.id, task = %run.task, resource = %run.resource, status = %run.status, issues = results.issues.len(), "run finished");
        Ok(RunOutput {
            run,
            results,
            changes,
        })
    }

    /// The interval the check runs at: as its SLX schedules it (`slx_health_tasks`), else the
    /// task's own. It sets the quiet period of the issues the run raises. A store error costs
    /// only the SLX's override.
    async fn interval(&self, t: &ResolvedTask<'_>, req: &RunRequest) -> std::time::Duration {
        let declared = t.task.interval.unwrap_or(sitrep_bundles::DEFAULT_INTERVAL);
        let Some(name) = &req.slx else {
            return declared;
        };
        match self.store.get_slx(&self.cfg.workspace, name).await {
            Ok(Some(slx)) => sitrep_bundles::slx::slx_health_tasks(&self.catalog, &slx, true)
                .0
                .into_iter()
                .find(|s| s.task == req.task)
                .map_or(declared, |s| s.interval),
            Ok(None) => declared,
            Err(e) => {
                tracing::warn!(error = %e, slx = %name, "cannot read the slx; its interval override is ignored");
                declared
            }
        }
    }

    /// Replays the recorded history of the run's series the watch does not know yet (one
    /// query per such series, so once per series per process). A store error only costs
    /// that series its history.
    async fn warm_sli(
        &self,
        watch: &std::sync::Mutex<SliWatch>,
        run: &TaskRun,
        metrics: &[Metric],
    ) {
        let (unknown, replay): (Vec<Metric>, usize) = {
            let w = lock(watch);
            let unknown = w.unknown(&run.workspace, &run.scope, &run.task, metrics);
            (unknown.into_iter().cloned().collect(), w.config().replay)
        };
        if replay == 0 {
            return;
        }
        for (name, _, labels) in &unknown {
            let key = SeriesKey {
                scope: &run.scope,
                task: &run.task,
                name,
                labels,
            };
            match self
                .store
                .recent_series_values(&run.workspace, &key, replay as i64)
                .await
            {
                Ok(history) => lock(watch).warm(
                    &run.workspace,
                    &run.scope,
                    &run.task,
                    (name, labels),
                    &history,
                ),
                Err(e) => {
                    tracing::warn!(error = %e, metric = %name, scope = %run.scope, "cannot read sli history; series starts cold")
                }
            }
        }
    }

    async fn execute(
        &self,
        t: &ResolvedTask<'_>,
        req: &RunRequest,
        vars: &BTreeMap<String, String>,
        redactor: &Redactor,
        run_id: &str,
        mut interrupt: Interrupt,
    ) -> Outcome {
        if let TaskSpec::Script { interpreter, path } = &t.task.spec {
            let server = match interpreter {
                Interpreter::Python => self.python_server().await,
                Interpreter::Bash => None,
            };
            let script = crate::script_task::Script {
                program: interpreter.program(),
                args: vec![path.as_os_str()],
                env: vec![],
                run_id,
                server: server.as_deref(),
            };
            return self
                .run_script(t, req, vars, redactor, script, interrupt)
                .await;
        }
        if let TaskSpec::Robot(spec) = &t.task.spec {
            return self
                .run_robot(t, req, vars, redactor, (spec, run_id), interrupt)
                .await;
        }
        // Queries and requests are cut by dropping them.
        tokio::select! {
            out = self.execute_query(t, req, vars) => out,
            reason = interrupt.fired() => Outcome::interrupted(&reason),
        }
    }

    /// sql, http and promql tasks.
    async fn execute_query(
        &self,
        t: &ResolvedTask<'_>,
        req: &RunRequest,
        vars: &BTreeMap<String, String>,
    ) -> Outcome {
        // A declared optional secret that was not supplied fills in as empty.
        let lookup = |n: &str| {
            vars.get(n)
                .cloned()
                .or_else(|| req.secrets.get(n).cloned())
                .or_else(|| t.bundle.secret(n).map(|_| String::new()))
        };
        let fill = |s: &str| substitute(s, lookup);
        let timeout = t.task.timeout;
        let now_secs = self.clock.now().0 / 1000;
        match &t.task.spec {
            TaskSpec::Script { .. } | TaskSpec::Robot(_) => {
                unreachable!("scripts and robot tasks are run by execute")
            }
            TaskSpec::Sql(spec) => {
                let dsn = match (
                    fill(&spec.dsn),
                    spec.password.as_deref().map(fill).transpose(),
                ) {
                    (Ok(d), Ok(Some(pw))) if !pw.is_empty() => exec::sql::with_password(&d, &pw),
                    (Ok(d), Ok(_)) => d,
                    (Err(e), _) | (_, Err(e)) => return Outcome::failed(e),
                };
                let query = match fill(&spec.query) {
                    Ok(q) => q,
                    Err(e) => return Outcome::failed(e),
                };
                let (mut out, rows) = exec::sql::run(exec::sql::SqlRun {
                    pools: &self.pools,
                    dsn,
                    query,
                    timeout,
                })
                .await;
                apply_rows(&mut out, spec.rules(), &rows, &lookup);
                out
            }
            TaskSpec::Http(spec) => {
                let mut spec = spec.clone();
                let filled = (|| -> Result<(), String> {
                    spec.url = fill(&spec.url)?;
                    if let Some(b) = &spec.body {
                        spec.body = Some(fill(b)?);
                    }
                    if let Some(l) = &spec.expect.max_latency {
                        spec.expect.max_latency = Some(fill(l)?);
                    }
                    if let Some(b) = &spec.expect.body_contains {
                        spec.expect.body_contains = Some(fill(b)?);
                    }
                    for v in spec.headers.values_mut() {
                        *v = fill(v)?;
                    }
                    Ok(())
                })();
                if let Err(e) = filled {
                    return Outcome::failed(e);
                }
                exec::http::run(exec::http::HttpRun {
                    clients: &self.http,
                    spec,
                    timeout,
                    now_secs,
                })
                .await
            }
            TaskSpec::Promql(spec) => {
                let (url, query) = match (fill(&spec.url), fill(&spec.query)) {
                    (Ok(u), Ok(q)) => (u, q),
                    (Err(e), _) | (_, Err(e)) => return Outcome::failed(e),
                };
                let duration = |field: &str, v: Option<&String>| -> Result<_, String> {
                    v.map(|v| {
                        let filled = fill(v)?;
                        parse_duration(&filled)
                            .map_err(|e| format!("promql.{field} {filled:?}: {e}"))
                    })
                    .transpose()
                };
                let range = match (
                    duration("range", spec.range.as_ref()),
                    duration("step", spec.step.as_ref()),
                ) {
                    (Ok(r), Ok(step)) => r.map(|r| (r, step.unwrap_or(r / 60))),
                    (Err(e), _) | (_, Err(e)) => return Outcome::failed(e),
                };
                let (mut out, rows) = exec::promql::run(exec::promql::PromqlRun {
                    client: self.http.api(),
                    url,
                    query,
                    range,
                    timeout,
                    now_ms: self.clock.now().0,
                })
                .await;
                apply_rows(&mut out, spec.rules(), &rows, &lookup);
                out
            }
        }
    }

    /// A directory that survives between runs of one bundle's tasks on one resource (for
    /// tasks that compare with what they saw last time), private to sitrep's user.
    pub(crate) async fn state_dir(&self, req: &RunRequest) -> std::io::Result<PathBuf> {
        let part = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        let dir = self
            .cfg
            .runtime_dir
            .join("state")
            .join(part(&self.cfg.workspace))
            .join(part(&req.resource))
            .join(part(&format!(
                "{}.{}",
                req.task.collection, req.task.bundle
            )));
        if tokio::fs::metadata(&dir).await.is_ok_and(|m| m.is_dir()) {
            return Ok(dir);
        }
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).await?;
        Ok(dir)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // Only if empty: another runner of this process (or another process with this home)
        // may be using them; they are recreated as needed.
        let _ = std::fs::remove_dir(self.owner_dir());
        let _ = std::fs::remove_dir(&self.runs_dir.path);
    }
}

fn apply_rows(
    out: &mut Outcome,
    rules: sitrep_bundles::RowRules<'_>,
    rows: &[sitrep_core::table::Row],
    lookup: &dyn Fn(&str) -> Option<String>,
) {
    if out.status != Some(RunStatus::Succeeded) || out.inconclusive.is_some() {
        return;
    }
    let applied = rows::apply(rules, rows, lookup);
    out.results = applied.results;
    out.inconclusive = applied.inconclusive;
    if !applied.errors.is_empty() {
        // A rule that cannot be evaluated must not silently resolve issues.
        out.status = Some(RunStatus::Failed);
        out.errors.extend(applied.errors);
    }
}
