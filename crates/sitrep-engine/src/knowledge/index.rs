//! The knowledge search index: one tantivy index per workspace under
//! `$SITREP_HOME/index/knowledge/`, one document per note section, scored with BM25 over the
//! section's text, the note's title, and its services, symptoms and tags (boosted).
//!
//! The index follows the store: [`KnowledgeIndex::sync`] compares each note's content hash
//! with the hashes recorded in the index's last commit (its payload, written atomically with
//! the commit) and re-indexes only what changed. A schema change rebuilds it.

use super::analyze::terms;
use serde::{Deserialize, Serialize};
use sitrep_core::knowledge::{Note, sections};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TEXT, Value};
use tantivy::{Index, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Bumped when the schema or the analysis changes: the index is then rebuilt.
const SCHEMA_VERSION: u32 = 1;
/// The smallest writer memory budget tantivy accepts (one thread).
const WRITER_MEMORY: usize = 15_000_000;

/// How much a match in each field counts.
const BOOSTS: &[(&str, f32)] = &[
    ("services", 3.0),
    ("symptoms", 3.0),
    ("title", 2.0),
    ("tags", 1.5),
    ("heading", 1.5),
    ("body", 1.0),
];

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "the knowledge index at {path} cannot be used: {message} (delete the folder to rebuild it)"
    )]
    Tantivy { path: PathBuf, message: String },
    #[error(
        "the knowledge index at {0} is being updated by another sitrep process; try again in a moment"
    )]
    Busy(PathBuf),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    schema: u32,
    /// Note id → content hash, as indexed.
    notes: BTreeMap<String, String>,
}

/// What one sync changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStats {
    pub indexed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

/// One section that matched a query.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionHit {
    pub note: String,
    pub heading: String,
    pub score: f32,
}

pub struct KnowledgeIndex {
    path: PathBuf,
    index: Index,
    fields: Fields,
}

struct Fields {
    note: Field,
    heading_stored: Field,
    text: HashMap<&'static str, Field>,
}

fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field("note", STRING | STORED);
    b.add_text_field("heading_stored", STORED);
    for (name, _) in BOOSTS {
        b.add_text_field(name, TEXT);
    }
    b.build()
}

