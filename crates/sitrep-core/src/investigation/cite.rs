//! Which knowledge notes a conclusion cites, and who owns its cause. A note is cited when it
//! supports the conclusion, never because it was retrieved:
//!
//! - a note whose proposed cause (a post-mortem's `root_cause`) was **confirmed by task
//!   evidence** on the root cause's resource or along its chain;
//! - a note about the root cause's resource whose symptoms match what the session saw (the
//!   question, the open issues, the cause's evidence), unless it proposed a cause the evidence
//!   pruned or left unconfirmed;
//! - the ownership note of the root cause's resource, which also gives the conclusion's `owner`.

use super::text::{stems, symptom_match};
use super::{Conclusion, HypothesisStatus, Session, Source};
use crate::knowledge::NoteKind;
use serde::{Deserialize, Serialize};

/// A note retrieved into an investigation's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievedNote {
    pub note: String,
    pub title: String,
    pub kind: NoteKind,
    /// Its search score for the session's query (BM25; 0 when found by its services alone).
    pub score: f64,
    /// The best matching section's heading.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub section: String,
    /// The Map resources in play that its services name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<String>,
    /// How well its symptoms match the question and the open issues (0..1).
    pub symptom_match: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub note: String,
    pub title: String,
    pub kind: NoteKind,
    /// Why it is cited.
    pub why: String,
}

/// Symptom match at or above which a note's symptoms count as the session's.
pub const SYMPTOMS_MATCH: f64 = 0.5;

