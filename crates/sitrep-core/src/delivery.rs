//! Delivering an investigation's answer where people work: one [`Delivery`] per workflow
//! target and session, stored when the investigation starts (so a restart delivers what was
//! not delivered), sent once the session has finished, retried with backoff, and carrying
//! its own id as the idempotency key. The messages are rendered here from the session.

use crate::Timestamp;
use crate::investigation::{Session, SessionStatus, Trigger, Verdict};
use crate::workflow::Target;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

crate::types::string_enum!(
    /// Where a delivery is: waiting for its session to finish or for its next attempt,
    /// delivered, or given up.
    DeliveryStatus { Pending = "pending", Delivered = "delivered", Failed = "failed" }
    expected "pending, delivered or failed"
);

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 8;

/// One answer to send to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Also the idempotency key the receiver sees.
    pub id: String,
    pub workspace: String,
    pub workflow: String,
    pub session_id: String,
    pub target: Target,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub created_at: Timestamp,
    /// Not before then (a retry's backoff).
    pub next_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Slack's Web API: the `ts` of the message this delivery posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_ts: Option<String>,
    /// Slack's Web API: the thread it was posted in (the session's first message's `ts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

/// The wait before attempt `n + 1` after `n` failed ones: 5 s, doubling, at most 10 minutes.
pub fn backoff(failed: u32) -> Duration {
    let s = 5u64.saturating_mul(1 << failed.saturating_sub(1).min(16));
    Duration::from_secs(s.min(600))
}

impl Delivery {
    /// Records a failed attempt: the next one after the backoff, or given up.
    pub fn failed(&mut self, now: Timestamp, error: String) {
        self.attempts += 1;
        self.last_error = Some(error);
        if self.attempts >= MAX_ATTEMPTS {
            self.status = DeliveryStatus::Failed;
        } else {
            self.next_at = now.add(backoff(self.attempts));
        }
    }

    pub fn delivered(&mut self, now: Timestamp) {
        self.attempts += 1;
        self.status = DeliveryStatus::Delivered;
        self.delivered_at = Some(now);
        self.last_error = None;
    }
}

/// What is said about a finished session, whatever the channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub session_id: String,
    pub workspace: String,
    /// What started it (an alert's name, a question, an issue's title).
    pub about: String,
    pub status: SessionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The root cause in words, or what the session suggests below its threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub culprit: Option<String>,
    pub confidence: f64,
    /// The evidence chain, symptom first.
    pub chain: Vec<String>,
    pub next_checks: Vec<String>,
    /// Remediations waiting for a human's approval.
    pub proposals: usize,
    pub summary: String,
    /// The PagerDuty incident that started the session, if one did (where a note goes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

impl Report {
    pub fn of(s: &Session) -> Report {
        let about = match &s.trigger {
            Trigger::Question { text } => text.clone(),
            Trigger::Alert { name, source, .. } => format!("{source} alert {name}"),
            Trigger::Issue { title, .. } => title.clone(),
        };
        let c = s.conclusion.as_ref();
        let rc = c.and_then(|c| c.root_cause.as_ref());
        Report {
            session_id: s.id.clone(),
            workspace: s.workspace.clone(),
            about: crate::protocol::cap(about, 300),
            status: s.status,
            verdict: c.map(|c| c.verdict),
            cause: rc.map(|r| r.cause.clone()),
            resource: rc.map(|r| r.resource.clone()),
            culprit: rc.and_then(|r| r.culprit.clone()),
            confidence: c.map_or(0.0, |c| c.confidence),
            chain: c
                .map(|c| {
                    c.chain
                        .iter()
                        .map(|l| format!("{}: {}", l.resource, l.statement))
                        .collect()
                })
                .unwrap_or_default(),
            next_checks: c.map(|c| c.next_checks.clone()).unwrap_or_default(),
            proposals: s.proposals.len(),
            summary: c.map_or_else(
                || format!("the investigation ended {} without a conclusion", s.status),
                |c| c.summary.clone(),
            ),
            incident: match &s.trigger {
                Trigger::Alert {
                    source,
                    fingerprint: Some(id),
                    ..
                } if source == "pagerduty" => Some(id.clone()),
                _ => None,
            },
        }
    }

    /// One line: what, and what was found.
    pub fn headline(&self) -> String {
        let found = match (self.verdict, &self.resource) {
            (Some(Verdict::RootCause), Some(r)) => format!(
                "root cause on {r} ({:.0}% confidence)",
                self.confidence * 100.0
            ),
            (Some(Verdict::Suggestion), Some(r)) => format!(
                "suspected cause on {r} ({:.0}% confidence, below the threshold)",
                self.confidence * 100.0
            ),
            _ => format!("no cause found ({})", self.status),
        };
        format!("{}: {found}", self.about)
    }

