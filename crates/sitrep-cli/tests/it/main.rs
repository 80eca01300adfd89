//! The CLI's integration tests: one binary, one module per area.

mod analyze;
mod apply;
mod collection;
mod coverage;
mod discovery;
mod foundation;
mod harness;
mod host_remediations;
mod hygiene;
mod kubernetes;
mod nginx_remediations;
mod one_issue;
mod process_bundle;
mod runwhen;
mod runwhen_discovery;
mod runwhen_k8s;
mod runwhen_robot;
mod server;
mod service_remediations;
mod signals;
mod studio;
mod vault;
