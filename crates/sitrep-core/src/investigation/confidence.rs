//! The conclusion of a session and its confidence, computed from the evidence by one
//! documented rule (`docs/investigations.md`):
//!
//! - The root cause is the best candidate among hypotheses with strong evidence (or, if none
//!   has any, with weak evidence). A candidate scores its prior (how severe, current and
//!   relevant to the question its finding was) plus 0.2 for each confirmed finding it explains
//!   (at most two): those above it in the tree, and those on resources that depend on its
//!   resource in the Map. Following the Map from a symptom to what it depends on favours the
//!   deeper finding, unless that finding is much less relevant. A finding over before the
//!   trigger's problem began (all its events ended a minute or more before an alert's
//!   `startsAt`; for a question or an issue, five minutes or more before the checks first saw
//!   a current finding on a resource it names, or on any when it names none) is a candidate
//!   only when nothing else is supported, and is no symptom a candidate explains.
//! - A confirmed change (a hypothesis its bundle declares `change: true`, e.g. a configuration
//!   file that differs from the known-good one) explains what else was found on its resource
//!   and by following the Map through it: those findings are its consequences, not candidates, and the
//!   change scores 0.2 for each confirmed finding on or through its resource (at most two).
//!   Changes are the usual cause of incidents; a dependency's errors about the requests a
//!   changed client sends are not a fault of the dependency. Except a finding whose culprit is
//!   the changed resource (`change.rs`): it stays a candidate (+0.2 to its score, +0.05 to
//!   its confidence) and the change is how its culprit came to misbehave, undone after the fix.
//! - A signal (`signal: true`, e.g. an alert firing) is followed but is never a candidate.
//! - A milder finding (weak evidence) on a resource the trigger reports a problem on (an
//!   alert's own resource, not an informational alert; a resource a question or an issue
//!   names) counts as strong: the trigger grades it.
//! - Confidence starts at 0.50 for strong evidence (0.30 for weak only), then:
//!   +0.15 when two or more different checks gave strong evidence on its resource;
//!   +0.10 when it explains confirmed symptoms (above it in the chain, or on dependents),
//!   or, when none is confirmed, when a question states a symptom its failure mode declares
//!   (every word of it: "hangs" for Redis clients paused);
//!   +0.10 when the evidence names a culprit;
//!   +0.05 when a bundle-declared failure mode describes it;
//!   −0.15 × (the rival's prior ÷ its prior, at most 1) for each other resource with a
//!   supported cause (of its grade or stronger; its most plausible one) that is not above it
//!   in the chain, does not depend on its resource and, when the trigger names resources, is
//!   one of them or something one of them depends on (when it names none: the same of the
//!   confirmed symptoms the root explains, if any) (at most −0.30 in all): a rival as
//!   plausible as the cause costs the full 0.15, an unrelated or stale one little, and one
//!   whose supporting findings are all over before the problem began (above) a quarter of
//!   that;
//!   −0.10 when one of its own checks could not run;
//!   −0.10 when the budget ran out with hypotheses untested.
//!   The result is kept within 0..0.99.
//! - At or above the assistant's threshold the verdict names the root cause; below it, the
//!   verdict is a suggestion with what to check next.

use super::change::{culprit_change, explained_by_change};
use super::text::{fill, stated};
use super::{
    ChainLink, Conclusion, ConfidenceReason, Evidence, Hypothesis, HypothesisStatus, RootCause,
    Session, Source, Strength, Trigger, Verdict,
};
use crate::Timestamp;

pub struct ConclusionInput<'a> {
    pub session: &'a Session,
    pub threshold: f64,
    /// Hypotheses left untested because the budget ran out.
    pub budget_exhausted: bool,
    /// Which of the session's resources depend on which, from the Map.
    pub dependencies: &'a Dependencies,
}

/// Pairs of resources where the first depends on the second, directly or through others
/// (along edges a failure travels), as the Map knows them.
#[derive(Debug, Clone, Default)]
pub struct Dependencies(std::collections::BTreeSet<(String, String)>);

impl Dependencies {
    pub fn insert(&mut self, dependent: impl Into<String>, dependency: impl Into<String>) {
        self.0.insert((dependent.into(), dependency.into()));
    }

