//! What the Workspace Studio brings to an investigation: the workspace's rules, applied to the
//! issues it reads (before candidates are computed) and to the issues its tests raise (before
//! they are judged as evidence); and its knowledge: the notes that match the resources, issues
//! and symptoms in play, retrieved into the context, post-mortems' causes as hypotheses to
//! test, and the notes a conclusion cites. Every application and retrieval is in the audit.

use super::context::{Candidate, Context};
use super::driver::Driver;
use crate::rules::{SubjectFacts, rule_issues};
use crate::views::RunView;
use crate::{Result, Sitrep};
use sitrep_bundles::Catalog;
use sitrep_core::investigation::text::{stems, symptom_match};
use sitrep_core::investigation::{
    AuditKind, RaisedIssue, Remedy, RetrievedNote, SYMPTOMS_MATCH, Source, TestPlan,
};
use sitrep_core::knowledge::{Note, NoteKind};
use sitrep_core::map::Map;
use sitrep_core::rules::{Rule, RuleApplication, apply};
use sitrep_core::{Issue, TaskKind, Timestamp};
use std::collections::{BTreeSet, HashMap};

/// Notes retrieved into one context at most.
const MAX_NOTES: usize = 8;
/// Hops from the focus within which resources are "in play".
const IN_PLAY_HOPS: usize = 2;
/// A note is retrieved only if it scores at least this share of the best note's score.
const RELATIVE_SCORE: f64 = 0.5;

/// The first `n` candidates, and the best past incident (a post-mortem's cause) when it is not
/// among them: what happened before with the same symptoms is always tested.
pub(super) fn with_precedent(candidates: Vec<Candidate>, n: usize) -> Vec<Candidate> {
    let precedent = candidates
        .iter()
        .position(|c| matches!(c.source, Source::Knowledge { .. }))
        .filter(|i| *i >= n);
    let mut out: Vec<Candidate> = candidates.iter().take(n).cloned().collect();
    if let Some(i) = precedent {
        out.push(candidates[i].clone());
    }
    out
}

/// The studio's part of an investigation's context.
#[derive(Debug, Clone, Default)]
pub struct Studio {
    pub rules: Vec<Rule>,
    /// Rules applied to the issues read into the context.
    pub applications: Vec<RuleApplication>,
    /// Issues rules mark as known/expected.
    pub known: BTreeSet<String>,
    pub retrieved: Vec<RetrievedNote>,
    /// The retrieved notes, whole.
    pub notes: Vec<Note>,
    /// Rule or note files skipped, and retrieval failures.
    pub problems: Vec<String>,
}

/// What the studio needs of a context being built.
pub(crate) struct Scene<'a> {
    pub text: &'a str,
    pub map: &'a Map,
    pub catalog: &'a Catalog,
    pub focus: &'a [String],
    pub distance: &'a HashMap<String, usize>,
    pub now: Timestamp,
}

impl Sitrep {
    /// Applies the rules to `issues` (suppressed ones leave, severities change) and retrieves
    /// the notes that match what is in play.
    pub(crate) async fn studio(
        &self,
        scene: &Scene<'_>,
        issues: &mut Vec<Issue>,
    ) -> Result<Studio> {
        let mut st = Studio::default();
        let loaded = self.loaded_rules().await?;
        st.problems
            .extend(loaded.problems.iter().map(|p| format!("rule skipped: {p}")));
        st.rules = loaded.rules();
        if !st.rules.is_empty() {
            let views = rule_issues(
                &st.rules,
                scene.map,
                scene.catalog,
                std::mem::take(issues),
                scene.now,
            );
            for v in views {
                if !v.ruling.is_empty() {
                    let facts = SubjectFacts::of(
                        scene.map,
                        scene.catalog,
                        &v.issue.resource,
                        &v.issue.task,
                    );
                    let found = v
                        .ruling
                        .severity
                        .as_ref()
                        .map_or(v.issue.severity, |s| s.from);
                    let s = facts.subject(&v.issue.task, &v.issue.title, found);
                    st.applications
                        .extend(v.ruling.applications(&v.issue.id, &s));
                    if v.ruling.known.is_some() {
                        st.known.insert(v.issue.id.clone());
                    }
                }
                if v.ruling.suppressed_by.is_none() {
                    issues.push(v.issue);
                }
            }
        }
        match self.retrieve(scene, issues).await {
            Ok((retrieved, notes)) => {
                st.retrieved = retrieved;
                st.notes = notes;
            }
            Err(e) => st.problems.push(format!("knowledge not retrieved: {e}")),
        }
        Ok(st)
    }

