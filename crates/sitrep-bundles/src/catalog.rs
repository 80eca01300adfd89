//! Every collection a workspace uses, and task lookup by `collection/bundle/task`.

use crate::load::load_collection;
use crate::model::{Bundle, Collection, Task};
use crate::problem::BundleError;
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
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub collections: Vec<Collection>,
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
    pub fn load(sources: &[CollectionSource], cache: &Path) -> Result<Catalog, BundleError> {
        let mut collections = vec![load_collection(&embedded::extract(cache)?)?];
        collections[0].name = "core".into();
        for s in sources {
            let root = match (&s.path, &s.git) {
                (Some(p), None) => p.clone(),
                (None, Some(url)) => git::checkout(url, s.rev.as_deref().unwrap_or("HEAD"), cache)?,
                _ => {
                    return Err(BundleError::Invalid(vec![crate::Problem {
                        file: PathBuf::from("sitrep.yaml"),
                        line: None,
                        field: format!("collections.{}", s.name),
                        message: "give exactly one of `path` or `git` (with `ref`)".into(),
                    }]));
                }
            };
            let mut c = load_collection(&root)?;
            c.name = s.name.clone();
            collections.retain(|o| o.name != c.name);
            collections.push(c);
        }
        Ok(Catalog { collections })
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
