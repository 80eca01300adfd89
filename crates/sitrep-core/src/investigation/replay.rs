//! Rebuilding a session from its audit trail alone: what a reader of the JSONL export can
//! reconstruct (the tree, the evidence, the conclusion and its chain).

use super::{AuditEntry, AuditKind, Evidence, Hypothesis, HypothesisStatus, Session};
use serde::Deserialize;

/// The session as the audit tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub session: Session,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// Replays `entries` (in `seq` order). Errors name the entry that could not be read.
pub fn replay(entries: &[AuditEntry]) -> Result<Replayed, String> {
    let mut session: Option<Session> = None;
    let bad = |e: &AuditEntry, why: String| format!("audit entry {} ({}): {why}", e.seq, e.kind);
    for e in entries {
        let value = e.data.clone();
        if e.kind == AuditKind::SessionStarted {
            let mut s: Session =
                serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?;
            s.hypotheses.clear();
            s.evidence.clear();
            s.knowledge.clear();
            s.rules.clear();
            s.follow_ups.clear();
            s.conclusion = None;
            session = Some(s);
            continue;
        }
        let Some(s) = session.as_mut() else {
            return Err(bad(e, "comes before session-started".into()));
        };
        match e.kind {
            AuditKind::HypothesisFormed | AuditKind::HypothesisUpdated => {
                let h: Hypothesis =
                    serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?;
                match s.hypotheses.iter_mut().find(|o| o.id == h.id) {
                    Some(o) => *o = h,
                    None => s.hypotheses.push(h),
                }
            }
            AuditKind::HypothesisPruned | AuditKind::HypothesisConfirmed => {
                let id: IdOnly =
                    serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?;
                let h = s
                    .hypotheses
                    .iter_mut()
                    .find(|h| h.id == id.id)
                    .ok_or_else(|| bad(e, format!("unknown hypothesis {}", id.id)))?;
                h.status = if e.kind == AuditKind::HypothesisPruned {
                    HypothesisStatus::Pruned
                } else {
                    HypothesisStatus::Confirmed
                };
            }
            AuditKind::Evidence => {
                let ev: Evidence =
                    serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?;
                if s.hypothesis(&ev.hypothesis).is_none() {
                    return Err(bad(
                        e,
                        format!("evidence for unknown hypothesis {}", ev.hypothesis),
                    ));
                }
                s.evidence.push(ev);
            }
            AuditKind::KnowledgeRetrieved => {
                s.knowledge = serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?;
            }
            AuditKind::RuleApplied => {
                s.rules
                    .push(serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?);
            }
            AuditKind::Conclusion => {
                s.conclusion =
                    Some(serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?);
            }
            AuditKind::FollowUp => {
                s.follow_ups
                    .push(serde_json::from_value(value).map_err(|x| bad(e, x.to_string()))?);
                s.status = super::SessionStatus::Running;
                s.conclusion = None;
                s.finished_at = None;
            }
            AuditKind::SessionFinished => {
                if let Some(status) = e.data.get("status").and_then(|v| v.as_str()) {
                    s.status = status.parse().map_err(|x: String| bad(e, x))?;
                }
                s.finished_at = Some(e.at);
            }
            _ => {}
        }
    }
    session
        .map(|session| Replayed { session })
        .ok_or_else(|| "the audit has no session-started entry".into())
}
