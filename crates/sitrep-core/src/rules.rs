//! Rules: standing guidance that changes how findings are read. A rule is a match (resource
//! or kind, tags, task, title pattern, severity, labels) and an effect (suppress, set the
//! severity, add context, mark as known/expected), optionally until a date. Rules change how
//! an issue is *read* (listed, taken into an investigation, judged as evidence); they never
//! change or delete what is stored.
//!
//! [`RuleSpec`] is the file format (`rules/*.yaml`, `docs/studio.md`); [`Rule::compile`]
//! checks it and names the field of each problem; [`apply`] is the one place rules take effect.

use crate::{Severity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Defaults to the file's name without `.yaml`.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "match", default)]
    pub matches: MatchSpec,
    #[serde(default)]
    pub effect: EffectSpec,
    /// The rule stops applying at this instant: a date (`2026-12-31`, midnight UTC) or RFC 3339.
    #[serde(default)]
    pub until: Option<String>,
}

/// What a rule matches; every field given must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// The issue's resource, by name or alias (`*` matches any run of characters).
    pub resource: Option<String>,
    /// The kind of the issue's resource (`postgres`, `http-service`, ...).
    pub kind: Option<String>,
    /// Any of these tags of the task (or its bundle) that raised the issue.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The task that raised it: `collection/bundle/task` or `bundle/task`, `*` allowed.
    pub task: Option<String>,
    /// A regular expression the title must match (case-insensitive).
    pub title: Option<String>,
    /// One severity or a list (1 critical .. 4 info).
    pub severity: Option<OneOrMany>,
    /// Labels of the issue's resource that must have these values (`*` allowed).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(u8),
    Many(Vec<u8>),
}

/// What a matching rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EffectSpec {
    /// Hide the issue from listings (shown, marked, with `all`) and from investigations.
    #[serde(default)]
    pub suppress: bool,
    /// Read the issue at this severity instead.
    pub severity: Option<u8>,
    /// Text added to the issue wherever it is shown (listings, investigations).
    pub context: Option<String>,
    /// The issue is known/expected: listed as such and ranked lower as a cause.
    #[serde(default)]
    pub known: bool,
}

/// A checked rule, ready to apply.
#[derive(Debug, Clone)]
pub struct Rule {
    pub spec: RuleSpec,
    title: Option<regex::Regex>,
    severities: Vec<Severity>,
    set_severity: Option<Severity>,
    pub until: Option<Timestamp>,
}

/// A problem with a rule, at a field path of its file (`match.title`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub field: String,
    pub message: String,
}

/// What rules match against: an issue as found, with what the Map and the bundles know of it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The issue's resource (its Map name where known).
    pub resource: &'a str,
    pub aliases: &'a [String],
    pub kind: Option<&'a str>,
    pub labels: Option<&'a BTreeMap<String, String>>,
    /// Tags of the task and its bundle.
    pub tags: &'a [String],
    /// `collection/bundle/task`.
    pub task: &'a str,
    pub title: &'a str,
    pub severity: Severity,
}

/// The effect of every applying rule on one issue. Rules apply in name order; each one
/// matches the issue as found (not as an earlier rule changed it); the first rule that sets a
/// severity (or marks it known) decides it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Ruling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// The severity rules read it at, with the rule that set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<SetSeverity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<Known>,
    /// Context texts, by rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<RuleNote>,
    /// Every rule that applied, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetSeverity {
    pub rule: String,
    pub from: Severity,
    pub to: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Known {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleNote {
    pub rule: String,
    pub text: String,
}

/// One rule applied to one issue, as an investigation's audit records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleApplication {
    pub rule: String,
    /// The issue (or, for a raise judged as evidence, the run) it applied to.
    pub issue: String,
    pub resource: String,
    pub title: String,
    /// What it did, in words: `suppressed`, `severity 3 → 1`, `known until ...`, `context: ...`.
    pub effects: Vec<String>,
}

impl Ruling {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    /// The severity to read the issue at.
    pub fn severity_or(&self, found: Severity) -> Severity {
        self.severity.as_ref().map_or(found, |s| s.to)
    }
    /// One entry per rule that applied, for an audit trail.
    pub fn applications(&self, issue: &str, s: &Subject<'_>) -> Vec<RuleApplication> {
        self.rules
            .iter()
            .map(|rule| {
                let mut effects = vec![];
                if self.suppressed_by.as_deref() == Some(rule) {
                    effects.push("suppressed".to_string());
                }
                if let Some(sev) = self.severity.as_ref().filter(|x| x.rule == *rule) {
                    effects.push(format!("severity {} → {}", sev.from.get(), sev.to.get()));
                }
                if let Some(k) = self.known.as_ref().filter(|k| k.rule == *rule) {
                    effects.push(match k.until {
                        Some(t) => format!("known until {}", t.to_rfc3339()),
                        None => "known".into(),
                    });
                }
                for c in self.context.iter().filter(|c| c.rule == *rule) {
                    effects.push(format!("context: {}", c.text));
                }
                RuleApplication {
                    rule: rule.clone(),
                    issue: issue.to_string(),
                    resource: s.resource.to_string(),
                    title: s.title.to_string(),
                    effects,
                }
            })
            .collect()
    }
}

