//! The context of an investigation: the Map, what the trigger names, the open issues and
//! insights around it, the SLXs the assistant may use, and the candidate hypotheses their
//! sources (issues, bundle-declared failure modes, anomalies, health checks) suggest.

use super::AssistantSettings;
use sitrep_bundles::{Bundle, Catalog};
use sitrep_core::investigation::text::{stems, symptom_match};
use sitrep_core::investigation::{Remedy, Source, TestPlan, Trigger};
use sitrep_core::map::{EdgeKind, Map, Resource};
use sitrep_core::{Insight, Issue, Slx, TaskKind, Timestamp};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// A hypothesis a source suggests, before the reasoner picks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub statement: String,
    pub resource: String,
    pub category: String,
    pub source: Source,
    pub confirm_if: String,
    pub refute_if: String,
    pub tests: Vec<TestPlan>,
    pub prior: f64,
    pub remedy: Remedy,
    /// From a failure mode declared a signal (see `sitrep_bundles::Hypothesis::signal`).
    pub signal: bool,
    /// From a failure mode declared a change (see `sitrep_bundles::Hypothesis::change`).
    pub change: bool,
    /// The symptoms its failure mode declares.
    pub symptoms: Vec<String>,
}

pub struct Context {
    pub trigger: Trigger,
    pub words: BTreeSet<String>,
    pub map: Map,
    /// Map resources the trigger names.
    pub focus: Vec<String>,
    /// Hops from the focus, by resource name (absent: not connected).
    pub distance: HashMap<String, usize>,
    pub slxs: Vec<Slx>,
    pub issues: Vec<Issue>,
    pub insights: Vec<Insight>,
    pub catalog: Arc<Catalog>,
    pub now: Timestamp,
    /// Rules and knowledge (`studio.rs`).
    pub studio: super::studio::Studio,
}

/// Labels of an alert that may name a resource, most specific first.
const NAMING_LABELS: &[&str] = &[
    "resource",
    "service",
    "app",
    "application",
    "container",
    "pod",
    "deployment",
    "instance",
    "job",
    "host",
    "hostname",
    "node",
    "database",
    "db",
    "namespace",
];

