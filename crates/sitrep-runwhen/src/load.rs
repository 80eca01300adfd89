//! Reading a RunWhen bundle or collection from disk; everything else is pure.

use crate::convert::{BundleSource, LoadedBundle, RUNBOOK, SLI, convert};
use sitrep_bundles::{MAX_BUNDLE_FILE_BYTES, MAX_BUNDLES_PER_COLLECTION, Problem};
use std::path::{Path, PathBuf};

/// Why a folder could not be read at all (what is wrong inside a bundle is a [`Problem`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads `dir` as one RunWhen codebundle.
pub fn load_bundle(dir: &Path) -> Result<LoadedBundle, LoadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LoadError::Io { path, source }
    };
    std::fs::read_dir(dir).map_err(io(dir))?;
    let mut problems = Vec::new();
    let mut read = |path: PathBuf| match read_capped(&path) {
        Ok(text) => text,
        Err(p) => {
            problems.push(p);
            None
        }
    };
    let runbook = read(dir.join(RUNBOOK));
    let sli = read(dir.join(SLI));
    let rules_dir = dir.join(".runwhen/generation-rules");
    let rules = files(&rules_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter_map(|p| read(p.clone()).map(|text| (p, text)))
        .collect();
    let templates = files(&dir.join(".runwhen/templates"))
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    let mut loaded = convert(&BundleSource {
        dir: dir.to_path_buf(),
        runbook,
        sli,
        rules,
        templates,
    });
    problems.append(&mut loaded.problems);
    loaded.problems = problems;
    Ok(loaded)
}

/// Reads every bundle under `root/codebundles/` (a folder holding `runbook.robot` or
/// `sli.robot`), sorted by name; at most [`MAX_BUNDLES_PER_COLLECTION`].
pub fn load_collection(root: &Path) -> Result<Vec<LoadedBundle>, LoadError> {
    let dir = root.join("codebundles");
    let entries = std::fs::read_dir(&dir).map_err(|source| LoadError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(RUNBOOK).is_file() || p.join(SLI).is_file())
        .collect();
    dirs.sort();
    dirs.truncate(MAX_BUNDLES_PER_COLLECTION);
    dirs.iter().map(|d| load_bundle(d)).collect()
}

/// The regular files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// A file's text; `Ok(None)` when it does not exist, a problem when it cannot be read or is
/// larger than [`MAX_BUNDLE_FILE_BYTES`].
fn read_capped(path: &Path) -> Result<Option<String>, Problem> {
    let problem = |message: String| Problem {
        file: path.to_path_buf(),
        line: None,
        field: String::new(),
        message,
    };
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(problem(format!("cannot read it: {e}"))),
    };
    if len > MAX_BUNDLE_FILE_BYTES {
        return Err(problem(format!(
            "the file is {len} bytes; sitrep reads at most {MAX_BUNDLE_FILE_BYTES}"
        )));
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| problem(format!("cannot read it: {e}")))
}
