//! Errors as JSON `{code, message}` with the HTTP status that says whose problem it is. The
//! message is the engine's: it says what to fix, in words every edge can show.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sitrep_engine::EngineError;
use sitrep_engine::vault::VaultError;
use sitrep_engine::views::ProblemView;

#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// A stable machine-readable code (`not_found`, `invalid`, `forbidden`, ...).
    pub code: &'static str,
    /// What went wrong and what to do about it.
    pub message: String,
    /// A file refused for its problems (`code: problems`): each with its file, line and field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemView>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                problems: vec![],
            },
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.body.code, message = %self.body.message, "request failed");
        }
        (self.status, Json(self.body)).into_response()
    }
}

/// The whole error chain in one line (the engine's errors wrap their causes).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        use sitrep_runner_errors::*;
        let message = chain(&e);
        let (status, code) = match &e {
            EngineError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            EngineError::Invalid(_) | EngineError::NeedsResource(_) => {
                (StatusCode::BAD_REQUEST, "invalid")
            }
            EngineError::Problems { problems, .. } => {
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "problems", message);
                err.body.problems = problems.clone();
                return err;
            }
            EngineError::Refused(_) => (StatusCode::CONFLICT, "refused"),
            EngineError::Approval(_) => (StatusCode::CONFLICT, "approval"),
            EngineError::Access(a) if a.is_unauthenticated() => {
                (StatusCode::UNAUTHORIZED, "unauthenticated")
            }
            EngineError::Access(_) => (StatusCode::FORBIDDEN, "forbidden"),
            EngineError::Run(r) => run_status(r),
            EngineError::Bundle(b) => bundle_status(b),
            EngineError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store"),
            EngineError::Vault(VaultError::Invalid(_)) => (StatusCode::BAD_REQUEST, "invalid"),
            // The key is missing, unreadable or not the secrets' own: the server's to fix.
            EngineError::Vault(_) => (StatusCode::SERVICE_UNAVAILABLE, "vault"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, message)
    }
}

impl From<sitrep_engine::access::AccessError> for ApiError {
    fn from(e: sitrep_engine::access::AccessError) -> Self {
        EngineError::from(e).into()
    }
}

/// The runner's and the catalog's errors, by whose problem they are.
mod sitrep_runner_errors {
    use axum::http::StatusCode;
    use sitrep_engine::errors::{BundleError, RunError};

    pub fn run_status(e: &RunError) -> (StatusCode, &'static str) {
        match e {
            RunError::NeedsApproval(_) => (StatusCode::FORBIDDEN, "needs_approval"),
            RunError::Bundle(b) => bundle_status(b),
            RunError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store"),
            RunError::ShuttingDown { .. } => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            RunError::Approval(_) => (StatusCode::CONFLICT, "approval"),
            RunError::RunDir { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            // The managed runtime (Robot Framework) could not be installed or started: not
            // the request's fault, and it may work later.
            RunError::Runtime { .. } => (StatusCode::SERVICE_UNAVAILABLE, "runtime"),
            _ => (StatusCode::BAD_REQUEST, "invalid"),
        }
    }

    pub fn bundle_status(e: &BundleError) -> (StatusCode, &'static str) {
        match e {
            BundleError::UnknownTask(_) => (StatusCode::NOT_FOUND, "not_found"),
            BundleError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}
