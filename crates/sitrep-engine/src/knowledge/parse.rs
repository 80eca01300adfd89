//! Reading a note: markdown with optional YAML front matter between `---` lines. Every
//! problem is located by file, line and field.

use crate::files::{located, parse_yaml};
use crate::views::ProblemView;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sitrep_core::Timestamp;
use sitrep_core::knowledge::{Note, NoteCause, NoteKind, NoteOrigin};
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: Option<String>,
    title: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    symptoms: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    root_cause: Option<NoteCause>,
    owner: Option<String>,
}

/// What a note file is read as.
pub struct Source<'a> {
    pub path: &'a Path,
    /// The id when the front matter gives none (the path under the folder, without `.md`).
    pub default_id: String,
    pub origin: NoteOrigin,
    pub now: Timestamp,
}

pub fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A valid id: 1–128 of letters, digits, `-`, `_`, `.` and `/`, no empty or dot-only parts.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && id
            .split('/')
            .all(|p| !p.is_empty() && p.chars().any(|c| c != '.'))
}

/// Parses one note file's text.
pub fn parse(src: &Source<'_>, text: &str) -> Result<Note, Vec<ProblemView>> {
    let file = src.path;
    let (front, body, offset) = split(text);
    let fm: FrontMatter = match front {
        Some(f) if !f.trim().is_empty() => parse_yaml(file, f, offset).map_err(|p| vec![p])?,
        _ => FrontMatter::default(),
    };
    let mut problems = vec![];
    let mut bad = |field: &str, message: String| {
        problems.push(located(file, front.unwrap_or(""), offset, field, message))
    };
    let kind = match fm.kind.as_deref() {
        None => NoteKind::Note,
        Some(k) => k.parse().unwrap_or_else(|e: String| {
            bad("type", e);
            NoteKind::Note
        }),
    };
    let id = fm.id.clone().unwrap_or_else(|| src.default_id.clone());
    if !valid_id(&id) {
        bad(
            "id",
            format!(
                "{id:?} must be 1-128 letters, digits, '-', '_', '.' or '/' (set `id:` in the front matter)"
            ),
        );
    }
    for (field, list) in [
        ("services", &fm.services),
        ("symptoms", &fm.symptoms),
        ("tags", &fm.tags),
    ] {
        if let Some(i) = list.iter().position(|s| s.trim().is_empty()) {
            bad(&format!("{field}[{i}]"), "is empty".into());
        }
    }
    match (&fm.root_cause, kind) {
        (Some(_), k) if k != NoteKind::PostMortem => bad(
            "root_cause",
            "only a post-mortem states a root cause (set `type: post-mortem`)".into(),
        ),
        (Some(rc), _) if rc.resource.trim().is_empty() => bad(
            "root_cause.resource",
            "name the resource the cause was on".into(),
        ),
        (Some(rc), _) if rc.statement.trim().is_empty() => {
            bad("root_cause.statement", "state the cause".into())
        }
        (Some(rc), _) if fm.symptoms.is_empty() => bad(
            "symptoms",
            format!(
                "a post-mortem with a root cause needs the symptoms it showed, so it is proposed when they recur ({})",
                rc.statement
            ),
        ),
        _ => {}
    }
    if kind == NoteKind::Ownership {
        if fm.owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
            bad("owner", "an ownership note names the owning team".into());
        }
        if fm.services.is_empty() {
            bad(
                "services",
                "an ownership note names the services it is about".into(),
            );
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let title = fm
        .title
        .clone()
        .or_else(|| {
            body.lines()
                .map(str::trim)
                .find(|l| l.starts_with("# "))
                .map(|l| l[2..].trim().to_string())
        })
        .unwrap_or_else(|| id.clone());
    Ok(Note {
        workspace: String::new(),
        id,
        title,
        kind,
        services: fm.services,
        symptoms: fm.symptoms,
        tags: fm.tags,
        root_cause: fm.root_cause,
        owner: fm.owner,
        body: body.to_string(),
        origin: src.origin,
        path: file.display().to_string(),
        hash: hash(text.as_bytes()),
        updated_at: src.now,
    })
}

/// (front matter, body, lines before the front matter's first line).
fn split(text: &str) -> (Option<&str>, &str, usize) {
    let t = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = t
        .strip_prefix("---\n")
        .or_else(|| t.strip_prefix("---\r\n"))
    else {
        return (None, t, 0);
    };
    let mut at = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return (Some(&rest[..at]), &rest[at + line.len()..], 1);
        }
        at += line.len();
    }
    (None, t, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn src(p: &Path) -> Source<'_> {
        Source {
            path: p,
            default_id: "pm/pool".into(),
            origin: NoteOrigin::Folder,
            now: Timestamp(1),
        }
    }

    #[test]
    fn front_matter_and_body_are_read() {
        let p = Path::new("k/pm/pool.md");
        let n = parse(
            &src(p),
            "---\ntype: post-mortem\nservices: [checkout, pg-main]\nsymptoms: [too many clients]\nroot_cause:\n  resource: postgres\n  statement: the batch job held every connection\n---\n# Pool exhausted\n\nbody\n",
        )
        .unwrap();
        assert_eq!(
            (n.id.as_str(), n.title.as_str(), n.kind),
            ("pm/pool", "Pool exhausted", NoteKind::PostMortem)
        );
        assert_eq!(n.root_cause.unwrap().resource, "postgres");
        assert!(n.body.starts_with("# Pool exhausted"));
        assert_eq!(n.hash.len(), 64);
        let plain = parse(&src(p), "just text\n").unwrap();
        assert_eq!(
            (plain.kind, plain.title.as_str()),
            (NoteKind::Note, "pm/pool")
        );
    }

    #[test]
    fn problems_name_file_line_and_field() {
        let p = Path::new("k/x.md");
        let e = parse(&src(p), "---\ntype: postmortem\nservices: [a]\n---\nbody").unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "k/x.md:2: type: unknown notekind \"postmortem\" (expected runbook, post-mortem, architecture, ownership or note)"
        );
        let e = parse(&src(p), "---\ntype: runbook\nservice: [a]\n---\n").unwrap_err();
        assert_eq!((e[0].line, e[0].field.as_str()), (Some(3), "service"));
        let e = parse(&src(p), "---\ntype: ownership\nservices: [a]\n---\n").unwrap_err();
        assert_eq!(e[0].field, "owner");
        let e = parse(
            &src(p),
            "---\ntype: post-mortem\nroot_cause:\n  resource: db\n  statement: x\n---\n",
        )
        .unwrap_err();
        assert_eq!(e[0].field, "symptoms");
        let e = parse(&src(p), "---\nid: ../etc\n---\n").unwrap_err();
        assert_eq!((e[0].line, e[0].field.as_str()), (Some(2), "id"));
    }

    proptest! {
        #[test]
        fn any_text_parses_or_says_where(text in "(---\n)?[a-z: \\[\\]\n-]{0,120}(---\n)?[a-z #\n]{0,60}") {
            match parse(&src(Path::new("n.md")), &text) {
                Ok(n) => prop_assert_eq!(n.hash.len(), 64),
                Err(ps) => prop_assert!(ps.iter().all(|p| p.file == "n.md" && !p.message.is_empty())),
            }
        }
    }
}
