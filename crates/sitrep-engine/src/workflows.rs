//! Workflows from the workspace folder's `workflows/*.yaml` (`docs/workflows.md`): loaded and
//! checked with file, line and field like rules; an alert's workflows are chosen when its
//! investigation starts (`intake`), an issue's when it opens ([`Sitrep::workflow_worker`]), a
//! schedule's at its times ([`Sitrep::schedule_worker`]), and their deliveries are stored with
//! the investigation's start.

use crate::files::{Loaded, NamedFile, load_named};
use crate::investigate::{Ask, InvestigateRequest};
use crate::views::ProblemView;
use crate::{EngineError, Result, Sitrep};
use serde::{Deserialize, Serialize};
use sitrep_core::Severity;
use sitrep_core::Timestamp;
use sitrep_core::delivery::{Delivery, DeliveryStatus};
use sitrep_core::intake::InboundEvent;
use sitrep_core::workflow::{AlertFacts, ScheduledAsk, Workflow, WorkflowSpec, fill_args};
use sitrep_store::DeliveryStore;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

/// A workflow as listed and shown.
/// What the workflows taking an event plan for it.
#[derive(Debug, Default)]
pub(crate) struct EventPlan {
    pub assistant: Option<String>,
    pub deliveries: Vec<Delivery>,
    /// The command the first of them naming one runs as the investigation, its args filled
    /// from the event (or why they cannot be).
    pub command: Option<std::result::Result<(String, Vec<String>), String>>,
}

/// The command of the first workflow that names one, with its args filled from `fields`.
pub(crate) fn event_command(
    taking: &[&Workflow],
    what: &str,
    fields: &BTreeMap<String, String>,
) -> Option<std::result::Result<(String, Vec<String>), String>> {
    let (name, args) = taking.iter().find_map(|w| w.event_command())?;
    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
    Some(
        fill_args(args, what, |n| fields.get(n).cloned(), &known)
            .map(|args| (name.to_string(), args)),
    )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowView {
    pub name: String,
    pub file: String,
    #[serde(flatten)]
    pub spec: WorkflowSpec,
}

/// The workspace's workflows and the problems of those that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WorkflowsView {
    pub workflows: Vec<WorkflowView>,
    pub problems: Vec<ProblemView>,
}

pub(crate) type LoadedWorkflows = Loaded<Workflow>;

impl NamedFile for Workflow {
    type Spec = WorkflowSpec;
    const KIND: &'static str = "workflow";
    fn spec_name(spec: &mut WorkflowSpec) -> &mut String {
        &mut spec.name
    }
    fn compile(spec: WorkflowSpec) -> std::result::Result<Workflow, Vec<(String, String)>> {
        Workflow::compile(spec).map_err(|ps| ps.into_iter().map(|p| (p.field, p.message)).collect())
    }
    fn name(&self) -> &str {
        Workflow::name(self)
    }
}

/// Reads and checks `workflows/*.yaml` (or one file).
pub(crate) fn load_workflows(path: &Path) -> Result<LoadedWorkflows> {
    load_named(path)
}

impl Sitrep {
    fn workflows_dir(&self) -> PathBuf {
        self.workspace_dir().join("workflows")
    }

    pub(crate) async fn loaded_workflows(&self) -> Result<LoadedWorkflows> {
        let dir = self.workflows_dir();
        let loaded = tokio::task::spawn_blocking(move || load_workflows(&dir))
            .await
            .map_err(|e| EngineError::Invalid(format!("reading workflows crashed: {e}")))??;
        for p in &loaded.problems {
            tracing::warn!(problem = %p, "workflow skipped");
        }
        Ok(loaded)
    }

    /// The workspace's workflows, and what is wrong with those left out.
    pub async fn workflows(&self) -> Result<WorkflowsView> {
        self.validate_workflows(None).await
    }

    /// Checks one workflow file, or the whole `workflows/` folder: every problem.
    pub async fn validate_workflows(&self, path: Option<&Path>) -> Result<WorkflowsView> {
        let path = path.map_or_else(|| self.workflows_dir(), Path::to_path_buf);
        let loaded = tokio::task::spawn_blocking(move || load_workflows(&path))
            .await
            .map_err(|e| EngineError::Invalid(format!("reading workflows crashed: {e}")))??;
        Ok(WorkflowsView {
            workflows: loaded
                .items
                .into_iter()
                .map(|(w, f)| WorkflowView {
                    name: w.name().to_string(),
                    file: f.display().to_string(),
                    spec: w.spec().clone(),
                })
                .collect(),
            problems: loaded.problems,
        })
    }

