//! Generic webhooks: a workflow with `on: {webhook: ...}` takes signed JSON from any system.
//! The signature is checked first (HMAC-SHA256 over `"{timestamp}.{body}"` with the
//! workflow's key, the scheme sitrep's own signed deliveries use, within
//! [`MAX_SKEW`] of now); an unsigned or wrongly signed request is refused and not stored.
//! A signed one is stored like an alert and handled by the intake worker: its key fields fold
//! repeats into one investigation of the workflow's question.

use crate::access::AccessError;
use crate::intake::Receipt;
use crate::{EngineError, Result, Sitrep};
use sitrep_core::intake::{InboundEvent, Source};
use sitrep_core::webhook::WebhookTrigger;
use sitrep_core::workflow::Workflow;
use std::time::Duration;

/// How far a signature's timestamp may be from now: older requests are replays.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// A webhook request's signature headers, as received (`X-Sitrep-Timestamp`,
/// `X-Sitrep-Signature`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Signature<'a> {
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Checks `sig` over `body` with `key` at `now_s` (Unix seconds); the refusal says what is
/// wrong, never the expected value.
pub fn verify(key: &str, sig: Signature<'_>, body: &[u8], now_s: u64) -> Result<(), AccessError> {
    let bad = |why: &str| AccessError::BadSignature(why.to_string());
    let ts: u64 = sig
        .timestamp
        .ok_or_else(|| bad("no X-Sitrep-Timestamp header (Unix seconds)"))?
        .trim()
        .parse()
        .map_err(|_| bad("X-Sitrep-Timestamp is not Unix seconds"))?;
    if ts.abs_diff(now_s) > MAX_SKEW.as_secs() {
        return Err(bad(
            "the timestamp is more than 5 minutes from now (a replay, or the sender's clock is off)",
        ));
    }
    let hex = sig
        .signature
        .ok_or_else(|| bad("no X-Sitrep-Signature header (sha256=HEX)"))?
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| bad("X-Sitrep-Signature is not sha256=HEX"))?;
    let tag = decode_hex(hex).ok_or_else(|| bad("X-Sitrep-Signature is not sha256=HEX"))?;
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let mut signed = Vec::with_capacity(body.len() + 12);
    signed.extend_from_slice(ts.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    // Constant time.
    ring::hmac::verify(&k, &signed, &tag)
        .map_err(|_| bad("the signature does not match the body and the workflow's key"))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Sitrep {
    /// Takes a webhook for workflow `name`: checks its signature, then stores it as received
    /// (a body the workflow cannot read is stored `rejected` and refused with the reason).
    pub async fn receive_webhook(
        &self,
        name: &str,
        sig: Signature<'_>,
        body: &str,
    ) -> Result<Receipt> {
        let workflow = self.webhook_workflow(name).await?;
        let (trigger, _) = workflow.webhook().expect("a webhook workflow");
        let key = self.reveal(&trigger.secret).await.map_err(|e| {
            EngineError::Refused(format!(
                "workflow {name}'s signing key cannot be read ({}): set it, then the sender's requests are taken",
                e.message()
            ))
        })?;
        let now_s = (self.now().0.max(0) / 1000) as u64;
        verify(&key, sig, body.as_bytes(), now_s)?;
        let read = serde_json::from_str::<serde_json::Value>(body)
            .map_err(|e| format!("the body is not JSON: {e}"))
            .and_then(|v| {
                let e = trigger.read(name, &v, body)?;
                // The question must be askable from this body, or nothing could start.
                let (_, question) = workflow.webhook().expect("a webhook workflow");
                WebhookTrigger::question(question, &v)?;
                Ok(e)
            });
        self.store_received(
            Source::Webhook,
            body,
            read.map(|e| (e.key, e.firing, None))
                .map_err(EngineError::Invalid),
        )
        .await
    }

    /// The enabled webhook workflow named `name`.
    pub(crate) async fn webhook_workflow(&self, name: &str) -> Result<Workflow> {
        self.loaded_workflows()
            .await?
            .items
            .into_iter()
            .map(|(w, _)| w)
            .find(|w| w.name() == name && w.webhook().is_some())
            .ok_or_else(|| {
                EngineError::not_found(
                    "webhook workflow",
                    name,
                    "a workflow takes webhooks when it is enabled and has on: webhook",
                )
            })
    }

    /// The question a stored webhook event asks, and its workflow (the name is the first part
    /// of the event's key).
    pub(crate) async fn webhook_question(
        &self,
        event: &InboundEvent,
    ) -> Result<(Workflow, String)> {
        let name = event.dedup_key.split('/').next().unwrap_or_default();
        let workflow = self.webhook_workflow(name).await?;
        let (_, template) = workflow.webhook().expect("a webhook workflow");
        let body: serde_json::Value = serde_json::from_str(&event.payload)
            .map_err(|e| EngineError::Invalid(format!("the stored body is not JSON: {e}")))?;
        let q = WebhookTrigger::question(template, &body).map_err(EngineError::Invalid)?;
        Ok((workflow, q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &str, ts: u64, body: &str) -> String {
        crate::deliver::sign(key, ts, body.as_bytes())
    }

    #[test]
    fn a_signature_of_the_body_with_the_key_and_a_fresh_timestamp_passes() {
        let body = r#"{"service":"checkout"}"#;
        let sig = signed("k1", 1_000, body);
        let ok = |ts: &str, s: &str, b: &str, now: u64| {
            verify(
                "k1",
                Signature {
                    timestamp: Some(ts),
                    signature: Some(s),
                },
                b.as_bytes(),
                now,
            )
        };
        assert!(ok("1000", &sig, body, 1_100).is_ok());
        for (ts, s, b, now, why) in [
            ("1000", sig.as_str(), "{}", 1_100, "does not match"),
            ("1001", sig.as_str(), body, 1_100, "does not match"),
            ("1000", sig.as_str(), body, 1_000 + 301, "5 minutes"),
            ("x", sig.as_str(), body, 1_000, "Unix seconds"),
            ("1000", "md5=00", body, 1_000, "sha256=HEX"),
            ("1000", "sha256=zz", body, 1_000, "sha256=HEX"),
        ] {
            let e = ok(ts, s, b, now).unwrap_err().to_string();
            assert!(e.contains(why), "{ts} {s}: {e}");
        }
        let other_key = signed("k2", 1_000, body);
        assert!(ok("1000", &other_key, body, 1_000).is_err());
        let none = verify("k1", Signature::default(), body.as_bytes(), 1_000).unwrap_err();
        assert!(none.to_string().contains("X-Sitrep-Timestamp"), "{none}");
    }
}
