//! The text analysis of knowledge search, the same for notes and queries: lower-case words,
//! stop words dropped, a light English stemmer, and the handful of words on-call engineers
//! use for the same thing folded to one (`db` and `database`, `pg` and `postgres`, `oom` and
//! `out of memory`). Tantivy then sees plain space-separated terms and scores them with BM25.

/// Words that say nothing about which note is meant.
const STOP: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "why", "what", "how",
    "when", "where", "which", "who", "it", "its", "to", "of", "on", "in", "for", "and", "or",
    "with", "then", "this", "that", "these", "those", "our", "my", "we", "i", "you", "do", "does",
    "did", "any", "about", "from", "very", "got", "get", "gets", "has", "have", "had", "there",
    "by", "at", "as", "so", "if", "but", "not", "no", "can", "could", "should", "would", "will",
    "again", "all", "some", "up", "out", "into", "now", "just", "me", "us", "keep", "keeps",
    "kept", "seem", "seems", "anyone", "someone", "help", "please", "going", "go", "still", "too",
    "also", "than", "like", "look", "looks", "need", "needs", "know", "see", "since", "after",
];

/// Words folded to one term (after lower-casing, before stemming). Generic operations
/// vocabulary only: nothing here knows a particular system.
const SAME: &[(&str, &str)] = &[
    ("db", "database"),
    ("databases", "database"),
    ("pg", "postgres"),
    ("postgresql", "postgres"),
    ("psql", "postgres"),
    ("conn", "connection"),
    ("conns", "connection"),
    ("k8s", "kubernetes"),
    ("kube", "kubernetes"),
    ("oomkilled", "oom"),
    ("oomkill", "oom"),
    ("cert", "certificate"),
    ("certs", "certificate"),
    ("tls", "certificate"),
    ("ssl", "certificate"),
    ("x509", "certificate"),
    ("latency", "slow"),
    ("slowness", "slow"),
    ("sluggish", "slow"),
    ("timeouts", "timeout"),
    ("replica", "replication"),
    ("replicas", "replication"),
    ("standby", "replication"),
    ("filesystem", "disk"),
    ("enospc", "disk"),
    ("crashloop", "crash"),
    ("crashloopbackoff", "crash"),
    ("crashed", "crash"),
    ("crashing", "crash"),
    ("creds", "credential"),
    ("password", "credential"),
    ("passwords", "credential"),
    ("auth", "authentication"),
    ("config", "configuration"),
    ("cfg", "configuration"),
    ("conf", "configuration"),
    ("mem", "memory"),
    ("ram", "memory"),
    ("alerts", "alert"),
    ("alerting", "alert"),
    ("deadlocks", "deadlock"),
    ("upstreams", "upstream"),
    ("backend", "upstream"),
    ("backends", "upstream"),
];

/// Phrases folded to one term before words are split.
const PHRASES: &[(&str, &str)] = &[
    ("out of memory", "oom"),
    ("no space left", "disk full"),
    ("too many clients", "connection exhausted"),
    ("too many connections", "connection exhausted"),
    ("5xx", "5xx"),
];

/// HTTP server-error codes read as "5xx" as well as themselves.
fn is_5xx(w: &str) -> bool {
    w.len() == 3 && w.starts_with('5') && w.bytes().all(|b| b.is_ascii_digit())
}

fn stem(w: &str) -> String {
    if w.bytes().any(|b| b.is_ascii_digit()) {
        return w.to_string();
    }
    for (suffix, keep) in [("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")] {
        if let Some(s) = w.strip_suffix(suffix)
            && s.len() >= 3
            && !w.ends_with("ss")
        {
            let mut out = format!("{s}{keep}");
            // "running" → "runn" → "run"; "stopped" → "stopp" → "stop".
            let b = out.as_bytes();
            if keep.is_empty()
                && b.len() >= 4
                && b[b.len() - 1] == b[b.len() - 2]
                && !matches!(b[b.len() - 1], b'l' | b's' | b'z')
            {
                out.pop();
            }
            // "exhausted"/"exhausts", "spikes"/"spike": a silent e is dropped alike.
            if let Some(x) = out.strip_suffix('e')
                && x.len() >= 3
            {
                out = x.to_string();
            }
            return out;
        }
    }
    match w.strip_suffix('e') {
        Some(x) if x.len() >= 3 => x.to_string(),
        _ => w.to_string(),
    }
}

/// The search terms of a text, in order (repeats kept: BM25 counts them).
pub fn terms(text: &str) -> Vec<String> {
    let mut t = text.to_lowercase();
    for (phrase, to) in PHRASES {
        if t.contains(phrase) {
            t = t.replace(phrase, &format!(" {to} "));
        }
    }
    let mut out = vec![];
    for w in t
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if STOP.contains(&w) || w.len() > 40 {
            continue;
        }
        let w = SAME.iter().find(|(a, _)| *a == w).map_or(w, |(_, b)| *b);
        if is_5xx(w) {
            out.push("5xx".to_string());
        }
        out.push(stem(w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_a_word_meet() {
        let t = |s: &str| terms(s);
        assert_eq!(t("connections exhausted"), t("connection exhausts"));
        assert_eq!(t("the DB is too slow"), t("database slowness"));
        assert_eq!(t("Postgres restarting"), t("pg restarts"));
        assert_eq!(t("replicas lagging"), t("replication lag"));
        assert_eq!(t("out of memory"), t("OOMKilled"));
        assert!(t("nginx returns 502").contains(&"5xx".to_string()));
        assert_eq!(t("too many clients"), t("connection exhausted"));
        assert!(t("why is it so").is_empty());
    }

    #[test]
    fn stems_stay_readable() {
        for (w, s) in [
            ("running", "run"),
            ("stopped", "stop"),
            ("queries", "query"),
            ("process", "process"),
            ("full", "full"),
            ("spikes", "spik"),
            ("spike", "spik"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
