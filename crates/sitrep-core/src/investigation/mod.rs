//! Investigations (RunSessions): the hypothesis tree, evidence, conclusion and audit trail, and
//! the pure rules over them. The engine drives a session (gathers context, runs tasks, asks a
//! reasoner for proposals); everything that decides (how strong a piece of evidence is, how
//! confident a conclusion is, what the audit replays to) lives here, without I/O.

mod change;
mod cite;
mod confidence;
mod evidence;
mod replay;
pub mod text;

pub use cite::{Citation, RetrievedNote, SYMPTOMS_MATCH, cite};
pub use confidence::{ConclusionInput, Dependencies, chain, conclude};
pub use evidence::{Judgement, RaisedIssue, RunFacts, judge};
pub use replay::{Replayed, replay};

use crate::{Severity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

crate::types::string_enum!(
    SessionStatus { Running = "running", Concluded = "concluded", Inconclusive = "inconclusive", Failed = "failed", Interrupted = "interrupted" }
    expected "running, concluded, inconclusive, failed or interrupted"
);

crate::types::string_enum!(
    HypothesisStatus { Active = "active", Pruned = "pruned", Confirmed = "confirmed" }
    expected "active, pruned or confirmed"
);

crate::types::string_enum!(
    /// How much one task result says about a hypothesis. Decided by task results only.
    Strength { Strong = "strong", Weak = "weak", None = "none", Contradicting = "contradicting", Unknown = "unknown" }
    expected "strong, weak, none, contradicting or unknown"
);

/// What started a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Trigger {
    /// A person's question.
    Question { text: String },
    /// An alert from a monitoring system (Alertmanager webhook v4, PagerDuty webhook v3).
    Alert {
        source: String,
        name: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        /// Summary and description annotations: written by a monitored system, so untrusted.
        #[serde(default)]
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
        /// When the monitoring system says the problem began (Alertmanager's `startsAt`,
        /// the incident's or alert's creation time): findings that were over before it do
        /// not explain it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started_at: Option<Timestamp>,
    },
    /// An open issue someone asked about.
    Issue {
        issue_id: String,
        title: String,
        resource: String,
    },
}

impl Trigger {
    /// What started the session, in one word: `question`, `alert` or `issue`.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Question { .. } => "question",
            Trigger::Alert { .. } => "alert",
            Trigger::Issue { .. } => "issue",
        }
    }

    /// The words the session is about, for matching symptoms.
    pub fn text(&self) -> String {
        match self {
            Trigger::Question { text } => text.clone(),
            Trigger::Alert {
                name,
                labels,
                summary,
                ..
            } => {
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{name} {} {summary}", labels.join(" "))
            }
            Trigger::Issue { title, .. } => title.clone(),
        }
    }

    /// Whether the trigger is an alert that reports a problem (not an informational or
    /// low-urgency one): Alertmanager's `severity` other than info/none/low, PagerDuty's
    /// `urgency` other than low, Opsgenie's `priority` P1 to P3.
    pub fn reports_a_problem(&self) -> bool {
        let Trigger::Alert { labels, .. } = self else {
            return false;
        };
        let label = |k: &str| labels.get(k).map(|v| v.trim().to_ascii_lowercase());
        let mild = label("severity").is_some_and(|v| {
            matches!(
                v.as_str(),
                "info" | "informational" | "none" | "low" | "debug"
            )
        }) || label("urgency").is_some_and(|v| v == "low")
            || label("priority").is_some_and(|v| matches!(v.as_str(), "p4" | "p5"));
        !mild
    }

    /// When the problem began, where the trigger says so (alerts only).
    pub fn started_at(&self) -> Option<Timestamp> {
        match self {
            Trigger::Alert { started_at, .. } => *started_at,
            _ => None,
        }
    }
}

/// Where a hypothesis came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Source {
    /// An open issue on the resource.
    Issue { issue_id: String },
    /// A hypothesis a bundle declares (`bundle.yaml` `hypotheses:`).
    Bundle { bundle: String, id: String },
    /// An anomalous SLI insight.
    Anomaly { insight: String },
    /// The resource's own health checks, when nothing more specific is known.
    Health { slx: String },
    /// A knowledge note (runbook, post-mortem) whose symptoms match.
    Knowledge { note: String },
    /// Proposed by the reasoner itself (an LLM), recorded as its judgement.
    Reasoner { note: String },
}

