//! The task result protocol: JSON lines a task appends to `$SITREP_RESULTS`.
//!
//! Task output is untrusted: every line is parsed on its own, a bad line becomes an error
//! message that names it and never stops the good lines from counting.

use crate::{IssueDraft, Severity, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Results past these bounds are dropped (and the drop is reported).
pub const MAX_RECORDS: usize = 10_000;
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ResultRecord {
    Issue(Box<IssueLine>),
    Insight {
        text: String,
        #[serde(default)]
        data: Value,
    },
    Metric {
        name: String,
        value: f64,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    },
    Report {
        text: String,
    },
    /// The task could not measure because a precondition another task checks did not hold
    /// (the service does not answer at all, the URL is not HTTPS): the run is `inconclusive`.
    Inconclusive {
        reason: String,
    },
}

/// An issue line as written by a task: like [`IssueDraft`], but `observed_at` is RFC 3339 text
/// and severity may arrive as a number or a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueLine {
    pub severity: Value,
    pub title: String,
    #[serde(default)]
    pub expected: String,
    #[serde(default)]
    pub actual: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub next_steps: String,
    #[serde(default)]
    pub reproduce_hint: String,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub observed_at: Option<String>,
    /// For issues raised from events in a time window: when the latest event happened.
    #[serde(default)]
    pub last_event_at: Option<String>,
    /// Structured facts (an object of names to values), capped at [`MAX_DATA_BYTES`].
    #[serde(default)]
    pub data: Option<serde_json::Map<String, Value>>,
}

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, String> {
    match value {
        None | Some("") => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| format!("{field} {s:?} is not RFC 3339")),
    }
}

/// The largest `data` object an issue line may carry, as JSON text.
pub const MAX_DATA_BYTES: usize = 16 * 1024;

impl IssueLine {
    pub fn into_draft(self) -> Result<IssueDraft, String> {
        let n = match &self.severity {
            Value::Number(n) => n.as_u64().ok_or("severity must be 1 to 4")?,
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "critical" => 1,
                "major" | "error" => 2,
                "minor" | "warning" => 3,
                "info" => 4,
                other => other.parse().map_err(|_| {
                    format!("severity {s:?} must be 1 to 4 or critical/major/minor/info")
                })?,
            },
            _ => return Err("severity must be 1 to 4".into()),
        };
        let severity = Severity::new(u8::try_from(n).unwrap_or(0))?;
        if self.title.trim().is_empty() {
            return Err("issue title is empty".into());
        }
        let observed_at = parse_time("observed_at", self.observed_at.as_deref())?;
        let last_event_at = parse_time("last_event_at", self.last_event_at.as_deref())?;
        Ok(IssueDraft {
            severity,
            title: cap(self.title, 512),
            expected: cap(self.expected, MAX_TEXT_BYTES),
            actual: cap(self.actual, MAX_TEXT_BYTES),
            details: cap(self.details, MAX_TEXT_BYTES),
            next_steps: cap(self.next_steps, MAX_TEXT_BYTES),
            reproduce_hint: cap(self.reproduce_hint, MAX_TEXT_BYTES),
            resource: self.resource.filter(|r| !r.trim().is_empty()),
            observed_at,
            last_event_at,
            data: match self.data {
                Some(d) if serde_json::to_string(&d).map_or(0, |t| t.len()) > MAX_DATA_BYTES => {
                    return Err(format!("issue data is larger than {MAX_DATA_BYTES} bytes"));
                }
                d => d.unwrap_or_default(),
            },
        })
    }
}

/// Cuts a string to at most `max` bytes on a char boundary, marking the cut.
pub fn cap(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(" […truncated]");
    s
}

/// What a task reported, plus the lines that could not be read.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ParsedResults {
    pub issues: Vec<IssueDraft>,
    pub insights: Vec<(String, Value)>,
    pub metrics: Vec<(String, f64, BTreeMap<String, String>)>,
    pub reports: Vec<String>,
    /// Why the task could not measure, if it said so (several reasons are joined).
    pub inconclusive: Option<String>,
    pub errors: Vec<String>,
}

