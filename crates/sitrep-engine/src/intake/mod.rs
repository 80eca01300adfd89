//! Alert webhooks: each payload is checked and committed to the store before it is answered
//! (a malformed one too, as `rejected` with the reason, for inspection; concurrent ones in one
//! transaction, see `group_commit`), then handled once by
//! the intake worker: the first alert of a group starts an investigation, the same group within
//! the cooldown joins it (or, when it says something new, continues it), a resolution is
//! recorded against it (`core::intake::decide`).

mod priors;

use crate::group_commit::GroupCommit;
use crate::investigate::{
    Ask, FollowUpRequest, InvestigateRequest, alert_change, alert_key, parse_alert,
};
use crate::workflows::EventPlan;
use crate::{EngineError, Result, Sitrep};
use priors::{Contents, Priors};
use serde::Serialize;
use sitrep_core::intake::{Decision, InboundEvent, InboundStatus, Source, decide};
use sitrep_core::investigation::{AuditKind, SessionStatus};
use sitrep_store::{DeliveryStore, InboundStore, SessionStore};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// The largest payload kept (an edge refuses bigger ones before they get here).
pub const MAX_PAYLOAD: usize = 1024 * 1024;
/// How often the worker looks for pending events it was not told about (another process
/// received them, or a notification was missed).
const SWEEP: Duration = Duration::from_secs(30);
/// Follow-ups that changed alerts may ask of one session; later changes are recorded on
/// their events only.
const MAX_ALERT_FOLLOW_UPS: usize = 3;
/// Who asks the follow-up a changed alert starts: its source and event
/// (`alertmanager event ID`), as [`asked_by_alert`] recognises it.
fn alert_asker(event: &InboundEvent) -> String {
    format!("{} event {}", event.source, event.id)
}

/// Whether a follow-up was asked by a changed alert ([`alert_asker`]).
fn asked_by_alert(by: &str) -> bool {
    by.split_once(" event ")
        .is_some_and(|(source, _)| source.parse::<Source>().is_ok())
}

/// Events handled per store read.
const BATCH: i64 = 100;

/// What the sender is told once its event is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    pub id: String,
    pub status: InboundStatus,
    pub dedup_key: String,
}

impl Sitrep {
    /// Stores a payload from `source` as received; the worker handles it. A payload sitrep
    /// cannot start from is stored `rejected` and refused with the reason.
    pub async fn receive(&self, source: Source, body: &str) -> Result<Receipt> {
        let checked = alert_key(source, body).map(|k| (k.key, k.firing, k.note));
        self.store_received(source, body, checked).await
    }

    /// Stores a received payload: pending with its key, whether it fires and a note when it
    /// was read (`checked`), else rejected with the reason, which is then returned.
    pub(crate) async fn store_received(
        &self,
        source: Source,
        body: &str,
        checked: Result<(String, bool, Option<String>)>,
    ) -> Result<Receipt> {
        let store = self.store().await?;
        let mut event = InboundEvent {
            id: uuid::Uuid::new_v4().to_string(),
            workspace: self.workspace().to_string(),
            source,
            received_at: self.now(),
            dedup_key: String::new(),
            firing: true,
            status: InboundStatus::Pending,
            session_id: None,
            note: None,
            processed_at: None,
            payload: sitrep_core::protocol::cap(body.to_string(), MAX_PAYLOAD),
        };
        match &checked {
            Ok((key, firing, note)) => {
                event.dedup_key = key.clone();
                event.firing = *firing;
                event.note = note.clone();
            }
            Err(e) => {
                event.status = InboundStatus::Rejected;
                event.note = Some(e.to_string());
                event.processed_at = Some(event.received_at);
            }
        }
        let receipt = Receipt {
            id: event.id.clone(),
            status: event.status,
            dedup_key: event.dedup_key.clone(),
        };
        let writer = self
            .inner
            .shared
            .inbound
            .get_or_init(|| async { GroupCommit::start(store) })
            .await;
        writer.put(event).await?;
        tracing::info!(event = %receipt.id, source = %source, status = %receipt.status, key = %receipt.dedup_key, "alert received");
        checked?;
        self.inner.intake.notify_one();
        Ok(receipt)
    }

    /// Received events, newest first.
    pub async fn inbound(&self, limit: i64) -> Result<Vec<InboundEvent>> {
        Ok(self
            .store()
            .await?
            .list_inbound(self.workspace(), limit)
            .await?)
    }

