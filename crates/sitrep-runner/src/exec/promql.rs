//! promql tasks: an instant or range query against the Prometheus HTTP API; each series is a
//! row of its labels plus `value` (and `min`/`max`/`avg` over a range).

use super::{Outcome, QueryError};
use serde_json::{Value, json};
use sitrep_core::table::{Row, render_table};
use std::time::Duration;

const MAX_SERIES: usize = 10_000;

pub struct PromqlRun<'a> {
    pub client: &'a reqwest::Client,
    pub url: String,
    pub query: String,
    /// (range, step) for a range query ending now.
    pub range: Option<(Duration, Duration)>,
    pub timeout: Duration,
    /// The end of a range query, in milliseconds (whole seconds would miss the last second).
    pub now_ms: i64,
}

pub async fn run(r: PromqlRun<'_>) -> (Outcome, Vec<Row>) {
    super::rows_within(r.timeout, "the Prometheus query", fetch(&r), |rows| {
        format!("{}\n{}", r.query, render_table(rows, 200))
    })
    .await
}

async fn fetch(r: &PromqlRun<'_>) -> Result<Vec<Row>, QueryError> {
    let base = r.url.trim_end_matches('/');
    let req = match r.range {
        None => r
            .client
            .get(format!("{base}/api/v1/query"))
            .query(&[("query", r.query.as_str())]),
        Some((range, step)) => {
            let end = r.now_ms;
            let start = end - range.as_millis() as i64;
            let secs = |ms: i64| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
            r.client.get(format!("{base}/api/v1/query_range")).query(&[
                ("query", r.query.clone()),
                ("start", secs(start)),
                ("end", secs(end)),
                ("step", format!("{}s", step.as_secs().max(1))),
            ])
        }
    };
    let resp = req.send().await.map_err(|e| {
        QueryError::Unreachable(format!(
            "no response from Prometheus at {base} ({}); whether it is up is for its availability check to say",
            super::http::error_chain(&e)
        ))
    })?;
    let status = resp.status();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return Err(QueryError::Unreachable(format!(
            "Prometheus at {base} is not ready (HTTP 503)"
        )));
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("Prometheus answered {status} with a body that is not JSON: {e}"))?;
    if body["status"] != "success" {
        return Err(QueryError::Failed(format!(
            "Prometheus rejected the query ({status}): {} {}",
            body["errorType"].as_str().unwrap_or(""),
            body["error"].as_str().unwrap_or("")
        )));
    }
    Ok(rows(&body["data"])?)
}

fn num(v: &Value) -> Option<f64> {
    v.as_str().and_then(|s| s.parse().ok())
}

pub fn rows(data: &Value) -> Result<Vec<Row>, String> {
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("vector") => Ok(result
            .as_array()
            .map(|a| {
                a.iter()
                    .take(MAX_SERIES)
                    .map(|s| series_row(&s["metric"], vec![("value", num(&s["value"][1]))]))
                    .collect()
            })
            .unwrap_or_default()),
        Some("matrix") => Ok(result
            .as_array()
            .map(|a| {
                a.iter()
                    .take(MAX_SERIES)
                    .map(|s| {
                        let points: Vec<(f64, f64)> = s["values"]
                            .as_array()
                            .map(|v| {
                                v.iter()
                                    .filter_map(|p| Some((p[0].as_f64()?, num(&p[1])?)))
                                    .collect()
                            })
                            .unwrap_or_default();
                        let vals: Vec<f64> = points.iter().map(|p| p.1).collect();
                        // When the series last moved off zero: the latest event of a
                        // counter-rate query such as `increase(x_failures_total[1m])`.
                        let last_nonzero_at = points
                            .iter()
                            .rev()
                            .find(|p| p.1 != 0.0 && p.1.is_finite())
                            .map(|p| {
                                Value::from(
                                    sitrep_core::Timestamp((p.0 * 1000.0) as i64).to_rfc3339(),
                                )
                            });
                        let last = vals.last().copied();
                        let min = vals.iter().copied().reduce(f64::min);
                        let max = vals.iter().copied().reduce(f64::max);
                        let avg = (!vals.is_empty())
                            .then(|| vals.iter().sum::<f64>() / vals.len() as f64);
                        let mut row = series_row(
                            &s["metric"],
                            vec![("value", last), ("min", min), ("max", max), ("avg", avg)],
                        );
                        row.columns.push((
                            "last_nonzero_at".into(),
                            last_nonzero_at.unwrap_or(Value::Null),
                        ));
                        row
                    })
                    .collect()
            })
            .unwrap_or_default()),
        Some("scalar") | Some("string") => Ok(vec![Row::from_pairs([(
            "value",
            num(&result[1]).map_or(Value::Null, |v| json!(v)),
        )])]),
        other => Err(format!("unexpected Prometheus result type {other:?}")),
    }
}

fn series_row(metric: &Value, values: Vec<(&str, Option<f64>)>) -> Row {
    let mut columns: Vec<(String, Value)> = metric
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    for (k, v) in values {
        columns.push((
            k.to_string(),
            v.filter(|f| f.is_finite())
                .map_or(Value::Null, |f| json!(f)),
        ));
    }
    Row { columns }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_and_matrices_become_rows() {
        let v = json!({"resultType":"vector","result":[{"metric":{"job":"node","instance":"a:1"},"value":[1,"0"]}]});
        let r = rows(&v).unwrap();
        assert_eq!(r[0].get("job"), Some(&json!("node")));
        assert_eq!(r[0].get("value"), Some(&json!(0.0)));
        let m = json!({"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"3"],[3,"NaN"]]}]});
        let r = rows(&m).unwrap();
        assert_eq!(r[0].get("max"), Some(&json!(3.0)));
        assert_eq!(
            r[0].get("last_nonzero_at"),
            Some(&json!("1970-01-01T00:00:02.000Z")),
            "NaN is not an event"
        );
        assert_eq!(
            r[0].get("avg"),
            Some(&Value::Null),
            "NaN poisons the average: reported as null"
        );
    }
}
