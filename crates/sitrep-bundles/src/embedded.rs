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

/// The file in the extracted folder that keeps the checked form of the collection.
const CHECKED_FILE: &str = ".checked.json";

/// The built-in collection: written out under `cache` (for its scripts) and loaded from the
/// JSON form of its bundles compiled into the binary (the same content as the files).
///
/// Checking every bundle costs milliseconds at every start, so the checked collection is kept
/// in the extracted folder ([`CHECKED_FILE`]) under a key naming the binary that checked it
/// and the folder; a later start of the same binary on the same folder reads it back instead.
/// A missing, unreadable or stale copy is checked and written again.
pub fn load(cache: &Path) -> Result<Collection, BundleError> {
    let root = extract(cache)?;
    let key = exe_identity().map(|(exe, size, modified)| checked_key(&exe, size, modified, &root));
    let file = root.join(CHECKED_FILE);
    if let Some(c) = key.as_deref().and_then(|k| read_checked(&file, k)) {
        return Ok(c);
    }
    let collection = check(root)?;
    if let Some(k) = key
        && let Err(e) = write_checked(&file, &k, &collection)
    {
        tracing::debug!(file = %file.display(), error = %e, "cannot keep the checked built-in collection");
    }
    Ok(collection)
}

/// This program's executable, its size and its change time (ns): a rebuild changes them.
fn exe_identity() -> Option<(PathBuf, u64, u128)> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((exe, meta.len(), modified))
}

/// What a checked copy depends on: the files compiled in (the digest), the binary that
/// checked them (the checks are its code) and the folder they were written to (every
/// bundle's folder is in the copy).
pub(crate) fn checked_key(exe: &Path, size: u64, modified_ns: u128, root: &Path) -> String {
    let (size, modified) = (size.to_string(), modified_ns.to_string());
    let h = sitrep_core::fingerprint::fnv1a64(&[
        DIGEST,
        &exe.to_string_lossy(),
        &size,
        &modified,
        &root.to_string_lossy(),
    ]);
    format!("{h:016x}")
}

/// The checked collection kept in `file` (its first line is its key), if it is `key`'s.
pub(crate) fn read_checked(file: &Path, key: &str) -> Option<Collection> {
    let text = std::fs::read_to_string(file).ok()?;
    let (kept, json) = text.split_once('\n')?;
    if kept != key {
        return None;
    }
    serde_json::from_str(json)
        .inspect_err(|e| tracing::debug!(file = %file.display(), error = %e, "the checked built-in collection cannot be read; checking it again"))
        .ok()
}

/// Keeps `c` in `file` under `key` (written aside, then renamed: a concurrent start reads
/// either copy whole).
pub(crate) fn write_checked(file: &Path, key: &str, c: &Collection) -> std::io::Result<()> {
    let mut text = format!("{key}\n");
    text.push_str(&serde_json::to_string(c).map_err(std::io::Error::other)?);
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Checks every embedded bundle (extracted at `root`) into the collection.
fn check(root: PathBuf) -> Result<Collection, BundleError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn json(c: &Collection) -> serde_json::Value {
        serde_json::to_value(c).unwrap()
    }

    #[test]
    fn the_key_names_the_binary_and_the_folder() {
        let k = |exe: &str, size, modified, root: &str| {
            checked_key(Path::new(exe), size, modified, Path::new(root))
        };
        let base = k("/bin/sitrep", 10, 20, "/h/cache/core");
        assert_eq!(base, k("/bin/sitrep", 10, 20, "/h/cache/core"));
        assert_ne!(base, k("/bin/sitrep2", 10, 20, "/h/cache/core"));
        assert_ne!(base, k("/bin/sitrep", 11, 20, "/h/cache/core"));
        assert_ne!(base, k("/bin/sitrep", 10, 21, "/h/cache/core"));
        assert_ne!(base, k("/bin/sitrep", 10, 20, "/moved/cache/core"));
    }

    #[test]
    fn the_checked_copy_reads_back_as_checked() {
        let dir = tempfile::tempdir().unwrap();
        let checked = check(extract(dir.path()).unwrap()).unwrap();
        let file = dir.path().join("checked");
        write_checked(&file, "k1", &checked).unwrap();
        let read = read_checked(&file, "k1").expect("the same key reads it");
        assert_eq!(json(&read), json(&checked));
        assert!(read_checked(&file, "k2").is_none(), "another key does not");
        std::fs::write(&file, "k1\n{not json").unwrap();
        assert!(
            read_checked(&file, "k1").is_none(),
            "a damaged copy is not used"
        );
    }

    #[test]
    fn a_stale_copy_is_checked_again_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = load(dir.path()).unwrap();
        let file = extract(dir.path()).unwrap().join(CHECKED_FILE);
        let text = std::fs::read_to_string(&file).unwrap();
        let (key, _) = text.split_once('\n').unwrap();
        let mut changed = fresh.clone();
        changed.bundles[0].description = "changed since".into();

        // Under this binary's key the copy is what loads (nothing is checked again)...
        write_checked(&file, key, &changed).unwrap();
        assert_eq!(
            load(dir.path()).unwrap().bundles[0].description,
            "changed since"
        );
        // ...under any other key (another binary, another folder) it is not.
        write_checked(&file, "another binary", &changed).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(json(&loaded), json(&fresh));
        let rewritten = std::fs::read_to_string(&file).unwrap();
        assert!(rewritten.starts_with(&format!("{key}\n")), "written again");
    }
}