/// One task to run to test a hypothesis, with the SLX whose config and secrets it uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TestPlan {
    pub task: String,
    pub resource: String,
    pub slx: String,
}

/// What would follow from confirming a hypothesis: a remediation and how its parameters and
/// the culprit are read from the evidence (`{column}` templates over an issue's data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Remedy {
    /// `collection/bundle/task` of the remediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Names the holder of the problem (`{app}`), filled from the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culprit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    /// `h1`, `h2`, ... within the session.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub depth: u32,
    pub statement: String,
    /// The resource it blames (a Map resource name).
    pub resource: String,
    /// A short label of the kind of failure (`postgres:connection-exhaustion`, `issue`).
    pub category: String,
    pub source: Source,
    /// What would confirm it, and what would refute it.
    pub confirm_if: String,
    pub refute_if: String,
    pub tests: Vec<TestPlan>,
    pub status: HypothesisStatus,
    /// How likely it looked before testing (0..1), which orders testing.
    pub prior: f64,
    #[serde(default, skip_serializing_if = "is_default_remedy")]
    pub remedy: Remedy,
    /// It restates a problem detected elsewhere (a firing alert): followed, never the root
    /// cause, and no rival to one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signal: bool,
    /// A recent change on its resource: confirmed, what was found by following the Map through
    /// that resource is its consequence (see `conclude`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub change: bool,
    /// The symptoms its failure mode declares (a bundle's, a note's), in people's words:
    /// what a question may report (see `conclude`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<String>,
}

fn is_default_remedy(r: &Remedy) -> bool {
    *r == Remedy::default()
}

/// One task result, judged against one hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `e1`, `e2`, ... within the session.
    pub id: String,
    pub hypothesis: String,
    pub task: String,
    pub resource: String,
    pub run_id: String,
    pub strength: Strength,
    /// What the run showed, in one line (an issue's title, "no issue", the failure).
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The issue the run raised that this evidence rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_id: Option<String>,
    /// SHA-256 of the run's captured output (stdout, stderr, report), hex.
    pub output_hash: String,
    /// The issue's structured facts (culprits and remediation parameters come from here).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// For a finding raised from events in a time window (log lines, requests): when the
    /// last of them happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<Timestamp>,
    /// Since when sitrep's checks have seen the finding (its issue opened or last reopened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub at: Timestamp,
}

/// One reason the confidence moved, and by how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceReason {
    pub delta: f64,
    pub why: String,
}

/// A step of the evidence chain from the symptom to the root cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainLink {
    pub hypothesis: String,
    pub resource: String,
    pub statement: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    pub hypothesis: String,
    pub resource: String,
    pub category: String,
    /// The cause in words: the hypothesis, and what the strongest evidence showed.
    pub cause: String,
    /// Who or what holds the problem, where the evidence names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culprit: Option<String>,
}

crate::types::string_enum!(
    /// A conclusion names a cause only above the assistant's threshold; below it, it suggests.
    Verdict { RootCause = "root-cause", Suggestion = "suggestion", NothingFound = "nothing-found" }
    expected "root-cause, suggestion or nothing-found"
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conclusion {
    pub verdict: Verdict,
    /// The best-supported cause (named as a suggestion below the threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<RootCause>,
    pub confidence: f64,
    pub threshold: f64,
    pub reasons: Vec<ConfidenceReason>,
    pub chain: Vec<ChainLink>,
    /// Hypotheses still open or also supported, with their statements.
    pub alternatives: Vec<String>,
    /// What the session could not find out (failed checks, missing coverage).
    pub unknowns: Vec<String>,
    /// What to check next (always given below the threshold).
    pub next_checks: Vec<String>,
    pub summary: String,
    /// Knowledge notes that support the conclusion (see [`cite`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    /// The team that owns the root cause's resource, from an ownership note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// How much of its budget a session used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetUse {
    pub task_runs: usize,
    pub task_runs_max: usize,
    pub elapsed_ms: u64,
    pub time_budget_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhausted: Option<String>,
}

/// A RunSession as stored: the whole tree, evidence and conclusion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub workspace: String,
    pub assistant: String,
    pub trigger: Trigger,
    pub status: SessionStatus,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Map resources the trigger named.
    pub focus: Vec<String>,
    pub hypotheses: Vec<Hypothesis>,
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<Conclusion>,
    /// Approval records of the remediations this session proposed.
    pub proposals: Vec<String>,
    pub budget: BudgetUse,
    /// Knowledge notes retrieved into the context.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knowledge: Vec<RetrievedNote>,
    /// Rules applied to the issues the session read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<crate::rules::RuleApplication>,
    /// Questions asked after a conclusion, in order; each continued the same tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<FollowUp>,
}