    async fn retrieve(
        &self,
        scene: &Scene<'_>,
        issues: &[Issue],
    ) -> Result<(Vec<RetrievedNote>, Vec<Note>)> {
        self.knowledge_sync().await?;
        let notes =
            sitrep_store::KnowledgeStore::list_notes(&*self.store().await?, self.workspace())
                .await?;
        if notes.is_empty() {
            return Ok((vec![], vec![]));
        }
        // In play: the focus and what is near it, and the resources of the open issues there
        // (all open issues when nothing is named).
        let near = |r: &str| {
            scene.focus.is_empty()
                || super::resolve(scene.map, r)
                    .and_then(|x| scene.distance.get(&x.name))
                    .is_some_and(|d| *d <= IN_PLAY_HOPS)
        };
        let mut in_play: Vec<String> = scene
            .distance
            .iter()
            .filter(|(_, d)| **d <= IN_PLAY_HOPS)
            .map(|(n, _)| n.clone())
            .collect();
        let issues_in_play: Vec<&Issue> = issues
            .iter()
            .filter(|i| near(&i.resource))
            .take(20)
            .collect();
        for i in &issues_in_play {
            let name = super::resolve(scene.map, &i.resource)
                .map_or_else(|| i.resource.clone(), |r| r.name.clone());
            if !in_play.contains(&name) {
                in_play.push(name);
            }
        }
        in_play.sort();
        let mut query = scene.text.to_string();
        let mut words = stems(scene.text);
        for i in issues_in_play.iter().take(10) {
            query.push_str(&format!(" {}", i.title));
            words.extend(stems(&i.title));
        }
        for r in &in_play {
            query.push_str(&format!(" {r}"));
            if let Some(x) = super::resolve(scene.map, r) {
                query.push_str(&format!(" {}", x.kind));
            }
        }
        let hits = self.search_notes(&query, 20).await?;
        let mut out: Vec<(RetrievedNote, Note)> = vec![];
        for n in notes {
            let resources: Vec<String> = in_play
                .iter()
                .filter(|r| n.services.iter().any(|s| names(scene.map, s, r)))
                .cloned()
                .collect();
            let m = symptom_match(&words, &n.symptoms);
            let hit = hits.iter().find(|h| h.id == n.id);
            let owns = n.kind == NoteKind::Ownership && !resources.is_empty();
            let matches = !resources.is_empty() || m >= SYMPTOMS_MATCH;
            if !(owns || (matches && hit.is_some())) {
                continue;
            }
            out.push((
                RetrievedNote {
                    note: n.id.clone(),
                    title: n.title.clone(),
                    kind: n.kind,
                    score: hit.map_or(0.0, |h| h.score),
                    section: hit.map(|h| h.section.clone()).unwrap_or_default(),
                    resources,
                    symptoms: n.symptoms.clone(),
                    symptom_match: (m * 100.0).round() / 100.0,
                    owner: n.owner.clone(),
                },
                n,
            ));
        }
        out.sort_by(|a, b| {
            b.0.score
                .total_cmp(&a.0.score)
                .then_with(|| a.0.note.cmp(&b.0.note))
        });
        // Far weaker matches than the best are noise (ownership notes stay: they name owners).
        let best = out.first().map_or(0.0, |x| x.0.score);
        out.retain(|(r, _)| r.kind == NoteKind::Ownership || r.score >= RELATIVE_SCORE * best);
        out.truncate(MAX_NOTES);
        Ok(out.into_iter().unzip())
    }
}

/// Whether a note's service names the resource `name`: by name or alias, by kind, or by the
/// words people use for its kind (`Map::lookup`).
fn names(map: &Map, service: &str, name: &str) -> bool {
    let Some(r) = super::resolve(map, name) else {
        return service.eq_ignore_ascii_case(name);
    };
    service.eq_ignore_ascii_case(&r.name)
        || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(service))
        || r.kind.eq_ignore_ascii_case(service)
        || map.lookup(service).iter().any(|x| x.name == r.name)
}

