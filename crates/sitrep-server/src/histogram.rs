//! Prometheus histograms: cumulative `_bucket{le=...}` counts, `_sum` and `_count`, one
//! series per bounded label set (never a task's or a resource's name).

use std::collections::BTreeMap;
use std::fmt::Write;

/// Seconds a task run takes: from a quick probe to a long diagnostic.
pub const RUN_SECONDS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
/// Seconds a scheduled job starts after it was due.
pub const LAG_SECONDS: &[f64] = &[0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0];

/// One series: counts per bucket (not cumulative: rendering sums them), the sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
struct Series {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

/// A histogram family with fixed upper bounds, by label values.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Label values (in the order of the names given to `render`) → series.
    series: BTreeMap<Vec<String>, Series>,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            series: BTreeMap::new(),
        }
    }

    /// Counts one observation of `value` (seconds) under `labels`.
    pub fn observe(&mut self, labels: &[&str], value: f64) {
        let s = self
            .series
            .entry(labels.iter().map(|l| l.to_string()).collect())
            .or_insert_with(|| Series {
                buckets: vec![0; self.bounds.len()],
                ..Series::default()
            });
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            s.buckets[i] += 1;
        }
        s.sum += value;
        s.count += 1;
    }

    /// The samples of every series (no HELP/TYPE lines): `name_bucket` for each bound and
    /// `+Inf`, `name_sum`, `name_count`; label values escaped.
    pub fn render(&self, out: &mut String, name: &str, label_names: &[&str]) {
        for (values, s) in &self.series {
            let labels: Vec<String> = label_names
                .iter()
                .zip(values)
                .map(|(n, v)| format!("{n}=\"{}\"", crate::metrics::escape(v)))
                .collect();
            let with = |extra: Option<String>| {
                let all: Vec<&str> = labels
                    .iter()
                    .map(String::as_str)
                    .chain(extra.as_deref())
                    .collect();
                if all.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", all.join(","))
                }
            };
            let mut cumulative = 0;
            for (bound, n) in self.bounds.iter().zip(&s.buckets) {
                cumulative += n;
                let le = with(Some(format!("le=\"{bound}\"")));
                let _ = writeln!(out, "{name}_bucket{le} {cumulative}");
            }
            let inf = with(Some("le=\"+Inf\"".into()));
            let _ = writeln!(out, "{name}_bucket{inf} {}", s.count);
            let _ = writeln!(out, "{name}_sum{} {}", with(None), s.sum);
            let _ = writeln!(out, "{name}_count{} {}", with(None), s.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        static BOUNDS: &[f64] = &[0.5, 1.0, 2.5];
        let mut h = Histogram::new(BOUNDS);
        h.observe(&["health", "succeeded"], 0.25);
        h.observe(&["health", "succeeded"], 1.0);
        h.observe(&["health", "succeeded"], 7.0);
        h.observe(&["diagnostic", "fail\"ed"], 2.0);
        let mut out = String::new();
        h.render(&mut out, "x_seconds", &["kind", "status"]);
        assert_eq!(
            out,
            "\
x_seconds_bucket{kind=\"diagnostic\",status=\"fail\\\"ed\",le=\"0.5\"} 0
x_seconds_bucket{kind=\"diagnostic\",status=\"fail\\\"ed\",le=\"1\"} 0
x_seconds_bucket{kind=\"diagnostic\",status=\"fail\\\"ed\",le=\"2.5\"} 1
x_seconds_bucket{kind=\"diagnostic\",status=\"fail\\\"ed\",le=\"+Inf\"} 1
x_seconds_sum{kind=\"diagnostic\",status=\"fail\\\"ed\"} 2
x_seconds_count{kind=\"diagnostic\",status=\"fail\\\"ed\"} 1
x_seconds_bucket{kind=\"health\",status=\"succeeded\",le=\"0.5\"} 1
x_seconds_bucket{kind=\"health\",status=\"succeeded\",le=\"1\"} 2
x_seconds_bucket{kind=\"health\",status=\"succeeded\",le=\"2.5\"} 2
x_seconds_bucket{kind=\"health\",status=\"succeeded\",le=\"+Inf\"} 3
x_seconds_sum{kind=\"health\",status=\"succeeded\"} 8.25
x_seconds_count{kind=\"health\",status=\"succeeded\"} 3
"
        );
    }

    #[test]
    fn a_histogram_without_labels_has_only_le() {
        static BOUNDS: &[f64] = &[1.0];
        let mut h = Histogram::new(BOUNDS);
        h.observe(&[], 0.003);
        let mut out = String::new();
        h.render(&mut out, "lag_seconds", &[]);
        assert_eq!(
            out,
            "lag_seconds_bucket{le=\"1\"} 1\nlag_seconds_bucket{le=\"+Inf\"} 1\nlag_seconds_sum 0.003\nlag_seconds_count 1\n"
        );
    }
}