/// A question asked about a finished session: it continues the same tree, evidence and audit,
/// and ends in a new conclusion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    pub text: String,
    pub at: Timestamp,
    /// Who asked (a person's name, a token, `cli`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub by: String,
}

impl Session {
    pub fn hypothesis(&self, id: &str) -> Option<&Hypothesis> {
        self.hypotheses.iter().find(|h| h.id == id)
    }
    /// Whether `ancestor` is `id` or above it in the tree (bounded, so a corrupt tree ends).
    pub fn is_at_or_above(&self, ancestor: &str, id: &str) -> bool {
        let mut at = Some(id);
        for _ in 0..=self.hypotheses.len() {
            match at {
                Some(a) if a == ancestor => return true,
                Some(a) => at = self.hypothesis(a).and_then(|h| h.parent.as_deref()),
                None => return false,
            }
        }
        true
    }
    pub fn evidence_for<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Evidence> + 'a {
        self.evidence.iter().filter(move |e| e.hypothesis == id)
    }
    /// When the root cause's kind of failure declares no fix, another failure mode confirmed on
    /// the same resource may: a database that does not answer is also a process that stopped,
    /// and starting it is the fix. The one with the most strong evidence, then the likelier.
    pub fn fix_on_same_resource(&self, root: &Hypothesis) -> Option<&Hypothesis> {
        let strong = |h: &Hypothesis| {
            self.evidence_for(&h.id)
                .filter(|e| e.strength == Strength::Strong)
                .count()
        };
        self.hypotheses
            .iter()
            .filter(|h| {
                h.id != root.id
                    && h.resource == root.resource
                    && h.status == HypothesisStatus::Confirmed
                    && !h.signal
                    && h.remedy.task.is_some()
                    && strong(h) > 0
            })
            .max_by(|a, b| strong(a).cmp(&strong(b)).then(a.prior.total_cmp(&b.prior)))
    }
    pub fn next_hypothesis_id(&self) -> String {
        format!("h{}", self.hypotheses.len() + 1)
    }
    pub fn next_evidence_id(&self) -> String {
        format!("e{}", self.evidence.len() + 1)
    }
}

crate::types::string_enum!(
    AuditKind {
        SessionStarted = "session-started",
        Context = "context",
        HypothesisFormed = "hypothesis-formed",
        HypothesisPruned = "hypothesis-pruned",
        HypothesisConfirmed = "hypothesis-confirmed",
        HypothesisUpdated = "hypothesis-updated",
        TaskRun = "task-run",
        Evidence = "evidence",
        RuleApplied = "rule-applied",
        KnowledgeRetrieved = "knowledge-retrieved",
        Conclusion = "conclusion",
        RemediationProposed = "remediation-proposed",
        RemediationApproved = "remediation-approved",
        RemediationDenied = "remediation-denied",
        RemediationExecuted = "remediation-executed",
        Verification = "verification",
        SessionFinished = "session-finished",
        FollowUp = "follow-up",
        Note = "note"
    }
    expected "an audit entry kind"
);

/// One line of a session's append-only audit trail (its JSONL export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub session_id: String,
    pub seq: u64,
    pub at: Timestamp,
    pub kind: AuditKind,
    pub data: serde_json::Value,
}

/// An audit line to append: the store numbers it after the session's last line (so writers
/// that share a session, a follow-up and a delivery note say, never pick the same number).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLine {
    pub session_id: String,
    pub at: Timestamp,
    pub kind: AuditKind,
    pub data: serde_json::Value,
}

impl AuditLine {
    /// The entry this line became once stored as number `seq`.
    pub fn numbered(self, seq: u64) -> AuditEntry {
        AuditEntry {
            session_id: self.session_id,
            seq,
            at: self.at,
            kind: self.kind,
            data: self.data,
        }
    }
}

#[cfg(test)]
mod tests;
