//! Investigations: RunSessions that form hypotheses, test them with tasks, follow strong
//! evidence along the Map, conclude with a root cause and a confidence, and propose a
//! remediation that waits for a human. Every step is in the session's audit trail.

mod context;
mod driver;
mod follow_up;
mod llm;
mod reasoner;
mod remedy;
mod settings;
mod studio;
mod triggers;

pub use follow_up::FollowUpRequest;
pub use reasoner::{Offline, Proposal, Reasoner, ReasonerNote, ReasonerView};
pub use remedy::{RemediationView, Verification};
pub use settings::*;
pub use triggers::{AlertKey, alert_change, alert_content, alert_key, parse_alert};

pub(crate) use context::resolve;

use crate::{EngineError, Result, Sitrep};
use context::{Context, allowed, distances, focus_of_labels};
use driver::{Budget, Driver};
use sitrep_core::investigation::{
    AuditEntry, AuditKind, AuditLine, BudgetUse, ConclusionInput, ConfidenceReason, Session,
    SessionStatus, Trigger, Verdict, conclude,
};
use sitrep_store::{EngineStore, IssueFilter, SessionStore};
use std::time::Duration;

/// Audit entries a session starts with, after its context (a command's runs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Prelude {
    entries: Vec<(AuditKind, serde_json::Value, String)>,
}

impl Prelude {
    pub fn push(&mut self, kind: AuditKind, data: serde_json::Value, summary: String) {
        self.entries.push((kind, data, summary));
    }
}

/// What to investigate.
#[derive(Debug, Clone)]
pub enum Ask {
    /// A question in plain words.
    Question(String),
    /// An alert payload as received (Alertmanager webhook v4 or PagerDuty webhook v3 JSON).
    Alert(String),
    /// An open issue, by id or unique id prefix.
    Issue(String),
}

#[derive(Debug, Clone)]
pub struct InvestigateRequest {
    pub ask: Ask,
    /// The assistant to use (default: the settings' default assistant).
    pub assistant: Option<String>,
    pub time_budget: Option<Duration>,
    pub task_budget: Option<usize>,
    /// The new session's id (default: a fresh one), for an edge that answers before the
    /// investigation ends ([`Sitrep::new_session_id`]).
    pub session_id: Option<String>,
}

impl InvestigateRequest {
    pub fn question(q: &str) -> Self {
        InvestigateRequest {
            ask: Ask::Question(q.to_string()),
            assistant: None,
            time_budget: None,
            task_budget: None,
            session_id: None,
        }
    }
}

