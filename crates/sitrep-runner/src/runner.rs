//! The runner: resolves a task, prepares its run, executes it under the limits, redacts
//! everything it captured and records the run and its results.

use crate::capture::DEFAULT_CAP;
use crate::error::RunError;
use crate::exec::{self, Outcome, http::HttpClients, sql::Pools};
use crate::limits::{Gate, Limits};
use crate::rows;
use crate::sli_watch::{Metric, SliWatch, SliWatchConfig};
use sitrep_bundles::{Catalog, ResolvedTask, SecretAs, TaskSpec};
use sitrep_core::approval::ApprovalGrant;
use sitrep_core::issue::IssueChange;
use sitrep_core::redact::{MIN_SECRET_LEN, Redactor};
use sitrep_core::template::substitute;
use sitrep_core::time::parse_duration;
use sitrep_core::{Clock, RunStatus, TaskKind, TaskRef, TaskRun};
use sitrep_store::{RunResults, SeriesKey, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub workspace: String,
    /// Holds per-run temp dirs and the `bin/sitrep` link for `sitrep emit`.
    pub runtime_dir: PathBuf,
    /// The `sitrep` binary tasks call as `sitrep emit`; `None` leaves PATH as it is.
    pub sitrep_exe: Option<PathBuf>,
    pub limits: Limits,
    pub output_cap: usize,
}

impl RunnerConfig {
    pub fn new(workspace: &str, runtime_dir: PathBuf) -> Self {
        RunnerConfig {
            workspace: workspace.into(),
            runtime_dir,
            sitrep_exe: None,
            limits: Limits::default(),
            output_cap: DEFAULT_CAP,
        }
    }
}

/// What to run, and with what.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub task: TaskRef,
    pub resource: String,
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
}

