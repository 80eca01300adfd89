//! Collections from git, fetched at a pinned ref into the cache with the `git` command.
//!
//! Shelling out to git keeps the build lean (no git implementation compiled in) and uses the
//! user's own credentials helpers and SSH setup.

use crate::problem::BundleError;
use sitrep_core::fingerprint::fnv1a64;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Returns the checkout of `url` at `rev`, fetching it on first use. Blocking: call it from
/// `spawn_blocking` in async code.
pub fn checkout(url: &str, rev: &str, cache: &Path) -> Result<PathBuf, BundleError> {
    let safe_rev: String = rev
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = cache
        .join("git")
        .join(format!("{:016x}-{safe_rev}", fnv1a64(&[url, rev])));
    if dir.join(".sitrep-fetched").is_file() {
        return Ok(dir);
    }
    let fail = |action: &'static str, message: String| BundleError::Git {
        url: url.to_string(),
        action,
        message,
    };
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|source| BundleError::Io {
        path: tmp.clone(),
        source,
    })?;
    let git = |args: &[&str], action: &'static str| -> Result<(), BundleError> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&tmp)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| fail(action, e.to_string()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(fail(
                action,
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    };
    let result = (|| {
        git(&["init", "--quiet"], "init")?;
        git(&["fetch", "--quiet", "--depth", "1", url, rev], "fetch")?;
        git(
            &["checkout", "--quiet", "--detach", "FETCH_HEAD"],
            "checkout",
        )?;
        std::fs::write(tmp.join(".sitrep-fetched"), rev).map_err(|source| BundleError::Io {
            path: tmp.clone(),
            source,
        })
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}