/// Fills `c.citations` and `c.owner` from the session's retrieved notes (see the module docs).
pub fn cite(s: &Session, c: &mut Conclusion) {
    c.citations.clear();
    c.owner = None;
    let Some(rc) = &c.root_cause else { return };
    let on_chain: Vec<&str> = c.chain.iter().map(|l| l.hypothesis.as_str()).collect();
    let mut words = stems(&s.trigger.text());
    words.extend(stems(&rc.cause));
    let mut notes: Vec<&RetrievedNote> = s.knowledge.iter().collect();
    notes.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.note.cmp(&b.note))
    });
    for n in notes {
        let proposed: Vec<_> = s
            .hypotheses
            .iter()
            .filter(|h| matches!(&h.source, Source::Knowledge { note } if *note == n.note))
            .collect();
        let about_cause = n.resources.contains(&rc.resource);
        let why = if let Some(h) = proposed.iter().find(|h| {
            h.status == HypothesisStatus::Confirmed
                && (h.id == rc.hypothesis
                    || h.resource == rc.resource
                    || on_chain.contains(&h.id.as_str()))
        }) {
            Some(format!(
                "its cause was tested and confirmed by task evidence ({} on {})",
                h.id, h.resource
            ))
        } else if !proposed.is_empty() {
            // It proposed a cause the evidence did not bear out: not support for this one.
            None
        } else if about_cause && n.kind == NoteKind::Ownership {
            n.owner
                .as_ref()
                .map(|o| format!("{} is owned by {o}", rc.resource))
        } else if about_cause
            && (n.symptom_match >= SYMPTOMS_MATCH
                || symptom_match(&words, &n.symptoms) >= SYMPTOMS_MATCH)
        {
            Some(format!("about {} with the symptoms seen", rc.resource))
        } else {
            None
        };
        if let Some(why) = why {
            if n.kind == NoteKind::Ownership && c.owner.is_none() {
                c.owner = n.owner.clone();
            }
            c.citations.push(Citation {
                note: n.note.clone(),
                title: n.title.clone(),
                kind: n.kind,
                why,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigation::{
        BudgetUse, ChainLink, Hypothesis, Remedy, RootCause, SessionStatus, Trigger, Verdict,
    };

    fn note(
        id: &str,
        kind: NoteKind,
        resources: &[&str],
        symptoms: &[&str],
        m: f64,
    ) -> RetrievedNote {
        RetrievedNote {
            note: id.into(),
            title: id.into(),
            kind,
            score: 1.0,
            section: String::new(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            symptoms: symptoms.iter().map(|r| r.to_string()).collect(),
            symptom_match: m,
            owner: (kind == NoteKind::Ownership).then(|| "team-data".to_string()),
        }
    }

    fn hyp(id: &str, resource: &str, source: Source, status: HypothesisStatus) -> Hypothesis {
        Hypothesis {
            id: id.into(),
            parent: None,
            depth: 0,
            statement: "s".into(),
            resource: resource.into(),
            category: "c".into(),
            source,
            confirm_if: String::new(),
            refute_if: String::new(),
            tests: vec![],
            status,
            prior: 0.5,
            remedy: Remedy::default(),
            signal: false,
            change: false,
            symptoms: vec![],
        }
    }

    fn conclusion(root: &str, resource: &str) -> Conclusion {
        Conclusion {
            verdict: Verdict::RootCause,
            root_cause: Some(RootCause {
                hypothesis: root.into(),
                resource: resource.into(),
                category: "c".into(),
                cause: "connections exhausted".into(),
                culprit: None,
            }),
            confidence: 0.7,
            threshold: 0.6,
            reasons: vec![],
            chain: vec![ChainLink {
                hypothesis: root.into(),
                resource: resource.into(),
                statement: "s".into(),
                evidence: vec![],
            }],
            alternatives: vec![],
            unknowns: vec![],
            next_checks: vec![],
            summary: String::new(),
            citations: vec![],
            owner: None,
        }
    }

    fn session(h: Vec<Hypothesis>, k: Vec<RetrievedNote>) -> Session {
        Session {
            id: "s".into(),
            workspace: "w".into(),
            assistant: "a".into(),
            trigger: Trigger::Question {
                text: "why is checkout failing?".into(),
            },
            status: SessionStatus::Concluded,
            started_at: crate::Timestamp(0),
            finished_at: None,
            focus: vec![],
            hypotheses: h,
            evidence: vec![],
            conclusion: None,
            proposals: vec![],
            budget: BudgetUse::default(),
            knowledge: k,
            rules: vec![],
            follow_ups: vec![],
        }
    }

    #[test]
    fn confirmed_proposals_matching_notes_and_owners_are_cited_and_nothing_else() {
        let know = |n: &str| Source::Knowledge { note: n.into() };
        let s = session(
            vec![
                hyp("h1", "db", know("pm-pool"), HypothesisStatus::Confirmed),
                hyp("h2", "cache", know("pm-cache"), HypothesisStatus::Pruned),
            ],
            vec![
                note(
                    "pm-pool",
                    NoteKind::PostMortem,
                    &["db"],
                    &["checkout failing"],
                    1.0,
                ),
                note(
                    "pm-cache",
                    NoteKind::PostMortem,
                    &["cache"],
                    &["checkout failing"],
                    1.0,
                ),
                note(
                    "rb-db",
                    NoteKind::Runbook,
                    &["db"],
                    &["connections exhausted"],
                    0.0,
                ),
                note(
                    "rb-db-disk",
                    NoteKind::Runbook,
                    &["db"],
                    &["disk full"],
                    0.0,
                ),
                note(
                    "rb-web",
                    NoteKind::Runbook,
                    &["web"],
                    &["checkout failing"],
                    1.0,
                ),
                note("own-db", NoteKind::Ownership, &["db"], &[], 0.0),
            ],
        );
        let mut c = conclusion("h1", "db");
        cite(&s, &mut c);
        let cited: Vec<&str> = c.citations.iter().map(|x| x.note.as_str()).collect();
        assert_eq!(cited, ["own-db", "pm-pool", "rb-db"]);
        assert!(c.citations[1].why.contains("confirmed by task evidence"));
        assert_eq!(c.owner.as_deref(), Some("team-data"));

        // A post-mortem whose cause was not the one confirmed is not cited.
        let s = session(
            vec![hyp("h1", "db", know("pm-pool"), HypothesisStatus::Active)],
            vec![note(
                "pm-pool",
                NoteKind::PostMortem,
                &["db"],
                &["checkout failing"],
                1.0,
            )],
        );
        let mut c = conclusion("h9", "db");
        cite(&s, &mut c);
        assert!(c.citations.is_empty());
    }
}
