//! Workflows (`workflows/*.yaml`, `docs/workflows.md`): what an alert or a new issue leads to
//! beyond sitrep's own handling — which events a workflow takes (the source and label filters
//! of an alert, the severity of a new issue), which assistant investigates, and where the
//! answer is delivered (Slack, a signed webhook, email). Pure: a spec is compiled with every
//! problem named by its field, and matched against an event's facts.

use crate::Severity;
use crate::intake::Source;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod schedule;
mod slo;
mod target;
pub use schedule::*;
pub use slo::*;
pub use target::*;

/// A workflow as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    /// Default: the file's name without its extension.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    pub on: On,
    #[serde(default, skip_serializing_if = "Investigate::is_default")]
    pub investigate: Investigate,
    #[serde(default)]
    pub deliver: Vec<TargetSpec>,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

/// What starts it: exactly one of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct On {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<IssueFilter>,
    /// A signed JSON POST from any system (`crate::webhook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhook::WebhookTrigger>,
    /// A time of day, week or month (cron, UTC): a question or a command on a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleTrigger>,
    /// An SLX's health checks falling below an objective over a window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloTrigger>,
}

impl On {
    /// What starts it, in a few words (`alert from pagerduty`, `schedule 0 7 * * 1-5`).
    pub fn summary(&self) -> String {
        if let Some(a) = &self.alert {
            format!(
                "alert{}",
                a.source.map(|s| format!(" from {s}")).unwrap_or_default()
            )
        } else if let Some(i) = &self.issue {
            format!("issue, severity <= {}", i.severity_at_most)
        } else if self.webhook.is_some() {
            "signed webhook".into()
        } else if let Some(s) = &self.schedule {
            format!("schedule {} ({})", s.cron, s.zone_name())
        } else if let Some(s) = &self.slo {
            format!("slo {}% over {}", s.objective, s.window)
        } else {
            String::new()
        }
    }
}

/// An alert from a monitoring system's webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AlertFilter {
    /// Only alerts from this sender (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Each label must have this value, or one of these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, OneOrMany>,
}

/// An issue sitrep opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueFilter {
    /// Only issues at least this severe (1 critical .. 4 info).
    pub severity_at_most: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn accepts(&self, v: &str) -> bool {
        match self {
            OneOrMany::One(x) => x == v,
            OneOrMany::Many(xs) => xs.iter().any(|x| x == v),
        }
    }
}

/// How the event is investigated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Investigate {
    /// An assistant of the settings (default: the default assistant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant: Option<String>,
    /// The question asked, for a webhook (`${path}` is filled from the body) or a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// A command of the workspace (`commands/`) run on a schedule, or as the investigation of
    /// an alert or an issue, with its arguments (for an alert or an issue, `${NAME}` in an
    /// argument is filled from the alert's labels or the issue's fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

impl Investigate {
    fn is_default(&self) -> bool {
        *self == Investigate::default()
    }
}

/// One problem of a workflow, by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowProblem {
    pub field: String,
    pub message: String,
}

/// A checked workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    spec: WorkflowSpec,
    targets: Vec<Target>,
    schedule: Option<Schedule>,
}

/// What a scheduled workflow asks.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduledAsk {
    Question(String),
    Command { name: String, args: Vec<String> },
}

/// The facts of an alert a workflow filters on.
#[derive(Debug, Clone, Copy)]
pub struct AlertFacts<'a> {
    pub source: Source,
    pub labels: &'a BTreeMap<String, String>,
}