    pub async fn inbound_event(&self, id: &str) -> Result<InboundEvent> {
        self.store()
            .await?
            .get_inbound(self.workspace(), id)
            .await?
            .ok_or_else(|| {
                EngineError::not_found("inbound event", id, "list received events to see their ids")
            })
    }

    /// Handles every pending event, oldest first; returns how many. Investigations it starts
    /// run in the background. One caller at a time handles events.
    pub async fn process_inbound(&self) -> Result<usize> {
        let _one_at_a_time = self.inner.intake_lock.lock().await;
        let store = self.store().await?;
        let mut n = 0;
        loop {
            let batch = store
                .inbound_in(self.workspace(), InboundStatus::Pending, BATCH)
                .await?;
            if batch.is_empty() {
                return Ok(n);
            }
            n += batch.len();
            self.handle_batch(batch).await?;
        }
    }

    /// Decides each event of a batch (oldest first) and stores what became of them: an event
    /// that starts an investigation at once (the next alert of its group must find it), the
    /// others (duplicates, resolutions) together in one transaction at the end. A failure
    /// before that leaves them pending, to be decided again.
    async fn handle_batch(&self, batch: Vec<InboundEvent>) -> Result<()> {
        let store = self.store().await?;
        let cooldown = self.settings().intake.cooldown;
        let mut priors = Priors::read(&*store, self.workspace(), &batch, cooldown).await?;
        let mut decided = Vec::with_capacity(batch.len());
        let mut contents = Contents::default();
        // Per session, whether a changed alert may still continue it (read once per batch).
        let mut continuable: HashMap<String, bool> = HashMap::new();
        for mut event in batch {
            let prior = priors.of(&*store, &event, cooldown).await?;
            event.processed_at = Some(self.now());
            match decide(&event, prior.as_ref(), cooldown) {
                Decision::Investigate => {
                    let started = self.start_investigation(event).await?;
                    priors.record(&started.event);
                    if started.stored {
                        tracing::info!(event = %started.event.id, status = %started.event.status, session = ?started.event.session_id, "alert handled");
                    } else {
                        decided.push(started.event);
                    }
                }
                Decision::Duplicate { session_id }
                    if let Some(p) = prior
                        .as_ref()
                        .filter(|p| p.firing && contents.changed(p, &event)) =>
                {
                    let updated = self
                        .update_investigation(event, p, session_id, &mut continuable)
                        .await?;
                    priors.record(&updated.event);
                    if updated.stored {
                        tracing::info!(event = %updated.event.id, status = %updated.event.status, session = ?updated.event.session_id, "alert handled");
                    } else {
                        decided.push(updated.event);
                    }
                }
                Decision::Duplicate { session_id } => {
                    event.status = InboundStatus::Duplicate;
                    event.note = Some(format!(
                        "the same alert group as session {session_id}, within the cooldown"
                    ));
                    // Only the event records it: a storm must not grow the session's audit.
                    event.session_id = Some(session_id);
                    priors.record(&event);
                    decided.push(event);
                }
                Decision::Resolved { session_id } => {
                    event.status = InboundStatus::Recorded;
                    event.note.get_or_insert_with(|| "resolved".into());
                    event.session_id = session_id;
                    priors.record(&event);
                    decided.push(event);
                }
            }
        }
        store.update_inbound(&decided).await?;
        for event in &decided {
            match (event.status, &event.session_id) {
                (InboundStatus::Duplicate, Some(session_id)) => {
                    tracing::debug!(event = %event.id, source = %event.source, session = %session_id, "alert joined its group's investigation");
                    self.publish(crate::events::Event::AlertDuplicate {
                        event_id: event.id.clone(),
                        source: event.source,
                        session_id: session_id.clone(),
                    });
                }
                (InboundStatus::Recorded, Some(session_id)) => {
                    let what = match event.note.as_deref() {
                        Some("resolved") | None => "the alert resolved".to_string(),
                        Some(other) => other.to_string(),
                    };
                    self.note_on_session(session_id, event, &what).await;
                }
                _ => {}
            }
            tracing::info!(event = %event.id, status = %event.status, session = ?event.session_id, "alert handled");
        }
        Ok(())
    }

