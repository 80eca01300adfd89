//! Remediation: proposing the fix a confirmed cause's bundle declares (with its parameters
//! filled from the evidence), and, once a person approves it, running it and verifying that
//! the evidence is gone.

use super::driver::{Driver, output_hash};
use super::{Access, AssistantSettings};
use crate::approvals::Actor;
use crate::views::RunView;
use crate::{EngineError, Result, Sitrep};
use serde::Serialize;
use sitrep_core::approval::{ApprovalRecord, ApprovalStatus, Decision};
use sitrep_core::investigation::text::fill;
use sitrep_core::investigation::{AuditKind, Hypothesis, RaisedIssue, RunFacts, Strength, judge};
use sitrep_core::map::EdgeKind;
use sitrep_core::{Slx, TaskKind, TaskRef};
use sitrep_runner::RunRequest;
use std::collections::BTreeMap;

/// What approving a proposal did.
#[derive(Debug, Clone, Serialize)]
pub struct RemediationView {
    pub approval: ApprovalRecord,
    pub run: RunView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// The evidence checks run again after the remediation.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// No check still gives strong or weak evidence for the cause.
    pub resolved: bool,
    pub checks: Vec<VerificationCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerificationCheck {
    pub task: String,
    pub run_id: String,
    pub strength: sitrep_core::investigation::Strength,
    pub summary: String,
}

impl Sitrep {
    /// Proposes the remediation of the concluded root cause, if its bundle declares one, its
    /// parameters can be filled from the evidence, and an SLX can run it. Every reason not to
    /// propose is recorded.
    pub(super) async fn propose_remediation(
        &self,
        d: &mut Driver,
        a: &AssistantSettings,
    ) -> Result<()> {
        let Some(root) = d
            .session
            .conclusion
            .as_ref()
            .and_then(|c| c.root_cause.clone())
        else {
            return Ok(());
        };
        let Some(mut h) = d.session.hypothesis(&root.hypothesis).cloned() else {
            return Ok(());
        };
        if h.remedy.task.is_none()
            && let Some(other) = d.session.fix_on_same_resource(&h).cloned()
        {
            d.record(
                AuditKind::Note,
                serde_json::json!({"remediation_from": other.id, "root": h.id}),
                format!(
                    "{} declares no remediation; {} ({}), confirmed on {} too, does",
                    h.category, other.id, other.category, h.resource
                ),
            )
            .await?;
            h = other;
        }
        let Some(task) = h.remedy.task.clone() else {
            return self
                .no_proposal(d, format!("no remediation is declared for {}", h.category))
                .await;
        };
        if a.access == Access::ReadOnly {
            return self
                .no_proposal(
                    d,
                    format!("assistant {} is read-only: it proposes no remediation ({task} would apply)", a.name),
                )
                .await;
        }
        let Ok(task_ref) = TaskRef::parse(&task) else {
            return self
                .no_proposal(d, format!("remediation {task:?} is not a task name"))
                .await;
        };
        let (risk, rollback) = match d.ctx.catalog.resolve(&task_ref) {
            Ok(t) if t.task.kind == TaskKind::Remediation => (
                t.task.risk.unwrap_or(sitrep_core::Risk::High),
                t.task.rollback.clone().unwrap_or_default(),
            ),
            _ => {
                return self
                    .no_proposal(
                        d,
                        format!("{task} is not a remediation task of a loaded bundle"),
                    )
                    .await;
            }
        };
        // The facts of the evidence the conclusion rests on: the strongest, then the most severe.
        let facts = d
            .session
            .evidence_for(&h.id)
            .filter(|e| matches!(e.strength, Strength::Strong | Strength::Weak))
            .min_by_key(|e| {
                (
                    e.strength != Strength::Strong,
                    e.severity.map_or(9, |s| s.get()),
                )
            })
            .map(|e| e.facts.clone())
            .unwrap_or_default();
        let mut params = BTreeMap::new();
        for (name, template) in &h.remedy.params {
            match fill(template, &facts) {
                Some(v) => {
                    params.insert(name.clone(), v);
                }
                None => {
                    return self
                        .no_proposal(
                            d,
                            format!("{task}: the evidence does not give {name} ({template}); fill it in by hand"),
                        )
                        .await;
                }
            }
        }
        let Some(slx) = runner_slx(d, &h, &task_ref) else {
            return self
                .no_proposal(
                    d,
                    format!(
                        "no SLX of {}/{} watches {} or what it runs on",
                        task_ref.collection, task_ref.bundle, h.resource
                    ),
                )
                .await;
        };
        // A follow-up that reaches the same fix does not ask twice.
        for id in d.session.proposals.clone() {
            if let Ok(p) = self.approval(&id).await
                && p.status == ApprovalStatus::Pending
                && p.task == task_ref.to_string()
                && p.resource == slx.resource
                && p.params == params
            {
                return self
                    .no_proposal(d, format!("{task} is already waiting for approval {id}"))
                    .await;
            }
        }
        let now = self.now();
        let record = ApprovalRecord {
            id: uuid::Uuid::new_v4().to_string(),
            workspace: self.workspace().to_string(),
            session_id: Some(d.session.id.clone()),
            task: task_ref.to_string(),
            resource: slx.resource.clone(),
            slx: Some(slx.name.clone()),
            params,
            risk,
            rollback,
            reason: root.cause.clone(),
            status: ApprovalStatus::Pending,
            requested_by: Actor::assistant(&a.name).as_str().to_string(),
            requested_at: now,
            decided_by: None,
            decided_at: None,
            note: None,
            expires_at: now.add(self.settings().investigation.approval_ttl),
            run_id: None,
        };
        self.propose(&record).await?;
        d.session.proposals.push(record.id.clone());
        let summary = format!(
            "proposed {} on {} ({} risk), waiting for approval {}",
            record.task, record.resource, record.risk, record.id
        );
        d.record(
            AuditKind::RemediationProposed,
            serde_json::to_value(&record).unwrap_or_default(),
            summary,
        )
        .await
    }