impl Context {
    /// A post-mortem whose symptoms match proposes its cause, to be tested by the checks of
    /// the SLXs watching the resource it names; never a conclusion by itself.
    pub(super) fn knowledge_candidates(&self) -> Vec<Candidate> {
        let mut out = vec![];
        for (r, n) in self.studio.retrieved.iter().zip(&self.studio.notes) {
            let Some(cause) = n
                .root_cause
                .as_ref()
                .filter(|_| n.kind == NoteKind::PostMortem)
            else {
                continue;
            };
            if r.symptom_match < SYMPTOMS_MATCH {
                continue;
            }
            let Some(resource) = self.cause_resource(&cause.resource) else {
                continue;
            };
            let note_words = stems(&format!("{} {}", cause.statement, n.symptoms.join(" ")));
            let mut tests: Vec<TestPlan> = vec![];
            let mut remedy = Remedy::default();
            for slx in self.slxs_of(&resource) {
                let Some(bundle) = self.bundle_of(slx) else {
                    continue;
                };
                let mut tasks: Vec<String> = cause
                    .checks
                    .iter()
                    .filter_map(|c| {
                        let short = c.rsplit('/').next().unwrap_or(c);
                        let fits =
                            c.split('/').count() == 1 || c.contains(&format!("{}/", bundle.name));
                        (fits && bundle.task(short).is_some()).then(|| short.to_string())
                    })
                    .collect();
                if cause.checks.is_empty() {
                    // The failure modes of the resource's bundle that the note describes.
                    for h in &bundle.hypotheses {
                        let m = symptom_match(&note_words, &h.symptoms).max(symptom_match(
                            &note_words,
                            std::slice::from_ref(&h.statement),
                        ));
                        if m >= SYMPTOMS_MATCH {
                            tasks.extend(h.tested_by.iter().cloned());
                            if remedy == Remedy::default() {
                                remedy = Self::remedy(h, slx);
                            }
                        }
                    }
                    if tasks.is_empty() {
                        tasks = bundle
                            .tasks
                            .iter()
                            .filter(|t| t.kind == TaskKind::Health)
                            .map(|t| t.name.clone())
                            .collect();
                    }
                }
                for t in tasks {
                    if let Some(plan) = self.test(slx, &t)
                        && !tests.contains(&plan)
                    {
                        tests.push(plan);
                    }
                }
            }
            if tests.is_empty() {
                continue;
            }
            let checks: Vec<&str> = tests.iter().map(|t| t.task.as_str()).collect();
            out.push(Candidate {
                statement: format!("{} (as in \"{}\")", cause.statement, n.title),
                resource: resource.clone(),
                category: format!("knowledge:{}", n.id),
                source: Source::Knowledge { note: n.id.clone() },
                confirm_if: format!("{} raises a major issue on {resource}", checks.join(" or ")),
                refute_if: format!("{} run clean", checks.join(" and ")),
                tests,
                prior: 0.4 * r.symptom_match.min(1.0) * self.relevance(&resource),
                remedy,
                signal: false,
                change: false,
                symptoms: n.symptoms.clone(),
            });
        }
        out
    }

    /// The Map resource a note's cause names: by name or alias, else the nearest resource of
    /// that kind (or kind word) to the focus.
    fn cause_resource(&self, named: &str) -> Option<String> {
        if let Some(r) = self.resource(named) {
            return Some(r.name.clone());
        }
        let mut found: Vec<&sitrep_core::map::Resource> = self
            .map
            .resources()
            .iter()
            .filter(|r| r.kind.eq_ignore_ascii_case(named))
            .collect();
        if found.is_empty() {
            found = self.map.lookup(named);
        }
        found
            .into_iter()
            .filter(|r| !self.slxs_of(&r.name).is_empty())
            .min_by_key(|r| {
                (
                    self.distance.get(&r.name).copied().unwrap_or(usize::MAX),
                    r.name.clone(),
                )
            })
            .map(|r| r.name.clone())
    }

    /// Issues rules mark as known are less likely causes: their candidates' priors halve.
    pub(super) fn rule_priors(&self, out: &mut [Candidate]) {
        for c in out.iter_mut() {
            if let Source::Issue { issue_id } = &c.source
                && self.studio.known.contains(issue_id)
            {
                c.prior *= 0.5;
            }
        }
    }

