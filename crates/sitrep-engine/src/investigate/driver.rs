//! Driving one session: ask the reasoner, apply what the rules allow, run the tests in
//! parallel within the budget, judge the evidence, record every step, conclude.

use super::context::{Candidate, Context};
use super::reasoner::{Proposal, Reasoner, ReasonerView};
use crate::views::RunView;
use crate::{Result, Sitrep};
use sha2::{Digest, Sha256};
use sitrep_core::TaskKind;
use sitrep_core::investigation::{
    AuditKind, AuditLine, Evidence, Hypothesis, HypothesisStatus, RaisedIssue, RunFacts, Session,
    Strength, TestPlan, judge,
};
use sitrep_runner::RunRequest;
use sitrep_store::EngineStore;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The limits of one session.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    pub task_runs: usize,
    pub parallel: usize,
    pub max_depth: usize,
}

pub(crate) struct Driver {
    pub sitrep: Sitrep,
    pub store: Arc<dyn EngineStore>,
    pub ctx: Context,
    pub session: Session,
    pub budget: Budget,
    tested: BTreeSet<String>,
    /// Each test runs once per session; later hypotheses reuse its result.
    results: HashMap<TestPlan, RunView>,
    started: Instant,
    /// Time spent before this driver took the session over (a follow-up's earlier rounds).
    elapsed_before: u64,
    /// Hypotheses confirmed before a follow-up: the reasoner follows the Map from them again
    /// once the follow-up's own hypotheses are tested.
    carried: Vec<String>,
    exhausted: Option<String>,
}

