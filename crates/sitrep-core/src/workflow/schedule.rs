//! Workflows on a schedule: cron's fields (minute hour day-of-month month day-of-week, with an
//! optional leading seconds field and `@hourly`-style nicknames), parsed by `croner` with
//! POSIX/Vixie semantics (day-of-week 0 and 7 are Sunday; when both day fields are restricted,
//! a day matching either fires), read in UTC or in an IANA time zone. The zone database is
//! compiled in (jiff's bundled tzdb), so a schedule means the same on every machine.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// `on: schedule:` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// `0 7 * * 1-5`: at 07:00 on weekdays.
    pub cron: String,
    /// The IANA time zone the fields are read in (`Europe/Paris`); UTC when not given. Across
    /// a daylight-saving change a time that does not exist fires at the first time after the
    /// gap, and a time that happens twice fires once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl ScheduleTrigger {
    /// The zone as shown: its name, or UTC.
    pub fn zone_name(&self) -> &str {
        self.timezone.as_deref().unwrap_or("UTC")
    }
}

/// A checked schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    cron: croner::Cron,
    zone: jiff::tz::TimeZone,
}

/// The time zone named `name` (IANA, as in `Europe/Paris`); the error says what to write.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::db().get(name.trim()).map_err(|_| {
        format!(
            "{name:?} is not a time zone: give an IANA name such as \"Europe/Paris\" or \"America/New_York\", or leave it out for UTC"
        )
    })
}

impl Schedule {
    /// Parses a cron expression read in UTC; the error says what is wrong with it.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        Schedule::parse_in(expr, jiff::tz::TimeZone::UTC)
    }

    /// Parses a cron expression read in `zone`.
    pub fn parse_in(expr: &str, zone: jiff::tz::TimeZone) -> Result<Schedule, String> {
        if expr.split_whitespace().count() > 6 {
            return Err(format!(
                "{expr:?} has more than six fields: give minute hour day-of-month month day-of-week, optionally after seconds"
            ));
        }
        croner::Cron::from_str(expr)
            .map(|cron| Schedule { cron, zone })
            .map_err(|e| format!("{expr:?} is not a cron expression: {e} (like \"0 7 * * 1-5\": minute hour day-of-month month day-of-week)"))
    }

    /// The first time it fires strictly after `after`, if any within croner's range of years.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let t = jiff::Timestamp::from_millisecond(after.0).ok()?;
        let at = t.to_zoned(self.zone.clone());
        let next = self.cron.find_next_occurrence(&at, false).ok()?;
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
    fn fires_on_the_wall_clock_of_its_time_zone_across_daylight_saving() {
        let paris = Schedule::parse_in("0 7 * * *", time_zone("Europe/Paris").unwrap()).unwrap();
        // 07:00 in Paris is 06:00 UTC in winter (CET) and 05:00 UTC in summer (CEST).
        assert_eq!(
            paris.next_after(at("2026-12-03T15:00:00Z")).unwrap(),
            at("2026-12-04T06:00:00Z")
        );
        assert_eq!(
            paris.next_after(at("2026-07-01T12:00:00Z")).unwrap(),
            at("2026-07-02T05:00:00Z")
        );
        // Clocks go forward at 02:00 on 2026-03-29: 02:30 does not exist that day, so it
        // fires right after the gap, and at its wall-clock time the day after.
        let gap = Schedule::parse_in("30 2 * * *", time_zone("Europe/Paris").unwrap()).unwrap();
        let first = gap.next_after(at("2026-03-28T12:00:00Z")).unwrap();
        let second = gap.next_after(first).unwrap();
        assert_eq!(
            first,
            at("2026-03-29T01:00:00Z"),
            "03:00 CEST, right after the gap"
        );
        assert_eq!(second, at("2026-03-30T00:30:00Z"));
        // New York is five hours behind UTC in December.
        let ny = Schedule::parse_in("0 9 * * 1-5", time_zone("America/New_York").unwrap()).unwrap();
        assert_eq!(
            ny.next_after(at("2026-12-03T15:00:00Z")).unwrap(),
            at("2026-12-04T14:00:00Z")
        );
        let e = time_zone("Mars/Olympus").unwrap_err();
        assert!(e.contains("IANA") && e.contains("Mars/Olympus"), "{e}");
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