impl Workflow {
    /// Checks a workflow; every problem names its field.
    pub fn compile(spec: WorkflowSpec) -> Result<Workflow, Vec<WorkflowProblem>> {
        let mut problems = vec![];
        let mut bad =
            |field: String, message: String| problems.push(WorkflowProblem { field, message });
        if spec.name.is_empty()
            || !spec
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            bad(
                "name".into(),
                format!("{:?} must be letters, digits, '-', '_' or '.'", spec.name),
            );
        }
        let on = &spec.on;
        let triggers = usize::from(on.alert.is_some())
            + usize::from(on.issue.is_some())
            + usize::from(on.webhook.is_some())
            + usize::from(on.schedule.is_some())
            + usize::from(on.slo.is_some());
        if triggers != 1 {
            bad(
                "on".into(),
                "give exactly one of alert, issue, webhook, schedule or slo".into(),
            );
        }
        if let Some(slo) = &on.slo {
            for (field, message) in slo.check() {
                bad(field, message);
            }
        }
        let inv = &spec.investigate;
        let mut webhook_problems = vec![];
        let mut schedule = None;
        if let Some(w) = &on.webhook {
            w.check(inv.question.as_deref(), &mut webhook_problems);
        } else if let Some(sch) = &on.schedule {
            let zone = match sch.timezone.as_deref().map(time_zone).transpose() {
                Ok(z) => z.unwrap_or(jiff::tz::TimeZone::UTC),
                Err(e) => {
                    bad("on.schedule.timezone".into(), e);
                    jiff::tz::TimeZone::UTC
                }
            };
            match Schedule::parse_in(&sch.cron, zone) {
                Ok(s) => schedule = Some(s),
                Err(e) => bad("on.schedule.cron".into(), e),
            }
            if inv.question.is_some() == inv.command.is_some() {
                bad(
                    "investigate".into(),
                    "a schedule asks something: give exactly one of question or command".into(),
                );
            }
            if inv.command.as_deref().is_some_and(|c| c.trim().is_empty()) {
                bad(
                    "investigate.command".into(),
                    "name a command of the workspace's commands/".into(),
                );
            }
        } else if inv.question.is_some() {
            bad(
                "investigate.question".into(),
                "only a webhook or a schedule workflow asks a question of its own (an alert, an issue or an SLO breach is its own question)".into(),
            );
        }
        if on.webhook.is_some() && inv.command.is_some() {
            bad(
                "investigate.command".into(),
                "a webhook asks its question: write it as `/COMMAND ARGS` to run a command".into(),
            );
        }
        if inv.command.as_deref().is_some_and(|c| c.trim().is_empty()) && on.schedule.is_none() {
            bad(
                "investigate.command".into(),
                "name a command of the workspace's commands/".into(),
            );
        }
        for (i, a) in inv.args.iter().enumerate() {
            if let Err(e) = crate::template::substitute(a, |_| Some(String::new())) {
                bad(format!("investigate.args[{i}]"), e);
            }
        }
        if inv.command.is_none() && !inv.args.is_empty() {
            bad(
                "investigate.args".into(),
                "args go to a command: name one in investigate.command".into(),
            );
        }
        for p in webhook_problems {
            bad(p.field, p.message);
        }
        if let Some(i) = &spec.on.issue
            && let Err(e) = Severity::new(i.severity_at_most)
        {
            bad("on.issue.severity_at_most".into(), e);
        }
        if spec.deliver.is_empty() {
            bad(
                "deliver".into(),
                "give at least one target (slack, webhook, email or pagerduty): a workflow delivers its answer".into(),
            );
        }
        let mut targets = vec![];
        for (i, t) in spec.deliver.iter().enumerate() {
            let Some(t) = t.target() else {
                let message = if t.kind() == "slack"
                    && t.webhook.is_none()
                    && t.email.is_none()
                    && t.pagerduty.is_none()
                {
                    "give slack either webhook_url, or token and channel (the Web API)"
                } else {
                    "give exactly one of slack, webhook, email or pagerduty"
                };
                bad(format!("deliver[{i}]"), message.into());
                continue;
            };
            for (field, message) in t.problems() {
                bad(format!("deliver[{i}].{}.{field}", t.kind()), message);
            }
            let from_pagerduty = spec
                .on
                .alert
                .as_ref()
                .is_some_and(|a| a.source == Some(Source::Pagerduty));
            if matches!(t, Target::Pagerduty { .. }) && !from_pagerduty {
                bad(
                    format!("deliver[{i}].pagerduty"),
                    "a note goes on the PagerDuty incident that started the session: use it in a workflow `on: alert: {source: pagerduty}`".into(),
                );
            }
            targets.push(t);
        }
        if problems.is_empty() {
            Ok(Workflow {
                spec,
                targets,
                schedule,
            })
        } else {
            Err(problems)
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }
    pub fn spec(&self) -> &WorkflowSpec {
        &self.spec
    }
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }
    pub fn assistant(&self) -> Option<&str> {
        self.spec.investigate.assistant.as_deref()
    }

    /// Whether it takes this alert.
    pub fn takes_alert(&self, alert: AlertFacts<'_>) -> bool {
        let Some(f) = self.spec.on.alert.as_ref().filter(|_| self.spec.enabled) else {
            return false;
        };
        f.source.is_none_or(|s| s == alert.source)
            && f.labels
                .iter()
                .all(|(k, want)| alert.labels.get(k).is_some_and(|v| want.accepts(v)))
    }

    /// Its webhook trigger and question, when it is a webhook workflow that is enabled.
    pub fn webhook(&self) -> Option<(&crate::webhook::WebhookTrigger, &str)> {
        let w = self
            .spec
            .on
            .webhook
            .as_ref()
            .filter(|_| self.spec.enabled)?;
        Some((w, self.spec.investigate.question.as_deref()?))
    }

    /// When it next fires strictly after `after`, when it is an enabled schedule workflow.
    pub fn next_fire(&self, after: crate::Timestamp) -> Option<crate::Timestamp> {
        self.schedule
            .as_ref()
            .filter(|_| self.spec.enabled)?
            .next_after(after)
    }

    /// What a schedule workflow asks each time it fires.
    pub fn scheduled_ask(&self) -> Option<ScheduledAsk> {
        self.schedule.as_ref()?;
        let inv = &self.spec.investigate;
        match (&inv.question, &inv.command) {
            (Some(q), _) => Some(ScheduledAsk::Question(q.clone())),
            (None, Some(c)) => Some(ScheduledAsk::Command {
                name: c.clone(),
                args: inv.args.clone(),
            }),
            (None, None) => None,
        }
    }

    /// The command an alert, issue or SLO workflow runs as its investigation, with its
    /// arguments as written (`${NAME}` filled per event by [`fill_args`]).
    pub fn event_command(&self) -> Option<(&str, &[String])> {
        if self.schedule.is_some() {
            return None;
        }
        let inv = &self.spec.investigate;
        Some((inv.command.as_deref()?, inv.args.as_slice()))
    }

    /// Its SLO trigger, when it is an SLO workflow that is enabled.
    pub fn slo(&self) -> Option<&SloTrigger> {
        self.spec.on.slo.as_ref().filter(|_| self.spec.enabled)
    }

    /// Whether it takes a newly opened issue of this severity.
    pub fn takes_issue(&self, severity: Severity) -> bool {
        self.spec
            .on
            .issue
            .as_ref()
            .filter(|_| self.spec.enabled)
            .is_some_and(|f| severity.get() <= f.severity_at_most)
    }
}