    /// Forgets the pairs that depend on each other (a cycle in the Map says nothing about
    /// which failure came first).
    pub fn drop_cycles(&mut self) {
        let pairs = self.0.clone();
        self.0
            .retain(|(a, b)| !pairs.contains(&(b.clone(), a.clone())));
    }

    /// Whether `dependent` depends on `dependency`, so a failure of the second may show on
    /// the first.
    pub fn depends(&self, dependent: &str, dependency: &str) -> bool {
        self.0
            .contains(&(dependent.to_string(), dependency.to_string()))
    }
}

pub(super) fn best<'a>(s: &'a Session, h: &'a str, strength: Strength) -> Option<&'a Evidence> {
    s.evidence_for(h)
        .filter(|e| e.strength == strength)
        .min_by_key(|e| e.severity.map_or(9, |v| v.get()))
}

/// How strongly the evidence supports `h`: by its best evidence, except that a milder finding
/// on a resource the trigger reports a problem on counts as strong (the trigger grades it).
fn support(s: &Session, h: &Hypothesis) -> Option<Strength> {
    if best(s, &h.id, Strength::Strong).is_some() {
        return Some(Strength::Strong);
    }
    best(s, &h.id, Strength::Weak)?;
    Some(if trigger_grades(s, h) {
        Strength::Strong
    } else {
        Strength::Weak
    })
}

/// Whether the trigger reports a problem on `h`'s resource: an alert that reports one (not
/// an informational alert) on it, or a question or an issue about it (people ask about what
/// is wrong).
fn trigger_grades(s: &Session, h: &Hypothesis) -> bool {
    let reports = match s.trigger {
        Trigger::Alert { .. } => s.trigger.reports_a_problem(),
        Trigger::Question { .. } | Trigger::Issue { .. } => true,
    };
    reports && s.focus.contains(&h.resource)
}

/// How long before an alert's start a finding's last event must have ended to count as over
/// before it: a cause that is one event (a kill, a crash) ends just before the alert it causes,
/// which starts once a scrape or two have seen the effect.
pub const OVER_BEFORE_MARGIN_MS: i64 = 60_000;

/// How long before sitrep's checks first saw a current finding the problem of a question or
/// an issue may have begun: checks run at intervals, so they see a state some minutes after
/// it starts.
pub const FIRST_SEEN_MARGIN_MS: i64 = 300_000;

/// The instant before which a finding that is over does not explain the trigger's problem.
/// An alert says when its problem began (`startsAt`): that, less [`OVER_BEFORE_MARGIN_MS`].
/// A question or an issue does not: its problem began at the latest when the checks first saw
/// a current finding (a state, not events in a window, which may be over) on a resource it
/// names (on any resource, when it names none or none of them shows one), so that, less
/// [`FIRST_SEEN_MARGIN_MS`]. `None` when nothing tells.
pub fn over_before_cutoff(s: &Session) -> Option<Timestamp> {
    if let Some(t) = s.trigger.started_at() {
        return Some(Timestamp(t.0 - OVER_BEFORE_MARGIN_MS));
    }
    if matches!(s.trigger, Trigger::Alert { .. }) {
        return None;
    }
    // Current findings: (on a named resource, first seen).
    let current: Vec<(bool, Timestamp)> = s
        .evidence
        .iter()
        .filter(|e| matches!(e.strength, Strength::Strong | Strength::Weak))
        .filter(|e| e.last_event_at.is_none())
        .filter_map(|e| {
            let h = s.hypothesis(&e.hypothesis).filter(|h| !h.signal)?;
            Some((s.focus.contains(&h.resource), e.since?))
        })
        .collect();
    let named = current.iter().filter(|(on, _)| *on).map(|(_, t)| *t).min();
    named
        .or_else(|| current.iter().map(|(_, t)| *t).min())
        .map(|t| Timestamp(t.0 - FIRST_SEEN_MARGIN_MS))
}

