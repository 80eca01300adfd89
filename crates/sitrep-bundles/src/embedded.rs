//! The built-in `core` collection, compiled into the binary and written out on first use to
//! `CACHE/collections/core-HASH/`, so scripts run from real files and a new binary never runs
//! an older copy.

use crate::load::bundle_from_value;
use crate::model::Collection;
use crate::problem::BundleError;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded_core.rs"));

/// A digest of the embedded files (computed at build time); names the extracted folder.
pub fn digest() -> &'static str {
    DIGEST
}

/// Writes the embedded collection under `cache` (once per digest) and returns its root.
pub fn extract(cache: &Path) -> Result<PathBuf, BundleError> {
    let root = cache.join("collections").join(format!("core-{}", digest()));
    if root.join("collection.yaml").is_file() {
        return Ok(root);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    let tmp = cache
        .join("collections")
        .join(format!(".core-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for (rel, bytes) in FILES {
        let dest = tmp.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).map_err(io(&dest))?;
        std::fs::write(&dest, bytes).map_err(io(&dest))?;
    }
    // Another process may have won the race; its copy is identical.
    if std::fs::rename(&tmp, &root).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(root)
}

/// The built-in collection: written out under `cache` (for its scripts) and loaded from the
/// JSON form of its bundles compiled into the binary (the same content as the files).
pub fn load(cache: &Path) -> Result<Collection, BundleError> {
    let root = extract(cache)?;
    let mut bundles = Vec::with_capacity(BUNDLES_JSON.len());
    let mut problems = Vec::new();
    for (folder, json) in BUNDLES_JSON {
        let value: yaml_serde::Value =
            serde_json::from_str(json).expect("build.rs wrote valid JSON");
        match bundle_from_value(&root.join("bundles").join(folder), "", value) {
            Ok(b) => bundles.push(b),
            Err(ps) => problems.extend(ps),
        }
    }
    if !problems.is_empty() {
        return Err(BundleError::Invalid(problems));
    }
    let meta: serde_json::Value = serde_json::from_str(COLLECTION_JSON).unwrap_or_default();
    let text = |k: &str| match &meta[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(Collection {
        name: "core".into(),
        description: text("description"),
        version: text("version"),
        root,
        bundles,
    })
}
