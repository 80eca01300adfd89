//! One executor per task type. Each returns an [`Outcome`]; the runner records it.

pub mod forkserver;
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
    /// Why the task could not measure (a precondition another task checks did not hold):
    /// a run that otherwise succeeded is recorded as `inconclusive` with this reason.
    pub inconclusive: Option<String>,
    /// Why the run failed, or problems with its results (bad protocol lines, rule errors).
    pub errors: Vec<String>,
}

impl Outcome {
    /// The task ran but could not measure; see [`Outcome::inconclusive`].
    pub fn inconclusive(reason: impl Into<String>) -> Outcome {
        Outcome {
            status: Some(RunStatus::Succeeded),
            exit_code: Some(0),
            inconclusive: Some(reason.into()),
            ..Default::default()
        }
    }

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

/// Why a row query (sql, promql) produced no rows.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// The service did not answer at all (down, refusing, unreachable, starting up, out of
    /// connection slots): its availability check reports that, so this run is inconclusive.
    Unreachable(String),
    /// Anything else (a bad query, a rejected login): the run failed.
    Failed(String),
}

impl From<String> for QueryError {
    fn from(s: String) -> Self {
        QueryError::Failed(s)
    }
}

/// Runs a row-producing query (sql, promql) under the task's timeout. The report is built from
/// the rows; errors and timeouts become a failed or timed-out outcome with no rows, an
/// unreachable service an inconclusive one.
pub async fn rows_within(
    timeout: Duration,
    what: &str,
    query: impl Future<Output = Result<Vec<Row>, QueryError>>,
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
        Ok(Err(QueryError::Failed(e))) => (Outcome::failed(e), vec![]),
        Ok(Err(QueryError::Unreachable(e))) => (Outcome::inconclusive(e), vec![]),
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
