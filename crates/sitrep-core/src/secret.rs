//! Workspace secrets as the vault keeps them: a name and an encrypted value, never the value
//! itself. Encryption and keys are the engine's (`sitrep_engine::vault`); this module holds
//! the stored record and the naming rule every edge applies.

use crate::Timestamp;
use crate::redact::MIN_SECRET_LEN;

/// The longest value the vault keeps (a certificate or a key file fits).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// One stored secret: its value encrypted under the key `key_id` names, bound to the
/// workspace and the name (the AEAD's associated data), so it cannot be moved to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub workspace: String,
    pub name: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    /// A short fingerprint of the key it was encrypted with (not the key).
    pub key_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A secret's name: 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or a
/// digit (SLXs refer to it as `secret:NAME`). The error says what a name may be.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a secret name: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

/// A value the vault can keep and redaction can find. The error never contains the value.
pub fn check_value(value: &str) -> Result<(), String> {
    if value.len() < MIN_SECRET_LEN {
        Err(format!(
            "a secret's value must be at least {MIN_SECRET_LEN} characters (shorter ones cannot be told apart from ordinary output to redact them)"
        ))
    } else if value.len() > MAX_SECRET_BYTES {
        Err(format!(
            "a secret's value must be at most {MAX_SECRET_BYTES} bytes, this one has {}",
            value.len()
        ))
    } else if value.contains('\0') {
        Err("a secret's value cannot contain a NUL byte (tasks receive it as an environment variable)".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_plain_words() {
        for good in ["pg", "PG_PASSWORD", "db-password", "a.b", "9lives"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", "-x", ".x", "a b", "a/b", "é", "secret:x", long.as_str()] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains("letters, digits"), "{bad}: {e}");
        }
    }

    #[test]
    fn value_errors_never_repeat_the_value() {
        let long = "v".repeat(MAX_SECRET_BYTES + 1);
        for bad in ["abc", "abc\0def", long.as_str()] {
            let e = check_value(bad).unwrap_err();
            assert!(!e.contains(bad), "{e}");
        }
        assert!(check_value("hunter22").is_ok());
    }
}