/// Whether everything that supports `h` is events that ended before `cutoff` (see
/// [`over_before_cutoff`]): a burst of errors that was over before the problem began does
/// not explain it, although its check still reports it within its window.
fn over_before(s: &Session, h: &Hypothesis, cutoff: Option<Timestamp>) -> bool {
    let Some(cutoff) = cutoff else {
        return false;
    };
    let mut support = s
        .evidence_for(&h.id)
        .filter(|e| matches!(e.strength, Strength::Strong | Strength::Weak))
        .peekable();
    support.peek().is_some() && support.all(|e| e.last_event_at.is_some_and(|t| t < cutoff))
}

/// The confirmed ancestors of `h`, nearest first.
pub(super) fn confirmed_ancestors<'a>(s: &'a Session, h: &'a Hypothesis) -> Vec<&'a Hypothesis> {
    let mut out = vec![];
    let mut at = h.parent.as_deref();
    while let Some(id) = at {
        let Some(p) = s.hypothesis(id) else { break };
        if p.status == HypothesisStatus::Confirmed {
            out.push(p);
        }
        at = p.parent.as_deref();
        if out.len() > 64 {
            break;
        }
    }
    out
}

/// The evidence chain from the top of the tree down to `root`: every ancestor with the
/// evidence that supported it. Rebuildable from the audit trail alone (see `replay`).
pub fn chain(s: &Session, root: &str) -> Vec<ChainLink> {
    let mut links = vec![];
    let mut at = Some(root);
    while let Some(id) = at {
        let Some(h) = s.hypothesis(id) else { break };
        let evidence = s
            .evidence_for(&h.id)
            .filter(|e| matches!(e.strength, Strength::Strong | Strength::Weak))
            .map(|e| e.id.clone())
            .collect();
        links.push(ChainLink {
            hypothesis: h.id.clone(),
            resource: h.resource.clone(),
            statement: h.statement.clone(),
            evidence,
        });
        at = h.parent.as_deref();
        if links.len() > 64 {
            break;
        }
    }
    links.reverse();
    links
}

pub(super) fn is_ancestor(s: &Session, ancestor: &str, of: &Hypothesis) -> bool {
    let mut at = of.parent.as_deref();
    let mut steps = 0;
    while let Some(id) = at {
        if id == ancestor {
            return true;
        }
        at = s.hypothesis(id).and_then(|h| h.parent.as_deref());
        steps += 1;
        if steps > 64 {
            break;
        }
    }
    false
}

/// The confirmed findings `h` explains as symptoms: its confirmed ancestors in the tree, and
/// confirmed findings on resources that depend on its resource (a failure travels up the Map),
/// except those over before the trigger's problem began (before `cutoff`).
fn explained_symptoms<'a>(
    s: &'a Session,
    h: &'a Hypothesis,
    deps: &Dependencies,
    cutoff: Option<Timestamp>,
) -> Vec<&'a Hypothesis> {
    let mut out = confirmed_ancestors(s, h);
    out.retain(|a| !a.signal && !a.change);
    for o in &s.hypotheses {
        if o.id != h.id
            && !o.signal
            && o.status == HypothesisStatus::Confirmed
            && deps.depends(&o.resource, &h.resource)
            && !out.iter().any(|a| a.id == o.id)
        {
            out.push(o);
        }
    }
    out.retain(|o| !over_before(s, o, cutoff));
    out
}

/// A symptom `h`'s failure mode declares that a person's question states (`text::stated`):
/// a confirmed `h` then explains what was asked even before a check confirms the symptom
/// where it shows. Only a question: an alert's or an issue's text is a detection of a
/// finding, not a report of what people see.
fn reported_symptom<'a>(s: &Session, h: &'a Hypothesis) -> Option<&'a str> {
    match &s.trigger {
        Trigger::Question { text } => stated(text, &h.symptoms),
        _ => None,
    }
}

