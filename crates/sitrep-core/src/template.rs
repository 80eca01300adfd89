//! Two tiny template forms: `${NAME}` for config values and secrets (filled before a task runs),
//! and `{column}` for row values in titles and texts (filled per result row).

use crate::table::{Row, cell};

/// Replaces `${NAME}` using `lookup`; `$${` stays a literal `${`. An unknown name is an error.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let name = tail[..end].trim();
            let value = lookup(name).ok_or_else(|| format!("${{{name}}} is not set: give it with --set {name}=VALUE, in the SLX config, or as a secret"))?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The `${NAME}` references in a text, for validation.
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        if pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
            rest = &rest[pos + 2..];
            continue;
        }
        let tail = &rest[pos + 2..];
        match tail.find('}') {
            Some(end) => {
                out.push(tail[..end].trim().to_string());
                rest = &tail[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// Fills `{column}` with the row's values; unknown columns are left as written so the author sees them.
pub fn render_row(template: &str, row: &Row) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open + 1..];
        match tail.find('}') {
            Some(close) if !tail[..close].contains('{') => {
                let name = tail[..close].trim();
                match row.get(name) {
                    Some(v) => out.push_str(&cell(v)),
                    None => {
                        out.push('{');
                        out.push_str(&tail[..=close]);
                    }
                }
                rest = &tail[close + 1..];
            }
            _ => {
                out.push('{');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitutes_and_escapes() {
        let look = |n: &str| (n == "DSN").then(|| "postgres://x".to_string());
        assert_eq!(
            substitute("dsn=${DSN} lit=$${DSN} $5", look).unwrap(),
            "dsn=postgres://x lit=${DSN} $5"
        );
        assert!(
            substitute("${NOPE}", look)
                .unwrap_err()
                .contains("--set NOPE=")
        );
        assert_eq!(references("a ${X} $${Y} ${ Z }"), vec!["X", "Z"]);
    }

    #[test]
    fn renders_rows() {
        let row = Row::from_pairs([("app", json!("batch")), ("n", json!(3))]);
        assert_eq!(
            render_row("{app} holds {n} ({missing}) {", &row),
            "batch holds 3 ({missing}) {"
        );
    }
}