impl KnowledgeIndex {
    /// Opens the index in `dir` (creating it), rebuilding it when its schema is older.
    pub fn open(dir: &Path) -> Result<KnowledgeIndex, IndexError> {
        let err = |e: &dyn std::fmt::Display| IndexError::Tantivy {
            path: dir.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let open = || -> tantivy::Result<Index> {
            let d = tantivy::directory::MmapDirectory::open(dir)?;
            Index::open_or_create(d, schema())
        };
        let index = match open() {
            Ok(i) if manifest(&i).schema == SCHEMA_VERSION || manifest(&i).notes.is_empty() => i,
            // An older schema (or an unreadable index): start again; the store has the notes.
            _ => {
                tracing::info!(path = %dir.display(), "rebuilding the knowledge index");
                std::fs::remove_dir_all(dir).map_err(|e| err(&e))?;
                std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
                open().map_err(|e| err(&e))?
            }
        };
        let s = index.schema();
        let field = |n: &str| s.get_field(n).map_err(|e| err(&e));
        let mut text = HashMap::new();
        for (name, _) in BOOSTS {
            text.insert(*name, field(name)?);
        }
        Ok(KnowledgeIndex {
            path: dir.to_path_buf(),
            fields: Fields {
                note: field("note")?,
                heading_stored: field("heading_stored")?,
                text,
            },
            index,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        IndexError::Tantivy {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Brings the index in step with `notes` (a workspace's notes): re-indexes the notes whose
    /// hash changed or that are new, removes the ones that are gone.
    pub fn sync(&self, notes: &[Note]) -> Result<SyncStats, IndexError> {
        let before = manifest(&self.index);
        let mut stats = SyncStats::default();
        let changed: Vec<&Note> = notes
            .iter()
            .filter(|n| before.notes.get(&n.id) != Some(&n.hash))
            .collect();
        let gone: Vec<&String> = before
            .notes
            .keys()
            .filter(|id| !notes.iter().any(|n| &n.id == *id))
            .collect();
        stats.unchanged = notes.len() - changed.len();
        if changed.is_empty() && gone.is_empty() && before.schema == SCHEMA_VERSION {
            return Ok(stats);
        }
        let mut writer: IndexWriter = self.writer()?;
        for id in &gone {
            writer.delete_term(Term::from_field_text(self.fields.note, id));
            stats.removed += 1;
        }
        for n in &changed {
            writer.delete_term(Term::from_field_text(self.fields.note, &n.id));
            for doc in self.documents(n) {
                writer.add_document(doc).map_err(|e| self.err(e))?;
            }
            stats.indexed += 1;
        }
        let after = Manifest {
            schema: SCHEMA_VERSION,
            notes: notes
                .iter()
                .map(|n| (n.id.clone(), n.hash.clone()))
                .collect(),
        };
        let mut commit = writer.prepare_commit().map_err(|e| self.err(e))?;
        commit.set_payload(&serde_json::to_string(&after).unwrap_or_default());
        commit.commit().map_err(|e| self.err(e))?;
        writer.wait_merging_threads().map_err(|e| self.err(e))?;
        tracing::debug!(
            indexed = stats.indexed,
            removed = stats.removed,
            "knowledge index synced"
        );
        Ok(stats)
    }

    /// The writer, waiting a little for another process that holds it.
    fn writer(&self) -> Result<IndexWriter, IndexError> {
        for attempt in 0..20 {
            match self.index.writer_with_num_threads(1, WRITER_MEMORY) {
                Ok(w) => return Ok(w),
                Err(tantivy::TantivyError::LockFailure(..)) if attempt < 19 => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(tantivy::TantivyError::LockFailure(..)) => {
                    return Err(IndexError::Busy(self.path.clone()));
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        Err(IndexError::Busy(self.path.clone()))
    }

    fn documents(&self, n: &Note) -> Vec<TantivyDocument> {
        let f = &self.fields;
        let joined = |v: &[String]| terms(&v.join(" ; ")).join(" ");
        let common = [
            ("title", terms(&n.title).join(" ")),
            ("services", joined(&n.services)),
            ("symptoms", joined(&n.symptoms)),
            ("tags", joined(&n.tags)),
        ];
        let mut secs = sections(&n.body);
        if secs.is_empty() {
            secs.push(sitrep_core::knowledge::Section {
                heading: String::new(),
                text: String::new(),
            });
        }
        secs.iter()
            .map(|s| {
                let mut d = TantivyDocument::default();
                d.add_text(f.note, &n.id);
                d.add_text(f.heading_stored, &s.heading);
                for (name, value) in &common {
                    d.add_text(f.text[name], value);
                }
                d.add_text(f.text["heading"], terms(&s.heading).join(" "));
                d.add_text(f.text["body"], terms(&s.text).join(" "));
                d
            })
            .collect()
    }

    /// The best sections for `query`, best first (BM25 with field boosts).
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SectionHit>, IndexError> {
        let mut words = terms(query);
        words.sort();
        words.dedup();
        if words.is_empty() || limit == 0 {
            return Ok(vec![]);
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![];
        for (name, boost) in BOOSTS {
            let field = self.fields.text[name];
            for w in &words {
                let q = TermQuery::new(
                    Term::from_field_text(field, w),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), *boost)),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);
        let reader = self
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| self.err(e))?;
        let searcher = reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(|e| self.err(e))?;
        let mut out = vec![];
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(|e| self.err(e))?;
            let text = |f: Field| {
                doc.get_first(f)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            };
            out.push(SectionHit {
                note: text(self.fields.note),
                heading: text(self.fields.heading_stored),
                score,
            });
        }
        Ok(out)
    }

    /// The note ids and hashes the index holds.
    #[cfg(test)]
    pub fn indexed(&self) -> BTreeMap<String, String> {
        manifest(&self.index).notes
    }
}

fn manifest(index: &Index) -> Manifest {
    index
        .load_metas()
        .ok()
        .and_then(|m| m.payload)
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sitrep_core::Timestamp;
    use sitrep_core::knowledge::{NoteKind, NoteOrigin};

    fn note(id: &str, body: &str, services: &[&str]) -> Note {
        Note {
            workspace: "w".into(),
            id: id.into(),
            title: id.into(),
            kind: NoteKind::Runbook,
            services: services.iter().map(|s| s.to_string()).collect(),
            symptoms: vec![],
            tags: vec![],
            root_cause: None,
            owner: None,
            body: body.into(),
            origin: NoteOrigin::Added,
            path: format!("{id}.md"),
            hash: super::super::parse::hash(format!("{id}{body}{services:?}").as_bytes()),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn the_index_follows_the_notes_by_hash_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let a = note(
            "a",
            "# Vacuum\nautovacuum falls behind on big tables\n# Other\nnothing",
            &["postgres"],
        );
        let b = note(
            "b",
            "redis evicts keys when maxmemory is reached",
            &["redis"],
        );
        let ix = KnowledgeIndex::open(dir.path()).unwrap();
        let s = ix.sync(&[a.clone(), b.clone()]).unwrap();
        assert_eq!((s.indexed, s.removed, s.unchanged), (2, 0, 0));
        let hits = ix.search("autovacuum behind", 10).unwrap();
        assert_eq!(
            (hits[0].note.as_str(), hits[0].heading.as_str()),
            ("a", "Vacuum")
        );
        // Services count more than the body.
        assert_eq!(ix.search("redis", 10).unwrap()[0].note, "b");
        drop(ix);

        let ix = KnowledgeIndex::open(dir.path()).unwrap();
        assert_eq!(ix.indexed().len(), 2);
        let a2 = note("a", "# Vacuum\nbloat grows", &["postgres"]);
        let s = ix.sync(&[a2, b.clone()]).unwrap();
        assert_eq!((s.indexed, s.removed, s.unchanged), (1, 0, 1));
        assert!(
            ix.search("autovacuum", 10).unwrap().is_empty(),
            "the old text is gone"
        );
        assert_eq!(ix.search("bloat", 10).unwrap()[0].note, "a");
        let s = ix.sync(std::slice::from_ref(&b)).unwrap();
        assert_eq!((s.indexed, s.removed, s.unchanged), (0, 1, 1));
        assert!(ix.search("bloat", 10).unwrap().is_empty());
        assert_eq!(
            ix.sync(std::slice::from_ref(&b)).unwrap(),
            SyncStats {
                indexed: 0,
                removed: 0,
                unchanged: 1
            }
        );
        assert!(ix.search("the of", 10).unwrap().is_empty());
    }
}