pub fn parse_results(text: &str) -> ParsedResults {
    let mut out = ParsedResults::default();
    let mut records = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        records += 1;
        if records > MAX_RECORDS {
            out.errors.push(format!(
                "results: more than {MAX_RECORDS} records; the rest were dropped"
            ));
            break;
        }
        let lineno = i + 1;
        match serde_json::from_str::<ResultRecord>(line) {
            Ok(ResultRecord::Issue(l)) => match (*l).into_draft() {
                Ok(d) => out.issues.push(d),
                Err(e) => out.errors.push(format!("results line {lineno}: {e}")),
            },
            Ok(ResultRecord::Insight { text, data }) => {
                out.insights.push((cap(text, MAX_TEXT_BYTES), data))
            }
            Ok(ResultRecord::Metric {
                name,
                value,
                labels,
            }) => {
                if value.is_finite() && !name.is_empty() {
                    out.metrics.push((name, value, labels));
                } else {
                    out.errors.push(format!(
                        "results line {lineno}: metric needs a name and a finite value"
                    ));
                }
            }
            Ok(ResultRecord::Report { text }) => out.reports.push(cap(text, MAX_TEXT_BYTES)),
            Ok(ResultRecord::Inconclusive { reason }) if reason.trim().is_empty() => {
                out.errors.push(format!(
                    "results line {lineno}: inconclusive needs a reason"
                ))
            }
            Ok(ResultRecord::Inconclusive { reason }) => {
                let reason = cap(reason.trim().to_string(), MAX_TEXT_BYTES);
                out.inconclusive = Some(match out.inconclusive.take() {
                    Some(prev) if prev != reason => {
                        cap(format!("{prev}; {reason}"), MAX_TEXT_BYTES)
                    }
                    _ => reason,
                });
            }
            Err(e) => out.errors.push(format!("results line {lineno}: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_every_record_type_and_keeps_going_past_bad_lines() {
        let text = r#"{"type":"issue","severity":2,"title":"Disk / full","next_steps":"clean"}
not json
{"type":"insight","text":"pg: 96/100","data":{"used":96}}
{"type":"metric","name":"used","value":96.5,"labels":{"db":"shop"}}
{"type":"issue","severity":"critical","title":"x","observed_at":"2026-11-21T08:00:00Z"}
{"type":"issue","severity":9,"title":"bad severity"}
{"type":"report","text":"hello"}
{"type":"weird"}
"#;
        let p = parse_results(text);
        assert_eq!(p.issues.len(), 2);
        assert_eq!(p.issues[1].severity, Severity::CRITICAL);
        assert!(p.issues[1].observed_at.is_some());
        assert_eq!(p.insights.len(), 1);
        assert_eq!(p.metrics[0].1, 96.5);
        assert_eq!(p.reports, vec!["hello"]);
        assert_eq!(p.errors.len(), 3, "{:?}", p.errors);
        assert!(p.errors[0].starts_with("results line 2:"));
        assert!(p.errors[1].contains("line 6"));
    }

    #[test]
    fn inconclusive_lines_and_event_times() {
        let text = r#"{"type":"inconclusive","reason":"no response from http://x: connection refused"}
{"type":"inconclusive","reason":""}
{"type":"issue","severity":3,"title":"t","last_event_at":"2026-11-21T08:00:00Z"}
{"type":"issue","severity":3,"title":"u","last_event_at":"yesterday"}
"#;
        let p = parse_results(text);
        assert_eq!(
            p.inconclusive.as_deref(),
            Some("no response from http://x: connection refused")
        );
        assert_eq!(
            p.issues[0].last_event_at,
            Timestamp::parse_rfc3339("2026-11-21T08:00:00Z")
        );
        assert_eq!(p.errors.len(), 2, "{:?}", p.errors);
        assert!(p.errors[0].contains("needs a reason"));
        assert!(p.errors[1].contains("last_event_at"));
    }

    #[test]
    fn caps_long_text_on_char_boundaries() {
        let s = "é".repeat(100);
        let c = cap(s, 11);
        assert!(c.starts_with("ééééé"));
        assert!(c.ends_with("[…truncated]"));
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(s in "\\PC{0,200}") {
            let _ = parse_results(&s);
        }
    }
}
