//! An SLX's SLI history: the metric series its health tasks recorded on its resource, each with
//! the threshold its task raises an issue at (the SLO, when the task declares one a row
//! expression can show) and the anomalous-SLI insights the runner raised on it; with the SLX's
//! tasks and its recent runs, so one call draws its page.

use crate::views::RunSummary;
use crate::{Result, Sitrep};
use serde::{Deserialize, Serialize};
use sitrep_bundles::model::{Bundle, HttpSpec, ParamDecl, Task, TaskSpec};
use sitrep_bundles::slx::slx_health_tasks;
use sitrep_core::{Insight, Slx, Timestamp};
use sitrep_store::Store;
use std::collections::BTreeMap;

/// At most this many samples are read per SLX (the newest kept).
const MAX_SAMPLES: i64 = 20_000;
/// Recent runs of the SLX shown with its history.
const MAX_RUNS: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlxHistoryView {
    pub slx: Slx,
    /// The health tasks it runs and every how many seconds.
    pub tasks: Vec<SlxTaskView>,
    /// Entries of the SLX that cannot run, and why.
    pub problems: Vec<String>,
    /// Its runs, newest first (at most 50).
    pub runs: Vec<RunSummary>,
    /// The start of the history window.
    pub since: Timestamp,
    /// One per (task, metric, labels), ordered by task and metric.
    pub series: Vec<SliSeriesView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlxTaskView {
    pub task: String,
    pub interval_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliSeriesView {
    pub task: String,
    pub metric: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Oldest first.
    pub points: Vec<SliPoint>,
    /// The threshold an issue is raised at, when the task's rules compare this metric with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloView>,
    /// Anomalous-SLI insights raised on this series in the window, oldest first.
    pub anomalies: Vec<SliAnomaly>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliPoint {
    pub at: Timestamp,
    pub value: f64,
    pub run_id: String,
}

/// "An issue is raised when `metric op threshold`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloView {
    /// `>=`, `>`, `<=` or `<`.
    pub op: String,
    pub threshold: f64,
    /// The parameter it comes from (the SLX's config, else its default), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// The rule's whole condition, as written.
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliAnomaly {
    pub at: Timestamp,
    pub value: f64,
    pub score: f64,
    pub text: String,
}

impl Sitrep {
    /// The SLX's SLI history of the last `hours` (1 to 720; see [`SlxHistoryView`]).
    pub async fn slx_history(&self, name: &str, hours: u32) -> Result<SlxHistoryView> {
        let slx = self.slx(name).await?;
        let since = Timestamp(self.now().0 - i64::from(hours.clamp(1, 720)) * 3_600_000);
        let catalog = self.catalog().await?;
        let (tasks, problems) = slx_health_tasks(&catalog, &slx, true);
        let bundle = slx
            .bundle
            .split_once('/')
            .and_then(|(c, b)| catalog.collections.iter().find(|x| x.name == c)?.bundle(b));
        let store = self.store().await?;
        let ws = self.workspace();
        let task_names: Vec<String> = tasks.iter().map(|t| t.task.to_string()).collect();
        let samples = store
            .scope_metric_samples(ws, &slx.resource, since, MAX_SAMPLES)
            .await?;
        let insights = store.scope_insights(ws, &slx.resource, since).await?;
        let mut series: BTreeMap<(String, String, String), SliSeriesView> = BTreeMap::new();
        for m in samples
            .into_iter()
            .filter(|m| task_names.contains(&m.task) && m.value.is_finite())
        {
            let key = (
                m.task.clone(),
                m.name.clone(),
                serde_json::to_string(&m.labels).unwrap_or_default(),
            );
            series
                .entry(key)
                .or_insert_with(|| SliSeriesView {
                    slo: bundle.and_then(|b| slo_of(b, &m.task, &m.name, &slx.config)),
                    task: m.task.clone(),
                    metric: m.name.clone(),
                    labels: m.labels.clone(),
                    points: vec![],
                    anomalies: vec![],
                })
                .points
                .push(SliPoint {
                    at: m.at,
                    value: m.value,
                    run_id: m.run_id,
                });
        }
        let mut series: Vec<SliSeriesView> = series.into_values().collect();
        for i in &insights {
            if let Some((s, a)) = anomaly_of(i, &mut series) {
                s.anomalies.push(a);
            }
        }
        let runs = store
            .recent_runs(ws, 2_000)
            .await?
            .iter()
            .filter(|r| r.slx.as_deref() == Some(slx.name.as_str()))
            .take(MAX_RUNS)
            .map(RunSummary::from)
            .collect();
        Ok(SlxHistoryView {
            tasks: tasks
                .iter()
                .map(|t| SlxTaskView {
                    task: t.task.to_string(),
                    interval_s: t.interval.as_secs(),
                })
                .collect(),
            problems: problems.iter().map(ToString::to_string).collect(),
            slx,
            runs,
            since,
            series,
        })
    }
}

/// The series an anomalous-SLI insight is about, and the anomaly.
fn anomaly_of<'s>(
    i: &Insight,
    series: &'s mut [SliSeriesView],
) -> Option<(&'s mut SliSeriesView, SliAnomaly)> {
    let d = &i.data;
    if d.get("kind")?.as_str()? != "anomalous_sli" {
        return None;
    }
    let metric = d.get("metric")?.as_str()?;
    let labels: BTreeMap<String, String> =
        serde_json::from_value(d.get("labels").cloned().unwrap_or_default()).unwrap_or_default();
    let s = series
        .iter_mut()
        .find(|s| s.task == i.task && s.metric == metric && s.labels == labels)?;
    let a = SliAnomaly {
        at: i.at,
        value: d.get("value").and_then(|v| v.as_f64()).unwrap_or(f64::NAN),
        score: d.get("score").and_then(|v| v.as_f64()).unwrap_or(0.0),
        text: i.text.clone(),
    };
    Some((s, a))
}

/// The threshold of the first raise rule of `task` (a row-expression task) that compares the
/// column `metric` is recorded from with a number or a `${PARAM}`.
fn slo_of(
    bundle: &Bundle,
    task: &str,
    metric: &str,
    config: &BTreeMap<String, String>,
) -> Option<SloView> {
    let name = task.rsplit('/').next()?;
    let t: &Task = bundle.task(name)?;
    let (raise, metrics) = match &t.spec {
        TaskSpec::Sql(s) => (&s.raise, &s.metrics),
        TaskSpec::Promql(p) => (&p.raise, &p.metrics),
        TaskSpec::Http(h) => return http_slo(h, metric, &bundle.params, config),
        _ => return None,
    };
    let column = metrics.iter().find(|m| m.name == metric)?.column.as_str();
    raise
        .iter()
        .filter_map(|r| r.when.as_deref())
        .find_map(|when| {
            when.split(" and ")
                .flat_map(|c| c.split(" or "))
                .find_map(|clause| compare(clause, column, &bundle.params, config))
                .map(|(op, threshold, param)| SloView {
                    op,
                    threshold,
                    param,
                    rule: when.to_string(),
                })
        })
}

/// An HTTP check's own thresholds: its latency (`max_latency`) and its certificate's days left
/// (`cert_min_days`).
fn http_slo(
    h: &HttpSpec,
    metric: &str,
    params: &[ParamDecl],
    config: &BTreeMap<String, String>,
) -> Option<SloView> {
    let (op, written, field) = match metric {
        "http_latency_ms" => (">", h.expect.max_latency.clone()?, "max_latency"),
        "tls_cert_days_left" => ("<", h.expect.cert_min_days?.to_string(), "cert_min_days"),
        _ => return None,
    };
    let (text, param) = resolve(&written, params, config)?;
    let threshold = if field == "max_latency" {
        sitrep_core::time::parse_duration(&text).ok()?.as_secs_f64() * 1000.0
    } else {
        text.parse().ok()?
    };
    Some(SloView {
        op: op.into(),
        threshold,
        param,
        rule: format!("{field}: {written}"),
    })
}

/// A number as written, or a `${PARAM}` from the config, else the param's default.
fn resolve(
    written: &str,
    params: &[ParamDecl],
    config: &BTreeMap<String, String>,
) -> Option<(String, Option<String>)> {
    let w = written.trim();
    let Some(p) = w.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
        return Some((w.to_string(), None));
    };
    let value = config
        .get(p)
        .cloned()
        .or_else(|| params.iter().find(|d| d.name == p)?.default.clone())?;
    Some((value.trim().to_string(), Some(p.to_string())))
}

/// `column OP value` (parentheses ignored), its value a number or a resolvable `${PARAM}`.
fn compare(
    clause: &str,
    column: &str,
    params: &[ParamDecl],
    config: &BTreeMap<String, String>,
) -> Option<(String, f64, Option<String>)> {
    let c = clause
        .trim()
        .trim_matches(|ch| ch == '(' || ch == ')')
        .trim();
    let op = [">=", "<=", ">", "<"]
        .into_iter()
        .find(|op| c.contains(op))?;
    let (lhs, rhs) = c.split_once(op)?;
    if lhs.trim() != column {
        return None;
    }
    let (value, param) = resolve(rhs, params, config)?;
    Some((op.to_string(), value.parse().ok()?, param))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comparison_gives_its_threshold_from_a_number_or_the_config() {
        let cfg = BTreeMap::from([("MAX".to_string(), "80".to_string())]);
        assert_eq!(
            compare("(used_pct >= ${MAX}", "used_pct", &[], &cfg),
            Some((">=".into(), 80.0, Some("MAX".into())))
        );
        assert_eq!(
            compare("used_pct < 3.5", "used_pct", &[], &cfg),
            Some(("<".into(), 3.5, None))
        );
        assert_eq!(compare("rank == 1", "used_pct", &[], &cfg), None);
        assert_eq!(compare("other >= 1", "used_pct", &[], &cfg), None);
        assert_eq!(compare("used_pct >= ${NOPE}", "used_pct", &[], &cfg), None);
    }
}
