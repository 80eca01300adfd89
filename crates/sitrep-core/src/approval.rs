//! Approvals of remediations: the record every approval is, and the pure rules of its life
//! (pending → granted or denied or expired; granted → executed). Nothing here can run a task:
//! the runner takes an [`ApprovalGrant`], which only [`grant_for_run`] hands out, and only for
//! a granted, unexpired, unexecuted record.

use crate::{Risk, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

crate::types::string_enum!(
    ApprovalStatus { Pending = "pending", Granted = "granted", Denied = "denied", Expired = "expired", Executed = "executed" }
    expected "pending, granted, denied, expired or executed"
);

/// A proposed or decided remediation run, stored whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub id: String,
    pub workspace: String,
    /// The investigation that proposed it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `collection/bundle/task`.
    pub task: String,
    pub resource: String,
    /// The SLX whose config and secrets the run uses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slx: Option<String>,
    /// Config values the remediation runs with (never secrets).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub risk: Risk,
    pub rollback: String,
    /// Why it was proposed, in words.
    #[serde(default)]
    pub reason: String,
    pub status: ApprovalStatus,
    /// `assistant:NAME` or `user:NAME`.
    pub requested_by: String,
    pub requested_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    /// A denial's reason, or a note with the approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// After this instant the record can no longer be approved or executed.
    pub expires_at: Timestamp,
    /// The remediation's run, once executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl ApprovalRecord {
    /// High and critical risk need the approver to type the resource's name.
    pub fn needs_confirmation(&self) -> bool {
        matches!(self.risk, Risk::High | Risk::Critical)
    }

    /// The status as of `now`: a pending or granted record past its expiry is expired.
    pub fn status_at(&self, now: Timestamp) -> ApprovalStatus {
        match self.status {
            ApprovalStatus::Pending | ApprovalStatus::Granted if now >= self.expires_at => {
                ApprovalStatus::Expired
            }
            s => s,
        }
    }
}

/// Why an approval decision or a run under it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("approval {id} is {status}, not pending: nothing to decide")]
    NotPending { id: String, status: ApprovalStatus },
    #[error("approval {id} expired at {at}; ask for a new proposal")]
    Expired { id: String, at: String },
    #[error(
        "approval {id} is {risk} risk: confirm by typing the resource's name ({resource}) with the approval"
    )]
    NeedsConfirmation {
        id: String,
        risk: Risk,
        resource: String,
    },
    #[error("approval {id} is {status}; only a granted approval can run its remediation")]
    NotGranted { id: String, status: ApprovalStatus },
    #[error("approval {id} is for {approved}, not for {requested}")]
    Mismatch {
        id: String,
        approved: String,
        requested: String,
    },
}

/// A human's decision on a pending record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve {
        by: String,
        /// What the approver typed to confirm a high or critical risk.
        confirmation: Option<String>,
    },
    Deny {
        by: String,
        reason: String,
    },
}

/// Applies a decision: the new record, or why it is refused. An expired record becomes
/// `Expired` (returned as the error; the caller stores [`expire`]'s result).
pub fn decide(
    record: &ApprovalRecord,
    decision: Decision,
    now: Timestamp,
) -> Result<ApprovalRecord, ApprovalError> {
    match record.status_at(now) {
        ApprovalStatus::Pending => {}
        ApprovalStatus::Expired => {
            return Err(ApprovalError::Expired {
                id: record.id.clone(),
                at: record.expires_at.to_rfc3339(),
            });
        }
        status => {
            return Err(ApprovalError::NotPending {
                id: record.id.clone(),
                status,
            });
        }
    }
    let mut r = record.clone();
    r.decided_at = Some(now);
    match decision {
        Decision::Approve { by, confirmation } => {
            if r.needs_confirmation()
                && confirmation.as_deref().map(str::trim) != Some(r.resource.as_str())
            {
                return Err(ApprovalError::NeedsConfirmation {
                    id: r.id.clone(),
                    risk: r.risk,
                    resource: r.resource.clone(),
                });
            }
            r.status = ApprovalStatus::Granted;
            r.decided_by = Some(by);
        }
        Decision::Deny { by, reason } => {
            r.status = ApprovalStatus::Denied;
            r.decided_by = Some(by);
            r.note = Some(reason);
        }
    }
    Ok(r)
}

/// The record marked expired, if it is past its expiry and still open.
pub fn expire(record: &ApprovalRecord, now: Timestamp) -> Option<ApprovalRecord> {
    (record.status != ApprovalStatus::Expired && record.status_at(now) == ApprovalStatus::Expired)
        .then(|| ApprovalRecord {
            status: ApprovalStatus::Expired,
            ..record.clone()
        })
}

/// What the runner checks before it runs a remediation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalGrant {
    pub approval_id: String,
    pub task: String,
    pub resource: String,
    pub approver: String,
    pub expires_at: Timestamp,
}