pub fn conclude<'a>(input: &ConclusionInput<'a>) -> Conclusion {
    let s = input.session;
    let graded = |strength| -> Vec<&Hypothesis> {
        s.hypotheses
            .iter()
            .filter(|h| {
                !h.signal && h.status != HypothesisStatus::Pruned && support(s, h) == Some(strength)
            })
            .collect()
    };
    // What a confirmed change explains (findings reached through the changed resource) is
    // its consequence, not a cause of its own.
    let changes: Vec<&Hypothesis> = s
        .hypotheses
        .iter()
        .filter(|h| h.change && h.status == HypothesisStatus::Confirmed)
        .collect();
    // Unless a finding's culprit is the changed resource: the finding is then the failure and
    // the change how its culprit came to misbehave (no candidate of its own).
    let culprit_changes: Vec<(&Hypothesis, &Hypothesis)> = s
        .hypotheses
        .iter()
        .filter(|h| h.status == HypothesisStatus::Confirmed)
        .filter_map(|h| culprit_change(s, h, &changes, input.dependencies).map(|c| (h, c)))
        .collect();
    let changed_culprit = |h: &Hypothesis| {
        culprit_changes
            .iter()
            .find(|(f, _)| f.id == h.id)
            .map(|(_, c)| *c)
    };
    let graded = |strength| -> Vec<&Hypothesis> {
        graded(strength)
            .into_iter()
            .filter(|h| {
                changed_culprit(h).is_some()
                    || explained_by_change(s, h, &changes, input.dependencies).is_none()
            })
            .filter(|h| !culprit_changes.iter().any(|(_, c)| c.id == h.id))
            .collect()
    };
    // A finding that was over before the alert's problem began does not explain it: the root
    // is the best candidate that was not, of either grade, before any that was.
    let cutoff = over_before_cutoff(s);
    let strong_all = graded(Strength::Strong);
    let weak_all = graded(Strength::Weak);
    let not_over = |hs: &Vec<&'a Hypothesis>| -> Vec<&'a Hypothesis> {
        hs.iter()
            .copied()
            .filter(|h| !over_before(s, h, cutoff))
            .collect()
    };
    let tiers = [
        (not_over(&strong_all), Strength::Strong),
        (not_over(&weak_all), Strength::Weak),
        (strong_all.clone(), Strength::Strong),
        (weak_all.clone(), Strength::Weak),
    ];
    let (candidates, grade) = tiers
        .into_iter()
        .find(|(c, _)| !c.is_empty())
        .unwrap_or((vec![], Strength::Weak));
    let graded_by_trigger =
        |h: &Hypothesis| best(s, &h.id, Strength::Strong).is_none() && trigger_grades(s, h);
    let (base, base_why) = match grade {
        Strength::Strong => (0.50, "strong evidence from a check"),
        _ => (0.30, "only weak evidence (milder issues)"),
    };
    // Rivals come from every supported cause of the root's grade or stronger.
    let supported: Vec<&Hypothesis> = match grade {
        Strength::Strong => strong_all,
        _ => strong_all.into_iter().chain(weak_all).collect(),
    };
    let untested: Vec<String> = s
        .hypotheses
        .iter()
        .filter(|h| h.status == HypothesisStatus::Active && s.evidence_for(&h.id).next().is_none())
        .map(|h| format!("{} ({}): not tested", h.statement, h.resource))
        .collect();
    let mut unknowns: Vec<String> = s
        .evidence
        .iter()
        .filter(|e| e.strength == Strength::Unknown)
        .map(|e| e.summary.clone())
        .collect();
    unknowns.sort();
    unknowns.dedup();

    // A candidate gains for each confirmed finding it explains (at most two): the symptoms
    // above it in the tree, or, for a change, what was found on and through its resource.
    let explains = |h: &Hypothesis| -> usize {
        if h.change {
            s.hypotheses
                .iter()
                .filter(|o| {
                    o.id != h.id
                        && o.status == HypothesisStatus::Confirmed
                        && (o.resource == h.resource
                            || explained_by_change(s, o, &[h], input.dependencies).is_some())
                })
                .count()
        } else {
            explained_symptoms(s, h, input.dependencies, cutoff).len()
        }
    };
    // A failure whose culprit is seen changing explains that change too.
    let score = |h: &Hypothesis| {
        h.prior
            + 0.2 * explains(h).min(2) as f64
            + if changed_culprit(h).is_some() {
                0.2
            } else {
                0.0
            }
    };
    let Some(root) = candidates
        .iter()
        .copied()
        .max_by(|a, b| score(a).total_cmp(&score(b)).then_with(|| b.id.cmp(&a.id)))
    else {
        let mut next = untested.clone();
        next.push("no check raised an issue on the resources in question: widen the question, name the resource, or run `discover` so its checks exist".into());
        return Conclusion {
            verdict: Verdict::NothingFound,
            root_cause: None,
            confidence: 0.0,
            threshold: input.threshold,
            reasons: vec![],
            chain: vec![],
            alternatives: vec![],
            unknowns,
            next_checks: next,
            summary:
                "No cause found: every hypothesis tested came back clean or could not be checked."
                    .into(),
            citations: vec![],
            owner: None,
        };
    };

    let mut reasons = vec![ConfidenceReason {
        delta: base,
        why: if graded_by_trigger(root) {
            format!(
                "a milder finding on the resource the {} reports a problem on (it grades it)",
                s.trigger.kind()
            )
        } else {
            base_why.into()
        },
    }];
    let strong_tasks: std::collections::BTreeSet<&str> = s
        .evidence
        .iter()
        .filter(|e| e.strength == Strength::Strong && e.resource == root.resource)
        .map(|e| e.task.as_str())
        .collect();
    if strong_tasks.len() >= 2 {
        reasons.push(ConfidenceReason {
            delta: 0.15,
            why: format!("{} different checks agree", strong_tasks.len()),
        });
    }
    let explained = explained_symptoms(s, root, input.dependencies, cutoff);
    if !root.change && !explained.is_empty() {
        reasons.push(ConfidenceReason {
            delta: 0.10,
            why: format!(
                "it explains {} confirmed symptom(s) upstream of it",
                explained.len()
            ),
        });
    } else if root.change && explains(root) > 0 {
        reasons.push(ConfidenceReason {
            delta: 0.10,
            why: format!(
                "the change explains {} confirmed finding(s) on and through {}",
                explains(root),
                root.resource
            ),
        });
    } else if !root.change
        && let Some(symptom) = reported_symptom(s, root)
    {
        reasons.push(ConfidenceReason {
            delta: 0.10,
            why: format!(
                "it explains what the question reports (\"{symptom}\" is a symptom of it)"
            ),
        });
    }
    let evidence =
        best(s, &root.id, Strength::Strong).or_else(|| best(s, &root.id, Strength::Weak));
    let culprit = root
        .remedy
        .culprit
        .as_deref()
        .and_then(|t| evidence.and_then(|e| fill(t, &e.facts)));
    if let Some(c) = &culprit {
        reasons.push(ConfidenceReason {
            delta: 0.10,
            why: format!("the evidence names the culprit ({c})"),
        });
    }
    let culprit_changed = changed_culprit(root);
    if let (Some(c), Some(change)) = (&culprit, culprit_changed) {
        reasons.push(ConfidenceReason {
            delta: 0.05,
            why: format!(
                "its culprit ({c}) changed before it: {}",
                best(s, &change.id, Strength::Strong)
                    .map_or(change.statement.as_str(), |e| e.summary.as_str())
            ),
        });
    }
    if matches!(root.source, Source::Bundle { .. }) || root.category.contains(':') {
        reasons.push(ConfidenceReason {
            delta: 0.05,
            why: "a known failure mode of this kind of resource describes it".into(),
        });
    }
    // Other supported causes on other resources that are not symptoms it explains and that
    // could explain what the trigger is about: when it names resources, only a cause on one
    // of them or on something one of them depends on can; when it names none, the confirmed
    // symptoms the root explains say what it is about, the same way.
    let deps = input.dependencies;
    let about: Vec<&str> = if s.focus.is_empty() {
        explained.iter().map(|h| h.resource.as_str()).collect()
    } else {
        s.focus.iter().map(String::as_str).collect()
    };
    let could_explain_focus = |h: &Hypothesis| {
        about.is_empty()
            || about.contains(&h.resource.as_str())
            || about.iter().any(|f| deps.depends(f, &h.resource))
    };
    let rivals: Vec<&Hypothesis> = supported
        .iter()
        .copied()
        .filter(|h| {
            h.id != root.id
                && h.resource != root.resource
                && !is_ancestor(s, &h.id, root)
                && !deps.depends(&h.resource, &root.resource)
                && could_explain_focus(h)
        })
        .collect();
    // One weight per rival resource (its most plausible cause): two findings on one
    // resource are one alternative.
    let mut by_resource: std::collections::BTreeMap<&str, (f64, bool)> = Default::default();
    for r in &rivals {
        let stale = over_before(s, r, cutoff);
        let weight =
            0.15 * (r.prior / root.prior.max(0.01)).min(1.0) * if stale { 0.25 } else { 1.0 };
        let entry = by_resource.entry(&r.resource).or_insert((weight, stale));
        if weight > entry.0 {
            *entry = (weight, stale);
        }
    }
    if !by_resource.is_empty() {
        let weight: f64 = by_resource.values().map(|(w, _)| w).sum();
        reasons.push(ConfidenceReason {
            delta: -((weight.min(0.30) * 100.0).round() / 100.0),
            why: format!(
                "{} other supported cause(s) it does not explain: {}",
                by_resource.len(),
                by_resource
                    .iter()
                    .map(|(resource, (_, stale))| if *stale {
                        format!("{resource} (over before the problem began)")
                    } else {
                        resource.to_string()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if s.evidence_for(&root.id)
        .any(|e| e.strength == Strength::Unknown)
    {
        reasons.push(ConfidenceReason {
            delta: -0.10,
            why: "one of its checks could not run".into(),
        });
    }
    if input.budget_exhausted && !untested.is_empty() {
        reasons.push(ConfidenceReason {
            delta: -0.10,
            why: "the budget ran out with hypotheses untested".into(),
        });
    }
    let confidence = (reasons.iter().map(|r| r.delta).sum::<f64>()).clamp(0.0, 0.99);
    let confidence = (confidence * 100.0).round() / 100.0;
    let what = evidence.map_or(String::new(), |e| format!(": {}", e.summary));
    let cause = format!("{}{what}", root.statement);
    let alternatives: Vec<String> = rivals
        .iter()
        .map(|h| format!("{} ({})", h.statement, h.resource))
        .chain(
            s.hypotheses
                .iter()
                .filter(|h| {
                    h.id != root.id
                        && h.status == HypothesisStatus::Active
                        && s.evidence_for(&h.id)
                            .any(|e| matches!(e.strength, Strength::Weak | Strength::Unknown))
                        && !rivals.iter().any(|r| r.id == h.id)
                })
                .map(|h| format!("{} ({}): partly supported", h.statement, h.resource)),
        )
        .collect();
    let verdict = if confidence >= input.threshold {
        Verdict::RootCause
    } else {
        Verdict::Suggestion
    };
    let mut next_checks = vec![];
    if verdict == Verdict::Suggestion {
        next_checks.push(format!(
            "confirm on {} with its checks: {}",
            root.resource,
            root.tests
                .iter()
                .map(|t| t.task.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        next_checks.extend(untested.iter().cloned());
        next_checks.extend(alternatives.iter().map(|a| format!("rule out: {a}")));
    }
    let mut culprit_text = culprit
        .as_ref()
        .map_or(String::new(), |c| format!(" Culprit: {c}."));
    if let Some(change) = culprit_changed {
        let undo = change
            .remedy
            .task
            .as_deref()
            .map_or(String::new(), |t| format!(" ({t})"));
        let then = format!(
            "once the fix holds, undo the culprit's change on {}{undo}",
            change.resource
        );
        culprit_text.push_str(&format!(
            " It changed before the failure: {}; {then}.",
            best(s, &change.id, Strength::Strong)
                .map_or(change.statement.as_str(), |e| e.summary.as_str())
        ));
        next_checks.push(then);
    }
    let lead = match verdict {
        Verdict::RootCause => "Root cause",
        _ => "Most likely cause (below the confidence threshold)",
    };
    let summary = format!(
        "{lead} on {} (confidence {confidence:.2}): {cause}.{culprit_text}",
        root.resource
    );
    Conclusion {
        verdict,
        root_cause: Some(RootCause {
            hypothesis: root.id.clone(),
            resource: root.resource.clone(),
            category: root.category.clone(),
            cause,
            culprit,
        }),
        confidence,
        threshold: input.threshold,
        reasons,
        chain: chain(s, &root.id),
        alternatives,
        unknowns,
        next_checks,
        summary,
        citations: vec![],
        owner: None,
    }
}
