//! Loads the shared RunWhen bundles once per test.

use sitrep_runwhen::{LoadedBundle, RunwhenBundle, load_bundle, load_collection};
use std::path::{Path, PathBuf};

/// `../shared/data/runwhen`, relative to the workspace.
pub fn data_root() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/runwhen"
    ))
    .to_path_buf()
}

pub const BUNDLES: [&str; 5] = [
    "curl-http-ok",
    "dns-health",
    "k8s-deployment-healthcheck",
    "k8s-namespace-healthcheck",
    "k8s-restart-resource",
];

/// Every bundle of the shared collection, loaded.
pub fn all() -> Vec<LoadedBundle> {
    load_collection(&data_root()).expect("the shared RunWhen data is readable")
}

/// One bundle, which must have loaded without problems.
pub fn bundle(name: &str) -> RunwhenBundle {
    let loaded = load_bundle(&data_root().join("codebundles").join(name)).expect("readable");
    assert!(loaded.is_valid(), "{name}: {:#?}", loaded.problems);
    loaded.bundle
}

/// The original Robot names of a bundle's runbook tasks, in file order.
pub fn runbook_tests(b: &RunwhenBundle) -> Vec<&str> {
    b.tasks
        .iter()
        .filter_map(|t| t.robot.test.as_deref())
        .collect()
}
