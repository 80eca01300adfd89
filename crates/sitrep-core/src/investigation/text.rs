//! Small text helpers of the offline reasoner: matching a question's words against declared
//! symptoms, and filling `{name}` templates from an issue's facts.

use std::collections::BTreeSet;

const STOP: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "why", "what", "how", "when", "it",
    "its", "to", "of", "on", "in", "for", "and", "or", "with", "after", "and", "then", "right",
    "this", "that", "our", "my", "we", "i", "do", "does", "did", "any", "anything", "about",
    "from", "very", "got", "get", "has", "have", "there", "by", "at", "as", "so", "show", "shows",
];

/// Lower-case word stems without stop words: "Checkout is failing" → {checkout, fail}.
pub fn stems(text: &str) -> BTreeSet<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP.contains(w))
        .map(stem)
        .collect()
}

fn stem(w: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(s) = w.strip_suffix(suffix)
            && s.len() >= 3
        {
            return s.to_string();
        }
    }
    w.to_string()
}

/// How well `text` matches the best of `phrases` (0..1): the share of a phrase's stems found
/// in the text.
pub fn symptom_match(text: &BTreeSet<String>, phrases: &[String]) -> f64 {
    phrases
        .iter()
        .map(|p| {
            let ps = stems(p);
            if ps.is_empty() {
                return 0.0;
            }
            ps.iter().filter(|w| text.contains(*w)).count() as f64 / ps.len() as f64
        })
        .fold(0.0, f64::max)
}

/// The first of `symptoms` whose every word `text` states ("hangs" in "Checkout hangs for
/// seconds"); a partial match is not enough.
pub fn stated<'a>(text: &str, symptoms: &'a [String]) -> Option<&'a str> {
    let said = stems(text);
    symptoms
        .iter()
        .find(|p| {
            let words = stems(p);
            !words.is_empty() && words.iter().all(|w| said.contains(w))
        })
        .map(String::as_str)
}

/// Fills `{name}` from `facts`; `None` when a name is missing or empty, so a half-filled
/// parameter is never used.
pub fn fill(template: &str, facts: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}')? + open;
        out.push_str(&rest[..open]);
        let name = rest[open + 1..close].trim();
        let value = crate::table::cell(facts.get(name)?);
        if value.is_empty() {
            return None;
        }
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn questions_match_symptoms_by_stems() {
        let q = stems("Checkout is failing with database errors, why?");
        assert!(q.contains("checkout") && q.contains("fail") && q.contains("database"));
        let s = symptom_match(&q, &["database errors".into(), "slow queries".into()]);
        assert!((s - 1.0).abs() < 1e-9, "{s}");
        assert_eq!(symptom_match(&q, &["disk filling".into()]), 0.0);
    }

    #[test]
    fn a_symptom_is_stated_only_when_every_word_of_it_is() {
        let symptoms: Vec<String> = ["writes time out", "hangs", "slow then fails"]
            .map(String::from)
            .into();
        assert_eq!(
            stated("Checkout hangs for seconds and then fails, why?", &symptoms),
            Some("hangs")
        );
        assert_eq!(stated("Checkout fails, why?", &symptoms), None);
        assert_eq!(
            stated("why do writes time out?", &symptoms),
            Some("writes time out")
        );
        assert_eq!(stated("anything", &[]), None);
    }

    #[test]
    fn templates_fill_only_when_every_name_is_known() {
        let facts = json!({"app": "batch", "pid": 42, "empty": ""});
        let f = facts.as_object().unwrap();
        assert_eq!(fill("{app}", f).as_deref(), Some("batch"));
        assert_eq!(
            fill("pid {pid} of {app}", f).as_deref(),
            Some("pid 42 of batch")
        );
        assert_eq!(fill("{user}", f), None);
        assert_eq!(fill("{empty}", f), None);
        assert_eq!(fill("plain", f).as_deref(), Some("plain"));
    }
}