/// A command's arguments with each `${NAME}` filled from the event (an alert's labels, an
/// issue's fields); a name the event lacks is an error naming it and what it has.
pub fn fill_args(
    args: &[String],
    what: &str,
    lookup: impl Fn(&str) -> Option<String>,
    known: &[&str],
) -> Result<Vec<String>, String> {
    args.iter()
        .map(|a| {
            crate::template::substitute(a, &lookup).map_err(|_| {
                let missing: Vec<String> = crate::template::references(a)
                    .into_iter()
                    .filter(|n| lookup(n).is_none())
                    .collect();
                format!(
                    "investigate.args: {what} has no {} (it has {})",
                    missing.join(", "),
                    known.join(", ")
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str) -> Result<Workflow, Vec<WorkflowProblem>> {
        let spec: WorkflowSpec = yaml_serde::from_str(yaml).expect("parses");
        Workflow::compile(spec)
    }

    /// The fields of the problems of a workflow that does not compile.
    fn fields(yaml: &str) -> Vec<String> {
        compile(yaml)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn slack_takes_a_webhook_url_or_a_bot_token_and_channel_never_both() {
        let w = compile(
            "name: t\non: {alert: {}}\ndeliver: [{slack: {token: 'secret:bot', channel: C123}}]",
        )
        .unwrap();
        assert_eq!(
            w.targets(),
            [Target::SlackApi {
                token: "secret:bot".into(),
                channel: "C123".into(),
                api_url: None
            }]
        );
        assert_eq!(w.targets()[0].kind(), "slack");
        assert_eq!(
            fields("name: t\non: {alert: {}}\ndeliver: [{slack: {token: xoxb-1, channel: ''}}]"),
            ["deliver[0].slack.token", "deliver[0].slack.channel"]
        );
        assert_eq!(
            fields(
                "name: t\non: {alert: {}}\ndeliver: [{slack: {webhook_url: 'secret:a', token: 'secret:b', channel: C1}}]"
            ),
            ["deliver[0]"]
        );
    }

    #[test]
    fn an_alert_workflow_filters_on_source_and_labels() {
        let w = compile(
            "name: pages\non: {alert: {source: alertmanager, labels: {severity: [critical, page], team: db}}}\ndeliver: [{slack: {webhook_url: 'secret:SLACK'}}]",
        )
        .unwrap();
        let l = labels(&[("severity", "page"), ("team", "db"), ("x", "y")]);
        let am = AlertFacts {
            source: Source::Alertmanager,
            labels: &l,
        };
        assert!(w.takes_alert(am));
        assert!(!w.takes_alert(AlertFacts {
            source: Source::Pagerduty,
            labels: &l
        }));
        let warn = labels(&[("severity", "warning"), ("team", "db")]);
        assert!(!w.takes_alert(AlertFacts {
            source: Source::Alertmanager,
            labels: &warn
        }));
        assert!(!w.takes_issue(Severity::CRITICAL));
    }

    #[test]
    fn an_issue_workflow_takes_issues_at_least_as_severe() {
        let w = compile(
            "name: sev2\non: {issue: {severity_at_most: 2}}\ndeliver: [{webhook: {url: 'http://127.0.0.1:1/x'}}]",
        )
        .unwrap();
        assert!(w.takes_issue(Severity::CRITICAL));
        assert!(w.takes_issue(Severity::MAJOR));
        assert!(!w.takes_issue(Severity::MINOR));
        let off = compile(
            "name: off\nenabled: false\non: {issue: {severity_at_most: 4}}\ndeliver: [{webhook: {url: 'http://x'}}]",
        )
        .unwrap();
        assert!(!off.takes_issue(Severity::CRITICAL));
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let e = compile(
            "name: 'bad name'\non: {}\ndeliver:\n- slack: {webhook_url: 'hooks.slack.com/x'}\n- webhook: {url: 'https://x', secret: hunter2}\n- email: {smtp: 'mail:25', from: me, to: []}",
        )
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "on",
                "deliver[0].slack.webhook_url",
                "deliver[1].webhook.secret",
                "deliver[2].email.smtp",
                "deliver[2].email.from",
                "deliver[2].email.to"
            ]
        );
        assert!(e[3].message.contains("not the key"), "{}", e[3].message);
        let none = compile("name: x\non: {issue: {severity_at_most: 9}}").unwrap_err();
        let fields: Vec<&str> = none.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["on.issue.severity_at_most", "deliver"]);
    }

    #[test]
    fn a_pagerduty_note_needs_a_pagerduty_incident_a_key_reference_and_an_author() {
        let ok = compile(
            "name: x\non: {alert: {source: pagerduty}}\ndeliver:\n- pagerduty: {token: 'secret:pd', from: 'oncall@example.com'}",
        )
        .unwrap();
        assert_eq!(ok.targets()[0].kind(), "pagerduty");
        let e = compile(
            "name: x\non: {alert: {source: alertmanager}}\ndeliver:\n- pagerduty: {token: 'u+key', from: oncall, api_url: 'pd.local'}\n- {pagerduty: {token: 'secret:pd', from: 'a@b'}, email: {smtp: 'smtp://h:25', from: 'a@b', to: ['c@d']}}",
        )
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "deliver[0].pagerduty.token",
                "deliver[0].pagerduty.from",
                "deliver[0].pagerduty.api_url",
                "deliver[0].pagerduty",
                "deliver[1]"
            ]
        );
        assert!(
            e[3].message.contains("source: pagerduty"),
            "{}",
            e[3].message
        );
        assert!(e[4].message.contains("exactly one of"), "{}", e[4].message);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<WorkflowSpec, _> =
            yaml_serde::from_str("name: x\non: {alert: {}}\ndeliver: [{slack: {url: 'http://x'}}]");
        assert!(r.is_err());
        let two = compile(
            "name: x\non: {alert: {}}\ndeliver: [{slack: {webhook_url: 'http://x'}, webhook: {url: 'http://y'}}]",
        )
        .unwrap_err();
        assert_eq!(two[0].field, "deliver[0]");
    }

    #[test]
    fn a_webhook_workflow_needs_its_question_and_only_it_has_one() {
        let w = compile(
            "name: ci\non: {webhook: {secret: 'secret:CI', key: [repo]}}\ninvestigate: {question: 'Why did ${repo} fail?'}\ndeliver: [{webhook: {url: 'http://x'}}]",
        )
        .unwrap();
        let (t, q) = w.webhook().unwrap();
        assert_eq!(
            (t.key.as_slice(), q),
            (&["repo".to_string()][..], "Why did ${repo} fail?")
        );
        let e = compile("name: ci\non: {webhook: {secret: 'secret:CI'}}\ndeliver: [{webhook: {url: 'http://x'}}]").unwrap_err();
        assert_eq!(e[0].field, "investigate.question");
        let e = compile("name: a\non: {alert: {}}\ninvestigate: {question: 'x'}\ndeliver: [{webhook: {url: 'http://x'}}]").unwrap_err();
        assert_eq!(e[0].field, "investigate.question");
        let e = compile("name: a\non: {alert: {}, webhook: {secret: 'secret:x'}}\ninvestigate: {question: 'x'}\ndeliver: [{webhook: {url: 'http://x'}}]").unwrap_err();
        assert_eq!(e[0].field, "on");
    }

    #[test]
    fn a_schedule_workflow_asks_a_question_or_runs_a_command_at_its_times() {
        let w = compile(
            "name: morning
on: {schedule: {cron: '0 7 * * 1-5'}}
investigate: {command: db-triage, args: [shop, window=1h]}
deliver: [{webhook: {url: 'http://x'}}]",
        )
        .unwrap();
        assert_eq!(
            w.scheduled_ask(),
            Some(ScheduledAsk::Command {
                name: "db-triage".into(),
                args: vec!["shop".into(), "window=1h".into()]
            })
        );
        // 2026-12-03 is a Thursday: next at Friday 07:00 UTC.
        let thu = crate::Timestamp(1_796_310_000_000);
        let fri_7 = crate::Timestamp(1_796_367_600_000);
        assert_eq!(w.next_fire(thu), Some(fri_7));
        let q = compile(
            "name: q
on: {schedule: {cron: '@hourly'}}
investigate: {question: 'Is checkout healthy?'}
deliver: [{webhook: {url: 'http://x'}}]",
        )
        .unwrap();
        assert_eq!(
            q.scheduled_ask(),
            Some(ScheduledAsk::Question("Is checkout healthy?".into()))
        );
        assert!(!w.takes_issue(Severity::new(1).unwrap()));
        // A disabled one never fires.
        let off = compile(
            "name: q
enabled: false
on: {schedule: {cron: '@hourly'}}
investigate: {question: 'x'}
deliver: [{webhook: {url: 'http://x'}}]",
        )
        .unwrap();
        assert_eq!(off.next_fire(thu), None);
        let to = "deliver: [{webhook: {url: 'http://x'}}]";
        assert_eq!(
            fields(&format!(
                "name: b
on: {{schedule: {{cron: 'at seven'}}}}
investigate: {{question: x}}
{to}"
            )),
            ["on.schedule.cron"]
        );
        assert_eq!(
            fields(&format!(
                "name: b
on: {{schedule: {{cron: '@daily', timezone: Europe/Atlantis}}}}
investigate: {{question: x}}
{to}"
            )),
            ["on.schedule.timezone"]
        );
        let paris = compile(&format!(
            "name: p
on: {{schedule: {{cron: '0 7 * * *', timezone: Europe/Paris}}}}
investigate: {{question: x}}
{to}"
        ))
        .unwrap();
        assert_eq!(
            paris.spec().on.summary(),
            "schedule 0 7 * * * (Europe/Paris)"
        );
        assert_eq!(
            fields(&format!(
                "name: b
on: {{schedule: {{cron: '@daily'}}}}
{to}"
            )),
            ["investigate"]
        );
        assert_eq!(
            fields(&format!(
                "name: b
on: {{schedule: {{cron: '@daily'}}}}
investigate: {{question: x, command: y}}
{to}"
            )),
            ["investigate"]
        );
        // An alert or an issue may be investigated by a command, its args filled per event.
        let by_command = compile(&format!(
            "name: b
on: {{alert: {{}}}}
investigate: {{command: db-triage, args: ['${{resource}}', window=1h]}}
{to}"
        ))
        .unwrap();
        let (name, args) = by_command.event_command().unwrap();
        assert_eq!(name, "db-triage");
        let labels = BTreeMap::from([("resource".to_string(), "pg-1".to_string())]);
        let lookup = |n: &str| labels.get(n).cloned();
        assert_eq!(
            fill_args(args, "the alert", lookup, &["resource"]).unwrap(),
            ["pg-1", "window=1h"]
        );
        let e = fill_args(&["${host}".into()], "the alert", lookup, &["resource"]).unwrap_err();
        assert!(e.contains("no host") && e.contains("resource"), "{e}");
        assert_eq!(
            fields(&format!(
                "name: b
on: {{webhook: {{secret: 'secret:K'}}}}
investigate: {{question: x, command: y}}
{to}"
            )),
            ["investigate.command"]
        );
        assert_eq!(
            fields(&format!(
                "name: b
on: {{issue: {{severity_at_most: 2}}}}
investigate: {{command: y, args: ['${{resource']}}
{to}"
            )),
            ["investigate.args[0]"]
        );
        assert_eq!(
            fields(&format!(
                "name: b
on: {{schedule: {{cron: '@daily'}}}}
investigate: {{question: x, args: [z]}}
{to}"
            )),
            ["investigate.args"]
        );
    }
}
