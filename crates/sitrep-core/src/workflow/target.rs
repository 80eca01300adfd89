//! Delivery targets of a workflow: as written (`deliver:` entries, exactly one kind each) and
//! as checked ([`Target`]), with every problem named by its field.

use serde::{Deserialize, Serialize};

/// One delivery target as written: exactly one of its fields (`- slack: {...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty: Option<PagerdutyTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackTarget {
    /// An incoming webhook's URL; or, for the Web API, `token` and `channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// A bot token (`xoxb-...`) as a reference: `chat.postMessage`, threaded per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The channel's id (`C123...`) the bot posts to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The Web API's base URL (default `https://slack.com/api`): a proxy's, or a test stub's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTarget {
    pub smtp: String,
    pub from: String,
    pub to: Vec<String>,
}

/// A note on the PagerDuty incident that started the session (REST API v2,
/// `POST /incidents/{id}/notes`): the answer lands where the responder already is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyTarget {
    /// A REST API key, as a reference (secret:NAME, env:VAR or file:/path).
    pub token: String,
    /// The email address of a PagerDuty user the note is written as (the `From` header).
    pub from: String,
    /// The REST API's base URL (default `https://api.pagerduty.com`): a proxy's, or a test
    /// stub's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
}

impl TargetSpec {
    /// The kind given (the first, when several are).
    pub fn kind(&self) -> &'static str {
        if self.slack.is_some() {
            "slack"
        } else if self.webhook.is_some() {
            "webhook"
        } else if self.email.is_some() {
            "email"
        } else if self.pagerduty.is_some() {
            "pagerduty"
        } else {
            "none"
        }
    }

    /// The target, when exactly one kind is given.
    pub(super) fn target(&self) -> Option<Target> {
        let given = usize::from(self.slack.is_some())
            + usize::from(self.webhook.is_some())
            + usize::from(self.email.is_some())
            + usize::from(self.pagerduty.is_some());
        if given != 1 {
            return None;
        }
        if let Some(p) = &self.pagerduty {
            return Some(Target::Pagerduty {
                token: p.token.clone(),
                from: p.from.clone(),
                api_url: p.api_url.clone(),
            });
        }
        match (&self.slack, &self.webhook, &self.email) {
            (Some(s), None, None) => match (&s.webhook_url, &s.token, &s.channel) {
                (Some(url), None, None) if s.api_url.is_none() => Some(Target::Slack {
                    webhook_url: url.clone(),
                }),
                (None, token, channel) if token.is_some() || channel.is_some() => {
                    Some(Target::SlackApi {
                        token: token.clone().unwrap_or_default(),
                        channel: channel.clone().unwrap_or_default(),
                        api_url: s.api_url.clone(),
                    })
                }
                _ => None,
            },
            (None, Some(w), None) => Some(Target::Webhook {
                url: w.url.clone(),
                secret: w.secret.clone(),
            }),
            (None, None, Some(e)) => Some(Target::Email {
                smtp: e.smtp.clone(),
                from: e.from.clone(),
                to: e.to.clone(),
            }),
            _ => None,
        }
    }
}

/// Where the answer goes. A URL or an address may be a secret reference (`secret:NAME`,
/// `env:VAR`, `file:/path`), read only when delivering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Target {
    /// A Slack incoming webhook (Block Kit message).
    Slack { webhook_url: String },
    /// Slack's Web API (`chat.postMessage` with a bot token): a session's messages in one
    /// thread.
    SlackApi {
        token: String,
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_url: Option<String>,
    },
    /// A JSON POST, signed with HMAC-SHA256 of the body when `secret` is given.
    Webhook {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
    /// Email over SMTP (`smtp://host:port`; no authentication, no TLS: a local relay).
    Email {
        smtp: String,
        from: String,
        to: Vec<String>,
    },
    /// A note on the PagerDuty incident the session started from.
    Pagerduty {
        token: String,
        from: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_url: Option<String>,
    },
}

impl Target {
    /// Its kind, as listed.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Slack { .. } | Target::SlackApi { .. } => "slack",
            Target::Webhook { .. } => "webhook",
            Target::Email { .. } => "email",
            Target::Pagerduty { .. } => "pagerduty",
        }
    }

    /// What is wrong with it, by field (below `deliver[i].KIND.`).
    pub(super) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        let reference = "(secret:NAME, env:VAR or file:/path)";
        let http = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        match self {
            Target::Slack { webhook_url: url } | Target::Webhook { url, .. } => {
                let field = if matches!(self, Target::Slack { .. }) {
                    "webhook_url"
                } else {
                    "url"
                };
                if !(http(url) || is_reference(url)) {
                    out.push((
                        field,
                        format!(
                            "{url:?} is not an http(s) URL or a secret reference (secret:NAME, env:VAR, file:/path)"
                        ),
                    ));
                }
                if let Target::Webhook {
                    secret: Some(s), ..
                } = self
                    && !is_reference(s)
                {
                    out.push((
                        "secret",
                        format!("write where the signing key lives {reference}, not the key"),
                    ));
                }
            }
            Target::SlackApi {
                token,
                channel,
                api_url,
            } => {
                if !is_reference(token) {
                    out.push((
                        "token",
                        format!("write where the bot token lives {reference}, not the token"),
                    ));
                }
                if channel.is_empty() || channel.contains(char::is_whitespace) {
                    out.push(("channel", "give the channel's id, e.g. C0123456789".into()));
                }
                if let Some(u) = api_url.as_deref().filter(|u| !http(u)) {
                    out.push(("api_url", format!("{u:?} is not an http(s) URL")));
                }
            }
            Target::Email { smtp, from, to } => {
                if !smtp.starts_with("smtp://") {
                    out.push(("smtp", format!("{smtp:?} is not smtp://host:port")));
                }
                if !from.contains('@') {
                    out.push(("from", format!("{from:?} is not an email address")));
                }
                if to.is_empty() {
                    out.push(("to", "give at least one address".into()));
                }
                for a in to.iter().filter(|a| !a.contains('@')) {
                    out.push(("to", format!("{a:?} is not an email address")));
                }
            }
            Target::Pagerduty {
                token,
                from,
                api_url,
            } => {
                if !is_reference(token) {
                    out.push((
                        "token",
                        format!("write where the REST API key lives {reference}, not the key"),
                    ));
                }
                if !from.contains('@') {
                    out.push((
                        "from",
                        format!("{from:?} is not an email address (a PagerDuty user's, the note's author)"),
                    ));
                }
                if let Some(u) = api_url.as_deref().filter(|u| !http(u)) {
                    out.push(("api_url", format!("{u:?} is not an http(s) URL")));
                }
            }
        }
        out
    }
}

fn is_reference(s: &str) -> bool {
    ["secret:", "env:", "file:"]
        .iter()
        .any(|p| s.starts_with(p))
}
