//! The SLO trigger of a workflow (`on: {slo: {...}}`): an SLX's health checks, each good
//! (it succeeded and raised no issue) or bad, against an objective over a sliding window.
//! Pure: the window is fed the checks as they finish and says when the SLO starts being
//! violated (once, until it recovers).

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// The trigger as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloTrigger {
    /// The share of good checks the SLX must keep, in percent (`99.5`).
    pub objective: f64,
    /// Over how long (`1h`, `30m`, `1d`).
    pub window: String,
    /// Only these SLXs (names; default: every SLX).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slxs: Vec<String>,
    /// Checks the window must hold before it can be violated (default 5), so one bad check
    /// after a start is not an SLO breach.
    #[serde(default = "default_min_checks")]
    pub min_checks: usize,
}

fn default_min_checks() -> usize {
    5
}

impl SloTrigger {
    /// The problems of the trigger, by field.
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = vec![];
        if !(self.objective > 0.0 && self.objective < 100.0) {
            out.push((
                "on.slo.objective".into(),
                format!(
                    "{} is not a percentage between 0 and 100 (write e.g. 99.5)",
                    self.objective
                ),
            ));
        }
        match crate::time::parse_duration(&self.window) {
            Ok(d) if d >= Duration::from_secs(60) => {}
            Ok(_) => out.push((
                "on.slo.window".into(),
                "a window shorter than a minute holds too few checks (write e.g. 1h)".into(),
            )),
            Err(e) => out.push(("on.slo.window".into(), e)),
        }
        if self.min_checks == 0 {
            out.push((
                "on.slo.min_checks".into(),
                "at least one check is needed to judge the SLO".into(),
            ));
        }
        out
    }

    /// The window (checked by [`SloTrigger::check`]; an hour if it does not parse).
    pub fn window(&self) -> Duration {
        crate::time::parse_duration(&self.window).unwrap_or(Duration::from_secs(3600))
    }

    /// Whether it watches this SLX.
    pub fn watches(&self, slx: &str) -> bool {
        self.slxs.is_empty() || self.slxs.iter().any(|s| s == slx)
    }
}

/// The window's checks now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SloState {
    pub good: usize,
    pub total: usize,
    /// Good checks in percent of all (100 with none).
    pub percent: f64,
}

/// What a check did to the SLO.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SloChange {
    /// It started being violated: fire.
    Violated(SloState),
    /// It is within its objective again (after a violation).
    Recovered(SloState),
    /// Nothing to tell.
    Same,
}

/// The checks of one SLX within one trigger's window, and whether it is violated.
#[derive(Debug, Clone, Default)]
pub struct SloWindow {
    checks: VecDeque<(Timestamp, bool)>,
    violated: bool,
}

impl SloWindow {
    /// Adds a check that finished at `at` and says what it changed.
    pub fn push(&mut self, t: &SloTrigger, at: Timestamp, good: bool) -> SloChange {
        self.checks.push_back((at, good));
        let since = at.0 - t.window().as_millis() as i64;
        while self.checks.front().is_some_and(|(a, _)| a.0 <= since) {
            self.checks.pop_front();
        }
        let state = self.state();
        let below = state.percent < t.objective;
        match (self.violated, below && state.total >= t.min_checks) {
            (false, true) => {
                self.violated = true;
                SloChange::Violated(state)
            }
            (true, false) if !below => {
                self.violated = false;
                SloChange::Recovered(state)
            }
            _ => SloChange::Same,
        }
    }

    pub fn state(&self) -> SloState {
        let total = self.checks.len();
        let good = self.checks.iter().filter(|(_, g)| *g).count();
        let percent = if total == 0 {
            100.0
        } else {
            good as f64 * 100.0 / total as f64
        };
        SloState {
            good,
            total,
            percent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(objective: f64, window: &str, min_checks: usize) -> SloTrigger {
        SloTrigger {
            objective,
            window: window.into(),
            slxs: vec![],
            min_checks,
        }
    }

    #[test]
    fn bad_checks_below_the_objective_fire_once_until_it_recovers() {
        let t = trigger(90.0, "10m", 3);
        let mut w = SloWindow::default();
        let min = |m: i64| Timestamp(m * 60_000);
        // Two bad checks are too few to judge.
        assert_eq!(w.push(&t, min(0), false), SloChange::Same);
        assert_eq!(w.push(&t, min(1), false), SloChange::Same);
        let SloChange::Violated(s) = w.push(&t, min(2), true) else {
            panic!("1 good of 3 is below 90%")
        };
        assert_eq!((s.good, s.total), (1, 3));
        // Still violated: not again.
        assert_eq!(w.push(&t, min(3), false), SloChange::Same);
        // The bad ones leave the window (older than 10 minutes) as good ones come: at
        // minute 11 it holds minutes 2..=11, one of them bad, 90%.
        let recovered: Vec<(i64, SloChange)> = (4..16)
            .map(|m| (m, w.push(&t, min(m), true)))
            .filter(|(_, c)| *c != SloChange::Same)
            .collect();
        assert_eq!(recovered.len(), 1, "{recovered:?}");
        let (at, SloChange::Recovered(s)) = recovered[0] else {
            panic!("{recovered:?}")
        };
        assert_eq!((at, s.good, s.total), (11, 9, 10));
    }

    #[test]
    fn a_trigger_names_each_bad_field() {
        let fields = |t: SloTrigger| t.check().into_iter().map(|(f, _)| f).collect::<Vec<_>>();
        assert!(fields(trigger(99.5, "1h", 5)).is_empty());
        assert_eq!(fields(trigger(100.0, "1h", 5)), ["on.slo.objective"]);
        assert_eq!(fields(trigger(99.0, "soon", 5)), ["on.slo.window"]);
        assert_eq!(
            fields(trigger(99.0, "10s", 0)),
            ["on.slo.window", "on.slo.min_checks"]
        );
        let mut only = trigger(99.0, "1h", 5);
        only.slxs = vec!["web-health".into()];
        assert!(only.watches("web-health") && !only.watches("db-health"));
    }
}