impl ApprovalGrant {
    /// Whether this grant covers running `task` on `resource` at `now`.
    pub fn check(&self, task: &str, resource: &str, now: Timestamp) -> Result<(), ApprovalError> {
        if now >= self.expires_at {
            return Err(ApprovalError::Expired {
                id: self.approval_id.clone(),
                at: self.expires_at.to_rfc3339(),
            });
        }
        if self.task != task || self.resource != resource {
            return Err(ApprovalError::Mismatch {
                id: self.approval_id.clone(),
                approved: format!("{} on {}", self.task, self.resource),
                requested: format!("{task} on {resource}"),
            });
        }
        Ok(())
    }
}

/// The grant for running a granted, unexpired record's remediation.
pub fn grant_for_run(
    record: &ApprovalRecord,
    now: Timestamp,
) -> Result<ApprovalGrant, ApprovalError> {
    match record.status_at(now) {
        ApprovalStatus::Granted => Ok(ApprovalGrant {
            approval_id: record.id.clone(),
            task: record.task.clone(),
            resource: record.resource.clone(),
            approver: record.decided_by.clone().unwrap_or_default(),
            expires_at: record.expires_at,
        }),
        ApprovalStatus::Expired => Err(ApprovalError::Expired {
            id: record.id.clone(),
            at: record.expires_at.to_rfc3339(),
        }),
        status => Err(ApprovalError::NotGranted {
            id: record.id.clone(),
            status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(risk: Risk) -> ApprovalRecord {
        ApprovalRecord {
            id: "a1".into(),
            workspace: "w".into(),
            session_id: Some("s1".into()),
            task: "core/postgres/terminate-backend".into(),
            resource: "pg-main".into(),
            slx: None,
            params: BTreeMap::new(),
            risk,
            rollback: "none".into(),
            reason: "r".into(),
            status: ApprovalStatus::Pending,
            requested_by: "assistant:default".into(),
            requested_at: Timestamp(0),
            decided_by: None,
            decided_at: None,
            note: None,
            expires_at: Timestamp(1000),
            run_id: None,
        }
    }

    fn approve(by: &str, confirm: Option<&str>) -> Decision {
        Decision::Approve {
            by: by.into(),
            confirmation: confirm.map(str::to_string),
        }
    }

    #[test]
    fn an_approval_grants_once_and_only_before_expiry() {
        let r = record(Risk::Medium);
        assert_eq!(
            grant_for_run(&r, Timestamp(1)).unwrap_err(),
            ApprovalError::NotGranted {
                id: "a1".into(),
                status: ApprovalStatus::Pending
            }
        );
        let g = decide(&r, approve("user:ann", None), Timestamp(10)).unwrap();
        assert_eq!(g.status, ApprovalStatus::Granted);
        let grant = grant_for_run(&g, Timestamp(20)).unwrap();
        assert!(
            grant
                .check("core/postgres/terminate-backend", "pg-main", Timestamp(20))
                .is_ok()
        );
        assert!(matches!(
            grant.check("core/postgres/terminate-backend", "pg-other", Timestamp(20)),
            Err(ApprovalError::Mismatch { .. })
        ));
        assert!(matches!(
            grant_for_run(&g, Timestamp(1000)),
            Err(ApprovalError::Expired { .. })
        ));
        assert!(matches!(
            decide(&g, approve("user:bob", None), Timestamp(30)),
            Err(ApprovalError::NotPending { .. })
        ));
    }

    #[test]
    fn denied_and_expired_records_run_nothing() {
        let r = record(Risk::Low);
        let d = decide(
            &r,
            Decision::Deny {
                by: "user:ann".into(),
                reason: "not now".into(),
            },
            Timestamp(5),
        )
        .unwrap();
        assert_eq!(d.status, ApprovalStatus::Denied);
        assert!(grant_for_run(&d, Timestamp(6)).is_err());
        assert!(matches!(
            decide(&r, approve("user:ann", None), Timestamp(1000)),
            Err(ApprovalError::Expired { .. })
        ));
        assert_eq!(
            expire(&r, Timestamp(1000)).unwrap().status,
            ApprovalStatus::Expired
        );
        assert!(expire(&r, Timestamp(999)).is_none());
    }

    #[test]
    fn high_risk_needs_the_resource_typed() {
        for risk in [Risk::High, Risk::Critical] {
            let r = record(risk);
            assert!(matches!(
                decide(&r, approve("user:ann", None), Timestamp(1)),
                Err(ApprovalError::NeedsConfirmation { .. })
            ));
            assert!(decide(&r, approve("user:ann", Some("pg-other")), Timestamp(1)).is_err());
            assert!(decide(&r, approve("user:ann", Some("pg-main")), Timestamp(1)).is_ok());
        }
    }
}