impl Context {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        resolve(&self.map, name)
    }

    /// What a resource depends on (along failure-propagating edges), by name, with the edge.
    pub fn dependencies(&self, name: &str) -> Vec<(String, EdgeKind)> {
        let Some(r) = self.resource(name) else {
            return vec![];
        };
        self.map
            .neighbours(&r.key)
            .into_iter()
            .filter(|h| h.edge.from == r.key && h.edge.kind.propagates_failure())
            .map(|h| (h.resource.name.clone(), h.edge.kind))
            .collect()
    }

    /// Which of `names` depend on which others, directly or through other resources. A host
    /// is not counted as what runs on it depends on: a host's finding explains a program on
    /// it only through facts that concern that program (see `host_facts_concern`), which the
    /// tree of hypotheses already records.
    pub fn dependencies_among<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> sitrep_core::investigation::Dependencies {
        let names: BTreeSet<&str> = names.into_iter().collect();
        let mut deps = sitrep_core::investigation::Dependencies::default();
        for &from in &names {
            let mut seen = BTreeSet::new();
            let mut queue: VecDeque<String> = VecDeque::from([from.to_string()]);
            while let Some(at) = queue.pop_front() {
                for (dep, edge) in self.dependencies(&at) {
                    if edge == EdgeKind::RunsOn {
                        continue;
                    }
                    if seen.len() < 512 && seen.insert(dep.clone()) {
                        if dep != from && names.contains(dep.as_str()) {
                            deps.insert(from, dep.clone());
                        }
                        queue.push_back(dep);
                    }
                }
            }
        }
        deps.drop_cycles();
        deps
    }

    /// Whether facts about a host can explain a failure of `dependent`, which runs on it
    /// (see [`facts_concern`]).
    pub fn host_facts_concern(
        &self,
        facts: &serde_json::Map<String, serde_json::Value>,
        dependent: &str,
    ) -> bool {
        self.resource(dependent)
            .is_some_and(|r| facts_concern(facts, r))
    }

    /// The SLXs that watch a resource (by its name or any alias).
    pub fn slxs_of(&self, name: &str) -> Vec<&Slx> {
        let r = self.resource(name);
        self.slxs
            .iter()
            .filter(|s| {
                s.resource == name
                    || r.is_some_and(|r| s.resource == r.name || r.aliases.contains(&s.resource))
            })
            .collect()
    }

    pub(super) fn bundle_of(&self, slx: &Slx) -> Option<&Bundle> {
        let (c, b) = slx.bundle.split_once('/')?;
        self.catalog
            .collections
            .iter()
            .find(|x| x.name == c)
            .and_then(|x| x.bundle(b))
    }

    /// How relevant a resource is to the trigger: 1 at the focus, less further away.
    pub(super) fn relevance(&self, resource: &str) -> f64 {
        if self.focus.is_empty() {
            return 0.8;
        }
        let name = self
            .resource(resource)
            .map_or(resource, |r| r.name.as_str());
        match self.distance.get(name) {
            Some(d) => 1.0 - 0.1 * (*d as f64).min(5.0),
            None => 0.4,
        }
    }

    /// How current an issue is: 1 while its evidence is within its check's quiet period,
    /// then down to 0.3 a day after its last evidence (`core::currency`).
    fn currency(&self, i: &Issue) -> f64 {
        if sitrep_core::currency::is_current(i, self.now) {
            return 1.0;
        }
        let age_min = self
            .now
            .since(sitrep_core::issue::evidence(i))
            .as_secs_f64()
            / 60.0;
        (1.0 - age_min / (24.0 * 60.0)).clamp(0.3, 0.9)
    }

    /// Every candidate the sources suggest, best first.
    pub fn candidates(&self) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = vec![];
        for i in &self.issues {
            if let Some(c) = self.from_issue(i) {
                out.push(c);
            }
        }
        for slx in &self.slxs {
            out.extend(self.from_bundle(slx));
        }
        for ins in &self.insights {
            if let Some(c) = self.from_anomaly(ins) {
                out.push(c);
            }
        }
        for name in &self.focus {
            out.extend(self.from_health(name));
        }
        out.extend(self.knowledge_candidates());
        self.rule_priors(&mut out);
        // One candidate per (resource, category): the best-supported one.
        out.sort_by(|a, b| b.prior.total_cmp(&a.prior));
        let mut seen = BTreeSet::new();
        out.retain(|c| seen.insert((c.resource.clone(), c.category.clone())));
        out
    }

    /// Candidates about one resource (following the Map there).
    pub fn candidates_on(&self, resource: &str) -> Vec<Candidate> {
        let r = self.resource(resource).map(|r| r.name.clone());
        let mut c: Vec<Candidate> = self
            .candidates()
            .into_iter()
            .filter(|c| Some(&c.resource) == r.as_ref() || c.resource == resource)
            .collect();
        if c.is_empty() {
            c = self.from_health(resource);
        }
        c
    }

    pub(super) fn test(&self, slx: &Slx, task: &str) -> Option<TestPlan> {
        let bundle = self.bundle_of(slx)?;
        let t = bundle.task(task)?;
        (t.kind != TaskKind::Remediation).then(|| TestPlan {
            task: format!("{}/{task}", slx.bundle),
            resource: slx.resource.clone(),
            slx: slx.name.clone(),
        })
    }

    pub(super) fn remedy(h: &sitrep_bundles::Hypothesis, slx: &Slx) -> Remedy {
        Remedy {
            task: h.remediation.as_ref().map(|r| {
                let collection = slx.bundle.split_once('/').map_or("core", |(c, _)| c);
                if r.contains('/') {
                    format!("{collection}/{r}")
                } else {
                    format!("{}/{r}", slx.bundle)
                }
            }),
            params: h.remediation_params.clone(),
            culprit: h.culprit.clone(),
        }
    }

    /// An open issue suggests that its failure is the cause; the bundle hypothesis its task
    /// tests (best matching the trigger, and the issue by its statement or the symptoms it
    /// lists) says which failure mode and how to fix it.
    fn from_issue(&self, i: &Issue) -> Option<Candidate> {
        let (collection, rest) = i.task.split_once('/')?;
        let (bundle_name, task) = rest.split_once('/')?;
        let bundle_ref = format!("{collection}/{bundle_name}");
        // The SLX that ran it: named by the issue's scope, else one of the bundle on its resource.
        let slx = self
            .slxs
            .iter()
            .find(|s| s.name == i.scope && s.bundle == bundle_ref)
            .or_else(|| {
                self.slxs.iter().find(|s| {
                    s.bundle == bundle_ref && (s.resource == i.scope || s.resource == i.resource)
                })
            })?;
        let bundle = self.bundle_of(slx)?;
        let text = format!("{} {}", i.title, i.actual);
        let issue_words = stems(&text);
        let declared = bundle
            .hypotheses
            .iter()
            .filter(|h| h.tested_by.iter().any(|t| t == task))
            .max_by(|a, b| {
                let score = |h: &sitrep_bundles::Hypothesis| {
                    symptom_match(&self.words, &h.symptoms)
                        + symptom_match(&issue_words, std::slice::from_ref(&h.statement))
                            .max(symptom_match(&issue_words, &h.symptoms))
                };
                score(a).total_cmp(&score(b))
            });
        let (signal, change) = declared.map_or((false, false), |h| (h.signal, h.change));
        let symptoms = declared.map_or_else(Vec::new, |h| h.symptoms.clone());
        let mut tests: Vec<TestPlan> = self.test(slx, task).into_iter().collect();
        let resource = self
            .resource(&i.resource)
            .map_or_else(|| i.resource.clone(), |r| r.name.clone());
        let severity_weight = match i.severity.get() {
            1 => 0.9,
            2 => 0.75,
            3 => 0.5,
            _ => 0.3,
        };
        let mut prior = severity_weight * self.currency(i) * self.relevance(&resource);
        let (statement, category, remedy) = match declared {
            Some(h) => {
                for t in &h.tested_by {
                    if let Some(plan) = self.test(slx, t)
                        && !tests.contains(&plan)
                    {
                        tests.push(plan);
                    }
                }
                prior += 0.1 * symptom_match(&self.words, &h.symptoms);
                (
                    h.statement.clone(),
                    format!("{bundle_name}:{}", h.id),
                    Self::remedy(h, slx),
                )
            }
            None => (i.title.clone(), format!("issue:{task}"), Remedy::default()),
        };
        // An issue about another resource (a check that names a target) is tested where it ran.
        Some(Candidate {
            statement,
            resource,
            category,
            source: Source::Issue {
                issue_id: i.id.clone(),
            },
            confirm_if: format!("{} raises \"{}\" again", i.task, i.title),
            refute_if: format!("{} runs clean on {}", i.task, i.resource),
            tests,
            prior: prior.min(1.0),
            remedy,
            signal,
            change,
            symptoms,
        })
    }

    /// Failure modes a resource's bundle declares whose symptoms match the trigger's words.
    fn from_bundle(&self, slx: &Slx) -> Vec<Candidate> {
        let Some(bundle) = self.bundle_of(slx) else {
            return vec![];
        };
        let resource = self
            .resource(&slx.resource)
            .map_or_else(|| slx.resource.clone(), |r| r.name.clone());
        bundle
            .hypotheses
            .iter()
            .filter_map(|h| {
                let m = symptom_match(&self.words, &h.symptoms);
                if m < 0.5 {
                    return None;
                }
                let tests: Vec<TestPlan> = h
                    .tested_by
                    .iter()
                    .filter_map(|t| self.test(slx, t))
                    .collect();
                (!tests.is_empty()).then(|| Candidate {
                    statement: h.statement.clone(),
                    resource: resource.clone(),
                    category: format!("{}:{}", bundle.name, h.id),
                    source: Source::Bundle {
                        bundle: slx.bundle.clone(),
                        id: h.id.clone(),
                    },
                    confirm_if: format!(
                        "{} raises a major issue on {resource}",
                        h.tested_by.join(" or ")
                    ),
                    refute_if: format!("{} run clean", h.tested_by.join(" and ")),
                    tests,
                    prior: 0.35 * m * self.relevance(&resource),
                    remedy: Self::remedy(h, slx),
                    signal: h.signal,
                    change: h.change,
                    symptoms: h.symptoms.clone(),
                })
            })
            .collect()
    }

    /// An anomalous SLI (an insight of the SLI watch) suggests its resource misbehaves.
    fn from_anomaly(&self, ins: &Insight) -> Option<Candidate> {
        if !ins.text.starts_with("anomalous SLI") {
            return None;
        }
        let slx = self
            .slxs
            .iter()
            .find(|s| s.name == ins.scope || s.resource == ins.resource)?;
        let task = ins.task.rsplit('/').next()?;
        let test = self.test(slx, task)?;
        let resource = self
            .resource(&ins.resource)
            .map_or_else(|| ins.resource.clone(), |r| r.name.clone());
        Some(Candidate {
            statement: format!("{resource} behaves unlike its baseline: {}", ins.text),
            resource: resource.clone(),
            category: format!("anomaly:{task}"),
            source: Source::Anomaly {
                insight: ins.text.clone(),
            },
            confirm_if: format!("{} raises an issue on {resource}", ins.task),
            refute_if: format!("{} runs clean", ins.task),
            tests: vec![test],
            prior: 0.4 * self.relevance(&resource),
            remedy: Remedy::default(),
            signal: false,
            change: false,
            symptoms: vec![],
        })
    }

    /// When nothing specific is known: the resource's own health checks.
    fn from_health(&self, resource: &str) -> Vec<Candidate> {
        self.slxs_of(resource)
            .into_iter()
            .filter_map(|slx| {
                let bundle = self.bundle_of(slx)?;
                let tests: Vec<TestPlan> = bundle
                    .tasks
                    .iter()
                    .filter(|t| t.kind == TaskKind::Health && !only_signals(bundle, &t.name))
                    .filter_map(|t| self.test(slx, &t.name))
                    .collect();
                (!tests.is_empty()).then(|| Candidate {
                    statement: format!("{resource} is unhealthy ({} checks)", bundle.name),
                    resource: self
                        .resource(resource)
                        .map_or_else(|| resource.to_string(), |r| r.name.clone()),
                    category: format!("health:{}", bundle.name),
                    source: Source::Health {
                        slx: slx.name.clone(),
                    },
                    confirm_if: format!("a {} health check raises a major issue", bundle.name),
                    refute_if: "every health check runs clean".into(),
                    tests,
                    prior: 0.2 * self.relevance(resource),
                    remedy: Remedy::default(),
                    signal: false,
                    change: false,
                    symptoms: vec![],
                })
            })
            .collect()
    }
}

