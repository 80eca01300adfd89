//! RunWhen codebundles read into sitrep's bundle model (`docs/runwhen.md`): `runbook.robot`
//! tasks as diagnostic tasks or, tagged `access:read-write`, remediations; `sli.robot` as the
//! health task; parameters and secrets from `RW.Core.Import User Variable` / `Import Secret`;
//! `.runwhen/generation-rules` typed and `.runwhen/templates` listed. `apply` and `render`
//! (pure) turn the generation rules and templates into SLXs for the Map's resources; nothing
//! is run here. Every problem is collected with file, line and field.

pub mod apply;
mod catalog;
mod convert;
pub mod generation;
pub mod imports;
mod load;
mod model;
pub mod render;
pub mod robot;
mod robot_time;

pub use catalog::{is_runwhen_path, read_collection, to_bundle, validate_path};
pub use convert::{BundleSource, LoadedBundle, READ_WRITE_TAG, RUNBOOK, SLI, convert, slug};
pub use load::{LoadError, load_bundle, load_collection};
pub use model::*;
pub use sitrep_bundles::Problem;
