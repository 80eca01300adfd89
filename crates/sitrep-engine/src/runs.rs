//! Tasks: listing them, running one by hand, and the one path every run takes (which records
//! it and publishes its events).

use crate::approvals::{Actor, Approval};
use crate::events::Event;
use crate::views::{InsightView, IssueChangeView, MetricView, ParamView, RunView, TaskView};
use crate::{EngineError, Result, Sitrep};
use sitrep_bundles::ResolvedTask;
use sitrep_core::issue::IssueChange;
use sitrep_core::{IssueEventKind, TaskRef};
use sitrep_runner::{RunOutput, RunRequest};
use sitrep_store::Store;
use std::collections::BTreeMap;

/// Run one task now.
#[derive(Debug, Clone, Default)]
pub struct RunTaskRequest {
    /// `collection/bundle/task` or `bundle/task`.
    pub task: String,
    /// The resource it looks at; derived from the task's target when not given.
    pub resource: Option<String>,
    /// Run it as this SLX's task: the SLX's resource, its config (under `config`) and its
    /// secrets (under `secrets`). The task must be of the SLX's bundle.
    pub slx: Option<String>,
    pub config: BTreeMap<String, String>,
    /// Secret name → value (never stored).
    pub secrets: BTreeMap<String, String>,
    /// A remediation runs only when a person approves it here and now; the approval is
    /// recorded with this actor.
    pub approve_as: Option<Actor>,
}

pub(crate) fn task_view(t: &ResolvedTask<'_>) -> TaskView {
    let mut params: Vec<ParamView> = t
        .bundle
        .params
        .iter()
        .map(|p| ParamView {
            name: p.name.clone(),
            description: p.description.clone(),
            required: p.required,
            default: p.default.clone(),
        })
        .collect();
    params.extend(t.task.params.iter().map(|p| ParamView {
        name: p.clone(),
        description: String::new(),
        required: true,
        default: None,
    }));
    TaskView {
        task: t.task_ref().to_string(),
        kind: t.task.kind,
        ty: t.task.ty,
        description: t.task.description.clone(),
        interval_s: t.task.interval.map(|d| d.as_secs()),
        timeout_s: t.task.timeout.as_secs(),
        risk: t.task.risk,
        rollback: t.task.rollback.clone(),
        params,
        secrets: t.bundle.secrets.iter().map(|s| s.name.clone()).collect(),
        tags: t.task.tags.clone(),
    }
}

pub(crate) fn run_view(out: RunOutput, approval: Option<String>) -> RunView {
    let changes = out
        .changes
        .iter()
        .map(|c| {
            let issue = match c {
                IssueChange::Open(i) | IssueChange::Raise { issue: i, .. } => Some(i),
                IssueChange::Resolve { .. } => None,
            };
            IssueChangeView {
                kind: c.event_kind(),
                issue_id: c.issue_id().to_string(),
                title: issue.map(|i| i.title.clone()),
                resource: issue.map(|i| i.resource.clone()),
                since: match c {
                    IssueChange::Open(i) => Some(i.first_seen),
                    IssueChange::Raise { issue, kind } => Some(match kind {
                        IssueEventKind::Reopened => issue.last_seen,
                        _ => issue.first_seen,
                    }),
                    IssueChange::Resolve { .. } => None,
                },
            }
        })
        .collect();
    let resolved = out
        .changes
        .iter()
        .filter(|c| matches!(c, IssueChange::Resolve { .. }))
        .map(|c| c.issue_id().to_string())
        .collect();
    RunView {
        report: out.run.report.clone(),
        run: out.run,
        issues: out.results.issues,
        insights: out
            .results
            .insights
            .into_iter()
            .map(|(text, data)| InsightView { text, data })
            .collect(),
        metrics: out
            .results
            .metrics
            .into_iter()
            .map(|(name, value, labels)| MetricView {
                name,
                value,
                labels,
            })
            .collect(),
        changes,
        resolved,
        approval,
    }
}

impl Sitrep {
    /// Every task of every collection whose `collection/bundle/task` contains `filter`.
    pub async fn tasks(&self, filter: Option<&str>) -> Result<Vec<TaskView>> {
        let catalog = self.catalog().await?;
        Ok(catalog
            .tasks()
            .filter(|t| filter.is_none_or(|f| t.task_ref().to_string().contains(f)))
            .map(|t| task_view(&t))
            .collect())
    }

    /// One task, by `collection/bundle/task` or `bundle/task`.
    pub async fn task(&self, name: &str) -> Result<TaskView> {
        let r = TaskRef::parse(name).map_err(EngineError::Invalid)?;
        let catalog = self.catalog().await?;
        Ok(task_view(&catalog.resolve(&r)?))
    }