    /// A raise of a test run, read through the rules: `None` when a rule suppresses it.
    pub(super) fn rule_raised(&self, task: &str, mut i: RaisedIssue) -> Option<RaisedIssue> {
        if self.studio.rules.is_empty() {
            return Some(i);
        }
        let facts = SubjectFacts::of(&self.map, &self.catalog, &i.resource, task);
        let ruling = apply(
            &self.studio.rules,
            &facts.subject(task, &i.title, i.severity),
            self.now,
        );
        if ruling.suppressed_by.is_some() {
            return None;
        }
        i.severity = ruling.severity_or(i.severity);
        Some(i)
    }
}

impl Driver {
    /// Records what the studio brought to the context: rule applications and problems, and
    /// the notes retrieved.
    pub(super) async fn record_studio(&mut self) -> Result<()> {
        for p in self.ctx.studio.problems.clone() {
            self.record(AuditKind::Note, serde_json::json!({"studio": p}), p)
                .await?;
        }
        for a in self.ctx.studio.applications.clone() {
            self.record_rule(a).await?;
        }
        let retrieved = self.ctx.studio.retrieved.clone();
        if !retrieved.is_empty() {
            let summary = format!(
                "knowledge: {}",
                retrieved
                    .iter()
                    .map(|n| format!("{} ({})", n.note, n.kind))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.session.knowledge = retrieved.clone();
            self.record(
                AuditKind::KnowledgeRetrieved,
                serde_json::to_value(&retrieved).unwrap_or_default(),
                summary,
            )
            .await?;
        }
        Ok(())
    }

    async fn record_rule(&mut self, a: RuleApplication) -> Result<()> {
        let summary = format!(
            "rule {} on \"{}\" ({}): {}",
            a.rule,
            a.title,
            a.resource,
            a.effects.join(", ")
        );
        self.session.rules.push(a.clone());
        self.record(
            AuditKind::RuleApplied,
            serde_json::to_value(&a).unwrap_or_default(),
            summary,
        )
        .await
    }

    /// Records the rules that change how a test run's raises are read (once per rule, issue).
    pub(super) async fn record_run_rules(&mut self, plan: &TestPlan, view: &RunView) -> Result<()> {
        if self.ctx.studio.rules.is_empty() {
            return Ok(());
        }
        let mut apps = vec![];
        for d in view.kept_issues() {
            let resource = d
                .resource
                .clone()
                .unwrap_or_else(|| view.run.resource.clone());
            let facts = SubjectFacts::of(&self.ctx.map, &self.ctx.catalog, &resource, &plan.task);
            let s = facts.subject(&plan.task, &d.title, d.severity);
            let issue = view
                .changes
                .iter()
                .find(|c| c.title.as_deref() == Some(d.title.as_str()))
                .map_or_else(|| view.run.id.clone(), |c| c.issue_id.clone());
            apps.extend(apply(&self.ctx.studio.rules, &s, self.ctx.now).applications(&issue, &s));
        }
        for a in apps {
            if !self
                .session
                .rules
                .iter()
                .any(|x| x.rule == a.rule && x.issue == a.issue)
            {
                self.record_rule(a).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, source: Source) -> Candidate {
        Candidate {
            statement: name.into(),
            resource: name.into(),
            category: name.into(),
            source,
            confirm_if: String::new(),
            refute_if: String::new(),
            tests: vec![],
            prior: 0.5,
            remedy: Remedy::default(),
            signal: false,
            change: false,
            symptoms: vec![],
        }
    }

    #[test]
    fn the_best_past_incident_is_always_tested() {
        let issue = |n: &str| cand(n, Source::Issue { issue_id: n.into() });
        let pm = |n: &str| cand(n, Source::Knowledge { note: n.into() });
        let names = |v: Vec<Candidate>| v.into_iter().map(|c| c.statement).collect::<Vec<_>>();
        let all = vec![issue("a"), issue("b"), issue("c"), pm("pm1"), pm("pm2")];
        assert_eq!(names(with_precedent(all.clone(), 2)), ["a", "b", "pm1"]);
        assert_eq!(
            names(with_precedent(all.clone(), 4)),
            ["a", "b", "c", "pm1"]
        );
        assert_eq!(names(with_precedent(all[..3].to_vec(), 2)), ["a", "b"]);
    }
}
