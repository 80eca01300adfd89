//! The CLI's integration tests: one binary, one module per area.

mod analyze;
mod collection;
mod coverage;
mod discovery;
mod foundation;
mod hygiene;
mod kubernetes;
mod one_issue;
