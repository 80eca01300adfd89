//! Secret references: where an SLX's secret values live. Values are read at run time only and
//! never stored: `env:VAR` reads sitrep's own environment, `file:/path` reads a file.

use crate::RunError;

/// Like [`resolve`], and `secret:NAME` names one of the workspace's secrets (`secrets:` in
/// sitrep.yaml), which discovery writes into generated SLXs instead of a location.
pub fn resolve_named(
    reference: &str,
    named: &std::collections::BTreeMap<String, String>,
) -> Result<String, RunError> {
    match reference.strip_prefix("secret:") {
        Some(name) => match named.get(name) {
            Some(r) if !r.starts_with("secret:") => resolve(r),
            _ => Err(RunError::SecretRef {
                reference: reference.to_string(),
                message: format!(
                    "no workspace secret {name:?}: add it under `secrets:` in sitrep.yaml (e.g. {name}: env:VARIABLE)"
                ),
            }),
        },
        None => resolve(reference),
    }
}

/// Resolves every secret reference of an SLX; on failure, names the secret that failed.
pub fn resolve_all(
    references: &std::collections::BTreeMap<String, String>,
    named: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, (String, RunError)> {
    references
        .iter()
        .map(|(k, r)| {
            resolve_named(r, named)
                .map(|v| (k.clone(), v))
                .map_err(|e| (k.clone(), e))
        })
        .collect()
}

pub fn resolve(reference: &str) -> Result<String, RunError> {
    let err = |message: String| RunError::SecretRef {
        reference: reference.to_string(),
        message,
    };
    if let Some(var) = reference.strip_prefix("env:") {
        std::env::var(var).map_err(|_| err(format!("environment variable {var} is not set")))
    } else if let Some(path) = reference.strip_prefix("file:") {
        std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| err(format!("cannot read {path}: {e}")))
    } else {
        Err(err(
            "write env:VARIABLE, file:/path/to/secret or secret:NAME".into(),
        ))
    }
}
