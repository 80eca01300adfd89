//! Embeds `collections/core` into the binary so sitrep is one file: a static list of
//! (relative path, bytes) that `embedded.rs` writes out under `SITREP_HOME` on first use.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest
        .join("../../collections/core")
        .canonicalize()
        .expect("collections/core exists");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    // Each bundle.yaml as JSON too: the built-in collection is loaded from these at every
    // start, and JSON parses an order of magnitude faster than YAML.
    let collection: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(root.join("collection.yaml")).unwrap())
            .expect("collections/core/collection.yaml is valid YAML");
    writeln!(
        out,
        "pub static COLLECTION_JSON: &str = {:?};",
        serde_json::to_string(&collection).unwrap()
    )
    .unwrap();
    out.push_str("pub static BUNDLES_JSON: &[(&str, &str)] = &[\n");
    // In folder-name order, as loading from YAML reads them ("postgres" before
    // "postgres-database", which sorting whole paths would reverse).
    let mut bundles: Vec<(&str, &PathBuf)> = files
        .iter()
        .filter_map(|(rel, abs)| {
            rel.strip_prefix("bundles/")
                .and_then(|r| r.strip_suffix("/bundle.yaml"))
                .map(|folder| (folder, abs))
        })
        .collect();
    bundles.sort();
    for (folder, abs) in bundles {
        let rel = format!("bundles/{folder}/bundle.yaml");
        let text = std::fs::read_to_string(abs).unwrap();
        let value: yaml_serde::Value =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{rel}: invalid YAML: {e}"));
        let json = serde_json::to_string(&value).unwrap();
        writeln!(out, "    ({folder:?}, {json:?}),").unwrap();
    }
    out.push_str("];\n");
    // A digest of every path and content names the extracted folder; computed here, not at
    // every start.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (rel, abs) in &files {
        for b in rel
            .bytes()
            .chain([0])
            .chain(std::fs::read(abs).unwrap())
            .chain([0])
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    writeln!(
        out,
        "pub static DIGEST: &str = \"{:012x}\";",
        h & 0xffff_ffff_ffff
    )
    .unwrap();
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_core.rs");
    std::fs::write(dest, out).unwrap();
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            files.push((rel, path));
        }
    }
}
