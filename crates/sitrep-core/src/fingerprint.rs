//! Issue identity: the same problem raised twice must map to the same fingerprint, even when the
//! numbers in its title moved ("97% full" then "98% full") or an id changed (a pod's hash suffix).

/// Lowercases, replaces numbers and id-like tokens with `#`, and folds whitespace.
pub fn normalize_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for word in title.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        normalize_word(word, &mut out);
    }
    out
}

fn normalize_word(word: &str, out: &mut String) {
    // Split the word at non-alphanumeric separators, keeping the separators.
    let mut token = String::new();
    for c in word.chars() {
        if c.is_alphanumeric() || c == '_' {
            token.push(c);
        } else {
            flush_token(&mut token, out);
            out.extend(c.to_lowercase());
        }
    }
    flush_token(&mut token, out);
}

fn flush_token(token: &mut String, out: &mut String) {
    if token.is_empty() {
        return;
    }
    if is_id_like(token) {
        // Collapse `#.#` and `#:#` runs into one `#` (decimals, addresses, times).
        if !(out.ends_with("#.") || out.ends_with("#:") || out.ends_with("#,")) {
            out.push('#');
        } else {
            out.pop();
        }
    } else {
        let stripped: String = token.chars().filter(|c| !c.is_ascii_digit()).collect();
        if stripped.len() == token.len() {
            out.push_str(&token.to_lowercase());
        } else {
            // Digits inside a word ("pg15", "v2") are versions or ordinals: drop the digits only.
            out.push_str(&stripped.to_lowercase());
            out.push('#');
        }
    }
    token.clear();
}

/// A number, or a token that looks machine-made: hex of 7+ chars with a digit, or a mixed
/// letters-and-digits token of 5+ chars with at least two digits (pod suffixes like `x2k4b`).
fn is_id_like(t: &str) -> bool {
    let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
    if digits == t.len() {
        return true;
    }
    if digits == 0 {
        return false;
    }
    let hex = t.chars().all(|c| c.is_ascii_hexdigit());
    (hex && t.len() >= 7)
        || (t.len() >= 5 && digits >= 2 && t.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// FNV-1a 64: stable across versions and platforms, unlike `std`'s hasher.
pub fn fnv1a64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The fingerprint of an issue: workspace + scope (SLX or resource) + task + normalised title.
pub fn issue_fingerprint(workspace: &str, scope: &str, task: &str, title: &str) -> String {
    format!(
        "{:016x}",
        fnv1a64(&[workspace, scope, task, &normalize_title(title)])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_and_ids_are_stripped() {
        assert_eq!(
            normalize_title("Disk / is 97% full"),
            normalize_title("Disk /  is 98.5% full")
        );
        assert_eq!(
            normalize_title("Pod checkout-7d9f8b6c5-x2k4b is in CrashLoopBackOff"),
            normalize_title("Pod checkout-5c8d7f9b4-q8w3z is in CrashLoopBackOff")
        );
        assert_eq!(
            normalize_title("Backend 127.0.0.1:8080 down"),
            "backend # down"
        );
    }

    #[test]
    fn distinguishing_words_are_kept() {
        assert_ne!(
            normalize_title("Application batch holds idle-in-transaction sessions"),
            normalize_title("Application shopfront holds idle-in-transaction sessions")
        );
        assert_ne!(
            normalize_title("Disk / is full"),
            normalize_title("Disk /var is full")
        );
    }

    #[test]
    fn fingerprint_depends_on_every_part() {
        let base = issue_fingerprint("w", "pg", "core/postgres/x", "t");
        assert_ne!(base, issue_fingerprint("w2", "pg", "core/postgres/x", "t"));
        assert_ne!(base, issue_fingerprint("w", "pg2", "core/postgres/x", "t"));
        assert_ne!(base, issue_fingerprint("w", "pg", "core/postgres/y", "t"));
        assert_ne!(base, issue_fingerprint("w", "pg", "core/postgres/x", "u"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(fnv1a64(&["ab", "c"]), fnv1a64(&["a", "bc"]));
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(s in "\\PC{0,60}") {
            let once = normalize_title(&s);
            prop_assert_eq!(normalize_title(&once), once.clone());
        }

        #[test]
        fn changing_a_number_keeps_the_fingerprint(a in 0u32..100_000, b in 0u32..100_000) {
            let t1 = format!("Redis memory at {a}% of maxmemory");
            let t2 = format!("Redis memory at {b}% of maxmemory");
            prop_assert_eq!(issue_fingerprint("w", "r", "t", &t1), issue_fingerprint("w", "r", "t", &t2));
        }
    }
}
