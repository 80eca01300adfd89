//! Every collection a workspace uses, and task lookup by `collection/bundle/task`.

use crate::load::{LoadedCollection, read_collection};
use crate::model::{Bundle, Collection, Task};
use crate::problem::{BundleError, Problem};
use crate::{embedded, git};
use serde::{Deserialize, Serialize};
use sitrep_core::TaskRef;
use std::path::{Path, PathBuf};

/// Where a collection comes from, as written in `sitrep.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSource {
    pub name: String,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub git: Option<String>,
    #[serde(default, rename = "ref")]
    pub rev: Option<String>,
    /// `native` (a `collection.yaml` and `bundles/*/bundle.yaml`) or `runwhen` (RunWhen
    /// codebundles under `codebundles/`, read by `sitrep-runwhen`).
    #[serde(default, skip_serializing_if = "CollectionKind::is_native")]
    pub kind: CollectionKind,
}

/// The format of a configured collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectionKind {
    #[default]
    Native,
    /// RunWhen codebundles (`docs/runwhen.md`).
    Runwhen,
}

impl CollectionKind {
    pub fn is_native(&self) -> bool {
        *self == CollectionKind::Native
    }
}

/// Reads a collection of another format (for `kind: runwhen`, `sitrep_runwhen::read_collection`)
/// into sitrep's model: its valid bundles, and the problems of the others. `sitrep-bundles`
/// does not depend on the readers of other formats; whoever opens the catalog passes them.
pub type ReadCollection = fn(&Path) -> Result<LoadedCollection, BundleError>;

/// The readers of collection formats other than sitrep's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Readers {
    pub runwhen: Option<ReadCollection>,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub collections: Vec<Collection>,
    /// What could not be loaded and was left out, with its problems: each invalid bundle,
    /// each collection that could not be read at all, and problems of a collection's own
    /// `collection.yaml`. Everything else loaded and runs.
    pub quarantined: Vec<Quarantined>,
}

/// A bundle (or a whole collection) left out of the catalog, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The collection, as named in `sitrep.yaml`.
    pub collection: String,
    /// The bundle's folder; `None` for a problem of the collection itself.
    pub bundle: Option<String>,
    /// Whether the collection's other bundles loaded (false: none of it did).
    pub collection_loaded: bool,
    pub problems: Vec<Problem>,
}

impl Quarantined {
    /// The issue sitrep raises about its own broken bundle, so that it shows where issues are
    /// looked at (one per left-out bundle or collection; the count in the title does not
    /// change its fingerprint).
    pub fn issue_draft(&self) -> sitrep_core::IssueDraft {
        let what = match &self.bundle {
            Some(b) => format!("bundle {}/{b}", self.collection),
            None => format!("collection {}", self.collection),
        };
        let mut d = sitrep_core::IssueDraft::new(
            sitrep_core::Severity::MAJOR,
            if self.bundle.is_some() || !self.collection_loaded {
                format!("{what} is invalid and left out")
            } else {
                format!("{what} has problems")
            },
        );
        d.expected = format!("every bundle of collection {} loads", self.collection);
        d.actual = format!("{} problem(s)", self.problems.len());
        d.details = self
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        d.next_steps = "fix each problem at the file, line and field named, then check the folder with `sitrep bundles validate`; the rest of the catalog runs meanwhile".into();
        d
    }
}

impl std::fmt::Display for Quarantined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.bundle, self.collection_loaded) {
            (Some(b), _) => write!(f, "bundle {}/{b} is left out", self.collection)?,
            (None, true) => write!(f, "collection {} loaded with problems", self.collection)?,
            (None, false) => write!(f, "collection {} is left out", self.collection)?,
        }
        write!(f, ": {} problem(s)", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ResolvedTask<'a> {
    pub collection: &'a Collection,
    pub bundle: &'a Bundle,
    pub task: &'a Task,
}

impl ResolvedTask<'_> {
    pub fn task_ref(&self) -> TaskRef {
        TaskRef::new(&self.collection.name, &self.bundle.name, &self.task.name)
    }
}

