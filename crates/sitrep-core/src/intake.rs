//! Inbound events (alert webhooks): each one is stored as received before it is answered, then
//! decided once: start an investigation, fold into the one already going for the same alert
//! group, or record a resolution against it.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

crate::types::string_enum!(
    /// Who sent it.
    Source { Alertmanager = "alertmanager", Pagerduty = "pagerduty", Opsgenie = "opsgenie", Webhook = "webhook" }
    expected "alertmanager, pagerduty, opsgenie or webhook"
);

crate::types::string_enum!(
    /// Where an inbound event is in its handling.
    InboundStatus {
        Pending = "pending",
        Investigating = "investigating",
        Investigated = "investigated",
        Duplicate = "duplicate",
        Updated = "updated",
        Recorded = "recorded",
        Rejected = "rejected",
        Failed = "failed"
    }
    expected "pending, investigating, investigated, duplicate, updated, recorded, rejected or failed"
);

/// One event as received, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub id: String,
    pub workspace: String,
    pub source: Source,
    pub received_at: Timestamp,
    /// Events with the same key are one problem (an Alertmanager group, a PagerDuty incident,
    /// an Opsgenie alias).
    pub dedup_key: String,
    /// Whether it reports a problem (firing, triggered) rather than its end.
    pub firing: bool,
    pub status: InboundStatus,
    /// The investigation it started, joined or was recorded against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Why it was rejected or failed; what it was folded into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<Timestamp>,
    /// The body as received (bounded by the edge's size limit).
    pub payload: String,
}

/// What to do with a pending event, given the latest earlier event of the same key that has
/// a session (`prior`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new problem: start an investigation.
    Investigate,
    /// The same problem again within the cooldown: nothing new starts.
    Duplicate { session_id: String },
    /// The problem ended: recorded against its investigation, when there is one.
    Resolved { session_id: Option<String> },
}

/// The rule: a firing event whose key had an investigation within `cooldown` joins it; one
/// after the cooldown starts a new one; a resolution is recorded against the latest.
pub fn decide(event: &InboundEvent, prior: Option<&InboundEvent>, cooldown: Duration) -> Decision {
    let session = prior.and_then(|p| p.session_id.clone());
    if !event.firing {
        return Decision::Resolved {
            session_id: session,
        };
    }
    match (prior, session) {
        (Some(p), Some(session_id))
            if event.received_at.0.saturating_sub(p.received_at.0)
                <= cooldown.as_millis() as i64 =>
        {
            Decision::Duplicate { session_id }
        }
        _ => Decision::Investigate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: i64, firing: bool, session: Option<&str>) -> InboundEvent {
        InboundEvent {
            id: format!("e{at}"),
            workspace: "w".into(),
            source: Source::Alertmanager,
            received_at: Timestamp(at),
            dedup_key: "group".into(),
            firing,
            status: InboundStatus::Pending,
            session_id: session.map(Into::into),
            note: None,
            processed_at: None,
            payload: "{}".into(),
        }
    }

    const COOL: Duration = Duration::from_secs(600);

    #[test]
    fn an_alert_handled_after_a_later_one_of_its_group_joins_that_ones_investigation() {
        // Received a millisecond before the one that started the session, committed after it.
        let started = ev(1_001, true, Some("s1"));
        assert_eq!(
            decide(&ev(1_000, true, None), Some(&started), COOL),
            Decision::Duplicate {
                session_id: "s1".into()
            }
        );
    }

    #[test]
    fn the_first_firing_event_of_a_group_starts_an_investigation() {
        assert_eq!(
            decide(&ev(0, true, None), None, COOL),
            Decision::Investigate
        );
    }

    #[test]
    fn the_same_group_again_within_the_cooldown_joins_it_and_after_starts_anew() {
        let prior = ev(0, true, Some("s1"));
        assert_eq!(
            decide(&ev(600_000, true, None), Some(&prior), COOL),
            Decision::Duplicate {
                session_id: "s1".into()
            }
        );
        assert_eq!(
            decide(&ev(600_001, true, None), Some(&prior), COOL),
            Decision::Investigate
        );
    }

    #[test]
    fn a_resolution_is_recorded_against_the_latest_investigation() {
        let prior = ev(0, true, Some("s1"));
        assert_eq!(
            decide(&ev(5, false, None), Some(&prior), COOL),
            Decision::Resolved {
                session_id: Some("s1".into())
            }
        );
        assert_eq!(
            decide(&ev(5, false, None), None, COOL),
            Decision::Resolved { session_id: None }
        );
    }
}
