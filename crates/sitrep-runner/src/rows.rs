//! Declarative tasks (sql, promql) produce rows; their `inconclusive`, `raise`, `insights` and
//! `metrics` rules turn rows into results.

use sitrep_bundles::RowRules;
use sitrep_core::table::{Row, cell};
use sitrep_core::template::{render_row, substitute};
use sitrep_core::{IssueDraft, Severity, Timestamp, expr};
use sitrep_store::RunResults;

/// What the rules made of the rows.
#[derive(Debug, Default)]
pub struct Applied {
    pub results: RunResults,
    /// Set when an `inconclusive` rule matched: the run could not measure (and raised nothing).
    pub inconclusive: Option<String>,
    /// Rule errors (an unknown column, say), which make the run fail.
    pub errors: Vec<String>,
}

/// Applies the rules to every row. `vars` fills `${NAME}`.
pub fn apply(rules: RowRules<'_>, rows: &[Row], vars: &dyn Fn(&str) -> Option<String>) -> Applied {
    let mut out = RunResults::default();
    let mut errors = Vec::new();
    let fill = |t: &str, row: &Row, errors: &mut Vec<String>| match substitute(t, vars) {
        Ok(s) => render_row(&s, row),
        Err(e) => {
            errors.push(e);
            String::new()
        }
    };
    let compile = |when: &Option<String>, errors: &mut Vec<String>| -> Option<Option<expr::Expr>> {
        let Some(w) = when else { return Some(None) };
        match substitute(w, vars)
            .and_then(|s| expr::parse(&s).map_err(|e| format!("invalid `when` {w:?}: {e}")))
        {
            Ok(e) => Some(Some(e)),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };
    let matches = |e: &Option<expr::Expr>, row: &Row, errors: &mut Vec<String>| match e {
        None => true,
        Some(e) => e.eval(row).unwrap_or_else(|err| {
            errors.push(err);
            false
        }),
    };

    for rule in rules.inconclusive {
        let Some(when) = compile(&rule.when, &mut errors) else {
            continue;
        };
        let matched = if rule.no_rows {
            rows.is_empty().then(Row::default)
        } else {
            rows.iter()
                .find(|row| matches(&when, row, &mut errors))
                .cloned()
        };
        if let Some(row) = matched {
            let reason = fill(&rule.reason, &row, &mut errors);
            errors.sort();
            errors.dedup();
            return Applied {
                inconclusive: Some(reason),
                errors,
                ..Default::default()
            };
        }
    }
    for rule in rules.raise {
        let Some(when) = compile(&rule.when, &mut errors) else {
            continue;
        };
        let severity = Severity::new(rule.severity).unwrap_or(Severity::MAJOR);
        for row in rows {
            if !matches(&when, row, &mut errors) {
                continue;
            }
            let mut d = IssueDraft::new(severity, fill(&rule.title, row, &mut errors));
            d.expected = fill(&rule.expected, row, &mut errors);
            d.actual = fill(&rule.actual, row, &mut errors);
            d.details = if rule.details.is_empty() {
                describe(row)
            } else {
                fill(&rule.details, row, &mut errors)
            };
            d.next_steps = fill(&rule.next_steps, row, &mut errors);
            d.reproduce_hint = fill(&rule.reproduce_hint, row, &mut errors);
            d.resource = rule
                .resource
                .as_ref()
                .map(|r| fill(r, row, &mut errors))
                .filter(|r| !r.is_empty());
            if let Some(t) = &rule.last_event_at {
                let text = fill(t, row, &mut errors);
                match event_time(&text) {
                    Ok(at) => d.last_event_at = at,
                    Err(e) => errors.push(e),
                }
            }
            d.data = row.columns.iter().cloned().collect();
            out.issues.push(d);
        }
    }
    for rule in rules.insights {
        let Some(when) = compile(&rule.when, &mut errors) else {
            continue;
        };
        for row in rows {
            if matches(&when, row, &mut errors) {
                let data = serde_json::Value::Object(row.columns.iter().cloned().collect());
                out.insights
                    .push((fill(&rule.text, row, &mut errors), data));
            }
        }
    }
    for rule in rules.metrics {
        for row in rows {
            let value = row.get(&rule.column).and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                serde_json::Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            });
            match value {
                Some(v) if v.is_finite() => {
                    let labels = rule
                        .labels
                        .iter()
                        .map(|(k, t)| (k.clone(), fill(t, row, &mut errors)))
                        .collect();
                    out.metrics.push((rule.name.clone(), v, labels));
                }
                Some(_) | None if row.get(&rule.column).is_none() => errors.push(format!(
                    "metric {}: no column {:?} in the result",
                    rule.name, rule.column
                )),
                _ => {}
            }
        }
    }
    errors.sort();
    errors.dedup();
    Applied {
        results: out,
        inconclusive: None,
        errors,
    }
}