    /// Runs one task now and records it. A remediation needs `approve_as`: the approval is
    /// stored before the run and marked executed after it.
    pub async fn run_task(&self, req: RunTaskRequest) -> Result<RunView> {
        let task = TaskRef::parse(&req.task).map_err(EngineError::Invalid)?;
        // The runner opens the store and reads the catalog side by side.
        self.runner().await?;
        let catalog = self.catalog().await?;
        let resolved = catalog.resolve(&task)?;
        let (mut config, mut secrets) = (req.config, req.secrets);
        let slx = match req.slx.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(name) => {
                let s = self
                    .slx_for_run(name, &resolved, req.resource.as_deref())
                    .await?;
                // What is given here wins over the SLX's own.
                let mut c = s.config.clone();
                c.append(&mut config);
                config = c;
                let mut given = std::mem::take(&mut secrets);
                secrets = self.slx_secrets(&s).await?;
                secrets.append(&mut given);
                Some(s)
            }
            None => None,
        };
        let resource = match (&slx, req.resource.filter(|r| !r.trim().is_empty())) {
            (Some(s), _) => s.resource.clone(),
            (None, Some(r)) => r,
            (None, None) => self.derive_resource(&resolved, &config).await?,
        };
        let approval = match (&req.approve_as, resolved.task.kind) {
            (Some(actor), sitrep_core::TaskKind::Remediation) => Some(
                self.approve_at_terminal(actor, &resolved, &resource, &config)
                    .await?,
            ),
            _ => None,
        };
        self.execute(
            RunRequest {
                task,
                resource,
                slx: slx.map(|s| s.name),
                config,
                secrets,
                approval: None,
            },
            approval,
        )
        .await
    }

    /// The SLX a hand run runs as: current, of the task's bundle, about the resource asked.
    async fn slx_for_run(
        &self,
        name: &str,
        task: &ResolvedTask<'_>,
        resource: Option<&str>,
    ) -> Result<sitrep_core::Slx> {
        let s = self.slx(name).await?;
        if s.stale {
            return Err(EngineError::Invalid(format!(
                "SLX {name} is stale (its resource was not found by the last discovery); run discovery first"
            )));
        }
        let task_ref = task.task_ref();
        if format!("{}/{}", task_ref.collection, task_ref.bundle) != s.bundle {
            return Err(EngineError::Invalid(format!(
                "{task_ref} is not a task of SLX {name}, which runs the bundle {}",
                s.bundle
            )));
        }
        if let Some(r) = resource.filter(|r| !r.trim().is_empty() && *r != s.resource) {
            return Err(EngineError::Invalid(format!(
                "SLX {name} is about {}, not {r}: give one or the other",
                s.resource
            )));
        }
        Ok(s)
    }

    /// The one path of every run: the runner records it; its issue changes are published.
    /// A remediation's approval is checked by the runner and marked executed after.
    pub(crate) async fn execute(
        &self,
        mut req: RunRequest,
        approval: Option<Approval>,
    ) -> Result<RunView> {
        req.approval = approval.as_ref().map(Approval::grant);
        let runner = self.runner().await?;
        let out = runner.run(req).await?;
        self.publish(Event::RunFinished {
            run_id: out.run.id.clone(),
            task: out.run.task.clone(),
            resource: out.run.resource.clone(),
            slx: out.run.slx.clone(),
            status: out.run.status,
            kind: out.run.kind,
            duration_ms: out.run.duration_ms().map_or(0, |d| d.max(0) as u64),
            issues_raised: out.results.issues.len(),
        });
        for c in &out.changes {
            self.publish(Event::from_change(c));
        }
        let approval_id = match approval {
            Some(a) => Some(self.mark_executed(a, &out.run.id).await?),
            None => None,
        };
        Ok(run_view(out, approval_id))
    }

    /// The resource a hand run looks at, from the task's target: the Map resource that
    /// serves the URL, DSN or host:port in its config, else that target itself; the local
    /// host for host tasks. Never a guess: without a target it asks for one.
    async fn derive_resource(
        &self,
        t: &ResolvedTask<'_>,
        config: &BTreeMap<String, String>,
    ) -> Result<String> {
        let map = self.store().await?;
        let map = sitrep_store::Store::load_map(&*map, self.workspace())
            .await?
            .live();
        if t.bundle.resource_type == "host" {
            return Ok(map
                .resources()
                .iter()
                .find(|r| r.kind == "host")
                .map_or_else(|| "localhost".to_string(), |r| r.name.clone()));
        }
        let mut defaults: BTreeMap<String, String> = t
            .bundle
            .params
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
            .collect();
        defaults.extend(config.clone());
        match crate::map::target_of(&defaults) {
            Some(target) => Ok(crate::map::resource_for_target(&map, &target)
                .map_or_else(|| target.label(), |r| r.name.clone())),
            None => Err(EngineError::NeedsResource(t.task_ref().to_string())),
        }
    }
}

impl Sitrep {
    /// The most recent runs of this workspace, newest first, without their outputs (`run_record`
    /// has one whole).
    pub async fn runs(&self, limit: usize) -> Result<Vec<crate::views::RunSummary>> {
        let runs = self
            .store()
            .await?
            .recent_runs(self.workspace(), limit.min(10_000) as i64)
            .await?;
        Ok(runs.iter().map(crate::views::RunSummary::from).collect())
    }

    /// One run, whole (its captured output included), by id or a unique id prefix.
    pub async fn run_record(&self, id: &str) -> Result<sitrep_core::TaskRun> {
        let store = self.store().await?;
        if let Some(r) = store.get_run(self.workspace(), id).await? {
            return Ok(r);
        }
        let mut found = store
            .recent_runs(self.workspace(), 10_000)
            .await?
            .into_iter()
            .filter(|r| !id.is_empty() && r.id.starts_with(id));
        match (found.next(), found.next()) {
            (Some(r), None) => Ok(r),
            (Some(_), Some(_)) => Err(EngineError::Invalid(format!(
                "run id prefix {id:?} is ambiguous: give more of the id"
            ))),
            _ => Err(EngineError::NotFound {
                what: "run",
                name: id.to_string(),
                hint: "list recent runs to find its id".into(),
            }),
        }
    }
}
