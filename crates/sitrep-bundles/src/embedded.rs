//! The built-in `core` collection, compiled into the binary and written out on first use to
//! `CACHE/collections/core-HASH/`, so scripts run from real files and a new binary never runs
//! an older copy.

use crate::problem::BundleError;
use sitrep_core::fingerprint::fnv1a64;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded_core.rs"));

/// A digest of the embedded files; names the extracted folder.
pub fn digest() -> String {
    let mut parts: Vec<&str> = Vec::with_capacity(FILES.len() * 2);
    let texts: Vec<String> = FILES
        .iter()
        .map(|(_, b)| format!("{:016x}", fnv1a64(&[&String::from_utf8_lossy(b)])))
        .collect();
    for ((p, _), t) in FILES.iter().zip(&texts) {
        parts.push(p);
        parts.push(t);
    }
    format!("{:012x}", fnv1a64(&parts) & 0xffff_ffff_ffff)
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