impl Catalog {
    /// The built-in collection plus `sources`, loaded in that order. Blocking.
    ///
    /// A bad bundle or collection does not stop the rest: it is left out and listed in
    /// [`Catalog::quarantined`]. Only the built-in collection must load (an error here means
    /// it could not be written to `cache`).
    pub fn load(sources: &[CollectionSource], cache: &Path) -> Result<Catalog, BundleError> {
        Catalog::load_with(sources, cache, Readers::default())
    }

    /// [`Catalog::load`], reading collections of other formats with `readers`; a collection
    /// whose reader is not given is left out with a problem saying so.
    pub fn load_with(
        sources: &[CollectionSource],
        cache: &Path,
        readers: Readers,
    ) -> Result<Catalog, BundleError> {
        let core = embedded::load(cache)?;
        let mut catalog = Catalog {
            collections: vec![core],
            quarantined: vec![],
        };
        for s in sources {
            let left_out = |problems| Quarantined {
                collection: s.name.clone(),
                bundle: None,
                collection_loaded: false,
                problems,
            };
            let read = |root: PathBuf| match s.kind {
                CollectionKind::Native => read_collection(&root),
                CollectionKind::Runwhen => match readers.runwhen {
                    Some(read) => read(&root),
                    None => Err(BundleError::Invalid(vec![Problem {
                        file: PathBuf::from("sitrep.yaml"),
                        line: None,
                        field: format!("collections.{}.kind", s.name),
                        message: "this program cannot read RunWhen collections".into(),
                    }])),
                },
            };
            let loaded = match source_root(s, cache).and_then(read) {
                Ok(l) => l,
                Err(e) => {
                    catalog.quarantined.push(left_out(problems_of(e, s)));
                    continue;
                }
            };
            if !loaded.own.is_empty() {
                catalog.quarantined.push(Quarantined {
                    collection_loaded: true,
                    ..left_out(loaded.own)
                });
            }
            for (bundle, problems) in loaded.left_out {
                catalog.quarantined.push(Quarantined {
                    bundle: Some(bundle),
                    collection_loaded: true,
                    ..left_out(problems)
                });
            }
            let mut c = loaded.collection;
            c.name = s.name.clone();
            catalog.collections.retain(|o| o.name != c.name);
            catalog.collections.push(c);
        }
        Ok(catalog)
    }

    pub fn resolve(&self, r: &TaskRef) -> Result<ResolvedTask<'_>, BundleError> {
        let unknown = || BundleError::UnknownTask(r.to_string());
        let collection = self
            .collections
            .iter()
            .find(|c| c.name == r.collection)
            .ok_or_else(unknown)?;
        let bundle = collection.bundle(&r.bundle).ok_or_else(unknown)?;
        let task = bundle.task(&r.task).ok_or_else(unknown)?;
        Ok(ResolvedTask {
            collection,
            bundle,
            task,
        })
    }

    pub fn tasks(&self) -> impl Iterator<Item = ResolvedTask<'_>> {
        self.collections.iter().flat_map(|c| {
            c.bundles.iter().flat_map(move |b| {
                b.tasks.iter().map(move |t| ResolvedTask {
                    collection: c,
                    bundle: b,
                    task: t,
                })
            })
        })
    }
}

/// Where a configured collection's files are (a git collection is checked out first).
fn source_root(s: &CollectionSource, cache: &Path) -> Result<PathBuf, BundleError> {
    match (&s.path, &s.git) {
        (Some(p), None) => Ok(p.clone()),
        (None, Some(url)) => git::checkout(url, s.rev.as_deref().unwrap_or("HEAD"), cache),
        _ => Err(BundleError::Invalid(vec![Problem {
            file: PathBuf::from("sitrep.yaml"),
            line: None,
            field: format!("collections.{}", s.name),
            message: "give exactly one of `path` or `git` (with `ref`)".into(),
        }])),
    }
}

/// A collection's loading error as problems to report.
fn problems_of(e: BundleError, s: &CollectionSource) -> Vec<Problem> {
    match e {
        BundleError::Invalid(ps) => ps,
        BundleError::Io { path, source } => vec![Problem {
            file: path,
            line: None,
            field: String::new(),
            message: format!(
                "cannot read it: {source} (is `path` of collection {:?} right?)",
                s.name
            ),
        }],
        other => vec![Problem {
            file: PathBuf::from("sitrep.yaml"),
            line: None,
            field: format!("collections.{}", s.name),
            message: other.to_string(),
        }],
    }
}
