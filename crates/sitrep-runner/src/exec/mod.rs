//! One executor per task type. Each returns an [`Outcome`]; the runner records it.

pub mod http;
pub mod promql;
pub mod script;
pub mod sql;

use sitrep_core::RunStatus;
use sitrep_store::RunResults;

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
}
