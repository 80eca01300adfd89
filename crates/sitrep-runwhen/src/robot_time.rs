//! Robot Framework's time format, as a task's `[Timeout]` writes it: a number of seconds
//! (`90`, `1.5`), a timer (`1:30`, `01:02:03`), or numbers with units (`1 minute 30 seconds`,
//! `1m 30s`, `2 hours`, `500 ms`), and `NONE` for no timeout. A variable (`${TIMEOUT}`) is
//! not known until the suite runs.

use std::time::Duration;

/// What a `[Timeout]` value says: `Some(None)` is no timeout, `None` a value that is not a time.
pub fn parse(text: &str) -> Option<Option<Duration>> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Some(None);
    }
    if let Ok(s) = t.parse::<f64>() {
        return seconds(s).map(Some);
    }
    if t.contains(':') {
        let mut total = 0.0;
        for part in t.split(':') {
            total = total * 60.0 + part.trim().parse::<f64>().ok()?;
        }
        return seconds(total).map(Some);
    }
    let lower = t.to_ascii_lowercase();
    let mut total = 0.0;
    let mut rest = lower.as_str();
    let mut any = false;
    while !rest.trim_start().is_empty() {
        rest = rest.trim_start();
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = rest[num_end..].trim_start();
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "d" | "day" | "days" => 86_400.0,
            "h" | "hour" | "hours" => 3_600.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "ms" | "millis" | "millisecond" | "milliseconds" => 0.001,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
        any = true;
    }
    if any { seconds(total).map(Some) } else { None }
}

fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_robots_time_formats() {
        let s = |x: &str| parse(x).map(|d| d.map(|d| d.as_secs_f64()));
        assert_eq!(s("90"), Some(Some(90.0)));
        assert_eq!(s("1.5"), Some(Some(1.5)));
        assert_eq!(s("1:30"), Some(Some(90.0)));
        assert_eq!(s("01:02:03"), Some(Some(3723.0)));
        assert_eq!(s("1 minute 30 seconds"), Some(Some(90.0)));
        assert_eq!(s("1m 30s"), Some(Some(90.0)));
        assert_eq!(s("2 hours"), Some(Some(7200.0)));
        assert_eq!(s("500 ms"), Some(Some(0.5)));
        assert_eq!(s("3 Minutes"), Some(Some(180.0)));
        assert_eq!(s("NONE"), Some(None));
        assert_eq!(s("${TASK_TIMEOUT}"), None);
        assert_eq!(s("soon"), None);
        assert_eq!(s("5 fortnights"), None);
        assert_eq!(s("-5"), None);
    }
}
