//! Follow-ups: a question asked about a finished session continues the same session. The tree,
//! the evidence and the audit stay; the question's words and the resources it names add
//! hypotheses, which are tested within a budget of their own, and the session concludes again.

use super::context::distances;
use super::driver::{Budget, Driver};
use crate::{EngineError, Result, Sitrep};
use sitrep_core::investigation::{AuditKind, FollowUp, Session, SessionStatus, Trigger};
use sitrep_store::EngineStore;
use std::sync::Arc;
use std::time::Duration;

/// A question about a finished session.
#[derive(Debug, Clone)]
pub struct FollowUpRequest {
    /// The session's id or a unique prefix of it.
    pub session: String,
    pub text: String,
    /// Who asks (kept with the question in the session and its audit).
    pub by: String,
    /// Limits of this follow-up (default: the investigation settings').
    pub time_budget: Option<Duration>,
    pub task_budget: Option<usize>,
}

impl Sitrep {
    /// Continues a concluded or inconclusive session with a question: new hypotheses from what
    /// it names, tested and judged like the first ones, then a new conclusion (and a
    /// remediation proposal when the root cause has one that is not already waiting).
    pub async fn follow_up(&self, req: FollowUpRequest) -> Result<Session> {
        if req.text.trim().is_empty() {
            return Err(EngineError::Invalid(
                "the follow-up question is empty".into(),
            ));
        }
        let session = self.session(&req.session).await?;
        if session.status == SessionStatus::Running {
            return Err(EngineError::Invalid(format!(
                "session {} is still running: ask again when it has concluded",
                session.id
            )));
        }
        let store: Arc<dyn EngineStore> = self.store().await?;
        // Two follow-ups at once would each number the audit and save the session over the
        // other's: the first claims the session, the second is told to wait.
        if !store.claim_session(self.workspace(), &session.id).await? {
            return Err(EngineError::Invalid(format!(
                "session {} is still running (another follow-up has just started it): ask again when it has concluded",
                session.id
            )));
        }
        self.continue_claimed(req, None, session).await
    }

    /// Continues a session the caller has claimed (`claim_session`) with the question, or
    /// with `trigger` when an alert asks (its text then reaches a model fenced, as an
    /// alert's). On failure the session goes back to its earlier conclusion; the audit keeps
    /// what the follow-up recorded before it failed.
    pub(crate) async fn continue_claimed(
        &self,
        req: FollowUpRequest,
        trigger: Option<Trigger>,
        session: Session,
    ) -> Result<Session> {
        let store: Arc<dyn EngineStore> = self.store().await?;
        let before = session.clone();
        let continued = self
            .continue_session(req, trigger, session, store.clone())
            .await;
        if continued.is_err() {
            store.put_session(&before).await?;
        }
        continued
    }

    async fn continue_session(
        &self,
        req: FollowUpRequest,
        trigger: Option<Trigger>,
        mut session: Session,
        store: Arc<dyn EngineStore>,
    ) -> Result<Session> {
        let a = self.assistant(Some(&session.assistant))?;
        let trigger = trigger.unwrap_or_else(|| Trigger::Question {
            text: sitrep_core::protocol::cap(req.text.trim().to_string(), 2000),
        });
        let text = sitrep_core::protocol::cap(trigger.text().trim().to_string(), 2000);
        let mut ctx = self.context(trigger, &a).await?;
        // A follow-up that names nothing ("and what about the cache?" names a kind; "why?"
        // names nothing) stays on what the session was about.
        for r in &session.focus {
            if !ctx.focus.contains(r) {
                ctx.focus.push(r.clone());
            }
        }
        ctx.distance = distances(&ctx.map, &ctx.focus);
        let inv = &self.settings().investigation;
        let task_budget = req.task_budget.unwrap_or(inv.task_budget);
        let time = req.time_budget.unwrap_or(inv.time_budget);
        let budget = Budget {
            time,
            task_runs: session.budget.task_runs + task_budget,
            parallel: inv.parallel,
            max_depth: inv.max_depth,
        };
        let asked = FollowUp {
            text: text.clone(),
            at: self.now(),
            by: req.by.clone(),
        };
        session.follow_ups.push(asked.clone());
        session.status = SessionStatus::Running;
        session.conclusion = None;
        session.finished_at = None;
        session.budget.task_runs_max = budget.task_runs;
        session.budget.time_budget_ms += time.as_millis() as u64;
        let mut d = Driver::new(self.clone(), store, ctx, session, budget).resume();
        let focus = d.ctx.focus.clone();
        d.record(
            AuditKind::FollowUp,
            serde_json::to_value(&asked).unwrap_or_default(),
            format!("follow-up: {text} (focus {focus:?})"),
        )
        .await?;
        let fallback = self.reason(&mut d, &a).await?;
        self.finish(&mut d, &a, fallback).await?;
        Ok(d.session)
    }
}
