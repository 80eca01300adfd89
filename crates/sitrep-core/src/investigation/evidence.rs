//! How strong one task result is for one hypothesis. Decided by what the task reported,
//! never by anyone's opinion:
//!
//! | the run                                                          | strength        |
//! |------------------------------------------------------------------|-----------------|
//! | did not succeed (failed, timed out, interrupted, inconclusive)   | unknown         |
//! | raised an issue of severity 1 or 2 on the hypothesis' resource   | strong          |
//! | raised only milder issues (3, 4) on that resource                | weak            |
//! | raised nothing there, and it is the check of the issue the hypothesis came from | contradicting |
//! | raised nothing there                                             | none            |

use super::{Hypothesis, Source, Strength};
use crate::{RunStatus, Severity, Timestamp};

/// An issue a run raised, as evidence sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RaisedIssue {
    pub issue_id: String,
    pub severity: Severity,
    pub title: String,
    pub resource: String,
    pub data: serde_json::Map<String, serde_json::Value>,
    /// When the last event behind it happened (an issue raised from events in a window).
    pub last_event_at: Option<Timestamp>,
    /// Since when sitrep's checks have seen it: when the issue opened, or last reopened.
    pub since: Option<Timestamp>,
}

/// What one finished run showed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    pub task: String,
    pub status: RunStatus,
    pub error: Option<String>,
    pub issues: Vec<RaisedIssue>,
    /// The open issues (ids) the run resolved.
    pub resolved: Vec<String>,
}

/// The verdict of one run on one hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub strength: Strength,
    pub summary: String,
    pub issue: Option<RaisedIssue>,
}

pub fn judge(h: &Hypothesis, run: &RunFacts) -> Judgement {
    if run.status != RunStatus::Succeeded {
        let why = run.error.as_deref().unwrap_or("no reason given");
        return Judgement {
            strength: Strength::Unknown,
            summary: format!("could not check ({}): {}", run.status, first_line(why)),
            issue: None,
        };
    }
    let worst = run
        .issues
        .iter()
        .filter(|i| i.resource == h.resource)
        .min_by_key(|i| i.severity);
    if let Some(i) = worst {
        let strength = if i.severity <= Severity::MAJOR {
            Strength::Strong
        } else {
            Strength::Weak
        };
        return Judgement {
            strength,
            summary: i.title.clone(),
            issue: Some(i.clone()),
        };
    }
    let own_check = match &h.source {
        Source::Issue { issue_id } => run.resolved.iter().any(|r| r == issue_id),
        _ => false,
    };
    if own_check {
        Judgement {
            strength: Strength::Contradicting,
            summary: "no longer raises the issue this came from".into(),
            issue: None,
        }
    } else {
        Judgement {
            strength: Strength::None,
            summary: format!("no issue on {}", h.resource),
            issue: None,
        }
    }
}

fn first_line(s: &str) -> &str {
    let l = s.lines().next().unwrap_or("");
    match l.char_indices().nth(200) {
        Some((i, _)) => &l[..i],
        None => l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigation::{HypothesisStatus, Remedy};

    fn hyp(source: Source) -> Hypothesis {
        Hypothesis {
            id: "h1".into(),
            parent: None,
            depth: 0,
            statement: "s".into(),
            resource: "pg".into(),
            category: "c".into(),
            source,
            confirm_if: String::new(),
            refute_if: String::new(),
            tests: vec![],
            status: HypothesisStatus::Active,
            prior: 0.5,
            remedy: Remedy::default(),
            signal: false,
            change: false,
            symptoms: vec![],
        }
    }

    fn issue(sev: u8, resource: &str) -> RaisedIssue {
        RaisedIssue {
            issue_id: format!("i{sev}"),
            severity: Severity::new(sev).unwrap(),
            title: format!("sev {sev}"),
            resource: resource.into(),
            data: Default::default(),
            last_event_at: None,
            since: None,
        }
    }

    fn run(status: RunStatus, issues: Vec<RaisedIssue>, resolved: Vec<&str>) -> RunFacts {
        RunFacts {
            task: "core/postgres/x".into(),
            status,
            error: Some("boom".into()),
            issues,
            resolved: resolved.into_iter().map(str::to_string).collect(),
        }
    }

    #[test]
    fn strength_follows_the_documented_table() {
        let h = hyp(Source::Health { slx: "s".into() });
        let j = |r: RunFacts| judge(&h, &r).strength;
        assert_eq!(
            j(run(RunStatus::Failed, vec![issue(1, "pg")], vec![])),
            Strength::Unknown
        );
        assert_eq!(
            j(run(RunStatus::TimedOut, vec![], vec![])),
            Strength::Unknown
        );
        assert_eq!(
            j(run(
                RunStatus::Succeeded,
                vec![issue(3, "pg"), issue(2, "pg")],
                vec![]
            )),
            Strength::Strong
        );
        assert_eq!(
            j(run(RunStatus::Succeeded, vec![issue(3, "pg")], vec![])),
            Strength::Weak
        );
        // An issue about another resource says nothing about this one.
        assert_eq!(
            j(run(RunStatus::Succeeded, vec![issue(1, "redis")], vec![])),
            Strength::None
        );
        assert_eq!(j(run(RunStatus::Succeeded, vec![], vec![])), Strength::None);
    }

    #[test]
    fn the_issue_a_hypothesis_came_from_resolving_contradicts_it() {
        let h = hyp(Source::Issue {
            issue_id: "i9".into(),
        });
        assert_eq!(
            judge(&h, &run(RunStatus::Succeeded, vec![], vec!["i9"])).strength,
            Strength::Contradicting
        );
        assert_eq!(
            judge(&h, &run(RunStatus::Succeeded, vec![], vec!["other"])).strength,
            Strength::None
        );
    }
}