    /// Plain text (an email's body).
    pub fn text(&self) -> String {
        let mut out = format!("{}\n\n{}\n", self.headline(), self.summary);
        if let Some(c) = &self.cause {
            out.push_str(&format!("\nCause: {c}\n"));
        }
        if let Some(c) = &self.culprit {
            out.push_str(&format!("Culprit: {c}\n"));
        }
        if !self.chain.is_empty() {
            out.push_str("\nEvidence chain:\n");
            for l in &self.chain {
                out.push_str(&format!("  - {l}\n"));
            }
        }
        if !self.next_checks.is_empty() {
            out.push_str("\nNext checks:\n");
            for l in &self.next_checks {
                out.push_str(&format!("  - {l}\n"));
            }
        }
        if self.proposals > 0 {
            out.push_str(&format!(
                "\n{} remediation(s) wait for approval: sitrep approvals --session {}\n",
                self.proposals, self.session_id
            ));
        }
        out.push_str(&format!(
            "\nSession {} in workspace {}.\n",
            self.session_id, self.workspace
        ));
        out
    }

    /// A Slack message (incoming webhook or `chat.postMessage` body): a `text` fallback and
    /// Block Kit sections. What a monitored system wrote is escaped, so it cannot mention
    /// `@channel` or forge links.
    pub fn slack(&self) -> Value {
        let esc = slack_escape;
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": crate::protocol::cap(esc(&self.headline()), 150)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": esc(&self.summary)}}),
        ];
        if !self.chain.is_empty() {
            let chain: Vec<String> = self.chain.iter().map(|l| format!("• {}", esc(l))).collect();
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Evidence chain*\n{}", chain.join("\n"))}}));
        }
        let mut context = format!("session `{}`", esc(&self.session_id));
        if self.proposals > 0 {
            context.push_str(&format!(
                " · {} remediation(s) wait for approval",
                self.proposals
            ));
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
        json!({"text": esc(&self.headline()), "blocks": blocks})
    }
}

/// Slack's three control characters (`&`, `<`, `>`), escaped as its docs ask.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigation::{ChainLink, Conclusion, RootCause};

    fn session() -> Session {
        Session {
            id: "s-1".into(),
            workspace: "default".into(),
            assistant: "default".into(),
            trigger: Trigger::Alert {
                source: "alertmanager".into(),
                name: "CheckoutSlow <!channel>".into(),
                labels: Default::default(),
                summary: String::new(),
                fingerprint: None,
                started_at: None,
            },
            status: SessionStatus::Concluded,
            started_at: Timestamp(0),
            finished_at: Some(Timestamp(4_000)),
            focus: vec![],
            hypotheses: vec![],
            evidence: vec![],
            conclusion: Some(Conclusion {
                verdict: Verdict::RootCause,
                root_cause: Some(RootCause {
                    hypothesis: "h2".into(),
                    resource: "postgres-main".into(),
                    category: "postgres:connection-exhaustion".into(),
                    cause: "connections exhausted by batch-job".into(),
                    culprit: Some("batch-job".into()),
                }),
                confidence: 0.86,
                threshold: 0.6,
                reasons: vec![],
                chain: vec![
                    ChainLink {
                        hypothesis: "h1".into(),
                        resource: "shopfront".into(),
                        statement: "checkout is slow".into(),
                        evidence: vec!["e1".into()],
                    },
                    ChainLink {
                        hypothesis: "h2".into(),
                        resource: "postgres-main".into(),
                        statement: "connections are exhausted".into(),
                        evidence: vec!["e2".into()],
                    },
                ],
                alternatives: vec![],
                unknowns: vec![],
                next_checks: vec![],
                summary: "postgres-main has no free connections".into(),
                citations: vec![],
                owner: None,
            }),
            proposals: vec!["a-1".into()],
            budget: Default::default(),
            knowledge: vec![],
            rules: vec![],
            follow_ups: vec![],
        }
    }

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let b: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(b, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
    }

    #[test]
    fn a_delivery_is_given_up_after_its_attempts() {
        let s = session();
        let mut d = Delivery {
            id: "d".into(),
            workspace: "w".into(),
            workflow: "f".into(),
            session_id: s.id,
            target: Target::Slack {
                webhook_url: "http://x".into(),
            },
            status: DeliveryStatus::Pending,
            attempts: 0,
            created_at: Timestamp(0),
            next_at: Timestamp(0),
            delivered_at: None,
            last_error: None,
            slack_ts: None,
            thread_ts: None,
        };
        d.failed(Timestamp(1_000), "503".into());
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.next_at, Timestamp(6_000));
        for _ in 1..MAX_ATTEMPTS {
            d.failed(Timestamp(1_000), "503".into());
        }
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!(d.attempts, MAX_ATTEMPTS);
    }

    #[test]
    fn the_report_names_the_cause_and_escapes_what_a_monitored_system_wrote() {
        let r = Report::of(&session());
        assert_eq!(
            r.headline(),
            "alertmanager alert CheckoutSlow <!channel>: root cause on postgres-main (86% confidence)"
        );
        let slack = r.slack().to_string();
        assert!(!slack.contains("<!channel>"), "{slack}");
        assert!(slack.contains("&lt;!channel&gt;"), "{slack}");
        let text = r.text();
        assert!(text.contains("Culprit: batch-job"), "{text}");
        assert!(
            text.contains("  - postgres-main: connections are exhausted"),
            "{text}"
        );
        assert!(
            text.contains("1 remediation(s) wait for approval"),
            "{text}"
        );
    }
}