    /// The deliveries of every workflow that takes `alert`, for the session about to start.
    pub(crate) async fn alert_workflows(
        &self,
        event: &InboundEvent,
        session_id: &str,
    ) -> Result<EventPlan> {
        let workflows = self.loaded_workflows().await?.items;
        if workflows.is_empty() {
            return Ok(EventPlan::default());
        }
        let (name, mut labels) = match crate::investigate::parse_alert(&event.payload) {
            Ok(sitrep_core::investigation::Trigger::Alert { name, labels, .. }) => (name, labels),
            _ => return Ok(EventPlan::default()),
        };
        let facts = AlertFacts {
            source: event.source,
            labels: &labels,
        };
        let taking: Vec<&Workflow> = workflows
            .iter()
            .map(|(w, _)| w)
            .filter(|w| w.takes_alert(facts))
            .collect();
        let (assistant, deliveries) = self.plan_deliveries(&taking, session_id);
        labels.entry("alertname".into()).or_insert(name);
        let command = event_command(&taking, "the alert", &labels);
        Ok(EventPlan {
            assistant,
            deliveries,
            command,
        })
    }

    /// Investigates `req`, or runs `command` (name, args) as its investigation.
    pub(crate) async fn investigate_or_run(
        &self,
        req: InvestigateRequest,
        command: Option<(String, Vec<String>)>,
    ) -> Result<sitrep_core::investigation::Session> {
        match command {
            Some((name, args)) => Ok(self.run_command(&name, &args, &req).await?.session),
            None => self.investigate(req).await,
        }
    }

