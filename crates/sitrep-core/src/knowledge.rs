//! Knowledge notes: short markdown documents a team writes so that investigations read its
//! environment correctly (runbooks, post-mortems, architecture, ownership). The engine parses
//! them (front matter + body), stores them per workspace and indexes their sections for
//! full-text search; this module holds the types and the pure parts (sections).

use crate::Timestamp;
use serde::{Deserialize, Serialize};

crate::types::string_enum!(
    /// What a note is. A post-mortem can propose its root cause as a hypothesis; an ownership
    /// note names the team that owns its services.
    NoteKind { Runbook = "runbook", PostMortem = "post-mortem", Architecture = "architecture", Ownership = "ownership", Note = "note" }
    expected "runbook, post-mortem, architecture, ownership or note"
);

crate::types::string_enum!(
    /// Where a note came from: the workspace folder's `knowledge/` (kept in step with its
    /// files) or added by hand (kept until removed).
    NoteOrigin { Folder = "folder", Added = "added" }
    expected "folder or added"
);

/// A past incident's cause, as a post-mortem states it: the hypothesis it proposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteCause {
    /// The resource it was on: a name, an alias or a kind (`postgres`).
    pub resource: String,
    /// The cause in words.
    pub statement: String,
    /// Tasks that test it (`task` or `bundle/task` of the bundles watching the resource);
    /// when empty, the resource's failure modes that match the note, else its health checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub workspace: String,
    /// Unique in the workspace: the front matter's `id`, else the path under `knowledge/`
    /// (or the file name) without `.md`.
    pub id: String,
    pub title: String,
    pub kind: NoteKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<NoteCause>,
    /// The owning team (ownership notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The markdown after the front matter.
    pub body: String,
    pub origin: NoteOrigin,
    /// The file it was read from.
    pub path: String,
    /// SHA-256 of the file's bytes, hex: what the search index is kept in step by.
    pub hash: String,
    pub updated_at: Timestamp,
}

/// One section of a note's body: what search indexes and returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading path (`Mitigation`, or empty for text before the first heading).
    pub heading: String,
    pub text: String,
}

/// The sections of a markdown body, split at `#` headings (outside code fences). Text before
/// the first heading is a section with an empty heading; empty sections are dropped.
pub fn sections(body: &str) -> Vec<Section> {
    let mut out = vec![];
    let mut heading = String::new();
    let mut text = String::new();
    let mut fenced = false;
    let mut flush = |heading: &str, text: &mut String| {
        let t = text.trim();
        if !t.is_empty() || !heading.is_empty() {
            out.push(Section {
                heading: heading.to_string(),
                text: t.to_string(),
            });
        }
        text.clear();
    };
    for line in body.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        let level = trimmed.bytes().take_while(|b| *b == b'#').count();
        if !fenced && (1..=6).contains(&level) && trimmed[level..].starts_with(' ') {
            flush(&heading, &mut text);
            heading = trimmed[level..]
                .trim()
                .trim_end_matches('#')
                .trim()
                .to_string();
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    flush(&heading, &mut text);
    out.retain(|s| !s.text.is_empty() || !s.heading.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bodies_split_at_headings_outside_code() {
        let s = sections(
            "intro line\n\n# Symptoms\n503 on checkout\n## Fix\n```\n# not a heading\n```\nrestart\n#hashtag\n",
        );
        let heads: Vec<&str> = s.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(heads, ["", "Symptoms", "Fix"]);
        assert_eq!(s[1].text, "503 on checkout");
        assert!(s[2].text.contains("# not a heading") && s[2].text.contains("#hashtag"));
        assert!(sections("").is_empty());
    }

    proptest! {
        #[test]
        fn sections_keep_every_word(body in "[a-z #`\n]{0,300}") {
            let words = |t: &str| t.split(|c: char| !c.is_ascii_lowercase()).filter(|w| !w.is_empty()).count();
            let s = sections(&body);
            let kept: usize = s.iter().map(|s| words(&s.heading) + words(&s.text)).sum();
            prop_assert_eq!(kept, words(&body));
        }
    }
}
