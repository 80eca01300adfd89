//! What a batch of pending events knows while it is decided: the newest event of each group
//! with a session (one store read per group and batch, then the batch's own decisions), and
//! each event's content fingerprint, read once.

use crate::Result;
use crate::investigate::alert_content;
use sitrep_core::Timestamp;
use sitrep_core::intake::InboundEvent;
use sitrep_store::InboundStore;
use std::collections::HashMap;
use std::time::Duration;

/// The content fingerprints of the events a batch compares (`alert_content`), each read once.
#[derive(Default)]
pub(super) struct Contents(HashMap<String, Option<u64>>);

impl Contents {
    fn of(&mut self, e: &InboundEvent) -> Option<u64> {
        *self
            .0
            .entry(e.id.clone())
            .or_insert_with(|| alert_content(e.source, &e.payload))
    }

    /// Whether `event` says something else of its problem than `prior` did (unreadable
    /// content is no change).
    pub(super) fn changed(&mut self, prior: &InboundEvent, event: &InboundEvent) -> bool {
        match (self.of(prior), self.of(event)) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    }
}

/// For the events of one batch (oldest first), the newest event of each alert group that has
/// a session, as `InboundStore::latest_with_session` answers for an event: one store read per
/// group and batch, then the batch's own decisions on top.
pub(super) struct Priors {
    stored: HashMap<String, Stored>,
    decided: HashMap<String, InboundEvent>,
}

/// What the store said of a group for a batch.
enum Stored {
    /// One answer holds for every event of the group in the batch.
    Once(Option<InboundEvent>),
    /// Its newest event with a session came more than a cooldown after the batch's first
    /// event of the group (an event left pending that long): asked again for each event.
    PerEvent,
}

impl Priors {
    pub(super) async fn read(
        store: &dyn InboundStore,
        workspace: &str,
        batch: &[InboundEvent],
        cooldown: Duration,
    ) -> Result<Priors> {
        // The batch is oldest first: the first and the last event of each group.
        let mut span: HashMap<&str, (Timestamp, Timestamp)> = HashMap::new();
        for e in batch {
            span.entry(e.dedup_key.as_str())
                .and_modify(|s| s.1 = e.received_at)
                .or_insert((e.received_at, e.received_at));
        }
        let mut stored = HashMap::with_capacity(span.len());
        for (key, (first, last)) in span {
            // The answer for the last event is the answer for every event of the group when
            // it is no later than the first event's bound (the bound only grows).
            let newest = store
                .latest_with_session(workspace, key, last.add(cooldown))
                .await?;
            let once = newest
                .as_ref()
                .is_none_or(|p| p.received_at <= first.add(cooldown));
            let known = if once {
                Stored::Once(newest)
            } else {
                Stored::PerEvent
            };
            stored.insert(key.to_string(), known);
        }
        Ok(Priors {
            stored,
            decided: HashMap::new(),
        })
    }

    /// The newest event of `event`'s group with a session, received at most a cooldown after it.
    pub(super) async fn of(
        &self,
        store: &dyn InboundStore,
        event: &InboundEvent,
        cooldown: Duration,
    ) -> Result<Option<InboundEvent>> {
        let stored = match self.stored.get(&event.dedup_key) {
            Some(Stored::Once(p)) => p.clone(),
            Some(Stored::PerEvent) | None => {
                store
                    .latest_with_session(
                        &event.workspace,
                        &event.dedup_key,
                        event.received_at.add(cooldown),
                    )
                    .await?
            }
        };
        // Decided earlier in this batch, so received no later than `event`.
        let decided = self.decided.get(&event.dedup_key).cloned();
        Ok(newest(stored, decided))
    }

    /// An event of the batch decided with a session.
    pub(super) fn record(&mut self, event: &InboundEvent) {
        if event.session_id.is_none() {
            return;
        }
        let key = event.dedup_key.clone();
        let known = self.decided.remove(&key);
        if let Some(n) = newest(known, Some(event.clone())) {
            self.decided.insert(key, n);
        }
    }
}

/// The newer of two, as the store orders them (received, then id).
fn newest(a: Option<InboundEvent>, b: Option<InboundEvent>) -> Option<InboundEvent> {
    match (a, b) {
        (Some(a), Some(b)) => {
            if (b.received_at, &b.id) > (a.received_at, &a.id) {
                Some(b)
            } else {
                Some(a)
            }
        }
        (a, b) => a.or(b),
    }
}
