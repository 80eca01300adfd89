//! Knowledge: a workspace's notes (runbooks, post-mortems, architecture, ownership), read from
//! the workspace folder's `knowledge/**/*.md` or added by hand, stored per workspace, and
//! searched with BM25 (`index.rs`). Investigations retrieve the notes that match what they
//! look at (`investigate::studio`). `docs/studio.md` describes the format.

mod analyze;
mod index;
mod parse;

pub use index::{IndexError, SyncStats};

use crate::files::{files_under, read_text};
use crate::views::ProblemView;
use crate::{EngineError, Result, Sitrep};
use index::KnowledgeIndex;
use serde::{Deserialize, Serialize};
use sitrep_core::knowledge::{Note, NoteKind, NoteOrigin, sections};
use sitrep_store::KnowledgeStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A note in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteSummary {
    pub id: String,
    pub title: String,
    pub kind: NoteKind,
    pub origin: NoteOrigin,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    pub path: String,
}

/// One note that matched a search, with its best section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    pub kind: NoteKind,
    pub score: f64,
    /// The heading of the best matching section (empty: the text before the first heading).
    pub section: String,
    /// The first lines of that section.
    pub snippet: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<String>,
}

/// What bringing the store and the index in step with the workspace folder did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeSync {
    /// Folder notes stored because they are new or changed.
    pub stored: Vec<String>,
    /// Folder notes removed because their file is gone.
    pub removed: Vec<String>,
    /// Files of the folder that could not be read as notes (they are skipped).
    pub problems: Vec<ProblemView>,
    pub index: SyncStats,
}

/// The process's open index of one workspace (tantivy allows one writer per index).
pub(crate) type SharedIndex = Arc<Mutex<Option<KnowledgeIndex>>>;

fn note_summary(n: &Note) -> NoteSummary {
    NoteSummary {
        id: n.id.clone(),
        title: n.title.clone(),
        kind: n.kind,
        origin: n.origin,
        services: n.services.clone(),
        path: n.path.clone(),
    }
}

