//! Rules from the workspace folder's `rules/*.yaml` (`docs/studio.md`): loaded and checked
//! with file, line and field, and applied by `sitrep_core::rules::apply` wherever issues are
//! read: listings ([`Sitrep::issues`]), an investigation's context and its evidence
//! (`investigate::studio`). A rule never changes or deletes anything stored.

use crate::files::{Loaded, NamedFile, load_named};
use crate::views::ProblemView;
use crate::{EngineError, IssueQuery, Result, Sitrep};
use serde::{Deserialize, Serialize};
use sitrep_bundles::Catalog;
use sitrep_core::map::Map;
use sitrep_core::rules::{Rule, RuleSpec, Ruling, Subject, apply};
use sitrep_core::{Issue, Severity, TaskRef, Timestamp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A rule as listed and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleView {
    pub name: String,
    pub file: String,
    /// False once its `until` has passed.
    pub in_force: bool,
    #[serde(flatten)]
    pub spec: RuleSpec,
}

/// An issue as listed: its severity as the rules read it, and what the rules did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueView {
    #[serde(flatten)]
    pub issue: Issue,
    #[serde(default, skip_serializing_if = "Ruling::is_empty")]
    pub ruling: Ruling,
}

impl std::ops::Deref for IssueView {
    type Target = Issue;
    fn deref(&self) -> &Issue {
        &self.issue
    }
}

impl IssueView {
    /// A short mark of what rules did, for a listing (`suppressed by noisy-batch`, ...).
    pub fn mark(&self) -> Option<String> {
        let r = &self.ruling;
        let mut parts = vec![];
        if let Some(by) = &r.suppressed_by {
            parts.push(format!("suppressed by {by}"));
        }
        if let Some(k) = &r.known {
            parts.push(match k.until {
                Some(t) => format!("known until {} ({})", &t.to_rfc3339()[..10], k.rule),
                None => format!("known ({})", k.rule),
            });
        }
        if let Some(s) = &r.severity {
            parts.push(format!("severity {} by {}", s.from.get(), s.rule));
        }
        for c in &r.context {
            parts.push(c.text.clone());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// What a rule would change among the open issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTestView {
    pub rule: String,
    pub in_force: bool,
    pub changes: Vec<sitrep_core::rules::RuleApplication>,
}

pub(crate) type LoadedRules = Loaded<Rule>;

impl Loaded<Rule> {
    pub fn rules(&self) -> Vec<Rule> {
        self.items.iter().map(|(r, _)| r.clone()).collect()
    }
}

impl NamedFile for Rule {
    type Spec = RuleSpec;
    const KIND: &'static str = "rule";
    fn spec_name(spec: &mut RuleSpec) -> &mut String {
        &mut spec.name
    }
    fn compile(spec: RuleSpec) -> std::result::Result<Rule, Vec<(String, String)>> {
        Rule::compile(spec).map_err(|ps| ps.into_iter().map(|p| (p.field, p.message)).collect())
    }
    fn name(&self) -> &str {
        Rule::name(self)
    }
}

/// Reads and checks `rules/*.yaml` (or one file).
pub(crate) fn load_rules(path: &Path) -> Result<LoadedRules> {
    load_named(path)
}

/// What the Map and the bundles know of an issue's resource and task, for rule matching.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubjectFacts {
    pub resource: String,
    pub aliases: Vec<String>,
    pub kind: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub tags: Vec<String>,
}

impl SubjectFacts {
    pub fn of(map: &Map, catalog: &Catalog, resource: &str, task: &str) -> SubjectFacts {
        let r = crate::investigate::resolve(map, resource);
        let tags = TaskRef::parse(task)
            .ok()
            .and_then(|t| {
                catalog.resolve(&t).ok().map(|x| {
                    let mut v = x.bundle.tags.clone();
                    v.extend(x.task.tags.iter().cloned());
                    v
                })
            })
            .unwrap_or_default();
        SubjectFacts {
            resource: r.map_or_else(|| resource.to_string(), |r| r.name.clone()),
            aliases: r
                .map(|r| {
                    let mut a = r.aliases.clone();
                    a.push(resource.to_string());
                    a
                })
                .unwrap_or_default(),
            kind: r.map(|r| r.kind.clone()),
            labels: r.map(|r| r.labels.clone()).unwrap_or_default(),
            tags,
        }
    }

