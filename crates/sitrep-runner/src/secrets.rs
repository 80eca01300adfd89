//! Secret references: where an SLX's secret values live. Values are read at run time only and
//! never stored: `env:VAR` reads sitrep's own environment, `file:/path` reads a file, and
//! `secret:NAME` names a workspace secret (the settings' reference, else the vault's value,
//! which the engine decrypts and hands over: the runner never reads the store for it).

use crate::RunError;
use std::collections::BTreeMap;

/// Like [`resolve`], and `secret:NAME` names one of the workspace's secrets, which discovery
/// writes into generated SLXs instead of a location: its reference under `secrets:` in
/// sitrep.yaml (`named`) first, else its value from the vault (`stored`, name → value).
pub fn resolve_named(
    reference: &str,
    named: &BTreeMap<String, String>,
    stored: &BTreeMap<String, String>,
) -> Result<String, RunError> {
    match reference.strip_prefix("secret:") {
        Some(name) => match (named.get(name), stored.get(name)) {
            (Some(r), _) if !r.starts_with("secret:") => resolve(r),
            (None, Some(value)) => Ok(value.clone()),
            _ => Err(RunError::SecretRef {
                reference: reference.to_string(),
                message: format!(
                    "no workspace secret {name:?}: set it in the workspace's vault, or add it under `secrets:` in sitrep.yaml (e.g. {name}: env:VARIABLE)"
                ),
            }),
        },
        None => resolve(reference),
    }
}

/// Resolves every secret reference of an SLX; on failure, names the secret that failed.
pub fn resolve_all(
    references: &BTreeMap<String, String>,
    named: &BTreeMap<String, String>,
    stored: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, (String, RunError)> {
    references
        .iter()
        .map(|(k, r)| {
            resolve_named(r, named, stored)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_secret_comes_from_the_settings_first_then_the_vault() {
        let named = BTreeMap::from([("a".to_string(), "env:PATH".to_string())]);
        let stored = BTreeMap::from([
            ("a".to_string(), "from-the-vault".to_string()),
            ("b".to_string(), "vault-value".to_string()),
        ]);
        let path = std::env::var("PATH").unwrap();
        assert_eq!(resolve_named("secret:a", &named, &stored).unwrap(), path);
        assert_eq!(
            resolve_named("secret:b", &named, &stored).unwrap(),
            "vault-value"
        );
        let e = resolve_named("secret:c", &named, &stored)
            .unwrap_err()
            .to_string();
        assert!(e.contains("vault") && e.contains("secrets:"), "{e}");
    }
}