    /// Starts the investigation of the first alert of a group: the event is stored with its
    /// session and deliveries before the investigation starts, so the next alert of the group
    /// joins it and a restart delivers it. A webhook whose workflow is gone or changed since
    /// it was received fails instead (returned unstored).
    async fn start_investigation(&self, mut event: InboundEvent) -> Result<Started> {
        let store = self.store().await?;
        let session_id = Sitrep::new_session_id();
        let mut command = None;
        let (ask, (assistant, deliveries)) = if event.source == Source::Webhook {
            match self.webhook_question(&event).await {
                Ok((w, question)) => (
                    Ask::Question(question),
                    self.plan_deliveries(&[&w], &session_id),
                ),
                Err(e) => {
                    event.status = InboundStatus::Failed;
                    event.note = Some(e.to_string());
                    tracing::warn!(error = %e, event = %event.id, "webhook not investigated");
                    return Ok(Started {
                        event,
                        stored: false,
                    });
                }
            }
        } else {
            let plan = self
                .alert_workflows(&event, &session_id)
                .await
                .unwrap_or_else(|e| {
                    // The investigation must not wait on a broken folder.
                    tracing::error!(error = %e, event = %event.id, "cannot read the workflows; investigating without them");
                    EventPlan::default()
                });
            match plan.command {
                Some(Err(e)) => {
                    event.status = InboundStatus::Failed;
                    event.note = Some(e);
                    tracing::warn!(event = %event.id, note = ?event.note, "alert not investigated");
                    return Ok(Started {
                        event,
                        stored: false,
                    });
                }
                Some(Ok(c)) => command = Some(c),
                None => {}
            }
            (
                Ask::Alert(event.payload.clone()),
                (plan.assistant, plan.deliveries),
            )
        };
        event.status = InboundStatus::Investigating;
        event.session_id = Some(session_id.clone());
        store.put_deliveries(&deliveries, Some(&event)).await?;
        let req = InvestigateRequest {
            ask,
            assistant,
            time_budget: None,
            task_budget: None,
            session_id: Some(session_id),
        };
        let me = self.clone();
        let mut ended = event.clone();
        tokio::spawn(async move {
            let outcome = me.investigate_or_run(req, command).await;
            let (status, note) = match outcome {
                Ok(s) => (
                    InboundStatus::Investigated,
                    Some(format!("session {}", s.status)),
                ),
                Err(e) => (InboundStatus::Failed, Some(e.to_string())),
            };
            ended.status = status;
            ended.note = note;
            me.record_end(&ended).await;
        });
        Ok(Started {
            event,
            stored: true,
        })
    }