/// Whether facts about a host (an issue's data) can explain a failure of `dependent`, which
/// runs on it: a host-wide condition (memory, disk, CPU: no process named) can; an event that
/// names another process (an OOM kill of something else) cannot.
/// Whether every failure mode a task tests is a signal (its issues say that a problem was
/// detected elsewhere, not that this resource is unhealthy).
fn only_signals(bundle: &Bundle, task: &str) -> bool {
    let mut modes = bundle
        .hypotheses
        .iter()
        .filter(|h| h.tested_by.iter().any(|t| t == task))
        .peekable();
    modes.peek().is_some() && modes.all(|h| h.signal)
}

pub fn facts_concern(
    facts: &serde_json::Map<String, serde_json::Value>,
    dependent: &Resource,
) -> bool {
    const PROCESS_KEYS: &[&str] = &["program", "process", "comm", "command", "pid"];
    let named: Vec<String> = PROCESS_KEYS
        .iter()
        .filter_map(|k| facts.get(*k))
        .map(sitrep_core::table::cell)
        .filter(|v| !v.is_empty())
        .collect();
    if named.is_empty() {
        return true;
    }
    let mut own: Vec<String> = vec![dependent.name.clone()];
    own.extend(dependent.aliases.iter().cloned());
    for k in ["program", "exe", "cmdline"] {
        if let Some(v) = dependent.prop_str(k) {
            own.push(v.to_string());
        }
    }
    if let Some(pid) = dependent
        .properties
        .get("status")
        .and_then(|s| s.get("pid"))
    {
        own.push(pid.to_string());
    }
    named.iter().any(|n| {
        own.iter()
            .any(|o| o == n || (n.len() >= 3 && o.contains(n.as_str())))
    })
}

