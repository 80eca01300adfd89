//! The engine's errors. Messages say what to do, in words every edge can show (no flags).

use crate::settings::SettingsError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] sitrep_store::StoreError),
    #[error(transparent)]
    Bundle(#[from] sitrep_bundles::BundleError),
    #[error(transparent)]
    Run(#[from] sitrep_runner::RunError),
    #[error(transparent)]
    Runtime(#[from] sitrep_runner::RuntimeError),
    #[error(transparent)]
    Discovery(#[from] sitrep_discovery::DiscoveryError),
    #[error(transparent)]
    Approval(#[from] sitrep_core::approval::ApprovalError),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    #[error(transparent)]
    Knowledge(#[from] crate::knowledge::IndexError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error("cannot use {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Something named does not exist; `hint` says where to look.
    #[error("no {what} {name:?}: {hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: String,
    },
    /// A request that cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),
    /// Refused by a safety rule (approval budget, cooldown, read-only assistant).
    #[error("refused: {0}")]
    Refused(String),
    /// A file refused for its problems (each with its line and field): nothing was written.
    #[error(
        "{file} has {} problem(s), so it was not saved: fix each at its line and field, then save again",
        problems.len()
    )]
    Problems {
        file: String,
        problems: Vec<crate::views::ProblemView>,
    },
    /// A hand run whose task names no target to derive its resource from.
    #[error(
        "cannot tell which resource {0} looks at: its configuration names no URL, DSN or host; name the resource it checks"
    )]
    NeedsResource(String),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// A remediation was asked to run without an approval.
    pub fn needs_approval(&self) -> bool {
        matches!(
            self,
            EngineError::Run(sitrep_runner::RunError::NeedsApproval(_))
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn not_found(what: &'static str, name: &str, hint: &str) -> Self {
        EngineError::NotFound {
            what,
            name: name.to_string(),
            hint: hint.to_string(),
        }
    }
}
