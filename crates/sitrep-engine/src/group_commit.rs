//! Group commit of received alerts. Every webhook is committed before it is answered; one
//! writer commits them, and the requests that arrive while a transaction commits wait for the
//! next one, which takes all of them (up to [`MAX_GROUP`]). So concurrent webhooks never
//! contend for the database's write lock, and a burst costs a few commits instead of one each.

use sitrep_core::intake::InboundEvent;
use sitrep_store::{InboundStore, SqlStore, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Events waiting for a commit at most; beyond it a sender waits for room (backpressure).
const QUEUE: usize = 4096;
/// Events per transaction at most.
pub const MAX_GROUP: usize = 512;

type Done = oneshot::Sender<Result<(), StoreError>>;

struct Waiting {
    event: InboundEvent,
    done: Done,
}

/// The handle of the writer task; the task ends when the last handle is dropped.
pub(crate) struct GroupCommit {
    tx: mpsc::Sender<Waiting>,
}

impl GroupCommit {
    /// Starts the writer on the current runtime.
    pub(crate) fn start(store: Arc<SqlStore>) -> GroupCommit {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, rx));
        GroupCommit { tx }
    }

    /// Commits `event` together with whatever else is waiting; returns once it is stored.
    pub(crate) async fn put(&self, event: InboundEvent) -> Result<(), StoreError> {
        let (done, stored) = oneshot::channel();
        self.tx
            .send(Waiting { event, done })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        stored.await.unwrap_or(Err(StoreError::WriterStopped))
    }
}

async fn write(store: Arc<SqlStore>, mut rx: mpsc::Receiver<Waiting>) {
    let mut waiting = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut waiting, MAX_GROUP).await > 0 {
        let (events, done): (Vec<InboundEvent>, Vec<Done>) =
            waiting.drain(..).map(|w| (w.event, w.done)).unzip();
        let result = store.put_inbound(&events).await;
        tracing::debug!(
            events = events.len(),
            ok = result.is_ok(),
            "inbound events committed"
        );
        match result {
            Ok(()) => {
                for d in done {
                    let _ = d.send(Ok(()));
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for d in done {
                    let _ = d.send(Err(StoreError::Shared(e.clone())));
                }
            }
        }
    }
}
