//! The clock is injected: services read time through this trait so schedules, cooldowns and
//! baselines can be tested with a paused clock instead of sleeping.

use crate::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// A clock that always says the same time; for tests of pure logic.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}
