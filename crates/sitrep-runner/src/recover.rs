//! Recovery after a sitrep process died without finishing its runs (`kill -9`, a crash, a
//! power cut): its runs' leftover process trees are killed, their directories removed, and
//! exactly those runs marked `interrupted`. Runs of a live sitrep using the same home or
//! database (a `sitrep run` beside `sitrep serve`) are never touched: every run records its
//! owner (host, boot, pid and the pid's start time), and only owners that are gone count.

use crate::error::RunError;
use crate::runner::Runner;
use crate::tree::TreeRecord;
use crate::tree::owner::{Liveness, Owner};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What [`Runner::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Runs marked `interrupted` because the sitrep running them is gone.
    pub interrupted: Vec<String>,
    /// Runs whose task still had processes, now killed.
    pub trees_killed: usize,
    /// Run directories removed.
    pub dirs_removed: usize,
    /// Runs left alone: a live sitrep process runs them.
    pub live: usize,
    /// Runs left alone: another host's sitrep runs them, which cannot be checked from here.
    pub elsewhere: usize,
}

/// A gone owner's folder and its run directories (run id, path).
struct GoneOwner {
    dir: PathBuf,
    runs: Vec<(String, PathBuf)>,
}

impl Runner {
    /// Cleans up after sitrep processes that died with runs in progress; call once at start-up,
    /// before running anything. See the module documentation.
    pub async fn recover(&self) -> Result<Recovery, RunError> {
        let mut rec = Recovery::default();
        // this runner's run directories, and those of the layout before tmpfs and owners
        let roots = [
            self.runs_dir().to_path_buf(),
            self.runtime_dir().join("runs"),
        ];
        let gone = tokio::task::spawn_blocking(move || {
            let mut gone = gone_owners(&roots[0]);
            if roots[1] != roots[0] {
                gone.extend(gone_owners(&roots[1]));
            }
            gone
        })
        .await
        .unwrap_or_default();
        for owner in gone {
            for (run_id, dir) in &owner.runs {
                if let Some(tree) = TreeRecord::read(dir)
                    && tree.kill_leftover(run_id).await
                {
                    rec.trees_killed += 1;
                    tracing::warn!(run = %run_id, "killed the leftover processes of a run whose sitrep is gone");
                }
                if tokio::fs::remove_dir_all(dir).await.is_ok() {
                    rec.dirs_removed += 1;
                }
            }
            let _ = tokio::fs::remove_dir_all(&owner.dir).await;
        }

        let workspace = self.workspace().to_string();
        let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.store().running_runs(&workspace).await? {
            match r.owner.as_deref().map(Owner::parse) {
                // recorded before owners were: nothing can be checked, as before
                None => by_owner.entry(String::new()).or_default().push(r.id),
                Some(Some(o)) => match o.liveness() {
                    Liveness::Gone => by_owner.entry(o.token()).or_default().push(r.id),
                    Liveness::Alive => rec.live += 1,
                    Liveness::Elsewhere => rec.elsewhere += 1,
                },
                // an owner this sitrep cannot read (another version's): leave it
                Some(None) => rec.elsewhere += 1,
            }
        }
        let now = self.clock().now();
        for (token, ids) in by_owner {
            let error = match Owner::parse(&token) {
                Some(o) => format!(
                    "the sitrep process running it (pid {} on {}) ended before the run finished; its task was killed at the next start",
                    o.pid, o.host
                ),
                None => "sitrep stopped while this run was in progress".to_string(),
            };
            self.store()
                .interrupt_runs(&workspace, &ids, now, &error)
                .await?;
            rec.interrupted.extend(ids);
        }
        if !rec.interrupted.is_empty() || rec.dirs_removed > 0 {
            tracing::warn!(
                runs = rec.interrupted.len(),
                killed = rec.trees_killed,
                dirs = rec.dirs_removed,
                "recovered the runs of sitrep processes that ended without finishing them"
            );
        }
        Ok(rec)
    }
}

/// The owner folders under `RUNTIME/runs` whose process is gone, and the run directories of
/// the layout before owners (`runs/RUN_ID`), as an owner of their own.
fn gone_owners(root: &Path) -> Vec<GoneOwner> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return vec![];
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        match Owner::parse(&name) {
            Some(o) if o.liveness() == Liveness::Gone => {
                let runs = std::fs::read_dir(&path)
                    .map(|rd| {
                        rd.flatten()
                            .filter(|r| r.path().is_dir())
                            .map(|r| (r.file_name().to_string_lossy().into_owned(), r.path()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(GoneOwner { dir: path, runs });
            }
            Some(_) => {}
            None if is_run_id(&name) => out.push(GoneOwner {
                dir: path.clone(),
                runs: vec![],
            }),
            None => {}
        }
    }
    out
}

fn is_run_id(name: &str) -> bool {
    name.len() == 36 && name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}
