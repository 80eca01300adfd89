//! CodeCollections and CodeBundles: the on-disk format (`docs/bundles.md`), loading from a
//! folder, a git URL or the binary itself, and validation that names file, line and field.

mod catalog;
pub mod embedded;
pub mod git;
mod load;
pub mod locate;
pub mod model;
mod problem;
pub mod rules;
pub mod slx;
mod task;

pub use catalog::{
    Catalog, CollectionKind, CollectionSource, Quarantined, ReadCollection, Readers, ResolvedTask,
};
pub use load::{
    LoadedCollection, MAX_BUNDLE_FILE_BYTES, MAX_BUNDLES_PER_COLLECTION, MAX_COLLECTION_FILE_BYTES,
    MAX_ENTRIES_PER_LIST, MAX_TASKS_PER_BUNDLE, load_bundle, load_collection, read_collection,
    validate_path,
};
pub use model::*;
pub use problem::{BundleError, Problem};
