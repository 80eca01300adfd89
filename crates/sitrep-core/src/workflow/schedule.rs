//! Workflows on a schedule: cron's fields in UTC (minute hour day-of-month month day-of-week,
//! with an optional leading seconds field and `@hourly`-style nicknames), parsed by `croner`
//! with POSIX/Vixie semantics (day-of-week 0 and 7 are Sunday; when both day fields are
//! restricted, a day matching either fires).

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// `on: schedule:` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// `0 7 * * 1-5`: at 07:00 UTC on weekdays.
    pub cron: String,
}

/// A checked schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule(croner::Cron);

impl Schedule {
    /// Parses a cron expression; the error says what is wrong with it.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        if expr.split_whitespace().count() > 6 {
            return Err(format!(
                "{expr:?} has more than six fields: give minute hour day-of-month month day-of-week, optionally after seconds"
            ));
        }
        croner::Cron::from_str(expr)
            .map(Schedule)
            .map_err(|e| format!("{expr:?} is not a cron expression: {e} (like \"0 7 * * 1-5\": minute hour day-of-month month day-of-week, in UTC)"))
    }

    /// The first time it fires strictly after `after`, if any within croner's range of years.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let t = jiff::Timestamp::from_millisecond(after.0).ok()?;
        let at = t.to_zoned(jiff::tz::TimeZone::UTC);
        let next = self.0.find_next_occurrence(&at, false).ok()?;
        Some(Timestamp(next.timestamp().as_millisecond()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp(s.parse::<jiff::Timestamp>().unwrap().as_millisecond())
    }

    #[test]
    fn fires_at_the_next_matching_minute_in_utc() {
        let s = Schedule::parse("0 7 * * 1-5").unwrap();
        // Thursday 2026-12-03 15:00 UTC -> Friday 07:00, then Monday 07:00.
        let next = s.next_after(at("2026-12-03T15:00:00Z")).unwrap();
        assert_eq!(next, at("2026-12-04T07:00:00Z"));
        assert_eq!(s.next_after(next).unwrap(), at("2026-12-07T07:00:00Z"));
        // Strictly after: a time on the schedule gives the one after it.
        let every = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            every.next_after(at("2026-12-03T15:00:00Z")).unwrap(),
            at("2026-12-03T15:15:00Z")
        );
        // Sunday is 0 and 7; a leading seconds field and nicknames are taken.
        let sunday = Schedule::parse("30 2 * * 7").unwrap();
        assert_eq!(
            sunday.next_after(at("2026-12-03T15:00:00Z")).unwrap(),
            at("2026-12-06T02:30:00Z")
        );
        let secs = Schedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(
            secs.next_after(at("2026-12-03T15:00:01Z")).unwrap(),
            at("2026-12-03T15:00:10Z")
        );
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-12-03T15:00:01Z")).unwrap(),
            at("2026-12-03T16:00:00Z")
        );
    }

    #[test]
    fn a_bad_expression_says_what_to_write() {
        for bad in [
            "",
            "every day",
            "61 * * * *",
            "* * * * * * * *",
            "0 7 * * 8",
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains("cron") || e.contains("fields"), "{bad}: {e}");
        }
    }
}
