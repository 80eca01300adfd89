//! Approvals: the only way a remediation runs. [`Approval`] can only be made here, from a
//! stored, granted, unexpired record; every approval (a proposal decided later, or a person
//! approving a run at the terminal) is a stored record with who, when, what and its expiry.

use crate::events::Event;
use crate::{EngineError, Result, Sitrep};
use serde::Serialize;
use sitrep_bundles::ResolvedTask;
use sitrep_core::approval::{
    self, ApprovalGrant, ApprovalRecord, ApprovalStatus, Decision, grant_for_run,
};
use sitrep_store::ApprovalFilter;
use std::collections::BTreeMap;

/// Who acts: `user:NAME` for a person, `assistant:NAME` for an investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor(String);

impl Actor {
    pub fn user(name: &str) -> Actor {
        Actor(format!("user:{name}"))
    }
    pub(crate) fn assistant(name: &str) -> Actor {
        Actor(format!("assistant:{name}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Permission to run one remediation once. Its field is private to this module, so nothing
/// else can make one; the runner checks the grant inside it again.
pub(crate) struct Approval {
    record: ApprovalRecord,
    grant: ApprovalGrant,
}

impl Approval {
    pub(crate) fn grant(&self) -> ApprovalGrant {
        self.grant.clone()
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApprovalQuery {
    pub status: Option<ApprovalStatus>,
    pub session_id: Option<String>,
    pub limit: Option<i64>,
}

impl Sitrep {
    /// A person at the terminal approves this run of a remediation, now: the approval is
    /// recorded (granted, expiring after the settings' approval TTL) before the run.
    pub(crate) async fn approve_at_terminal(
        &self,
        actor: &Actor,
        t: &ResolvedTask<'_>,
        resource: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Approval> {
        let now = self.now();
        let record = ApprovalRecord {
            id: uuid::Uuid::new_v4().to_string(),
            workspace: self.workspace().to_string(),
            session_id: None,
            task: t.task_ref().to_string(),
            resource: resource.to_string(),
            slx: None,
            params: config.clone(),
            risk: t.task.risk.unwrap_or(sitrep_core::Risk::High),
            rollback: t.task.rollback.clone().unwrap_or_default(),
            reason: "run by hand".into(),
            status: ApprovalStatus::Granted,
            requested_by: actor.as_str().to_string(),
            requested_at: now,
            decided_by: Some(actor.as_str().to_string()),
            decided_at: Some(now),
            note: Some("approved at the terminal".into()),
            expires_at: now.add(self.settings().investigation.approval_ttl),
            run_id: None,
        };
        self.engine_store().await?.put_approval(&record).await?;
        tracing::warn!(approval = %record.id, task = %record.task, resource, by = actor.as_str(), "remediation approved at the terminal");
        let grant = grant_for_run(&record, now)?;
        Ok(Approval { record, grant })
    }

    /// Records that the approval was used by run `run_id`.
    pub(crate) async fn mark_executed(&self, a: Approval, run_id: &str) -> Result<String> {
        let mut r = a.record;
        r.status = ApprovalStatus::Executed;
        r.run_id = Some(run_id.to_string());
        self.engine_store().await?.put_approval(&r).await?;
        self.publish(Event::ApprovalDecided {
            approval_id: r.id.clone(),
            status: r.status,
        });
        Ok(r.id)
    }

    /// Stores a pending proposal and announces it.
    pub(crate) async fn propose(&self, record: &ApprovalRecord) -> Result<()> {
        self.engine_store().await?.put_approval(record).await?;
        self.publish(Event::ApprovalRequested {
            approval_id: record.id.clone(),
            task: record.task.clone(),
            resource: record.resource.clone(),
            risk: record.risk,
        });
        Ok(())
    }

    /// Approval records, newest first; pending ones past their expiry are shown expired.
    pub async fn approvals(&self, q: &ApprovalQuery) -> Result<Vec<ApprovalRecord>> {
        let store = self.engine_store().await?;
        let now = self.now();
        let list = store
            .list_approvals(
                self.workspace(),
                &ApprovalFilter {
                    status: q.status,
                    session_id: q.session_id.clone(),
                    task_on: None,
                    limit: q.limit,
                },
            )
            .await?;
        Ok(list
            .into_iter()
            .map(|r| approval::expire(&r, now).unwrap_or(r))
            .collect())
    }

    pub async fn approval(&self, id: &str) -> Result<ApprovalRecord> {
        self.engine_store()
            .await?
            .get_approval(self.workspace(), id)
            .await?
            .ok_or_else(|| {
                EngineError::not_found("approval", id, "list approvals to see their ids")
            })
    }

    /// Denies a pending proposal; nothing runs.
    pub async fn deny(&self, id: &str, by: &Actor, reason: &str) -> Result<ApprovalRecord> {
        let record = self.approval(id).await?;
        let decided = self
            .decide(
                &record,
                Decision::Deny {
                    by: by.as_str().to_string(),
                    reason: reason.to_string(),
                },
            )
            .await?;
        if let Some(s) = &decided.session_id {
            self.session_note(
                s,
                sitrep_core::investigation::AuditKind::RemediationDenied,
                serde_json::to_value(&decided).unwrap_or_default(),
                format!(
                    "{} denied {} on {}: {reason}",
                    by.as_str(),
                    decided.task,
                    decided.resource
                ),
            )
            .await?;
        }
        Ok(decided)
    }

    /// Applies a decision and stores it; an expired record is stored as expired and refused.
    pub(crate) async fn decide(
        &self,
        record: &ApprovalRecord,
        d: Decision,
    ) -> Result<ApprovalRecord> {
        let store = self.engine_store().await?;
        let now = self.now();
        match approval::decide(record, d, now) {
            Ok(r) => {
                store.put_approval(&r).await?;
                self.publish(Event::ApprovalDecided {
                    approval_id: r.id.clone(),
                    status: r.status,
                });
                Ok(r)
            }
            Err(e) => {
                if let Some(expired) = approval::expire(record, now) {
                    store.put_approval(&expired).await?;
                }
                Err(e.into())
            }
        }
    }

    /// The approval for running a granted record, after the session's safety rules: a
    /// mutation budget per session and a cooldown per remediation and resource.
    pub(crate) async fn approval_for(&self, record: &ApprovalRecord) -> Result<Approval> {
        let store = self.engine_store().await?;
        let inv = &self.settings().investigation;
        let now = self.now();
        let grant = grant_for_run(record, now)?;
        if let Some(session) = &record.session_id {
            let executed = store
                .list_approvals(
                    self.workspace(),
                    &ApprovalFilter {
                        status: Some(ApprovalStatus::Executed),
                        session_id: Some(session.clone()),
                        ..Default::default()
                    },
                )
                .await?;
            if executed.len() >= inv.mutations_per_session {
                return Err(EngineError::Refused(format!(
                    "session {session} already ran {} remediation(s), its budget (investigation.mutations_per_session)",
                    executed.len()
                )));
            }
        }
        let recent = store
            .list_approvals(
                self.workspace(),
                &ApprovalFilter {
                    status: Some(ApprovalStatus::Executed),
                    task_on: Some((record.task.clone(), record.resource.clone())),
                    limit: Some(1),
                    ..Default::default()
                },
            )
            .await?;
        if let Some(last) = recent.first().and_then(|r| r.decided_at)
            && now.since(last) < inv.remediation_cooldown
        {
            return Err(EngineError::Refused(format!(
                "{} ran on {} at {}; the same remediation waits {} (investigation.remediation_cooldown)",
                record.task,
                record.resource,
                last.to_rfc3339(),
                sitrep_core::time::format_duration(inv.remediation_cooldown)
            )));
        }
        Ok(Approval {
            record: record.clone(),
            grant,
        })
    }
}
