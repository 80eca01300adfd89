//! Finds the line of a field path (`tasks[2].script`) in block-style YAML text. Values parsed
//! from YAML carry no positions, so semantic problems are located by walking indentation.

#[derive(Debug, Clone, PartialEq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Line<'a> {
    raw_indent: usize,
    dash: bool,
    /// Indentation of the content (after `- ` on a list item line).
    indent: usize,
    content: &'a str,
}

fn lines(text: &str) -> Vec<Option<Line<'_>>> {
    text.lines()
        .map(|l| {
            let trimmed = l.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                return None;
            }
            let raw_indent = l.len() - trimmed.len();
            if let Some(rest) = trimmed
                .strip_prefix("- ")
                .or_else(|| (trimmed == "-").then_some(""))
            {
                let inner = rest.trim_start();
                let indent = raw_indent + 2 + (rest.len() - inner.len());
                Some(Line {
                    raw_indent,
                    dash: true,
                    indent,
                    content: inner,
                })
            } else {
                Some(Line {
                    raw_indent,
                    dash: false,
                    indent: raw_indent,
                    content: trimmed,
                })
            }
        })
        .collect()
}

fn key_matches(content: &str, key: &str) -> bool {
    let unquoted = content
        .strip_prefix('"')
        .and_then(|c| c.strip_prefix(key))
        .and_then(|c| c.strip_prefix('"'));
    let rest = unquoted.or_else(|| content.strip_prefix(key));
    matches!(rest, Some(r) if r.starts_with(':'))
}

/// 1-based line of the deepest segment of `path` that could be found.
pub fn locate(text: &str, path: &[Seg<'_>]) -> Option<usize> {
    let ls = lines(text);
    let (mut start, mut end) = (0usize, ls.len());
    // Children must be indented more than this (or, for a list value, dashes at >= this).
    let mut parent: isize = -1;
    let mut best = None;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                let mut level = None;
                let mut found = None;
                for (i, l) in ls.iter().enumerate().take(end).skip(start) {
                    let Some(l) = l else { continue };
                    if (l.indent as isize) <= parent {
                        continue;
                    }
                    let lvl = *level.get_or_insert(l.indent);
                    if l.indent == lvl && key_matches(l.content, k) {
                        found = Some(i);
                        break;
                    }
                }
                let Some(i) = found else { return best };
                best = Some(i + 1);
                let lvl = ls[i].as_ref().unwrap().indent;
                start = i + 1;
                end = (start..end)
                    .find(|&j| {
                        ls[j]
                            .as_ref()
                            .is_some_and(|l| l.raw_indent < lvl || (l.raw_indent == lvl && !l.dash))
                    })
                    .unwrap_or(end);
                parent = lvl as isize - 1;
            }
            Seg::Index(n) => {
                let mut dash_indent = None;
                let mut count = 0;
                let mut found = None;
                for (i, l) in ls.iter().enumerate().take(end).skip(start) {
                    let Some(l) = l else { continue };
                    if !l.dash || (l.raw_indent as isize) < parent {
                        continue;
                    }
                    let d = *dash_indent.get_or_insert(l.raw_indent);
                    if l.raw_indent != d {
                        continue;
                    }
                    if count == *n {
                        found = Some(i);
                        break;
                    }
                    count += 1;
                }
                let Some(i) = found else { return best };
                best = Some(i + 1);
                let d = ls[i].as_ref().unwrap().raw_indent;
                start = i;
                end = (i + 1..end)
                    .find(|&j| ls[j].as_ref().is_some_and(|l| l.raw_indent <= d))
                    .unwrap_or(end);
                parent = d as isize;
            }
        }
    }
    best
}

/// Parses `tasks[2].sql.query` into segments.
pub fn parse_path(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut idx) = match part.find('[') {
            Some(p) => (&part[..p], &part[p..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(rest) = idx.strip_prefix('[') {
            let close = rest.find(']').unwrap_or(rest.len());
            if let Ok(n) = rest[..close].parse() {
                out.push(Seg::Index(n));
            }
            idx = rest.get(close + 1..).unwrap_or("");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DOC: &str = "name: pg
params:
  - name: DSN
    required: true
tasks:
  - name: first
    kind: health
    sql:
      query: select 1
  # a comment
  - name: second
    type: perl
    script: missing.sh
hypotheses:
- id: h1
  tested_by: [first]
";

    fn at(path: &str) -> Option<usize> {
        locate(DOC, &parse_path(path))
    }

    #[test]
    fn finds_nested_fields() {
        assert_eq!(at("name"), Some(1));
        assert_eq!(at("params[0].required"), Some(4));
        assert_eq!(at("tasks[0]"), Some(6));
        assert_eq!(at("tasks[0].name"), Some(6));
        assert_eq!(at("tasks[0].sql.query"), Some(9));
        assert_eq!(at("tasks[1].type"), Some(12));
        assert_eq!(at("tasks[1].script"), Some(13));
        assert_eq!(at("hypotheses[0].tested_by"), Some(16));
    }

    #[test]
    fn missing_fields_fall_back_to_the_deepest_parent() {
        assert_eq!(at("tasks[1].interval"), Some(11));
        assert_eq!(locate(DOC, &[Seg::Key("tasks"), Seg::Index(5)]), Some(5));
        assert_eq!(at("nope"), None);
    }

    proptest! {
        #[test]
        fn never_panics(text in "[a-z: \\-\n#]{0,200}", path in "[a-z]{1,3}(\\[[0-9]\\])?(\\.[a-z]{1,3})?") {
            let _ = locate(&text, &parse_path(&path));
        }
    }
}
