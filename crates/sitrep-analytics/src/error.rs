//! Errors of the analytics crate. Messages say what was wrong and what to do.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum AnalyticsError {
    #[error("CSV line {line}: {msg}")]
    Csv { line: usize, msg: String },
    #[error("CSV has no data rows: pass a file with a header and at least one row")]
    EmptyCsv,
    #[error("column '{0}' not found in the CSV header; check the file's header row")]
    MissingColumn(String),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("node '{0}' is not in the dependency graph; pass one of the graph's node names")]
    UnknownNode(String),
    #[error(
        "metric '{metric}' has no column for node '{node}'; check --metric and the metrics header"
    )]
    MissingSeries { node: String, metric: String },
    #[error("invalid input: {0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, AnalyticsError>;