/// A Map resource by name, alias, or the `job/instance` form Prometheus checks use.
pub fn resolve<'m>(map: &'m Map, name: &str) -> Option<&'m Resource> {
    if let Some(r) = map.by_name(name) {
        return Some(r);
    }
    let (job, instance) = name.split_once('/')?;
    map.resources().iter().find(|r| {
        let labels = r.properties.get("prometheus_labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(|v| v.as_str());
        (label("job") == Some(job) && label("instance") == Some(instance))
            || (r.prop_str("job") == Some(job) && r.prop_str("instance") == Some(instance))
            || r.properties
                .get("listen")
                .and_then(|l| l.as_array())
                .is_some_and(|l| l.iter().any(|a| a.as_str() == Some(instance)))
    })
}

/// The resources an alert's labels name; an exporter stands for what it monitors.
pub fn focus_of_labels(map: &Map, labels: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = vec![];
    for key in NAMING_LABELS {
        let Some(v) = labels.get(*key) else { continue };
        let found = resolve(map, v).or_else(|| {
            // `job` + `instance` together name a scrape target.
            labels
                .get("job")
                .zip(labels.get("instance"))
                .and_then(|(j, i)| resolve(map, &format!("{j}/{i}")))
        });
        if let Some(r) = found
            && !out.contains(&r.name)
        {
            out.push(r.name.clone());
        }
    }
    out
}

