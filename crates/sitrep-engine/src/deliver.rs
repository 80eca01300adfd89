//! Sending workflow deliveries once their session has finished: Slack (incoming webhook, or
//! the Web API threaded per session: `slack.rs`), a signed JSON webhook, email over SMTP. Each attempt is stored; a failure is retried with
//! backoff (`core::delivery`), a refusal that retrying cannot fix (a 4xx other than 408 and
//! 429) is given up at once; the delivery's id is the idempotency key the receiver sees.
//! Pending deliveries of an earlier process are sent after a restart.

use crate::{Result, Sitrep};
use sitrep_core::delivery::{Delivery, DeliveryStatus, Report};
use sitrep_core::investigation::{AuditKind, SessionStatus};
use sitrep_core::workflow::Target;
use sitrep_store::DeliveryStore;
use std::future::Future;
use std::time::Duration;

/// Deliveries sent per store read.
const BATCH: i64 = 50;
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the worker looks again while sessions run or retries wait (it is woken when an
/// investigation it delivers for ends).
const SWEEP: Duration = Duration::from_secs(5);

/// What an attempt's failure means.
pub(crate) enum Failure {
    /// Worth another attempt after the backoff.
    Retry(String),
    /// The receiver refused it in a way retrying cannot fix.
    GiveUp(String),
}

impl Failure {
    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::Retry(m) | Failure::GiveUp(m) => m,
        }
    }
}

impl Sitrep {
    /// The deliveries of one session, or of all, newest first.
    pub async fn deliveries(&self, session: Option<&str>, limit: i64) -> Result<Vec<Delivery>> {
        // A prefix names a stored session; a full id may be of one not stored yet (the
        // deliveries of an investigation are stored as it starts).
        let session = match session {
            Some(s) => Some(
                self.session(s)
                    .await
                    .map_or_else(|_| s.to_string(), |x| x.id),
            ),
            None => None,
        };
        Ok(self
            .store()
            .await?
            .list_deliveries(self.workspace(), session.as_deref(), limit.clamp(1, 1000))
            .await?)
    }

    pub(crate) fn wake_delivery(&self) {
        self.inner.deliver.notify_one();
    }

