//! A script run's private directory: where it lives, and the file-system work before and after
//! the task, each done in one blocking batch (one hop to tokio's blocking pool, not one per
//! file).
//!
//! Run directories go to a folder of this user's on tmpfs when there is one
//! (`$XDG_RUNTIME_DIR`, else `/dev/shm`): creating and removing a few files there costs
//! microseconds where a disk can cost milliseconds, and a secret written as a file (`as: file`)
//! never reaches a disk. Otherwise they go to `RUNTIME/runs`.

use crate::tree::Tree;
use crate::tree::cgroup::Isolation;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The result file a task may write is read up to this size.
const MAX_RESULTS_BYTES: u64 = 16 * 1024 * 1024;
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Where run directories go, and whether that is tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsDir {
    pub path: PathBuf,
    /// On tmpfs, preparing and removing a run directory are memory operations, done inline;
    /// on a disk they go to tokio's blocking pool.
    pub tmpfs: bool,
}

/// Where this home's run directories go: `TMPFS/sitrep[-UID]/KEY` (KEY: a digest of the
/// runtime directory, so two homes never share one) on a private tmpfs folder of this user's
/// if there is one, else `RUNTIME/runs`. Blocking; once per runner.
pub fn choose(runtime_dir: &Path) -> RunsDir {
    let fallback = RunsDir {
        path: runtime_dir.join("runs"),
        tmpfs: false,
    };
    let absolute = std::path::absolute(runtime_dir).unwrap_or_else(|_| runtime_dir.to_path_buf());
    let key = format!(
        "{:016x}",
        sitrep_core::fingerprint::fnv1a64(&[&absolute.to_string_lossy()])
    );
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let candidates = [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("sitrep")),
        Some(PathBuf::from(format!("/dev/shm/sitrep-{uid}"))),
    ];
    for private in candidates.into_iter().flatten() {
        if private.parent().is_some_and(is_tmpfs) && is_private_dir(&private, uid) {
            return RunsDir {
                path: private.join(key),
                tmpfs: true,
            };
        }
    }
    fallback
}

fn is_tmpfs(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a zeroed statfs to fill.
    unsafe { libc::statfs(c.as_ptr(), &mut s) == 0 && s.f_type as i64 == TMPFS_MAGIC }
}

/// Creates `dir` (0700) if missing and checks it is a real directory of this user's that no one
/// else can enter: `/dev/shm` is shared, and a folder planted there by another user is refused.
fn is_private_dir(dir: &Path, uid: u32) -> bool {
    let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
    match std::fs::symlink_metadata(dir) {
        Ok(m) => m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0,
        Err(_) => false,
    }
}

/// What the task needs on disk before it starts.
pub struct Prepare {
    pub dir: PathBuf,
    /// Secrets passed as files: (name, value), written 0600 under `.secrets/`.
    pub secret_files: Vec<(String, String)>,
    pub isolation: Isolation,
    pub run_id: String,
}

/// Creates the run directory, its empty results file and secret files, and the task's cgroup,
/// and records the cgroup (so a crash right after the spawn still finds it). Returns the tree
/// and each secret file's path.
pub fn prepare(p: Prepare) -> Result<(Tree, Vec<(String, PathBuf)>), String> {
    let dir = &p.dir;
    let fail =
        |e: std::io::Error| format!("cannot create the run directory {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    std::fs::File::create(dir.join("results.jsonl")).map_err(fail)?;
    let mut files = Vec::with_capacity(p.secret_files.len());
    for (name, value) in &p.secret_files {
        let path = dir.join(".secrets").join(name);
        write_private(&path, value).map_err(|e| format!("cannot write secret file: {e}"))?;
        files.push((name.clone(), path));
    }
    let tree = Tree::prepare(&p.isolation, &p.run_id);
    let _ = tree.record().write(dir);
    Ok((tree, files))
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(path))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    std::io::Write::write_all(&mut f, value.as_bytes())
}

/// After the task: reads its results file (bounded), removes the run directory and the
/// task's cgroup. A cgroup whose processes are still dying is handed back for a later removal.
pub fn finish(dir: &Path, tree: Tree) -> (String, Option<Tree>) {
    let mut results = String::new();
    if let Ok(f) = std::fs::File::open(dir.join("results.jsonl")) {
        let _ = std::io::Read::read_to_string(
            &mut std::io::Read::take(f, MAX_RESULTS_BYTES),
            &mut results,
        );
    }
    let left = tree.try_end();
    let _ = std::fs::remove_dir_all(dir);
    (results, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_planted_by_someone_else_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let mine = d.path().join("mine");
        // SAFETY: geteuid cannot fail.
        let uid = unsafe { libc::geteuid() };
        assert!(is_private_dir(&mine, uid));
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!is_private_dir(&open, uid), "others can enter it");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        assert!(!is_private_dir(&link, uid), "a symlink");
        assert!(!is_private_dir(&mine, uid + 1), "another user's");
    }

    #[test]
    fn homes_get_their_own_folder() {
        let a = choose(Path::new("/srv/a/runtime"));
        let b = choose(Path::new("/srv/b/runtime"));
        assert_ne!(a.path, b.path);
        assert_eq!(a, choose(Path::new("/srv/a/runtime")));
    }
}
