//! Domain events on a broadcast channel: investigations, and later the server's live updates
//! and workflows, subscribe instead of polling. A slow subscriber misses events (it is told
//! how many) rather than slowing the engine down.

use serde::Serialize;
use sitrep_core::issue::IssueChange;
use sitrep_core::{IssueEventKind, RunStatus, Severity, TaskKind};

/// How many events a subscriber may fall behind before it misses some.
pub const CAPACITY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    RunFinished {
        run_id: String,
        task: String,
        resource: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        slx: Option<String>,
        status: RunStatus,
        /// health, diagnostic or remediation.
        kind: TaskKind,
        /// From its start to its end (0 when it has no end).
        duration_ms: u64,
        issues_raised: usize,
    },
    IssueChanged {
        issue_id: String,
        change: IssueEventKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resource: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// A step of an investigation (one audit entry).
    Session {
        session_id: String,
        seq: u64,
        kind: sitrep_core::investigation::AuditKind,
        summary: String,
    },
    ApprovalRequested {
        approval_id: String,
        task: String,
        resource: String,
        risk: sitrep_core::Risk,
    },
    ApprovalDecided {
        approval_id: String,
        status: sitrep_core::approval::ApprovalStatus,
    },
    /// A workflow's delivery was sent, or given up.
    Delivery {
        delivery_id: String,
        workflow: String,
        target: String,
        status: sitrep_core::delivery::DeliveryStatus,
    },
    /// One attempt of a delivery failed (retried later, or given up when `given_up`).
    DeliveryFailed {
        delivery_id: String,
        workflow: String,
        target: String,
        error: String,
        given_up: bool,
    },
    /// An alert (or signed webhook) of a problem already under investigation within the
    /// cooldown: it joined that session instead of starting one.
    AlertDuplicate {
        event_id: String,
        source: sitrep_core::intake::Source,
        session_id: String,
    },
    /// The scheduler started an SLX's due health tasks `lag_ms` after they were due.
    ScheduledRunStarted { slx: String, lag_ms: u64 },
}

impl Event {
    /// The events of one issue change.
    pub fn from_change(c: &IssueChange) -> Event {
        let (title, resource, severity) = match c {
            IssueChange::Open(i) | IssueChange::Raise { issue: i, .. } => (
                Some(i.title.clone()),
                Some(i.resource.clone()),
                Some(i.severity),
            ),
            IssueChange::Resolve { .. } => (None, None, None),
        };
        Event::IssueChanged {
            issue_id: c.issue_id().to_string(),
            change: c.event_kind(),
            title,
            resource,
            severity,
        }
    }
}