    /// A changed alert of a group within its cooldown (an alert joined or left the group, an
    /// incident's priority changed): a finished session continues with it, as a follow-up
    /// the alert asks, and its workflows deliver the new answer. Stored before the follow-up
    /// starts, with its deliveries, like a first alert. While the session runs, or once it has
    /// answered [`MAX_ALERT_FOLLOW_UPS`] changes, the change is recorded on the event only: a
    /// storm of changing alerts costs one session read per batch, not a follow-up each.
    async fn update_investigation(
        &self,
        mut event: InboundEvent,
        prior: &InboundEvent,
        session_id: String,
        continuable: &mut HashMap<String, bool>,
    ) -> Result<Started> {
        let store = self.store().await?;
        event.status = InboundStatus::Updated;
        event.session_id = Some(session_id.clone());
        let session = match continuable.get(&session_id) {
            Some(false) => None,
            _ => self.session(&session_id).await.ok().filter(|s| {
                let by_alerts = s
                    .follow_ups
                    .iter()
                    .filter(|f| asked_by_alert(&f.by))
                    .count();
                s.status != SessionStatus::Running && by_alerts < MAX_ALERT_FOLLOW_UPS
            }),
        };
        continuable.insert(session_id.clone(), false);
        // Only alerts change (`alert_content`): a generic webhook's repeats are duplicates.
        let trigger = session.as_ref().and_then(|_| {
            parse_alert(&alert_change(event.source, &prior.payload, &event.payload)).ok()
        });
        let claimed = match (&session, &trigger) {
            (Some(_), Some(_)) => store.claim_session(self.workspace(), &session_id).await?,
            _ => false,
        };
        let (Some(session), Some(trigger), true) = (session, trigger, claimed) else {
            event.note = Some(format!(
                "the alert group changed while session {session_id} was investigating it, or after it answered {MAX_ALERT_FOLLOW_UPS} changes; recorded here"
            ));
            return Ok(Started {
                event,
                stored: false,
            });
        };
        let deliveries = self
            .alert_workflows(&event, &session_id)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, event = %event.id, "cannot read the workflows; continuing without them");
                EventPlan::default()
            })
            .deliveries;
        event.note = Some(format!(
            "the alert group changed: session {session_id} continues with it"
        ));
        if let Err(e) = store.put_deliveries(&deliveries, Some(&event)).await {
            // Not continued: the session is as it was.
            store.put_session(&session).await?;
            return Err(e.into());
        }
        let req = FollowUpRequest {
            session: session_id,
            text: trigger.text(),
            by: alert_asker(&event),
            time_budget: None,
            task_budget: None,
        };
        let me = self.clone();
        let mut ended = event.clone();
        tokio::spawn(async move {
            ended.note = Some(
                match me.continue_claimed(req, Some(trigger), session).await {
                    Ok(s) => format!(
                        "the alert group changed: session {} continued, {}",
                        s.id, s.status
                    ),
                    Err(e) => {
                        format!("the alert group changed; continuing its session failed: {e}")
                    }
                },
            );
            me.record_end(&ended).await;
        });
        Ok(Started {
            event,
            stored: true,
        })
    }

    /// Stores what became of an event once its investigation (or follow-up) ended, and lets
    /// the delivery worker deliver it.
    async fn record_end(&self, ended: &InboundEvent) {
        let stored = match self.store().await {
            Ok(s) => s
                .update_inbound(std::slice::from_ref(ended))
                .await
                .map_err(EngineError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            tracing::error!(error = %e, event = %ended.id, "cannot record the end of an alert's investigation");
        }
        self.wake_delivery();
    }

    /// Adds a resolution to a finished session's audit. A running session's audit is its
    /// driver's alone; the event's record names the session either way.
    async fn note_on_session(&self, session_id: &str, event: &InboundEvent, what: &str) {
        let Ok(s) = self.session(session_id).await else {
            return;
        };
        if s.status == SessionStatus::Running {
            return;
        }
        let data = serde_json::json!({"inbound_event": event.id, "status": event.status, "firing": event.firing});
        if let Err(e) = self
            .session_note(
                session_id,
                AuditKind::Note,
                data,
                format!("{what} (event {})", event.id),
            )
            .await
        {
            tracing::warn!(error = %e, session = session_id, "cannot note the alert on its session");
        }
    }

    /// Handles events as they arrive until `stop` completes. Events left pending by a stop
    /// or a crash are handled first; investigations a stopped process was running for an
    /// alert are marked interrupted.
    pub async fn intake_worker(&self, stop: impl Future<Output = ()> + Send) {
        if let Err(e) = self.recover_intake().await {
            tracing::error!(error = %e, "cannot recover the alerts of an earlier run");
        }
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.process_inbound().await {
                tracing::error!(error = %e, "cannot handle received alerts; retrying");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = self.inner.intake.notified() => {}
                _ = tokio::time::sleep(SWEEP) => {}
            }
        }
    }

    /// At start-up: the sessions alerts started that are still `running` belong to a
    /// process that is gone (this one has started none yet).
    async fn recover_intake(&self) -> Result<()> {
        let store = self.store().await?;
        let started = store
            .inbound_in(self.workspace(), InboundStatus::Investigating, 10_000)
            .await?;
        for mut event in started {
            let Some(id) = event.session_id.clone() else {
                continue;
            };
            if let Ok(mut s) = self.session(&id).await
                && s.status == SessionStatus::Running
            {
                s.status = SessionStatus::Interrupted;
                s.finished_at = Some(self.now());
                store.put_session(&s).await?;
            }
            event.status = InboundStatus::Failed;
            event.note =
                Some("sitrep stopped during the investigation; it was marked interrupted".into());
            store.update_inbound(std::slice::from_ref(&event)).await?;
            tracing::warn!(event = %event.id, session = %id, "an alert's investigation was interrupted by a stop");
        }
        Ok(())
    }
}

/// What became of the first alert of a group.
struct Started {
    event: InboundEvent,
    /// Stored with its session; else (failed) it is stored with the batch's other events.
    stored: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_up_asked_by_a_changed_alert_is_known_by_its_asker() {
        assert!(asked_by_alert("alertmanager event 1b2c"));
        assert!(asked_by_alert("opsgenie event x"));
        assert!(!asked_by_alert("ann"));
        assert!(!asked_by_alert("the event planner"));
    }
}