impl Runner {
    pub fn new(
        cfg: RunnerConfig,
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Runner, RunError> {
        let runs = cfg.runtime_dir.join("runs");
        std::fs::create_dir_all(&runs).map_err(|source| RunError::RunDir {
            path: runs.display().to_string(),
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
            cfg,
            catalog,
            store,
            clock,
            http: HttpClients::new(),
            pools: Pools::default(),
            path,
            sli: Some(std::sync::Mutex::default()),
        })
    }

    /// Replaces the anomalous-SLI watch (and forgets its series); `None` turns it off.
    pub fn with_sli_watch(self, cfg: Option<SliWatchConfig>) -> Self {
        Runner {
            sli: cfg.map(|c| std::sync::Mutex::new(SliWatch::new(c))),
            ..self
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn workspace(&self) -> &str {
        &self.cfg.workspace
    }

    /// Runs one task and records it. Errors mean the task could not be started (bad request);
    /// a task that started and failed is an `Ok` with a failed run.
    pub async fn run(&self, req: RunRequest) -> Result<RunOutput, RunError> {
        let resolved = self.catalog.resolve(&req.task)?;
        if resolved.task.kind == TaskKind::Remediation {
            let task = req.task.to_string();
            match &req.approval {
                None => return Err(RunError::NeedsApproval(task)),
                Some(grant) => grant
                    .check(&task, &req.resource, self.clock.now())
                    .map_err(RunError::Approval)?,
            }
        }
        let vars = self.variables(&resolved, &req)?;
        let redactor = Redactor::new(req.secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())));

        let _permits = self.gate.enter(&req.resource).await;
        let scope = req.slx.clone().unwrap_or_else(|| req.resource.clone());
        let mut run = TaskRun {
            id: uuid::Uuid::new_v4().to_string(),
            workspace: self.cfg.workspace.clone(),
            scope,
            slx: req.slx.clone(),
            resource: req.resource.clone(),
            task: req.task.to_string(),
            kind: resolved.task.kind,
            status: RunStatus::Running,
            exit_code: None,
            started_at: self.clock.now(),
            finished_at: None,
            stdout: String::new(),
            stderr: String::new(),
            report: String::new(),
            error: None,
            reason: None,
        };
        self.store.start_run(&run).await?;
        tracing::debug!(run = %run.id, task = %run.task, resource = %run.resource, "run started");

        let outcome = self
            .execute(&resolved, &req, &vars, &redactor, &run.id)
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
            Ok(Some(slx)) => sitrep_bundles::slx::slx_health_tasks(&self.catalog, &slx)
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

    /// Config values (declared defaults overridden by the request), secrets and built-ins.
    fn variables(
        &self,
        t: &ResolvedTask<'_>,
        req: &RunRequest,
    ) -> Result<BTreeMap<String, String>, RunError> {
        let task = req.task.to_string();
        let mut vars = BTreeMap::new();
        for p in &t.bundle.params {
            if let Some(d) = &p.default {
                vars.insert(p.name.clone(), d.clone());
            }
        }
        let declared =
            |n: &str| t.bundle.param(n).is_some() || t.task.params.iter().any(|p| p == n);
        for (k, v) in &req.config {
            if !declared(k) {
                let mut names: Vec<&str> = t
                    .bundle
                    .params
                    .iter()
                    .map(|p| p.name.as_str())
                    .chain(t.task.params.iter().map(|s| s.as_str()))
                    .collect();
                names.sort();
                return Err(RunError::UnknownName {
                    task,
                    name: k.clone(),
                    declared: if names.is_empty() {
                        "nothing".into()
                    } else {
                        names.join(", ")
                    },
                });
            }
            vars.insert(k.clone(), v.clone());
        }
        for p in &t.bundle.params {
            if p.required && !vars.contains_key(&p.name) {
                return Err(RunError::MissingParam {
                    task,
                    name: p.name.clone(),
                });
            }
        }
        for p in &t.task.params {
            if !vars.contains_key(p) {
                return Err(RunError::MissingParam {
                    task,
                    name: p.clone(),
                });
            }
        }
        for s in &t.bundle.secrets {
            match req.secrets.get(&s.name) {
                Some(v) if v.len() < MIN_SECRET_LEN => {
                    return Err(RunError::SecretTooShort(s.name.clone()));
                }
                Some(_) => {}
                None if s.required => {
                    return Err(RunError::MissingSecret {
                        task,
                        name: s.name.clone(),
                    });
                }
                None => {}
            }
        }
        for k in req.secrets.keys() {
            if t.bundle.secret(k).is_none() {
                let names: Vec<&str> = t.bundle.secrets.iter().map(|s| s.name.as_str()).collect();
                return Err(RunError::UnknownName {
                    task,
                    name: k.clone(),
                    declared: if names.is_empty() {
                        "no secrets".into()
                    } else {
                        names.join(", ")
                    },
                });
            }
        }
        vars.insert("SITREP_RESOURCE".into(), req.resource.clone());
        vars.insert("SITREP_TASK".into(), req.task.to_string());
        vars.insert(
            "SITREP_BUNDLE".into(),
            format!("{}/{}", req.task.collection, req.task.bundle),
        );
        Ok(vars)
    }

    async fn execute(
        &self,
        t: &ResolvedTask<'_>,
        req: &RunRequest,
        vars: &BTreeMap<String, String>,
        redactor: &Redactor,
        run_id: &str,
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
            TaskSpec::Script { interpreter, path } => {
                let dir = self.cfg.runtime_dir.join("runs").join(run_id);
                let outcome = self
                    .run_script(t, req, vars, redactor, &dir, interpreter.program(), path)
                    .await;
                let _ = tokio::fs::remove_dir_all(&dir).await;
                outcome
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
    async fn state_dir(&self, req: &RunRequest) -> std::io::Result<PathBuf> {
        let part = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                .collect()
        };
        let dir = self
            .cfg
            .runtime_dir
            .join("state")
            .join(part(&self.cfg.workspace))
            .join(part(&req.resource))
            .join(part(&format!("{}.{}", req.task.collection, req.task.bundle)));
        prepare_state_dir(&dir).await?;
        Ok(dir)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_script(
        &self,
        t: &ResolvedTask<'_>,
        req: &RunRequest,
        vars: &BTreeMap<String, String>,
        redactor: &Redactor,
        dir: &Path,
        program: &str,
        script: &Path,
    ) -> Outcome {
        if let Err(e) = prepare_dir(dir).await {
            return Outcome::failed(format!(
                "cannot create the run directory {}: {e}",
                dir.display()
            ));
        }
        let results_file = dir.join("results.jsonl");
        let mut env: Vec<(String, String)> =
            vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (name, value) in &req.secrets {
            let as_file = t
                .bundle
                .secret(name)
                .is_some_and(|s| s.as_ == SecretAs::File);
            if as_file {
                let path = dir.join(".secrets").join(name);
                if let Err(e) = write_private(&path, value).await {
                    return Outcome::failed(format!("cannot write secret file: {e}"));
                }
                env.push((name.clone(), path.display().to_string()));
            } else {
                env.push((name.clone(), value.clone()));
            }
        }
        env.push(("SITREP_RESULTS".into(), results_file.display().to_string()));
        env.push((
            "SITREP_BUNDLE_DIR".into(),
            t.bundle.dir.display().to_string(),
        ));
        env.push(("SITREP_RUN_DIR".into(), dir.display().to_string()));
        match self.state_dir(req).await {
            Ok(state) => env.push(("SITREP_STATE_DIR".into(), state.display().to_string())),
            Err(e) => return Outcome::failed(format!("cannot create the task's state directory: {e}")),
        }
        env.push(("PATH".into(), self.path.clone()));
        env.push((
            "HOME".into(),
            std::env::var("HOME").unwrap_or_else(|_| dir.display().to_string()),
        ));
        env.push(("TMPDIR".into(), dir.display().to_string()));
        env.push(("LANG".into(), "C.UTF-8".into()));
        env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        for pass in ["USER", "LOGNAME", "KUBECONFIG", "TZ"] {
            if let Ok(v) = std::env::var(pass) {
                if !env.iter().any(|(k, _)| k == pass) {
                    env.push((pass.into(), v));
                }
            }
        }
        exec::script::run(exec::script::ScriptRun {
            program,
            script,
            dir,
            results_file: &results_file,
            env,
            timeout: t.task.timeout,
            cap: self.cfg.output_cap,
            redactor,
        })
        .await
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

async fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await?;
    tokio::fs::File::create(dir.join("results.jsonl")).await?;
    Ok(())
}

async fn prepare_state_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if tokio::fs::metadata(dir).await.is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await
}

async fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = path.to_path_buf();
    let value = value.to_string();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(path.parent().unwrap())?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        std::io::Write::write_all(&mut f, value.as_bytes())
    })
    .await
    .map_err(std::io::Error::other)?
}

fn redact_results(r: &mut RunResults, redactor: &Redactor) {
    if redactor.is_empty() {
        return;
    }
    for d in &mut r.issues {
        for f in [
            &mut d.title,
            &mut d.expected,
            &mut d.actual,
            &mut d.details,
            &mut d.next_steps,
            &mut d.reproduce_hint,
        ] {
            redactor.redact_in_place(f);
        }
        if let Some(res) = &mut d.resource {
            redactor.redact_in_place(res);
        }
        for v in d.data.values_mut() {
            redactor.redact_json(v);
        }
    }
    for (text, data) in &mut r.insights {
        redactor.redact_in_place(text);
        redactor.redact_json(data);
    }
    for (name, _, labels) in &mut r.metrics {
        redactor.redact_in_place(name);
        for v in labels.values_mut() {
            redactor.redact_in_place(v);
        }
    }
}