impl Sitrep {
    fn assistant(&self, name: Option<&str>) -> Result<AssistantSettings> {
        let name = name.unwrap_or(&self.settings().investigation.default_assistant);
        assistants(self.settings())
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| {
                EngineError::not_found("assistant", name, "assistants are listed in sitrep.yaml")
            })
    }

    async fn trigger(&self, ask: &Ask) -> Result<Trigger> {
        Ok(match ask {
            Ask::Question(q) if q.trim().is_empty() => {
                return Err(EngineError::Invalid("the question is empty".into()));
            }
            Ask::Question(q) => Trigger::Question {
                text: sitrep_core::protocol::cap(q.trim().to_string(), 2000),
            },
            Ask::Alert(payload) => parse_alert(payload)?,
            Ask::Issue(id) => {
                let (i, _) = self.issue(id).await?;
                Trigger::Issue {
                    issue_id: i.id,
                    title: i.title,
                    resource: i.resource,
                }
            }
        })
    }

    async fn context(&self, trigger: Trigger, a: &AssistantSettings) -> Result<Context> {
        let store = self.store().await?;
        let catalog = self.catalog().await?;
        let map = self.load_map(false).await?;
        let ws = self.workspace();
        let slxs = sitrep_store::Store::list_slxs(&*store, ws)
            .await?
            .into_iter()
            .filter(|s| allowed(a, s, &catalog))
            .collect();
        let mut issues = sitrep_store::Store::list_issues(
            &*store,
            ws,
            &IssueFilter {
                include_resolved: false,
                scope: None,
                limit: Some(500),
            },
        )
        .await?;
        let insights = sitrep_store::Store::current_insights(&*store, ws).await?;
        let mut focus: Vec<String> = vec![];
        fn add(focus: &mut Vec<String>, names: Vec<String>) {
            for n in names {
                if !focus.contains(&n) {
                    focus.push(n);
                }
            }
        }
        match &trigger {
            Trigger::Alert { labels, .. } => add(&mut focus, focus_of_labels(&map, labels)),
            Trigger::Issue { resource, .. } => add(
                &mut focus,
                context::resolve(&map, resource)
                    .map(|r| r.name.clone())
                    .into_iter()
                    .collect(),
            ),
            Trigger::Question { .. } => {}
        }
        let text = trigger.text();
        add(
            &mut focus,
            map.mentioned_in(&text)
                .iter()
                .map(|r| r.name.clone())
                .collect(),
        );
        if focus.is_empty() {
            // Kind words ("redis", "the database") when nothing is named outright.
            for w in sitrep_core::investigation::text::stems(&text) {
                let hits = map.lookup(&w);
                if !hits.is_empty() && hits.len() <= 3 {
                    add(&mut focus, hits.iter().map(|r| r.name.clone()).collect());
                }
            }
        }
        let distance = distances(&map, &focus);
        let scene = studio::Scene {
            text: &text,
            map: &map,
            catalog: &catalog,
            focus: &focus,
            distance: &distance,
            now: self.now(),
        };
        let studio = self.studio(&scene, &mut issues).await?;
        Ok(Context {
            words: sitrep_core::investigation::text::stems(&text),
            trigger,
            map,
            focus,
            distance,
            slxs,
            issues,
            insights,
            catalog,
            now: self.now(),
            studio,
        })
    }

    /// A fresh session id.
    pub fn new_session_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    /// Opens a RunSession and drives it to a conclusion (and a remediation proposal, when the
    /// assistant may propose one). Progress is published as `Event::Session` as it happens.
    /// A question `/name args` runs the workspace command `name` (`commands/`).
    pub async fn investigate(&self, req: InvestigateRequest) -> Result<Session> {
        if let Ask::Question(q) = &req.ask
            && let Some(line) = q.trim().strip_prefix('/')
        {
            return Ok(self.run_command_line(line, &req).await?.session);
        }
        self.open_session(req, Prelude::default()).await
    }

    /// A session whose audit starts, after its context, with `prelude` (a command's runs).
    pub(crate) async fn open_session(
        &self,
        req: InvestigateRequest,
        prelude: Prelude,
    ) -> Result<Session> {
        let a = self.assistant(req.assistant.as_deref())?;
        let trigger = self.trigger(&req.ask).await?;
        let store: std::sync::Arc<dyn EngineStore> = self.store().await?;
        let ctx = self.context(trigger.clone(), &a).await?;
        let inv = &self.settings().investigation;
        let budget = Budget {
            time: req.time_budget.unwrap_or(inv.time_budget),
            task_runs: req.task_budget.unwrap_or(inv.task_budget),
            parallel: inv.parallel,
            max_depth: inv.max_depth,
        };
        let session = Session {
            id: req
                .session_id
                .clone()
                .unwrap_or_else(Sitrep::new_session_id),
            workspace: self.workspace().to_string(),
            assistant: a.name.clone(),
            trigger,
            status: SessionStatus::Running,
            started_at: self.now(),
            finished_at: None,
            focus: ctx.focus.clone(),
            hypotheses: vec![],
            evidence: vec![],
            conclusion: None,
            proposals: vec![],
            budget: BudgetUse {
                task_runs: 0,
                task_runs_max: budget.task_runs,
                elapsed_ms: 0,
                time_budget_ms: budget.time.as_millis() as u64,
                exhausted: None,
            },
            knowledge: vec![],
            rules: vec![],
            follow_ups: vec![],
        };
        let started = serde_json::to_value(&session).unwrap_or_default();
        let opening = format!(
            "session {} ({} assistant): {}",
            session.id,
            a.name,
            session.trigger.text()
        );
        let mut d = Driver::new(self.clone(), store, ctx, session, budget);
        d.record(AuditKind::SessionStarted, started, opening)
            .await?;
        let context = serde_json::json!({
            "focus": d.ctx.focus,
            "resources": d.ctx.map.resources().len(),
            "slxs": d.ctx.slxs.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "open_issues": d.ctx.issues.iter().map(|i| serde_json::json!({
                "id": i.id, "resource": i.resource, "severity": i.severity, "title": i.title,
            })).collect::<Vec<_>>(),
            "insights": d.ctx.insights.len(),
        });
        let summary = format!(
            "context: focus {:?}, {} open issue(s), {} SLX(s)",
            d.ctx.focus,
            d.ctx.issues.len(),
            d.ctx.slxs.len()
        );
        d.record(AuditKind::Context, context, summary).await?;
        d.record_studio().await?;
        for (kind, data, summary) in prelude.entries {
            d.record(kind, data, summary).await?;
        }
        let fallback = self.reason(&mut d, &a).await?;
        self.finish(&mut d, &a, fallback).await?;
        Ok(d.session)
    }

    /// Concludes the session the driver holds: the conclusion by the documented rule, a
    /// remediation proposal for a root cause, the final status.
    async fn finish(
        &self,
        d: &mut Driver,
        a: &AssistantSettings,
        fallback: Option<String>,
    ) -> Result<()> {
        let dependencies = d.ctx.dependencies_among(
            d.session
                .hypotheses
                .iter()
                .map(|h| h.resource.as_str())
                .chain(d.session.focus.iter().map(String::as_str)),
        );
        let mut conclusion = conclude(&ConclusionInput {
            dependencies: &dependencies,
            session: &d.session,
            threshold: a.confidence_threshold,
            budget_exhausted: d.exhausted().is_some(),
        });
        sitrep_core::investigation::cite(&d.session, &mut conclusion);
        if let Some(why) = fallback {
            conclusion.reasons.push(ConfidenceReason {
                delta: 0.0,
                why: format!("the offline reasoner finished the session: {why}"),
            });
        }
        let summary = conclusion.summary.clone();
        let verdict = conclusion.verdict;
        d.session.conclusion = Some(conclusion.clone());
        d.record(
            AuditKind::Conclusion,
            serde_json::to_value(&conclusion).unwrap_or_default(),
            summary,
        )
        .await?;
        if verdict == Verdict::RootCause {
            self.propose_remediation(d, a).await?;
        }
        d.session.status = match verdict {
            Verdict::RootCause => SessionStatus::Concluded,
            _ => SessionStatus::Inconclusive,
        };
        d.session.finished_at = Some(self.now());
        let status = d.session.status;
        d.record(
            AuditKind::SessionFinished,
            serde_json::json!({"status": status, "task_runs": d.session.budget.task_runs, "elapsed_ms": d.session.budget.elapsed_ms}),
            format!("session {status}"),
        )
        .await?;
        Ok(())
    }

    /// Drives the session with the assistant's reasoner. Returns why the offline reasoner
    /// stood in for an `llm` assistant's model, if it did.
    async fn reason(&self, d: &mut Driver, a: &AssistantSettings) -> Result<Option<String>> {
        let Some(model) = a.model.as_ref().filter(|_| a.reasoner == "llm") else {
            d.run(&Offline::default()).await?;
            return Ok(None);
        };
        match self.llm_reasoner(model, &d.ctx).await {
            Ok(r) => {
                d.run(&r).await?;
                Ok(r.fell_back())
            }
            Err(why) => {
                let why = format!("the model could not be used: {why}");
                tracing::warn!(session = %d.session.id, reason = %why, "llm reasoner: offline instead");
                d.record(
                    AuditKind::Note,
                    serde_json::json!({"reasoner": "llm", "fallback": "offline", "why": why}),
                    format!("{why}; the offline reasoner runs the session"),
                )
                .await?;
                d.run(&Offline::default()).await?;
                Ok(Some(why))
            }
        }
    }

    /// Sessions, newest first.
    pub async fn sessions(&self, limit: i64) -> Result<Vec<Session>> {
        Ok(self
            .store()
            .await?
            .list_sessions(self.workspace(), limit)
            .await?)
    }

    pub async fn session(&self, id: &str) -> Result<Session> {
        self.store()
            .await?
            .get_session(self.workspace(), id)
            .await?
            .ok_or_else(|| EngineError::not_found("session", id, "list sessions to see their ids"))
    }

    /// The session's audit trail, in order (its JSONL export is one entry per line).
    pub async fn session_audit(&self, id: &str) -> Result<Vec<AuditEntry>> {
        let s = self.session(id).await?;
        Ok(self.store().await?.audit(self.workspace(), &s.id).await?)
    }

    /// Appends one entry to a finished session's audit (approvals and their outcome).
    pub(crate) async fn session_note(
        &self,
        session_id: &str,
        kind: AuditKind,
        data: serde_json::Value,
        summary: String,
    ) -> Result<()> {
        let store = self.store().await?;
        let line = AuditLine {
            session_id: session_id.to_string(),
            at: self.now(),
            kind,
            data,
        };
        let entry = store.append_audit(self.workspace(), line).await?;
        self.publish(crate::events::Event::Session {
            session_id: session_id.to_string(),
            seq: entry.seq,
            kind,
            summary,
        });
        Ok(())
    }
}