    async fn no_proposal(&self, d: &mut Driver, why: String) -> Result<()> {
        if let Some(c) = d.session.conclusion.as_mut() {
            c.unknowns.push(format!("no remediation proposed: {why}"));
        }
        d.record(
            AuditKind::Note,
            serde_json::json!({"remediation": why}),
            format!("no remediation proposed: {why}"),
        )
        .await
    }

    /// A person approves a pending proposal: the decision is stored, the remediation runs
    /// (within the session's mutation budget and the cooldown), and the cause's checks run
    /// again to verify it. High and critical risk need the resource's name as confirmation.
    pub async fn approve(
        &self,
        id: &str,
        by: &Actor,
        confirmation: Option<String>,
    ) -> Result<RemediationView> {
        let record = self.approval(id).await?;
        let granted = self
            .decide(
                &record,
                Decision::Approve {
                    by: by.as_str().to_string(),
                    confirmation,
                },
            )
            .await?;
        let approval = self.approval_for(&granted).await?;
        if let Some(s) = &granted.session_id {
            self.session_note(
                s,
                AuditKind::RemediationApproved,
                serde_json::to_value(&granted).unwrap_or_default(),
                format!(
                    "{} approved {} on {}",
                    by.as_str(),
                    granted.task,
                    granted.resource
                ),
            )
            .await?;
        }
        let (config, secrets) = match &granted.slx {
            Some(name) => {
                let slx = self.slx(name).await?;
                let secrets = self.slx_secrets(&slx).await?;
                let mut config = slx.config.clone();
                config.extend(granted.params.clone());
                (config, secrets)
            }
            None => (granted.params.clone(), BTreeMap::new()),
        };
        let task = TaskRef::parse(&granted.task).map_err(EngineError::Invalid)?;
        let run = self
            .execute(
                RunRequest {
                    task,
                    resource: granted.resource.clone(),
                    slx: granted.slx.clone(),
                    config,
                    secrets,
                    approval: None,
                },
                Some(approval),
            )
            .await?;
        let approval = self.approval(&granted.id).await?;
        let mut verification = None;
        if let Some(s) = &granted.session_id {
            self.session_note(
                s,
                AuditKind::RemediationExecuted,
                serde_json::json!({
                    "approval": approval.id, "task": approval.task, "run_id": run.run.id,
                    "status": run.run.status, "output_hash": output_hash(&run),
                }),
                format!(
                    "ran {} on {}: {}",
                    approval.task, approval.resource, run.run.status
                ),
            )
            .await?;
            let v = self.verify(s).await?;
            self.session_note(
                s,
                AuditKind::Verification,
                serde_json::to_value(&v).unwrap_or_default(),
                format!(
                    "verification: {}",
                    if v.resolved {
                        "the cause's checks are clean"
                    } else {
                        "the cause's checks still fail"
                    }
                ),
            )
            .await?;
            verification = Some(v);
        }
        Ok(RemediationView {
            approval,
            run,
            verification,
        })
    }