/// `*` matches any run of characters; case-insensitive.
pub fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((c, rest)) => s
                .split_first()
                .is_some_and(|(x, srest)| x.eq_ignore_ascii_case(c) && go(rest, srest)),
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// A date (`2026-12-31`, midnight UTC) or an RFC 3339 instant.
pub fn parse_until(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.len() == 10 {
        return Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z"));
    }
    Timestamp::parse_rfc3339(s)
}

impl Rule {
    /// Checks a rule; every problem names its field.
    pub fn compile(spec: RuleSpec) -> Result<Rule, Vec<RuleProblem>> {
        let mut problems = vec![];
        let mut bad = |field: &str, message: String| {
            problems.push(RuleProblem {
                field: field.into(),
                message,
            })
        };
        if spec.name.is_empty()
            || !spec
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            bad(
                "name",
                format!("{:?} must be letters, digits, '-', '_' or '.'", spec.name),
            );
        }
        let m = &spec.matches;
        if m.resource.is_none()
            && m.kind.is_none()
            && m.tags.is_empty()
            && m.task.is_none()
            && m.title.is_none()
            && m.severity.is_none()
            && m.labels.is_empty()
        {
            bad(
                "match",
                "give at least one of resource, kind, tags, task, title, severity or labels (a rule that matches everything hides everything)".into(),
            );
        }
        for (field, v) in [
            ("match.resource", &m.resource),
            ("match.kind", &m.kind),
            ("match.task", &m.task),
        ] {
            if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                bad(field, "is empty".into());
            }
        }
        let title = match m.title.as_deref() {
            Some(t) => match regex::RegexBuilder::new(t)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
            {
                Ok(r) => Some(r),
                Err(e) => {
                    bad("match.title", format!("not a regular expression: {e}"));
                    None
                }
            },
            None => None,
        };
        let raw: Vec<u8> = match &m.severity {
            None => vec![],
            Some(OneOrMany::One(n)) => vec![*n],
            Some(OneOrMany::Many(v)) => v.clone(),
        };
        let mut severities = vec![];
        for n in raw {
            match Severity::new(n) {
                Ok(s) => severities.push(s),
                Err(e) => bad("match.severity", e),
            }
        }
        let e = &spec.effect;
        let set_severity = match e.severity.map(Severity::new) {
            Some(Ok(s)) => Some(s),
            Some(Err(msg)) => {
                bad("effect.severity", msg);
                None
            }
            None => None,
        };
        if !e.suppress && e.severity.is_none() && e.context.is_none() && !e.known {
            bad(
                "effect",
                "give at least one of suppress, severity, context or known".into(),
            );
        }
        if e.context.as_deref().is_some_and(|c| c.trim().is_empty()) {
            bad("effect.context", "is empty".into());
        }
        if e.context.as_deref().is_some_and(|c| c.len() > 2000) {
            bad("effect.context", "is longer than 2000 characters".into());
        }
        let until = match spec.until.as_deref() {
            Some(u) => match parse_until(u) {
                Some(t) => Some(t),
                None => {
                    bad(
                        "until",
                        format!("{u:?} is not a date (2026-12-31) or an RFC 3339 time"),
                    );
                    None
                }
            },
            None => None,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Rule {
            spec,
            title,
            severities,
            set_severity,
            until,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether the rule is in force at `now` (not past its `until`).
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|u| now < u)
    }

    /// Whether the rule matches the issue (regardless of `until`).
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        let m = &self.spec.matches;
        if let Some(p) = &m.resource
            && !(glob(p, s.resource) || s.aliases.iter().any(|a| glob(p, a)))
        {
            return false;
        }
        if let Some(k) = &m.kind
            && !s.kind.is_some_and(|x| x.eq_ignore_ascii_case(k))
        {
            return false;
        }
        if !m.tags.is_empty()
            && !m
                .tags
                .iter()
                .any(|t| s.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
        {
            return false;
        }
        if let Some(p) = &m.task {
            let short = s.task.split_once('/').map_or(s.task, |(_, rest)| rest);
            if !(glob(p, s.task) || glob(p, short)) {
                return false;
            }
        }
        if let Some(r) = &self.title
            && !r.is_match(s.title)
        {
            return false;
        }
        if !self.severities.is_empty() && !self.severities.contains(&s.severity) {
            return false;
        }
        m.labels
            .iter()
            .all(|(k, v)| s.labels.and_then(|l| l.get(k)).is_some_and(|x| glob(v, x)))
    }
}