/// The hash of a run's captured output, kept with the evidence that cites it.
pub(crate) fn output_hash(r: &RunView) -> String {
    let mut h = Sha256::new();
    for part in [&r.run.stdout, &r.run.stderr, &r.run.report] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Driver {
    pub fn new(
        sitrep: Sitrep,
        store: Arc<dyn EngineStore>,
        ctx: Context,
        session: Session,
        budget: Budget,
    ) -> Driver {
        Driver {
            sitrep,
            store,
            ctx,
            session,
            budget,
            tested: BTreeSet::new(),
            results: HashMap::new(),
            started: Instant::now(),
            elapsed_before: 0,
            carried: vec![],
            exhausted: None,
        }
    }

    /// Continues a finished session (a follow-up): what it formed stays, counts as tested and
    /// is not tested again unless the reasoner asks; time adds to what it spent before.
    pub fn resume(mut self) -> Driver {
        self.tested = self
            .session
            .hypotheses
            .iter()
            .map(|h| h.id.clone())
            .collect();
        self.elapsed_before = self.session.budget.elapsed_ms;
        self.carried = self
            .session
            .hypotheses
            .iter()
            .filter(|h| h.status == HypothesisStatus::Confirmed)
            .map(|h| h.id.clone())
            .collect();
        self.session.budget.exhausted = None;
        self
    }

    fn elapsed_ms(&self) -> u64 {
        self.elapsed_before + self.started.elapsed().as_millis() as u64
    }

    /// Appends one audit entry, saves the session, and announces the step.
    pub async fn record(
        &mut self,
        kind: AuditKind,
        data: serde_json::Value,
        summary: String,
    ) -> Result<()> {
        let line = AuditLine {
            session_id: self.session.id.clone(),
            at: self.sitrep.now(),
            kind,
            data,
        };
        self.session.budget.elapsed_ms = self.elapsed_ms();
        let entry = self
            .store
            .append_audit(&self.session.workspace, line)
            .await?;
        self.store.put_session(&self.session).await?;
        self.sitrep.publish(crate::events::Event::Session {
            session_id: self.session.id.clone(),
            seq: entry.seq,
            kind,
            summary,
        });
        Ok(())
    }

    pub fn exhausted(&self) -> Option<&str> {
        self.exhausted.as_deref()
    }

    fn check_budget(&mut self) -> bool {
        if self.exhausted.is_some() {
            return false;
        }
        if self.started.elapsed() >= self.budget.time {
            self.exhausted = Some(format!(
                "time budget of {} used",
                sitrep_core::time::format_duration(self.budget.time)
            ));
        } else if self.session.budget.task_runs >= self.budget.task_runs {
            self.exhausted = Some(format!(
                "task budget of {} runs used",
                self.budget.task_runs
            ));
        }
        self.exhausted.is_none()
    }

    /// The engine's rule for a test: a read-only task of an SLX this session may use.
    fn allowed_test(&self, t: &TestPlan) -> bool {
        let Some(slx) = self.ctx.slxs.iter().find(|s| s.name == t.slx) else {
            return false;
        };
        let Ok(task) = sitrep_core::TaskRef::parse(&t.task) else {
            return false;
        };
        format!("{}/{}", task.collection, task.bundle) == slx.bundle
            && self
                .ctx
                .catalog
                .resolve(&task)
                .is_ok_and(|r| r.task.kind != TaskKind::Remediation)
    }

    async fn form(&mut self, c: Candidate, parent: Option<String>) -> Result<()> {
        let tests: Vec<TestPlan> = c
            .tests
            .into_iter()
            .filter(|t| self.allowed_test(t))
            .collect();
        if tests.is_empty() {
            return Ok(());
        }
        let parent_h = parent.as_deref().and_then(|p| self.session.hypothesis(p));
        let depth = parent_h.map_or(0, |p| p.depth + 1);
        // Formed by following strong evidence along the Map: as likely as what led here,
        // a little less, whatever its own source alone would say.
        let prior = parent_h.map_or(c.prior, |p| c.prior.max(p.prior * 0.9));
        let h = Hypothesis {
            id: self.session.next_hypothesis_id(),
            parent,
            depth,
            statement: c.statement,
            resource: c.resource,
            category: c.category,
            source: c.source,
            confirm_if: c.confirm_if,
            refute_if: c.refute_if,
            tests,
            status: HypothesisStatus::Active,
            prior: (prior * 100.0).round() / 100.0,
            remedy: c.remedy,
            signal: c.signal,
            change: c.change,
            symptoms: c.symptoms,
        };
        let summary = format!("hypothesis {}: {} ({})", h.id, h.statement, h.resource);
        let data = serde_json::to_value(&h).unwrap_or_default();
        self.session.hypotheses.push(h);
        self.record(AuditKind::HypothesisFormed, data, summary)
            .await
    }

    async fn attach(&mut self, id: &str, parent: &str) -> Result<()> {
        // A parent below the hypothesis would make the tree a cycle (two attachments proposed
        // together, or a Map whose resources depend on each other).
        if self.session.is_at_or_above(id, parent) {
            return Ok(());
        }
        let Some((depth, parent_prior)) = self
            .session
            .hypothesis(parent)
            .map(|p| (p.depth + 1, p.prior))
        else {
            return Ok(());
        };
        let Some(h) = self.session.hypotheses.iter_mut().find(|h| h.id == id) else {
            return Ok(());
        };
        h.parent = Some(parent.to_string());
        h.depth = depth;
        h.prior = h.prior.max(((parent_prior * 0.9) * 100.0).round() / 100.0);
        let data = serde_json::to_value(&*h).unwrap_or_default();
        let summary = format!("{id} follows from {parent}: {} depends on it", h.resource);
        self.record(AuditKind::HypothesisUpdated, data, summary)
            .await
    }

    /// Runs the tests of `ids` not run yet in this session (bounded parallel, within the
    /// budget), then judges every test result for every hypothesis in `ids`.
    async fn test(&mut self, ids: &[String]) -> Result<Vec<String>> {
        let mut plans: Vec<TestPlan> = vec![];
        for id in ids {
            if let Some(h) = self.session.hypothesis(id) {
                for t in &h.tests {
                    if !self.results.contains_key(t) && !plans.contains(t) {
                        plans.push(t.clone());
                    }
                }
            }
        }
        let mut runs = tokio::task::JoinSet::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(self.budget.parallel));
        for plan in plans {
            if !self.check_budget() {
                break;
            }
            self.session.budget.task_runs += 1;
            let Some(slx) = self.ctx.slxs.iter().find(|s| s.name == plan.slx).cloned() else {
                continue;
            };
            let (sitrep, gate) = (self.sitrep.clone(), gate.clone());
            runs.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let secrets = sitrep.slx_secrets(&slx).await;
                let result = match secrets {
                    Ok(secrets) => {
                        let task = sitrep_core::TaskRef::parse(&plan.task)
                            .map_err(crate::EngineError::Invalid);
                        match task {
                            Ok(task) => {
                                sitrep
                                    .execute(
                                        RunRequest {
                                            task,
                                            resource: plan.resource.clone(),
                                            slx: Some(slx.name.clone()),
                                            config: slx.config.clone(),
                                            secrets,
                                            approval: None,
                                        },
                                        None,
                                    )
                                    .await
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                };
                (plan, result)
            });
        }
        while let Some(joined) = runs.join_next().await {
            let Ok((plan, result)) = joined else { continue };
            match result {
                Ok(view) => {
                    let data = serde_json::json!({
                        "task": plan.task, "resource": plan.resource, "slx": plan.slx,
                        "run_id": view.run.id, "status": view.run.status,
                        "duration_ms": view.run.duration_ms(),
                        "issues": view.issues.iter().map(|i| &i.title).collect::<Vec<_>>(),
                        "output_hash": output_hash(&view),
                    });
                    let summary = format!(
                        "ran {} on {}: {}, {} issue(s)",
                        plan.task,
                        plan.resource,
                        view.run.status,
                        view.issues.len()
                    );
                    self.record(AuditKind::TaskRun, data, summary).await?;
                    self.record_run_rules(&plan, &view).await?;
                    self.results.insert(plan, view);
                }
                Err(e) => {
                    let summary = format!("could not run {} on {}: {e}", plan.task, plan.resource);
                    self.record(
                        AuditKind::Note,
                        serde_json::json!({"task": plan.task, "resource": plan.resource, "error": e.to_string()}),
                        summary,
                    )
                    .await?;
                }
            }
        }
        let mut confirmed = vec![];
        for id in ids {
            if self.judge_hypothesis(id).await? {
                confirmed.push(id.clone());
            }
        }
        Ok(confirmed)
    }

    fn facts(&self, view: &RunView, task: &str) -> RunFacts {
        let run_resource = |r: &Option<String>| {
            let name = r.clone().unwrap_or_else(|| view.run.resource.clone());
            self.ctx.resource(&name).map_or(name, |x| x.name.clone())
        };
        RunFacts {
            task: task.to_string(),
            status: view.run.status,
            error: view.run.reason.clone().or_else(|| view.run.error.clone()),
            issues: view
                .kept_issues()
                .map(|d| {
                    // The issue this raise opened or repeated.
                    let change = view
                        .changes
                        .iter()
                        .find(|c| c.title.as_deref() == Some(d.title.as_str()));
                    RaisedIssue {
                        issue_id: change.map(|c| c.issue_id.clone()).unwrap_or_default(),
                        severity: d.severity,
                        title: d.title.clone(),
                        resource: run_resource(&d.resource),
                        data: d.data.clone(),
                        last_event_at: d.last_event_at,
                        since: change.and_then(|c| c.since),
                    }
                })
                .filter_map(|i| self.ctx.rule_raised(task, i))
                .collect(),
            resolved: view.resolved.clone(),
        }
    }

    /// Judges every available result for one hypothesis; returns whether it was confirmed.
    async fn judge_hypothesis(&mut self, id: &str) -> Result<bool> {
        let Some(h) = self.session.hypothesis(id).cloned() else {
            return Ok(false);
        };
        let mut strengths = vec![];
        for plan in &h.tests {
            let Some(view) = self.results.get(plan) else {
                continue;
            };
            if self
                .session
                .evidence
                .iter()
                .any(|e| e.hypothesis == h.id && e.run_id == view.run.id)
            {
                strengths.push(
                    self.session
                        .evidence
                        .iter()
                        .find(|e| e.hypothesis == h.id && e.run_id == view.run.id)
                        .map_or(Strength::Unknown, |e| e.strength),
                );
                continue;
            }
            let j = judge(&h, &self.facts(view, &plan.task));
            let ev = Evidence {
                id: self.session.next_evidence_id(),
                hypothesis: h.id.clone(),
                task: plan.task.clone(),
                resource: plan.resource.clone(),
                run_id: view.run.id.clone(),
                strength: j.strength,
                summary: j.summary,
                severity: j.issue.as_ref().map(|i| i.severity),
                issue_id: j
                    .issue
                    .as_ref()
                    .map(|i| i.issue_id.clone())
                    .filter(|i| !i.is_empty()),
                output_hash: output_hash(view),
                last_event_at: j.issue.as_ref().and_then(|i| i.last_event_at),
                since: j.issue.as_ref().and_then(|i| i.since),
                facts: j.issue.map(|i| i.data).unwrap_or_default(),
                at: self.sitrep.now(),
            };
            strengths.push(ev.strength);
            let summary = format!("{} for {}: {}", ev.strength, h.id, ev.summary);
            let data = serde_json::to_value(&ev).unwrap_or_default();
            self.session.evidence.push(ev);
            self.record(AuditKind::Evidence, data, summary).await?;
        }
        if strengths.is_empty() {
            return Ok(false);
        }
        self.tested.insert(h.id.clone());
        let status = if strengths.contains(&Strength::Strong) {
            HypothesisStatus::Confirmed
        } else if strengths
            .iter()
            .all(|s| matches!(s, Strength::None | Strength::Contradicting))
        {
            HypothesisStatus::Pruned
        } else {
            HypothesisStatus::Active
        };
        if status != h.status {
            if let Some(x) = self.session.hypotheses.iter_mut().find(|x| x.id == h.id) {
                x.status = status;
            }
            let (kind, verb) = match status {
                HypothesisStatus::Confirmed => (AuditKind::HypothesisConfirmed, "confirmed"),
                HypothesisStatus::Pruned => (AuditKind::HypothesisPruned, "pruned"),
                HypothesisStatus::Active => return Ok(false),
            };
            self.record(
                kind,
                serde_json::json!({"id": h.id}),
                format!("{verb} {}: {} ({})", h.id, h.statement, h.resource),
            )
            .await?;
        }
        Ok(status == HypothesisStatus::Confirmed)
    }

    /// Asks the reasoner until it concludes, nothing is left to test, or the budget is used.
    pub async fn run(&mut self, reasoner: &dyn Reasoner) -> Result<()> {
        let mut newly_confirmed: Vec<String> = vec![];
        for round in 0.. {
            if !self.check_budget() {
                break;
            }
            let proposals = {
                let view = ReasonerView {
                    context: &self.ctx,
                    session: &self.session,
                    results: &self.results,
                    tested: &self.tested,
                    newly_confirmed: &newly_confirmed,
                    round,
                    max_depth: self.budget.max_depth,
                };
                reasoner.next(&view).await
            };
            for note in reasoner.take_notes() {
                self.record(AuditKind::Note, note.data, note.summary)
                    .await?;
            }
            let proposals = match proposals {
                Ok(p) => p,
                Err(e) => {
                    self.record(
                        AuditKind::Note,
                        serde_json::json!({"reasoner": reasoner.name(), "error": e.to_string()}),
                        format!(
                            "the {} reasoner failed: {e}; concluding with what is known",
                            reasoner.name()
                        ),
                    )
                    .await?;
                    break;
                }
            };
            let mut to_test: Vec<String> = vec![];
            let mut conclude = false;
            for p in proposals {
                match p {
                    Proposal::Form { candidate, parent } => self.form(candidate, parent).await?,
                    Proposal::Attach { hypothesis, parent } => {
                        self.attach(&hypothesis, &parent).await?
                    }
                    Proposal::Test(ids) => to_test.extend(ids),
                    Proposal::TestUntested => to_test.extend(
                        self.session
                            .hypotheses
                            .iter()
                            .filter(|h| {
                                h.status == HypothesisStatus::Active && !self.tested.contains(&h.id)
                            })
                            .map(|h| h.id.clone()),
                    ),
                    Proposal::Conclude => conclude = true,
                }
            }
            to_test.sort();
            to_test.dedup();
            to_test.retain(|id| !self.tested.contains(id));
            if conclude || to_test.is_empty() {
                break;
            }
            newly_confirmed = self.test(&to_test).await?;
            newly_confirmed.append(&mut self.carried);
            // Hypotheses whose tests could not run stay untested; do not ask about them forever.
            for id in &to_test {
                self.tested.insert(id.clone());
            }
        }
        if let Some(why) = self.exhausted.clone() {
            self.session.budget.exhausted = Some(why.clone());
            self.record(
                AuditKind::Note,
                serde_json::json!({"budget": why}),
                format!("budget: {why}; concluding with what is known"),
            )
            .await?;
        }
        self.session.budget.elapsed_ms = self.elapsed_ms();
        Ok(())
    }
}