    /// Runs the concluded cause's checks again and judges them as evidence.
    async fn verify(&self, session_id: &str) -> Result<Verification> {
        let session = self.session(session_id).await?;
        let Some(h) = session
            .conclusion
            .as_ref()
            .and_then(|c| c.root_cause.as_ref())
            .and_then(|r| session.hypothesis(&r.hypothesis))
        else {
            return Ok(Verification {
                resolved: false,
                checks: vec![],
            });
        };
        let mut checks = vec![];
        for t in &h.tests {
            let slx = self.slx(&t.slx).await?;
            let secrets = self.slx_secrets(&slx).await?;
            let task = TaskRef::parse(&t.task).map_err(EngineError::Invalid)?;
            let view = self
                .execute(
                    RunRequest {
                        task,
                        resource: t.resource.clone(),
                        slx: Some(slx.name.clone()),
                        config: slx.config.clone(),
                        secrets,
                        approval: None,
                    },
                    None,
                )
                .await?;
            let map = self.load_map(false).await?;
            let facts = RunFacts {
                task: t.task.clone(),
                status: view.run.status,
                error: view.run.reason.clone().or_else(|| view.run.error.clone()),
                issues: view
                    .kept_issues()
                    .map(|i| {
                        let name = i
                            .resource
                            .clone()
                            .unwrap_or_else(|| view.run.resource.clone());
                        RaisedIssue {
                            issue_id: String::new(),
                            severity: i.severity,
                            title: i.title.clone(),
                            resource: super::context::resolve(&map, &name)
                                .map_or(name, |r| r.name.clone()),
                            data: i.data.clone(),
                            last_event_at: i.last_event_at,
                            since: None,
                        }
                    })
                    .collect(),
                resolved: view.resolved.clone(),
            };
            let j = judge(h, &facts);
            checks.push(VerificationCheck {
                task: t.task.clone(),
                run_id: view.run.id.clone(),
                strength: j.strength,
                summary: j.summary,
            });
        }
        let resolved = !checks.is_empty()
            && checks
                .iter()
                .all(|c| matches!(c.strength, Strength::None | Strength::Contradicting));
        Ok(Verification { resolved, checks })
    }
}

/// The SLX that runs a remediation of `task`'s bundle for a hypothesis on `h.resource`: the
/// SLX it was tested with, an SLX of that bundle on the resource, or on what it runs on.
fn runner_slx<'a>(d: &'a Driver, h: &Hypothesis, task: &TaskRef) -> Option<&'a Slx> {
    let bundle = format!("{}/{}", task.collection, task.bundle);
    let by_name = |name: &str| {
        d.ctx
            .slxs
            .iter()
            .find(|s| s.name == name && s.bundle == bundle)
    };
    if let Some(s) = h.tests.iter().find_map(|t| by_name(&t.slx)) {
        return Some(s);
    }
    if let Some(s) = d
        .ctx
        .slxs_of(&h.resource)
        .into_iter()
        .find(|s| s.bundle == bundle)
    {
        return Some(s);
    }
    let r = d.ctx.resource(&h.resource)?;
    let hosts: Vec<String> = d
        .ctx
        .map
        .neighbours(&r.key)
        .into_iter()
        .filter(|x| x.edge.from == r.key && x.edge.kind == EdgeKind::RunsOn)
        .map(|x| x.resource.name.clone())
        .collect();
    hosts
        .iter()
        .find_map(|host| d.ctx.slxs_of(host).into_iter().find(|s| s.bundle == bundle))
        .or_else(|| {
            // A resource discovery saw on this machine runs on the local host.
            d.ctx
                .map
                .resources()
                .iter()
                .filter(|x| x.kind == "host")
                .find_map(|host| {
                    d.ctx
                        .slxs_of(&host.name)
                        .into_iter()
                        .find(|s| s.bundle == bundle)
                })
        })
}