    /// Sends every due delivery whose session has finished; returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize> {
        let store = self.store().await?;
        let due = store
            .due_deliveries(self.workspace(), self.now(), BATCH)
            .await?;
        let mut attempted = 0;
        for mut d in due {
            let session = match self.session(&d.session_id).await {
                Ok(s) if s.status == SessionStatus::Running => continue,
                Ok(s) => s,
                Err(e) => {
                    // The investigation never started (it failed before its session was
                    // stored): nothing will ever be there to deliver.
                    if self.now().since(d.created_at) > Duration::from_secs(600) {
                        d.status = DeliveryStatus::Failed;
                        d.last_error = Some(format!("no session to deliver: {e}"));
                        store.update_delivery(&d).await?;
                    }
                    continue;
                }
            };
            let report = Report::of(&session);
            attempted += 1;
            if matches!(d.target, Target::SlackApi { .. }) && d.thread_ts.is_none() {
                d.thread_ts = self.slack_thread(&d).await?;
            }
            let outcome = self.send(&d, &report).await;
            let now = self.now();
            match outcome {
                Ok(ts) => {
                    d.slack_ts = ts;
                    d.delivered(now)
                }
                Err(Failure::Retry(e)) => d.failed(now, e),
                Err(Failure::GiveUp(e)) => {
                    d.attempts += 1;
                    d.last_error = Some(e);
                    d.status = DeliveryStatus::Failed;
                }
            }
            store.update_delivery(&d).await?;
            if let (Some(error), false) = (&d.last_error, d.status == DeliveryStatus::Delivered) {
                self.publish(crate::events::Event::DeliveryFailed {
                    delivery_id: d.id.clone(),
                    workflow: d.workflow.clone(),
                    target: d.target.kind().to_string(),
                    error: error.clone(),
                    given_up: d.status == DeliveryStatus::Failed,
                });
            }
            tracing::info!(delivery = %d.id, workflow = %d.workflow, target = d.target.kind(), session = %d.session_id, status = %d.status, attempts = d.attempts, error = ?d.last_error, "delivery attempted");
            if d.status != DeliveryStatus::Pending {
                let what = match d.status {
                    DeliveryStatus::Delivered => {
                        format!("delivered to {} ({})", d.target.kind(), d.workflow)
                    }
                    _ => format!("delivery to {} ({}) given up", d.target.kind(), d.workflow),
                };
                let data = serde_json::json!({"delivery": d.id, "workflow": d.workflow, "target": d.target.kind(), "status": d.status, "attempts": d.attempts, "error": d.last_error, "slack_ts": d.slack_ts, "thread_ts": d.thread_ts});
                if let Err(e) = self
                    .session_note(&d.session_id, AuditKind::Note, data, what)
                    .await
                {
                    tracing::warn!(error = %e, session = %d.session_id, "cannot note the delivery on its session");
                }
                self.publish(crate::events::Event::Delivery {
                    delivery_id: d.id.clone(),
                    workflow: d.workflow.clone(),
                    target: d.target.kind().to_string(),
                    status: d.status,
                });
            }
        }
        Ok(attempted)
    }

    /// Sends deliveries as they come due until `stop` completes (those left pending by an
    /// earlier process first).
    pub async fn delivery_worker(&self, stop: impl Future<Output = ()> + Send) {
        let mut events = self.subscribe();
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::error!(error = %e, "cannot send deliveries; retrying");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = self.inner.deliver.notified() => {}
                e = events.recv() => {
                    // A session's end makes its deliveries sendable.
                    if !matches!(e, Ok(crate::events::Event::Session { kind: AuditKind::SessionFinished, .. }) | Err(_)) {
                        continue;
                    }
                }
                _ = tokio::time::sleep(SWEEP) => {}
            }
        }
    }

    /// The thread a Slack Web API delivery joins: the `ts` of the first message posted for
    /// its session to the same channel, by any of its deliveries.
    async fn slack_thread(&self, d: &Delivery) -> Result<Option<String>> {
        let Target::SlackApi { channel, .. } = &d.target else {
            return Ok(None);
        };
        let store = self.store().await?;
        let mut earlier = store
            .list_deliveries(self.workspace(), Some(&d.session_id), 1000)
            .await?;
        // Oldest first: the thread's root is the first message.
        earlier.reverse();
        Ok(earlier.into_iter().find_map(|o| match &o.target {
            Target::SlackApi { channel: c, .. } if c == channel && o.id != d.id => {
                o.thread_ts.or(o.slack_ts)
            }
            _ => None,
        }))
    }

    /// One attempt; answers the `ts` of a message posted through Slack's Web API.
    async fn send(
        &self,
        d: &Delivery,
        report: &Report,
    ) -> std::result::Result<Option<String>, Failure> {
        let attempt = async {
            match &d.target {
                Target::Slack { webhook_url } => {
                    let url = self.reveal(webhook_url).await?;
                    let body = serde_json::to_vec(&report.slack()).expect("json");
                    post(&url, body, &d.id, None).await.map(|()| None)
                }
                Target::SlackApi {
                    token,
                    channel,
                    api_url,
                } => {
                    let token = self.reveal(token).await?;
                    let api = api_url.as_deref().unwrap_or(crate::slack::API_URL);
                    crate::slack::post_message(
                        http(),
                        api,
                        &token,
                        channel,
                        d.thread_ts.as_deref(),
                        report.slack(),
                    )
                    .await
                    .map(Some)
                }
                Target::Webhook { url, secret } => {
                    let url = self.reveal(url).await?;
                    let body = serde_json::to_vec(&serde_json::json!({
                        "type": "session.finished",
                        "delivery_id": d.id,
                        "workflow": d.workflow,
                        "report": report,
                    }))
                    .expect("json");
                    let key = match secret {
                        Some(s) => Some(self.reveal(s).await?),
                        None => None,
                    };
                    post(&url, body, &d.id, key.as_deref()).await.map(|()| None)
                }
                Target::Email { smtp, from, to } => {
                    let smtp = self.reveal(smtp).await?;
                    crate::mail::send(&smtp, from, to, &d.id, report)
                        .await
                        .map(|()| None)
                }
                Target::Pagerduty {
                    token,
                    from,
                    api_url,
                } => {
                    let Some(incident) = report.incident.as_deref() else {
                        return Err(Failure::GiveUp(
                            "the session did not start from a PagerDuty incident".into(),
                        ));
                    };
                    let token = self.reveal(token).await?;
                    let api = api_url.as_deref().unwrap_or(crate::pagerduty::API_URL);
                    crate::pagerduty::add_note(http(), api, &token, from, incident, &report.text())
                        .await
                        .map(|()| None)
                }
            }
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Retry(format!(
                "no answer within {}s",
                ATTEMPT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// A target's address or key: as written, or read from where a reference points (the
    /// `secrets:` setting, then the vault).
    pub(crate) async fn reveal(&self, value: &str) -> std::result::Result<String, Failure> {
        let is_reference = ["secret:", "env:", "file:"]
            .iter()
            .any(|p| value.starts_with(p));
        if !is_reference {
            return Ok(value.to_string());
        }
        let named = self.settings().secrets.clone();
        let in_vault: std::collections::BTreeSet<String> = value
            .strip_prefix("secret:")
            .filter(|n| !named.contains_key(*n))
            .map(str::to_string)
            .into_iter()
            .collect();
        let stored = self
            .vault_values(&in_vault)
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let value = value.to_string();
        // `file:` references read files.
        tokio::task::spawn_blocking(move || {
            sitrep_runner::secrets::resolve_named(&value, &named, &stored)
        })
        .await
        .map_err(|e| Failure::Retry(format!("reading a secret crashed: {e}")))?
        .map_err(|e| Failure::GiveUp(e.to_string()))
    }
}

fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client")
    })
}