    pub fn subject<'a>(&'a self, task: &'a str, title: &'a str, severity: Severity) -> Subject<'a> {
        Subject {
            resource: &self.resource,
            aliases: &self.aliases,
            kind: self.kind.as_deref(),
            labels: Some(&self.labels),
            tags: &self.tags,
            task,
            title,
            severity,
        }
    }
}

/// Applies `rules` to issues: each one's ruling, and its severity as ruled.
pub(crate) fn rule_issues(
    rules: &[Rule],
    map: &Map,
    catalog: &Catalog,
    issues: Vec<Issue>,
    now: Timestamp,
) -> Vec<IssueView> {
    issues
        .into_iter()
        .map(|mut issue| {
            let facts = SubjectFacts::of(map, catalog, &issue.resource, &issue.task);
            let ruling = apply(
                rules,
                &facts.subject(&issue.task, &issue.title, issue.severity),
                now,
            );
            issue.severity = ruling.severity_or(issue.severity);
            IssueView { issue, ruling }
        })
        .collect()
}

impl Sitrep {
    fn rules_dir(&self) -> PathBuf {
        self.workspace_dir().join("rules")
    }

    /// The workspace's rules in force and not, by name. Files with problems are skipped
    /// (each logged; `validate_rules` lists them).
    pub(crate) async fn loaded_rules(&self) -> Result<LoadedRules> {
        let dir = self.rules_dir();
        let loaded = tokio::task::spawn_blocking(move || load_rules(&dir))
            .await
            .map_err(|e| EngineError::Invalid(format!("reading rules crashed: {e}")))??;
        for p in &loaded.problems {
            tracing::warn!(problem = %p, "rule skipped");
        }
        Ok(loaded)
    }

    /// Every valid rule of the workspace folder's `rules/`.
    pub async fn rules(&self) -> Result<Vec<RuleView>> {
        let now = self.now();
        Ok(self
            .loaded_rules()
            .await?
            .items
            .into_iter()
            .map(|(r, f)| RuleView {
                name: r.name().to_string(),
                file: f.display().to_string(),
                in_force: r.in_force(now),
                spec: r.spec,
            })
            .collect())
    }

    pub async fn rule(&self, name: &str) -> Result<RuleView> {
        self.rules()
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| {
                EngineError::not_found(
                    "rule",
                    name,
                    "rules are the files of the workspace folder's rules/",
                )
            })
    }

    /// Checks the workspace's rules (or the rule files at `path`): every problem with its
    /// file, line and field.
    pub async fn validate_rules(&self, path: Option<&Path>) -> Result<Vec<ProblemView>> {
        let p = path.map_or_else(|| self.rules_dir(), Path::to_path_buf);
        Ok(tokio::task::spawn_blocking(move || load_rules(&p))
            .await
            .map_err(|e| EngineError::Invalid(format!("reading rules crashed: {e}")))??
            .problems)
    }

    /// Which open issues the rule `name` would change, and how (whether or not it is in force).
    pub async fn rule_test(&self, name: &str) -> Result<RuleTestView> {
        let loaded = self.loaded_rules().await?;
        let Some((rule, _)) = loaded.items.iter().find(|(r, _)| r.name() == name) else {
            return Err(EngineError::not_found(
                "rule",
                name,
                "rules are the files of the workspace folder's rules/",
            ));
        };
        let issues = self.stored_issues(&IssueQuery::default()).await?;
        let map = self.load_map(false).await?;
        let catalog = self.catalog().await?;
        // As if in force: the earliest instant is before any `until`.
        let always = Timestamp(i64::MIN);
        let mut changes = vec![];
        for i in &issues {
            let facts = SubjectFacts::of(&map, &catalog, &i.resource, &i.task);
            let s = facts.subject(&i.task, &i.title, i.severity);
            changes.extend(apply(std::slice::from_ref(rule), &s, always).applications(&i.id, &s));
        }
        Ok(RuleTestView {
            rule: name.to_string(),
            in_force: rule.in_force(self.now()),
            changes,
        })
    }
}