fn join_problems(what: &str, problems: &[ProblemView]) -> String {
    format!(
        "{} problem(s) in {what}:\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// The notes of a folder tree: each `*.md` file, its id defaulting to its path under `root`.
pub(crate) fn read_tree(
    root: &Path,
    origin: NoteOrigin,
    now: sitrep_core::Timestamp,
) -> Result<(Vec<Note>, Vec<ProblemView>)> {
    let files = if root.is_file() {
        vec![root.to_path_buf()]
    } else {
        files_under(root, &["md", "markdown"])?
    };
    let mut notes: Vec<Note> = vec![];
    let mut problems = vec![];
    for f in files {
        let default_id = if root.is_file() {
            crate::files::stem(&f)
        } else {
            let rel = f.strip_prefix(root).unwrap_or(&f).with_extension("");
            rel.to_string_lossy().replace('\\', "/")
        };
        let text = match read_text(&f) {
            Ok(t) => t,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let src = parse::Source {
            path: &f,
            default_id,
            origin,
            now,
        };
        match parse::parse(&src, &text) {
            Ok(n) => match notes.iter().find(|o| o.id == n.id) {
                Some(o) => problems.push(ProblemView {
                    file: f.display().to_string(),
                    line: None,
                    field: "id".into(),
                    message: format!("{:?} is also the id of {}: give one an `id:`", n.id, o.path),
                }),
                None => notes.push(n),
            },
            Err(ps) => problems.extend(ps),
        }
    }
    Ok((notes, problems))
}

impl Sitrep {
    fn knowledge_dir(&self) -> PathBuf {
        self.workspace_dir().join("knowledge")
    }

    fn index_dir(&self) -> PathBuf {
        // `ws-` keeps a workspace named `.` or `..` a plain folder name.
        self.home()
            .join("index")
            .join("knowledge")
            .join(format!("ws-{}", self.workspace()))
    }

    /// Brings the stored notes in step with the workspace folder's `knowledge/` (new and
    /// changed files stored, vanished ones removed; notes added by hand untouched), then the
    /// search index with the store (only changed notes re-indexed).
    pub async fn knowledge_sync(&self) -> Result<KnowledgeSync> {
        let store = self.store().await?;
        let ws = self.workspace().to_string();
        let dir = self.knowledge_dir();
        let now = self.now();
        let (folder, problems) =
            tokio::task::spawn_blocking(move || read_tree(&dir, NoteOrigin::Folder, now))
                .await
                .map_err(|e| EngineError::Invalid(format!("reading notes crashed: {e}")))??;
        for p in &problems {
            tracing::warn!(problem = %p, "knowledge note skipped");
        }
        let stored = store.list_notes(&ws).await?;
        let by_id: BTreeMap<&str, &Note> = stored.iter().map(|n| (n.id.as_str(), n)).collect();
        let changed: Vec<Note> = folder
            .iter()
            .filter(|n| {
                by_id.get(n.id.as_str()).is_none_or(|o| {
                    o.hash != n.hash || o.origin != NoteOrigin::Folder || o.path != n.path
                })
            })
            .cloned()
            .collect();
        let removed: Vec<String> = stored
            .iter()
            .filter(|o| o.origin == NoteOrigin::Folder && !folder.iter().any(|n| n.id == o.id))
            .map(|o| o.id.clone())
            .collect();
        if !changed.is_empty() {
            store.put_notes(&ws, &changed).await?;
        }
        if !removed.is_empty() {
            store.delete_notes(&ws, &removed).await?;
        }
        let index = self.reindex().await?;
        Ok(KnowledgeSync {
            stored: changed.into_iter().map(|n| n.id).collect(),
            removed,
            problems,
            index,
        })
    }

    /// Brings the search index in step with the stored notes.
    async fn reindex(&self) -> Result<SyncStats> {
        let notes = self.store().await?.list_notes(self.workspace()).await?;
        self.with_index(move |ix| ix.sync(&notes)).await
    }

    async fn with_index<T: Send + 'static>(
        &self,
        f: impl FnOnce(&KnowledgeIndex) -> std::result::Result<T, IndexError> + Send + 'static,
    ) -> Result<T> {
        let shared = self.knowledge_index();
        let dir = self.index_dir();
        tokio::task::spawn_blocking(move || {
            let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(KnowledgeIndex::open(&dir)?);
            }
            f(guard.as_ref().expect("opened above"))
        })
        .await
        .map_err(|e| EngineError::Invalid(format!("the knowledge index crashed: {e}")))?
        .map_err(EngineError::from)
    }

    /// Adds (or replaces) the notes of a file, or of every `*.md` under a folder. Nothing is
    /// stored when any file has a problem: every problem is reported with its file and line.
    pub async fn knowledge_add(&self, path: &Path) -> Result<Vec<NoteSummary>> {
        let root = std::fs::canonicalize(path).map_err(|e| EngineError::io(path, e))?;
        let now = self.now();
        let (notes, problems) =
            tokio::task::spawn_blocking(move || read_tree(&root, NoteOrigin::Added, now))
                .await
                .map_err(|e| EngineError::Invalid(format!("reading notes crashed: {e}")))??;
        if !problems.is_empty() {
            return Err(EngineError::Invalid(join_problems(
                "knowledge notes",
                &problems,
            )));
        }
        if notes.is_empty() {
            return Err(EngineError::Invalid(format!(
                "no notes in {}: notes are markdown files ending in .md",
                path.display()
            )));
        }
        let store = self.store().await?;
        let ws = self.workspace();
        let folder: BTreeMap<String, Note> = store
            .list_notes(ws)
            .await?
            .into_iter()
            .filter(|o| o.origin == NoteOrigin::Folder)
            .map(|o| (o.id.clone(), o))
            .collect();
        if let Some((n, o)) = notes.iter().find_map(|n| folder.get(&n.id).map(|o| (n, o))) {
            return Err(EngineError::Invalid(format!(
                "note {:?} comes from {} in the workspace folder: edit that file, or give this one another `id:`",
                n.id, o.path
            )));
        }
        store.put_notes(ws, &notes).await?;
        self.reindex().await?;
        Ok(notes.iter().map(note_summary).collect())
    }

    /// Every note of the workspace, by id.
    pub async fn knowledge_list(&self) -> Result<Vec<NoteSummary>> {
        self.knowledge_sync().await?;
        let notes = self.store().await?.list_notes(self.workspace()).await?;
        Ok(notes.iter().map(note_summary).collect())
    }

    /// One note, by id or a unique id prefix.
    pub async fn knowledge_note(&self, id: &str) -> Result<Note> {
        self.knowledge_sync().await?;
        self.store()
            .await?
            .get_note(self.workspace(), id)
            .await?
            .ok_or_else(|| EngineError::not_found("note", id, "list the notes to see their ids"))
    }

    /// Removes a note added by hand. A note of the workspace folder is removed by deleting
    /// its file.
    pub async fn knowledge_remove(&self, id: &str) -> Result<NoteSummary> {
        let n = self.knowledge_note(id).await?;
        if n.origin == NoteOrigin::Folder {
            return Err(EngineError::Invalid(format!(
                "note {:?} comes from {} in the workspace folder: delete or move that file instead",
                n.id, n.path
            )));
        }
        self.store()
            .await?
            .delete_notes(self.workspace(), std::slice::from_ref(&n.id))
            .await?;
        self.reindex().await?;
        Ok(note_summary(&n))
    }

    /// The notes that best match `query`, best first: BM25 over their sections (services and
    /// symptoms count most), one hit per note with its best section.
    pub async fn knowledge_search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        if query.trim().is_empty() {
            return Err(EngineError::Invalid(
                "the search is empty: say what you are looking for".into(),
            ));
        }
        self.knowledge_sync().await?;
        self.search_notes(query, limit).await
    }

    /// Search without syncing first (investigations sync once).
    pub(crate) async fn search_notes(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let q = sitrep_core::protocol::cap(query.to_string(), 4000);
        let hits = self.with_index(move |ix| ix.search(&q, 200)).await?;
        let store = self.store().await?;
        let notes: BTreeMap<String, Note> = store
            .list_notes(self.workspace())
            .await?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let mut best: Vec<SearchHit> = vec![];
        for h in hits {
            let Some(n) = notes.get(&h.note) else {
                continue;
            };
            if let Some(b) = best.iter_mut().find(|b| b.id == h.note) {
                // Other matching sections add a little: the note is about this throughout.
                b.score += 0.1 * f64::from(h.score);
                continue;
            }
            if best.len() >= limit {
                continue;
            }
            best.push(SearchHit {
                id: n.id.clone(),
                title: n.title.clone(),
                kind: n.kind,
                score: f64::from(h.score),
                snippet: snippet(n, &h.heading),
                section: h.heading,
                services: n.services.clone(),
                symptoms: n.symptoms.clone(),
            });
        }
        best.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        for b in &mut best {
            b.score = (b.score * 1000.0).round() / 1000.0;
        }
        Ok(best)
    }
}

/// The first lines of a note's section (at most 240 characters).
fn snippet(n: &Note, heading: &str) -> String {
    // The section's text, or (for a heading alone, like a title) the next section's.
    let secs = sections(&n.body);
    let text = secs
        .iter()
        .skip_while(|s| s.heading != heading)
        .find(|s| !s.text.is_empty())
        .map(|s| s.text.clone())
        .unwrap_or_default();
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
        if out.len() >= 240 {
            break;
        }
    }
    if out.len() > 240 {
        let mut cut = 240;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}
