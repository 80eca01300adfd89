//! Clocks. [`SystemClock`] reads the wall clock; [`TokioClock`] follows tokio's clock, so a test
//! with `tokio::time::pause` moves sitrep's time without sleeping.

use sitrep_core::{Clock, Timestamp};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        )
    }
}

/// Wall time = `base` + time elapsed on tokio's (pausable) clock since creation.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(base: Timestamp) -> Self {
        TokioClock {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.base.add(self.start.elapsed())
    }
}
