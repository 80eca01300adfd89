//! Reasoners propose; the engine decides. A reasoner sees the context and the session so far
//! and proposes hypotheses to form, links along the Map, which hypotheses to test next, or to
//! conclude. The engine owns the tree, runs the tests, judges the evidence by task results,
//! keeps the budget and writes the audit; it refuses proposals that break its rules (a test
//! that is not a read-only task of an SLX the assistant may use).
//!
//! The built-in [`Offline`] reasoner is deterministic. The LLM reasoner (`llm/`) fits the
//! same trait: its tool calls become [`Proposal`]s.

use super::context::{Candidate, Context};
use crate::Result;
use crate::views::RunView;
use async_trait::async_trait;
use sitrep_core::investigation::{HypothesisStatus, Session, TestPlan};
use sitrep_core::map::EdgeKind;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// Form a hypothesis, under `parent` when it follows the Map from a confirmed one.
    Form {
        candidate: Candidate,
        parent: Option<String>,
    },
    /// Move an existing top-level hypothesis under a confirmed one whose resource depends on
    /// its resource.
    Attach { hypothesis: String, parent: String },
    /// Run these hypotheses' tests now.
    Test(Vec<String>),
    /// Run the tests of every formed hypothesis not tested yet.
    TestUntested,
    /// Stop and conclude.
    Conclude,
}

/// What a reasoner sees.
pub struct ReasonerView<'a> {
    pub context: &'a Context,
    pub session: &'a Session,
    /// The runs of the tests so far (their output already redacted by the runner).
    pub results: &'a HashMap<TestPlan, RunView>,
    /// Hypotheses whose tests have run.
    pub tested: &'a BTreeSet<String>,
    /// Confirmed since the reasoner was last asked.
    pub newly_confirmed: &'a [String],
    pub round: usize,
    pub max_depth: usize,
}

/// A step of the reasoner's own for the session's audit (a model call, a refused tool call,
/// a fallback), recorded by the driver as a note.
#[derive(Debug, Clone, PartialEq)]
pub struct ReasonerNote {
    pub data: serde_json::Value,
    pub summary: String,
}

#[async_trait]
pub trait Reasoner: Send + Sync {
    fn name(&self) -> &str;
    async fn next(&self, view: &ReasonerView<'_>) -> Result<Vec<Proposal>>;
    /// The steps to record since the last call (the driver asks after every `next`).
    fn take_notes(&self) -> Vec<ReasonerNote> {
        vec![]
    }
}

/// The deterministic reasoner: test the best candidates the sources suggest (and the best past
/// incident, a post-mortem's cause, when it is not among them), follow strong
/// evidence down the Map (what a confirmed resource depends on), widen when nothing is
/// confirmed, conclude when nothing is left to test.
pub struct Offline {
    /// Hypotheses formed at first.
    pub initial: usize,
    /// Hypotheses added when nothing was confirmed.
    pub widen: usize,
    /// Candidates formed per dependency followed.
    pub per_dependency: usize,
}

impl Default for Offline {
    fn default() -> Self {
        Offline {
            initial: 5,
            widen: 3,
            per_dependency: 2,
        }
    }
}

fn formed(s: &Session, c: &Candidate) -> bool {
    s.hypotheses
        .iter()
        .any(|h| h.resource == c.resource && h.category == c.category)
}

fn is_ancestor(s: &Session, ancestor: &str, of: &str) -> bool {
    let mut at = s.hypothesis(of).and_then(|h| h.parent.clone());
    let mut steps = 0;
    while let Some(id) = at {
        if id == ancestor {
            return true;
        }
        at = s.hypothesis(&id).and_then(|h| h.parent.clone());
        steps += 1;
        if steps > 64 {
            return true;
        }
    }
    false
}

#[async_trait]
impl Reasoner for Offline {
    fn name(&self) -> &str {
        "offline"
    }

    async fn next(&self, v: &ReasonerView<'_>) -> Result<Vec<Proposal>> {
        let s = v.session;
        let mut out = vec![];
        if v.round == 0 {
            // A follow-up continues a tree: what it already formed is not formed again.
            let fresh = v
                .context
                .candidates()
                .into_iter()
                .filter(|c| !formed(s, c))
                .collect();
            for c in super::studio::with_precedent(fresh, self.initial) {
                out.push(Proposal::Form {
                    candidate: c,
                    parent: None,
                });
            }
            out.push(Proposal::TestUntested);
            return Ok(out);
        }
        let mut planned: Vec<Candidate> = vec![];
        let mut attached: BTreeSet<String> = BTreeSet::new();
        // The most likely confirmed hypotheses lead: a dependency joins the best one's tree.
        let mut confirmed: Vec<&sitrep_core::investigation::Hypothesis> = v
            .newly_confirmed
            .iter()
            .filter_map(|id| s.hypothesis(id))
            .collect();
        confirmed.sort_by(|a, b| b.prior.total_cmp(&a.prior).then_with(|| a.id.cmp(&b.id)));
        for h in confirmed {
            // A signal (an alert firing) says where a problem was seen, not what its own
            // resource depends on.
            if h.signal || h.depth as usize >= v.max_depth {
                continue;
            }
            for (dep, edge) in v.context.dependencies(&h.resource) {
                let existing: Vec<_> = s.hypotheses.iter().filter(|x| x.resource == dep).collect();
                for x in &existing {
                    // What runs on a host is explained by the host only through facts that
                    // concern it (not, say, an OOM kill of another program).
                    let concerns = edge != EdgeKind::RunsOn
                        || s.evidence_for(&x.id)
                            .filter(|e| e.strength == sitrep_core::investigation::Strength::Strong)
                            .all(|e| v.context.host_facts_concern(&e.facts, &h.resource));
                    if concerns
                        && !x.signal
                        && x.parent.is_none()
                        && x.id != h.id
                        && !is_ancestor(s, &x.id, &h.id)
                        && attached.insert(x.id.clone())
                    {
                        out.push(Proposal::Attach {
                            hypothesis: x.id.clone(),
                            parent: h.id.clone(),
                        });
                    }
                }
                // Up to `per_dependency` hypotheses on what is followed, counting those
                // already formed there (another failure mode of it may be what can be fixed).
                let room = self.per_dependency.saturating_sub(existing.len());
                if room > 0 {
                    let fresh: Vec<Candidate> = v
                        .context
                        .candidates_on(&dep)
                        .into_iter()
                        .filter(|c| !formed(s, c) && !planned.contains(c))
                        .take(room)
                        .collect();
                    for c in fresh {
                        planned.push(c.clone());
                        out.push(Proposal::Form {
                            candidate: c,
                            parent: Some(h.id.clone()),
                        });
                    }
                }
            }
        }
        let confirmed_any = s
            .hypotheses
            .iter()
            .any(|h| h.status == HypothesisStatus::Confirmed);
        if planned.is_empty() && !confirmed_any {
            for c in v
                .context
                .candidates()
                .into_iter()
                .filter(|c| !formed(s, c))
                .take(self.widen)
            {
                planned.push(c.clone());
                out.push(Proposal::Form {
                    candidate: c,
                    parent: None,
                });
            }
        }
        if planned.is_empty() {
            out.push(Proposal::Conclude);
        } else {
            out.push(Proposal::TestUntested);
        }
        Ok(out)
    }
}
