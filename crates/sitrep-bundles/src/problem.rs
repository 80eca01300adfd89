use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a bundle, located as precisely as the YAML allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// The field path, e.g. `tasks[2].type`; empty for whole-file problems.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{} problem(s) in bundles:\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "git {action} of {url} failed: {message} (check the URL and ref in sitrep.yaml; is `git` installed?)"
    )]
    Git {
        url: String,
        action: &'static str,
        message: String,
    },
    #[error("no task {0} (list tasks with `sitrep tasks`)")]
    UnknownTask(String),
}
