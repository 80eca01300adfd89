//! One executor per task type. Each returns an [`Outcome`]; the runner records it.

pub mod http;
pub mod promql;
pub mod script;
pub(crate) mod spawn;
pub mod sql;

use sitrep_core::RunStatus;
use sitrep_core::table::Row;
use sitrep_store::RunResults;
use std::future::Future;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Outcome {
    pub status: Option<RunStatus>,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub report: String,
    pub results: RunResults,
    /// Why the run failed, or problems with its results (bad protocol lines, rule errors).
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn failed(message: impl Into<String>) -> Outcome {
        Outcome {
            status: Some(RunStatus::Failed),
            errors: vec![message.into()],
            ..Default::default()
        }
    }

    /// A query or request cut by the runner's interruption.
    pub fn interrupted(reason: &str) -> Outcome {
        Outcome {
            status: Some(RunStatus::Interrupted),
            errors: vec![format!("interrupted: {reason}; the request was cancelled")],
            ..Default::default()
        }
    }
}

/// Runs a row-producing query (sql, promql) under the task's timeout. The report is built from
/// the rows; errors and timeouts become a failed or timed-out outcome with no rows.
pub async fn rows_within(
    timeout: Duration,
    what: &str,
    query: impl Future<Output = Result<Vec<Row>, String>>,
    report: impl FnOnce(&[Row]) -> String,
) -> (Outcome, Vec<Row>) {
    match tokio::time::timeout(timeout, query).await {
        Err(_) => (
            Outcome {
                status: Some(RunStatus::TimedOut),
                errors: vec![format!("{what} did not finish within {timeout:?}")],
                ..Default::default()
            },
            vec![],
        ),
        Ok(Err(e)) => (Outcome::failed(e), vec![]),
        Ok(Ok(rows)) => {
            let report = report(&rows);
            (
                Outcome {
                    status: Some(RunStatus::Succeeded),
                    exit_code: Some(0),
                    report,
                    ..Default::default()
                },
                rows,
            )
        }
    }
}
