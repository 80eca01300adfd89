//! Secret redaction. Every byte sitrep keeps or prints from a run passes through a [`Redactor`]
//! holding the run's secret values: the exact value and its base64 forms are replaced.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Values shorter than this cannot be redacted without destroying ordinary text; sitrep refuses
/// to inject them.
pub const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (needle, replacement), longest needle first so a value inside its own base64 never wins.
    needles: Vec<(String, String)>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut needles = Vec::new();
        for (name, value) in secrets {
            if value.len() < MIN_SECRET_LEN {
                continue;
            }
            let mark = format!("[REDACTED:{name}]");
            let mut forms = vec![value.to_string()];
            // A value with a trailing newline (read from a file) is the same secret.
            let trimmed = value.trim_end_matches(['\n', '\r']);
            if trimmed != value && trimmed.len() >= MIN_SECRET_LEN {
                forms.push(trimmed.to_string());
            }
            for v in forms.clone() {
                for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                    forms.push(engine.encode(v.as_bytes()));
                }
            }
            forms.sort();
            forms.dedup();
            for f in forms {
                needles.push((f, mark.clone()));
            }
        }
        needles.sort_by(|a, b| b.0.len().cmp(&a.0.len()));
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The longest form a secret can take; captured output keeps this much beyond its cap so a
    /// secret straddling the cut is still found.
    pub fn max_match_len(&self) -> usize {
        self.needles.first().map_or(0, |n| n.0.len())
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (needle, mark) in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), mark);
            }
        }
        out
    }

    pub fn redact_in_place(&self, text: &mut String) {
        if self.needles.iter().any(|(n, _)| text.contains(n.as_str())) {
            *text = self.redact(text);
        }
    }

    /// Redacts every string inside a JSON value.
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => self.redact_in_place(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.redact_json(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.redact_json(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn redacts_value_and_base64_forms() {
        let r = Redactor::new([("DB_PASSWORD", "hunter2-s3cret")]);
        let b64 = STANDARD.encode("hunter2-s3cret");
        let text = format!(
            "pw=hunter2-s3cret enc={b64} url={}",
            URL_SAFE_NO_PAD.encode("hunter2-s3cret")
        );
        let out = r.redact(&text);
        assert!(!out.contains("hunter2"));
        assert!(!out.contains(&b64));
        assert_eq!(out.matches("[REDACTED:DB_PASSWORD]").count(), 3);
    }

    #[test]
    fn trailing_newline_from_a_file_is_the_same_secret() {
        let r = Redactor::new([("T", "tok-abcdef\n")]);
        assert_eq!(r.redact("Bearer tok-abcdef"), "Bearer [REDACTED:T]");
    }

    #[test]
    fn redacts_inside_json() {
        let r = Redactor::new([("K", "supersecret")]);
        let mut v = serde_json::json!({"a": ["x supersecret y"], "b": {"c": "supersecret"}});
        r.redact_json(&mut v);
        assert!(!v.to_string().contains("supersecret"));
    }

    proptest! {
        #[test]
        fn secret_never_survives(secret in "[a-zA-Z0-9!@#%^&*]{4,24}", pre in "\\PC{0,40}", post in "\\PC{0,40}") {
            let r = Redactor::new([("S", secret.as_str())]);
            let out = r.redact(&format!("{pre}{secret}{post}"));
            // Only the marker itself may happen to contain a short alphanumeric secret ("REDA").
            prop_assert!(!out.contains(&secret) || "[REDACTED:S]".contains(&secret));
        }
    }
}
