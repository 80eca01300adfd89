use sitrep_bundles::BundleError;
use sitrep_store::StoreError;

/// Why a task could not be run at all (as opposed to a run that failed, which is recorded).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{task} needs {name}: set it with --set {name}=VALUE or in the SLX config")]
    MissingParam { task: String, name: String },
    #[error(
        "{task} needs the secret {name}: pass it with --secret {name}=@FILE or reference it in the SLX"
    )]
    MissingSecret { task: String, name: String },
    #[error(
        "secret {0} is shorter than 4 characters and could not be redacted safely from output; use a real secret"
    )]
    SecretTooShort(String),
    #[error("{task} does not declare {name}; declared: {declared}")]
    UnknownName {
        task: String,
        name: String,
        declared: String,
    },
    #[error("secret reference {reference:?}: {message}")]
    SecretRef { reference: String, message: String },
    #[error(
        "{0} is a remediation task: it changes the outside world and only runs with a human's approval"
    )]
    NeedsApproval(String),
    #[error(transparent)]
    Approval(sitrep_core::approval::ApprovalError),
    #[error("cannot prepare the run directory {path}")]
    RunDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{task} is a robot task and needs sitrep's robot runtime: {source}")]
    Runtime {
        task: String,
        source: crate::robot::RuntimeError,
    },
    #[error("sitrep is shutting down ({reason}); the run was not started")]
    ShuttingDown { reason: String },
}