/// POSTs JSON with the delivery's id as its idempotency key, and, given a key, the
/// signature `X-Sitrep-Signature: sha256=HEX(HMAC-SHA256(key, "{timestamp}.{body}"))` with
/// `X-Sitrep-Timestamp` (Unix seconds), so a receiver can check both origin and freshness.
async fn post(
    url: &str,
    body: Vec<u8>,
    id: &str,
    key: Option<&str>,
) -> std::result::Result<(), Failure> {
    let mut req = http()
        .post(url)
        .header("content-type", "application/json")
        .header("idempotency-key", id)
        .header("x-sitrep-delivery", id);
    if let Some(key) = key {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        req = req
            .header("x-sitrep-timestamp", ts.to_string())
            .header("x-sitrep-signature", sign(key, ts, &body));
    }
    let res = req.body(body).send().await.map_err(|e| {
        // The URL may hold a credential (Slack's does): name only the host.
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        Failure::Retry(format!("cannot reach {host}: {}", e.without_url()))
    })?;
    if res.status().is_success() {
        return Ok(());
    }
    Err(refused("the receiver", res).await)
}

/// A receiver's non-success answer as a failure: a 4xx other than 408 and 429 cannot be fixed
/// by retrying; anything else may be. The message quotes the start of its body.
pub(crate) async fn refused(who: &str, res: reqwest::Response) -> Failure {
    let status = res.status();
    let text: String = res
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let message = format!("{who} answered {status}: {}", text.trim());
    if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
        Failure::GiveUp(message)
    } else {
        Failure::Retry(message)
    }
}

/// The signature header's value.
pub fn sign(key: &str, timestamp: u64, body: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&k);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}