/// A rendered `last_event_at`: RFC 3339, or Unix seconds; empty or `null` means unknown.
fn event_time(text: &str) -> Result<Option<Timestamp>, String> {
    let t = text.trim();
    if t.is_empty() || t == "null" {
        return Ok(None);
    }
    if let Some(ts) = Timestamp::parse_rfc3339(t) {
        return Ok(Some(ts));
    }
    t.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
        .map(|s| Some(Timestamp((s * 1000.0) as i64)))
        .ok_or_else(|| format!("last_event_at {t:?} is neither RFC 3339 nor Unix seconds"))
}

/// `col=value` pairs, the default details of a raised row.
fn describe(row: &Row) -> String {
    row.columns
        .iter()
        .map(|(k, v)| format!("{k}={}", cell(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sitrep_bundles::{InsightRule, MetricRule, RaiseRule};

    #[test]
    fn rows_become_issues_insights_and_metrics() {
        let raise = vec![RaiseRule {
            when: Some("idle >= ${MAX}".into()),
            severity: 2,
            title: "Application {app} holds idle-in-transaction sessions".into(),
            expected: "at most ${MAX}".into(),
            actual: "{idle} sessions".into(),
            details: String::new(),
            next_steps: String::new(),
            reproduce_hint: String::new(),
            resource: None,
            last_event_at: None,
        }];
        let insights = vec![InsightRule {
            when: None,
            text: "{app}: {idle} idle".into(),
        }];
        let metrics = vec![MetricRule {
            name: "idle".into(),
            column: "idle".into(),
            labels: [("app".to_string(), "{app}".to_string())].into(),
        }];
        let rows = vec![
            Row::from_pairs([("app", json!("batch")), ("idle", json!(12))]),
            Row::from_pairs([("app", json!("shop")), ("idle", json!(1))]),
        ];
        let vars = |n: &str| (n == "MAX").then(|| "5".to_string());
        let Applied {
            results: res,
            errors: errs,
            ..
        } = apply(
            RowRules {
                inconclusive: &[],
                raise: &raise,
                insights: &insights,
                metrics: &metrics,
            },
            &rows,
            &vars,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(res.issues.len(), 1);
        assert_eq!(
            res.issues[0].title,
            "Application batch holds idle-in-transaction sessions"
        );
        assert_eq!(res.issues[0].expected, "at most 5");
        assert_eq!(res.issues[0].actual, "12 sessions");
        assert_eq!(res.issues[0].details, "app=batch, idle=12");
        assert_eq!(res.insights.len(), 2);
        assert_eq!(res.metrics[0].2["app"], "batch");
    }

    #[test]
    fn unknown_columns_are_errors() {
        let raise = vec![RaiseRule {
            when: Some("nope > 1".into()),
            severity: 2,
            title: "t".into(),
            expected: String::new(),
            actual: String::new(),
            details: String::new(),
            next_steps: String::new(),
            reproduce_hint: String::new(),
            resource: None,
            last_event_at: None,
        }];
        let rows = vec![Row::from_pairs([("a", json!(1))])];
        let errs = apply(
            RowRules {
                inconclusive: &[],
                raise: &raise,
                insights: &[],
                metrics: &[],
            },
            &rows,
            &|_| None,
        )
        .errors;
        assert!(errs[0].contains("no column \"nope\""));
    }

    #[test]
    fn an_inconclusive_rule_stops_the_raises_and_event_times_are_read() {
        use sitrep_bundles::InconclusiveRule;
        let unmeasured = vec![
            InconclusiveRule {
                when: Some("up == 0".into()),
                no_rows: false,
                reason: "exporter {instance} is down".into(),
            },
            InconclusiveRule {
                when: None,
                no_rows: true,
                reason: "no data".into(),
            },
        ];
        let raise = vec![RaiseRule {
            when: None,
            severity: 2,
            title: "Rule group {group} fails".into(),
            expected: String::new(),
            actual: String::new(),
            details: String::new(),
            next_steps: String::new(),
            reproduce_hint: String::new(),
            resource: None,
            last_event_at: Some("{last_nonzero_at}".into()),
        }];
        let rules = |raise| RowRules {
            inconclusive: &unmeasured,
            raise,
            insights: &[],
            metrics: &[],
        };
        let down = vec![Row::from_pairs([
            ("instance", json!("a:1")),
            ("up", json!(0)),
        ])];
        let a = apply(rules(&raise), &down, &|_| None);
        assert_eq!(a.inconclusive.as_deref(), Some("exporter a:1 is down"));
        assert!(a.results.issues.is_empty());
        assert_eq!(
            apply(rules(&raise), &[], &|_| None).inconclusive.as_deref(),
            Some("no data")
        );
        let failing = vec![Row::from_pairs([
            ("group", json!("api")),
            ("up", json!(1)),
            ("last_nonzero_at", json!("2026-11-21T08:00:00Z")),
        ])];
        let a = apply(rules(&raise), &failing, &|_| None);
        assert_eq!(a.inconclusive, None);
        assert_eq!(
            a.results.issues[0].last_event_at,
            Timestamp::parse_rfc3339("2026-11-21T08:00:00Z")
        );
        assert_eq!(
            event_time("1700000000").unwrap(),
            Some(Timestamp(1_700_000_000_000))
        );
        assert!(event_time("soon").is_err());
    }
}