/// Applies every rule in force at `now` to one issue (rules in the order given, which is
/// name order when loaded).
pub fn apply(rules: &[Rule], s: &Subject<'_>, now: Timestamp) -> Ruling {
    let mut out = Ruling::default();
    for r in rules.iter().filter(|r| r.in_force(now) && r.matches(s)) {
        let name = r.name().to_string();
        let e = &r.spec.effect;
        if e.suppress && out.suppressed_by.is_none() {
            out.suppressed_by = Some(name.clone());
        }
        if let Some(to) = r.set_severity
            && out.severity.is_none()
            && to != s.severity
        {
            out.severity = Some(SetSeverity {
                rule: name.clone(),
                from: s.severity,
                to,
            });
        }
        if e.known && out.known.is_none() {
            out.known = Some(Known {
                rule: name.clone(),
                until: r.until,
                reason: r.spec.description.clone(),
            });
        }
        if let Some(text) = &e.context {
            out.context.push(RuleNote {
                rule: name.clone(),
                text: text.clone(),
            });
        }
        out.rules.push(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml_like: RuleSpec) -> Rule {
        Rule::compile(yaml_like).unwrap()
    }

    fn subject<'a>(
        title: &'a str,
        severity: u8,
        labels: &'a BTreeMap<String, String>,
    ) -> Subject<'a> {
        Subject {
            resource: "pg-main",
            aliases: &[],
            kind: Some("postgres"),
            labels: Some(labels),
            tags: &[],
            task: "core/postgres/long-transactions",
            title,
            severity: Severity::new(severity).unwrap(),
        }
    }

    fn spec(name: &str, m: MatchSpec, e: EffectSpec) -> RuleSpec {
        RuleSpec {
            name: name.into(),
            matches: m,
            effect: e,
            ..Default::default()
        }
    }

    #[test]
    fn a_rule_matches_on_every_field_it_gives() {
        let labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        let r = rule(spec(
            "batch",
            MatchSpec {
                kind: Some("postgres".into()),
                task: Some("postgres/long-*".into()),
                title: Some("batch.*transaction".into()),
                severity: Some(OneOrMany::Many(vec![2, 3])),
                labels: BTreeMap::from([("env".to_string(), "pr*".to_string())]),
                ..Default::default()
            },
            EffectSpec {
                suppress: true,
                ..Default::default()
            },
        ));
        assert!(r.matches(&subject("Batch holds a transaction open", 3, &labels)));
        assert!(!r.matches(&subject("Batch holds a transaction open", 1, &labels)));
        assert!(!r.matches(&subject("replication lag", 3, &labels)));
        let staging = BTreeMap::from([("env".to_string(), "staging".to_string())]);
        assert!(!r.matches(&subject("batch transaction", 3, &staging)));
    }

    #[test]
    fn effects_combine_and_the_first_severity_wins() {
        let labels = BTreeMap::new();
        let on_pg = || MatchSpec {
            resource: Some("pg-*".into()),
            ..Default::default()
        };
        let rules = vec![
            rule(spec(
                "a-raise",
                on_pg(),
                EffectSpec {
                    severity: Some(1),
                    context: Some("pages the DBA".into()),
                    ..Default::default()
                },
            )),
            rule(spec(
                "b-lower",
                on_pg(),
                EffectSpec {
                    severity: Some(4),
                    known: true,
                    ..Default::default()
                },
            )),
        ];
        let s = subject("x", 3, &labels);
        let r = apply(&rules, &s, Timestamp(0));
        assert_eq!(r.severity_or(Severity::MINOR), Severity::CRITICAL);
        assert_eq!(r.rules, ["a-raise", "b-lower"]);
        assert_eq!(r.known.as_ref().unwrap().rule, "b-lower");
        assert!(r.suppressed_by.is_none());
        let apps = r.applications("i1", &s);
        assert_eq!(
            apps[0].effects,
            ["severity 3 → 1", "context: pages the DBA"]
        );
        assert_eq!(apps[1].effects, ["known"]);
    }

    #[test]
    fn a_rule_past_its_date_no_longer_applies() {
        let mut sp = spec(
            "maint",
            MatchSpec {
                resource: Some("pg-main".into()),
                ..Default::default()
            },
            EffectSpec {
                known: true,
                ..Default::default()
            },
        );
        sp.until = Some("2026-01-02".into());
        let r = rule(sp);
        let labels = BTreeMap::new();
        let s = subject("x", 2, &labels);
        let before = Timestamp::parse_rfc3339("2026-01-01T23:59:59Z").unwrap();
        let after = Timestamp::parse_rfc3339("2026-01-02T00:00:00Z").unwrap();
        assert!(apply(std::slice::from_ref(&r), &s, before).known.is_some());
        assert!(apply(std::slice::from_ref(&r), &s, after).is_empty());
    }

    #[test]
    fn bad_rules_name_their_fields() {
        let e = Rule::compile(RuleSpec {
            name: "x y".into(),
            matches: MatchSpec {
                title: Some("(".into()),
                severity: Some(OneOrMany::One(7)),
                ..Default::default()
            },
            effect: EffectSpec::default(),
            until: Some("soon".into()),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "match.title", "match.severity", "effect", "until"]
        );
        let empty = Rule::compile(spec(
            "e",
            MatchSpec::default(),
            EffectSpec {
                suppress: true,
                ..Default::default()
            },
        ))
        .unwrap_err();
        assert_eq!(empty[0].field, "match");
    }

    #[test]
    fn globs() {
        assert!(glob("pg-*", "PG-main"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "a-b-c"));
        assert!(!glob("pg-*", "redis"));
    }
}
