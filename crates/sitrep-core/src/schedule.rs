//! When health tasks run next. Pure: the scheduler loop feeds it stored last-run times and the
//! clock's now.

use crate::Timestamp;
use crate::fingerprint::fnv1a64;
use std::time::Duration;

/// A stable per-key offset in `[0, min(interval/10, 30s))`, so SLXs sharing an interval spread
/// out instead of firing together, and the same SLX keeps its phase across restarts.
pub fn jitter(key: &str, interval: Duration) -> Duration {
    let span = (interval / 10).min(Duration::from_secs(30)).as_millis() as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(fnv1a64(&[key]) % span)
}

/// The next time a task with `interval` should start.
///
/// - Never run: `now + jitter`.
/// - On time (the next tick is still ahead): `last + interval`.
/// - Late: ticks that passed are skipped, not queued. At startup (`catching_up`) a stale task runs
///   once soon (`now + jitter`); while running, the next run waits for the next tick on the grid
///   `last + k·interval`, so a run that overran its interval is not followed by a burst.
pub fn next_due(
    key: &str,
    interval: Duration,
    last_started: Option<Timestamp>,
    now: Timestamp,
    catching_up: bool,
) -> Timestamp {
    let interval_ms = interval.as_millis().max(1) as i64;
    let Some(last) = last_started else {
        return now.add(jitter(key, interval));
    };
    let due = Timestamp(last.0.saturating_add(interval_ms));
    if due >= now {
        return due;
    }
    if catching_up {
        return now.add(jitter(key, interval));
    }
    let behind = now.0 - last.0;
    let k = behind / interval_ms + 1;
    Timestamp(last.0 + k * interval_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn first_run_is_jittered_within_a_tenth() {
        let t = next_due("slx-a", MIN, None, Timestamp(0), false);
        assert!(t.0 >= 0 && t.0 < 6_000);
        assert_eq!(
            t,
            next_due("slx-a", MIN, None, Timestamp(0), false),
            "jitter is stable"
        );
        let spread: std::collections::HashSet<_> =
            (0..20).map(|i| jitter(&format!("slx-{i}"), MIN)).collect();
        assert!(spread.len() > 10, "different keys get different offsets");
    }

    #[test]
    fn on_time_runs_follow_the_last_start() {
        assert_eq!(
            next_due("k", MIN, Some(Timestamp(1_000)), Timestamp(30_000), false),
            Timestamp(61_000)
        );
    }

    #[test]
    fn missed_ticks_are_skipped_not_queued() {
        // Last started at 0, now 150s: the ticks at 60s and 120s were missed; next is 180s.
        assert_eq!(
            next_due("k", MIN, Some(Timestamp(0)), Timestamp(150_000), false),
            Timestamp(180_000)
        );
        // After a restart, a stale task runs once soon.
        let t = next_due("k", MIN, Some(Timestamp(0)), Timestamp(3_600_000), true);
        assert!(t.0 >= 3_600_000 && t.0 < 3_606_000);
        // A restart before the next tick waits for it.
        assert_eq!(
            next_due("k", MIN, Some(Timestamp(0)), Timestamp(10_000), true),
            Timestamp(60_000)
        );
    }
}
