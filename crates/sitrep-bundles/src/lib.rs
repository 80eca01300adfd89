//! CodeCollections and CodeBundles: the on-disk format (`docs/bundles.md`), loading from a
//! folder, a git URL or the binary itself, and validation that names file, line and field.

mod catalog;
pub mod embedded;
pub mod git;
mod load;
mod locate;
pub mod model;
mod problem;
pub mod rules;
pub mod slx;

pub use catalog::{Catalog, CollectionSource, ResolvedTask};
pub use load::{load_bundle, load_collection, validate_path};
pub use model::*;
pub use problem::{BundleError, Problem};