/// Hops from the focus along any edge but `monitors` (which says nothing of dependence).
pub fn distances(map: &Map, focus: &[String]) -> HashMap<String, usize> {
    let mut dist = HashMap::new();
    let mut queue = VecDeque::new();
    for f in focus {
        if let Some(r) = resolve(map, f) {
            dist.insert(r.name.clone(), 0);
            queue.push_back(r.key.clone());
        }
    }
    while let Some(key) = queue.pop_front() {
        let Some(here) = map.get(&key) else { continue };
        let d = dist[&here.name];
        for h in map.neighbours(&key) {
            if h.edge.kind == EdgeKind::Monitors || dist.contains_key(&h.resource.name) {
                continue;
            }
            dist.insert(h.resource.name.clone(), d + 1);
            queue.push_back(h.resource.key.clone());
        }
    }
    dist
}

/// Whether the assistant may use this SLX.
pub fn allowed(a: &AssistantSettings, slx: &Slx, catalog: &Catalog) -> bool {
    let name_ok = a.slxs.is_empty() || a.slxs.iter().any(|p| glob(p, &slx.name));
    let tags_ok = a.tags.is_empty() || {
        let bundle = slx.bundle.split_once('/').and_then(|(c, b)| {
            catalog
                .collections
                .iter()
                .find(|x| x.name == c)
                .and_then(|x| x.bundle(b))
        });
        bundle.is_some_and(|b| b.tags.iter().any(|t| a.tags.contains(t)))
    };
    name_ok && tags_ok && !slx.stale
}

/// `*` matches any run of characters.
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            s.starts_with(head)
                && (0..=s.len() - head.len())
                    .any(|i| s.is_char_boundary(head.len() + i) && glob(tail, &s[head.len() + i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_facts_explain_only_what_they_concern() {
        let shop = Resource::new("tcp:localhost:8000", "http-service", "shopfront-8000")
            .with_prop("program", "shopfront")
            .with_prop("status", serde_json::json!({"pid": 4242}));
        let facts = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert!(facts_concern(
            &facts(serde_json::json!({"mount": "/", "used_pct": 99})),
            &shop
        ));
        assert!(facts_concern(
            &facts(serde_json::json!({"program": "shopfront"})),
            &shop
        ));
        assert!(facts_concern(
            &facts(serde_json::json!({"pid": 4242})),
            &shop
        ));
        assert!(!facts_concern(
            &facts(serde_json::json!({"program": "oomhog"})),
            &shop
        ));
    }

    #[test]
    fn globs_match_slx_names() {
        assert!(glob("pg-*", "pg-main-health"));
        assert!(glob("*-health", "pg-main-health"));
        assert!(glob("*", "x"));
        assert!(!glob("pg-*", "redis"));
        assert!(glob("a*b*c", "a-b-c"));
    }
}