    /// A workflow's investigation of `what` in the background; its deliveries go once it ends.
    pub(crate) fn spawn_investigation(
        &self,
        req: InvestigateRequest,
        command: Option<(String, Vec<String>)>,
        what: &'static str,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.investigate_or_run(req, command).await {
                tracing::error!(error = %e, what, "a workflow's investigation failed");
            }
            me.wake_delivery();
        });
    }

    /// One delivery per target of each workflow, and the first assistant any of them names.
    pub(crate) fn plan_deliveries(
        &self,
        workflows: &[&Workflow],
        session_id: &str,
    ) -> (Option<String>, Vec<Delivery>) {
        let now = self.now();
        let assistant = workflows
            .iter()
            .find_map(|w| w.assistant())
            .map(str::to_string);
        let deliveries = workflows
            .iter()
            .flat_map(|w| {
                w.targets().iter().map(|t| Delivery {
                    id: uuid::Uuid::new_v4().to_string(),
                    workspace: self.workspace().to_string(),
                    workflow: w.name().to_string(),
                    session_id: session_id.to_string(),
                    target: t.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    created_at: now,
                    next_at: now,
                    delivered_at: None,
                    last_error: None,
                    slack_ts: None,
                    thread_ts: None,
                })
            })
            .collect();
        (assistant, deliveries)
    }

    /// Starts an investigation of each newly opened issue a workflow takes, and of each SLO
    /// an SLO workflow watches that falls below its objective (`slo_watch`), with their
    /// deliveries, until `stop` completes. (What happens while no server runs starts nothing:
    /// workflows act on what happens while they watch.)
    pub async fn workflow_worker(&self, stop: impl Future<Output = ()> + Send) {
        let mut events = self.subscribe();
        let mut slo = crate::slo_watch::SloWatch::default();
        tokio::pin!(stop);
        loop {
            let event = tokio::select! {
                _ = &mut stop => return,
                e = events.recv() => e,
            };
            let (issue_id, severity) = match event {
                Ok(crate::events::Event::IssueChanged {
                    issue_id,
                    change: sitrep_core::IssueEventKind::Opened,
                    severity: Some(severity),
                    ..
                }) => (issue_id, severity),
                Ok(crate::events::Event::RunFinished {
                    slx: Some(slx),
                    kind: sitrep_core::TaskKind::Health,
                    resource,
                    status,
                    issues_raised,
                    ..
                }) => {
                    let check = crate::slo_watch::Check {
                        slx: &slx,
                        resource: &resource,
                        status,
                        issues_raised,
                    };
                    if let Err(e) = self.slo_check(&mut slo, check).await {
                        tracing::error!(error = %e, slx = %slx, "cannot judge an SLO workflow's check");
                    }
                    continue;
                }
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "workflows missed issue events");
                    continue;
                }
                Err(_) => return,
            };
            if let Err(e) = self.issue_opened(&issue_id, severity).await {
                tracing::error!(error = %e, issue = %issue_id, "cannot start a workflow for an issue");
            }
        }
    }

    /// Fires each schedule workflow at its times (cron, UTC) until `stop` completes: its
    /// question or command is investigated and the answer delivered like an alert's. A time
    /// that passed while no server ran is not made up (as cron does not); the folder is read
    /// again at least every minute, so an added or changed workflow takes effect without a
    /// restart.
    pub async fn schedule_worker(&self, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        // workflow name -> (its schedule as last read, when it fires next)
        let mut next: BTreeMap<String, (String, Timestamp)> = BTreeMap::new();
        loop {
            let now = self.now();
            let workflows = match self.loaded_workflows().await {
                Ok(l) => l.items,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the workflows for their schedules");
                    vec![]
                }
            };
            let mut due = vec![];
            let mut kept = BTreeMap::new();
            for (w, _) in workflows {
                let Some(sch) = &w.spec().on.schedule else {
                    continue;
                };
                let key = format!("{} {} {}", sch.cron, sch.zone_name(), w.spec().enabled);
                let at = match next.remove(w.name()) {
                    Some((k, at)) if k == key => Some(at),
                    _ => w.next_fire(now),
                };
                let Some(at) = at else { continue };
                if at <= now {
                    if let Some(n) = w.next_fire(now) {
                        kept.insert(w.name().to_string(), (key, n));
                    }
                    due.push(w);
                } else {
                    kept.insert(w.name().to_string(), (key, at));
                }
            }
            next = kept;
            for w in &due {
                if let Err(e) = self.fire_schedule(w).await {
                    tracing::error!(error = %e, workflow = w.name(), "cannot start a scheduled workflow");
                }
            }
            let wait = next
                .values()
                .map(|(_, at)| at.0 - self.now().0)
                .min()
                .unwrap_or(60_000)
                .clamp(0, 60_000);
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(std::time::Duration::from_millis(wait as u64)) => {}
            }
        }
    }

    /// One firing of a schedule workflow: its deliveries stored with the session about to
    /// start, then its question investigated or its command run, in the background.
    async fn fire_schedule(&self, w: &Workflow) -> Result<()> {
        let Some(ask) = w.scheduled_ask() else {
            return Ok(());
        };
        let session_id = Sitrep::new_session_id();
        let (assistant, deliveries) = self.plan_deliveries(&[w], &session_id);
        self.store()
            .await?
            .put_deliveries(&deliveries, None)
            .await?;
        tracing::info!(workflow = w.name(), session = %session_id, deliveries = deliveries.len(), "scheduled workflow fires");
        let base = InvestigateRequest {
            ask: Ask::Question(String::new()),
            assistant,
            time_budget: None,
            task_budget: None,
            session_id: Some(session_id),
        };
        let (req, command) = match ask {
            ScheduledAsk::Question(q) => (
                InvestigateRequest {
                    ask: Ask::Question(q),
                    ..base
                },
                None,
            ),
            ScheduledAsk::Command { name, args } => (base, Some((name, args))),
        };
        self.spawn_investigation(req, command, "a schedule");
        Ok(())
    }

    async fn issue_opened(&self, issue_id: &str, severity: Severity) -> Result<()> {
        let workflows = self.loaded_workflows().await?.items;
        let taking: Vec<&Workflow> = workflows
            .iter()
            .map(|(w, _)| w)
            .filter(|w| w.takes_issue(severity))
            .collect();
        if taking.is_empty() {
            return Ok(());
        }
        let command = match taking.iter().any(|w| w.event_command().is_some()) {
            false => None,
            true => {
                let (issue, _) = self.issue(issue_id).await?;
                let fields = BTreeMap::from([
                    ("id".to_string(), issue.id.clone()),
                    ("resource".to_string(), issue.resource.clone()),
                    ("task".to_string(), issue.task.clone()),
                    ("title".to_string(), issue.title.clone()),
                    ("severity".to_string(), issue.severity.get().to_string()),
                    ("scope".to_string(), issue.scope.clone()),
                ]);
                match event_command(&taking, "the issue", &fields) {
                    Some(Err(e)) => {
                        // Nothing starts: the workflow's args do not fit its issues.
                        tracing::error!(error = %e, issue = issue_id, "a workflow's command cannot investigate the issue");
                        return Ok(());
                    }
                    c => c.and_then(std::result::Result::ok),
                }
            }
        };
        let session_id = Sitrep::new_session_id();
        let (assistant, deliveries) = self.plan_deliveries(&taking, &session_id);
        self.store()
            .await?
            .put_deliveries(&deliveries, None)
            .await?;
        tracing::info!(issue = issue_id, session = %session_id, deliveries = deliveries.len(), command = ?command.as_ref().map(|c| &c.0), "workflow investigates a new issue");
        let req = InvestigateRequest {
            ask: Ask::Issue(issue_id.to_string()),
            assistant,
            time_budget: None,
            task_budget: None,
            session_id: Some(session_id),
        };
        self.spawn_investigation(req, command, "an issue");
        Ok(())
    }
}
