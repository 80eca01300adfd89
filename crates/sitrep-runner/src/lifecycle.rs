//! The runner's lifecycle: open, draining (no new runs; runs in flight finish), interrupting
//! (runs in flight are cut: process trees killed, queries dropped, each recorded
//! `interrupted`). And the count of runs in flight, to wait for.

use crate::error::RunError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Open,
    Draining(Arc<str>),
    Interrupting(Arc<str>),
}

#[derive(Debug)]
pub(crate) struct Lifecycle {
    state: watch::Sender<State>,
    in_flight: watch::Sender<usize>,
}

/// Held for the length of one run; counts it as in flight.
#[derive(Debug)]
pub(crate) struct InFlight {
    count: watch::Sender<usize>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.count.send_modify(|n| *n -= 1);
    }
}

/// Resolves with the reason once the runner interrupts its runs.
#[derive(Debug, Clone)]
pub(crate) struct Interrupt(watch::Receiver<State>);

impl Interrupt {
    pub async fn fired(&mut self) -> Arc<str> {
        let reason = match self
            .0
            .wait_for(|s| matches!(s, State::Interrupting(_)))
            .await
        {
            Ok(s) => match &*s {
                State::Interrupting(r) => Some(r.clone()),
                _ => None,
            },
            Err(_) => None,
        };
        match reason {
            Some(r) => r,
            // The runner is gone; nothing will fire.
            None => std::future::pending().await,
        }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            state: watch::Sender::new(State::Open),
            in_flight: watch::Sender::new(0),
        }
    }
}

impl Lifecycle {
    /// Counts a new run in, unless the runner is shutting down.
    pub fn admit(&self) -> Result<InFlight, RunError> {
        self.refuse_if_closed()?;
        self.in_flight.send_modify(|n| *n += 1);
        Ok(InFlight {
            count: self.in_flight.clone(),
        })
    }

    pub fn refuse_if_closed(&self) -> Result<(), RunError> {
        match &*self.state.borrow() {
            State::Open => Ok(()),
            State::Draining(r) | State::Interrupting(r) => Err(RunError::ShuttingDown {
                reason: r.to_string(),
            }),
        }
    }

    pub fn interrupt(&self) -> Interrupt {
        Interrupt(self.state.subscribe())
    }

    pub fn drain(&self, reason: &str) {
        self.state.send_if_modified(|s| {
            if *s == State::Open {
                *s = State::Draining(reason.into());
                true
            } else {
                false
            }
        });
    }

    pub fn interrupt_all(&self, reason: &str) {
        self.state.send_if_modified(|s| {
            if matches!(s, State::Interrupting(_)) {
                false
            } else {
                *s = State::Interrupting(reason.into());
                true
            }
        });
    }

    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    /// Waits until no run is in flight, up to `timeout`; returns whether that happened.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let mut rx = self.in_flight.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn draining_refuses_new_runs_and_interrupting_fires() {
        let l = Lifecycle::default();
        let run = l.admit().unwrap();
        assert_eq!(l.in_flight(), 1);
        let mut fired = l.interrupt();
        l.drain("stopping");
        assert!(matches!(l.admit(), Err(RunError::ShuttingDown { .. })));
        assert!(!l.wait_idle(Duration::from_millis(10)).await);
        l.interrupt_all("SIGTERM");
        assert_eq!(&*fired.fired().await, "SIGTERM");
        drop(run);
        assert!(l.wait_idle(Duration::from_secs(1)).await);
        assert_eq!(l.in_flight(), 0);
    }
}
