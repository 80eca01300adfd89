//! A task's process tree: contained in its own cgroup where cgroup v2 allows it, in its own
//! process group always, killed whole at the end of the run, and recorded in the run's
//! directory so that a later sitrep can kill it if this one dies first.
//!
//! Layout: `RUNTIME/runs/OWNER/RUN_ID/` where OWNER is the [`owner::Owner`] token of the
//! sitrep process running it; the run directory holds the task's files and `tree`, the record
//! of its cgroup and process group.

pub mod cgroup;
pub mod owner;

use cgroup::{Isolation, TaskCgroup};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file in a run directory that records the task's process tree.
pub const TREE_FILE: &str = "tree";
/// How long ending a run waits for its killed cgroup to empty before leaving it to recovery.
const CGROUP_EMPTY_WAIT: Duration = Duration::from_secs(5);

/// What a run's process tree is: its cgroup (if any), its process group and the start time of
/// the group's leader (to tell the group from a later process that reuses the pid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeRecord {
    pub cgroup: Option<PathBuf>,
    pub pgid: Option<i32>,
    pub leader_start: Option<u64>,
}

impl TreeRecord {
    pub fn write(&self, run_dir: &Path) -> std::io::Result<()> {
        let mut text = String::new();
        if let Some(c) = &self.cgroup {
            text.push_str(&format!("cgroup={}\n", c.display()));
        }
        if let Some(p) = self.pgid {
            text.push_str(&format!("pgid={p}\n"));
        }
        if let Some(s) = self.leader_start {
            text.push_str(&format!("start={s}\n"));
        }
        std::fs::write(run_dir.join(TREE_FILE), text)
    }

    pub fn read(run_dir: &Path) -> Option<TreeRecord> {
        let text = std::fs::read_to_string(run_dir.join(TREE_FILE)).ok()?;
        let mut r = TreeRecord::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("cgroup", v)) => r.cgroup = Some(PathBuf::from(v)),
                Some(("pgid", v)) => r.pgid = v.parse().ok().filter(|p| *p > 1),
                Some(("start", v)) => r.leader_start = v.parse().ok(),
                _ => {}
            }
        }
        Some(r)
    }

    /// Kills what is left of a dead sitrep's task (recovery). A cgroup is killed only if it is
    /// a task cgroup named for `run_id`; a process group only if its leader is gone or is still
    /// the recorded process (a live pid that has been reused is never signalled, and Linux
    /// does not reuse a pid while a group of that id has members). Returns whether anything
    /// was signalled.
    pub async fn kill_leftover(&self, run_id: &str) -> bool {
        let mut killed = false;
        let name = cgroup::cgroup_name(run_id);
        if let Some(cg) = &self.cgroup
            && cg.file_name().is_some_and(|n| n == name.as_str())
            && cg.exists()
        {
            killed |= cgroup::populated(cg).unwrap_or(false);
            cgroup::kill_and_remove(cg, CGROUP_EMPTY_WAIT).await;
        }
        if let Some(pgid) = self.pgid {
            let leader = owner::process_start(pgid as u32);
            let ours = match (leader, self.leader_start) {
                (None, _) => true,
                (Some(p), Some(s)) => p.start == s,
                (Some(_), None) => false,
            };
            // SAFETY: killpg only sends a signal; ESRCH (no such group) is fine.
            if ours && unsafe { libc::killpg(pgid, libc::SIGKILL) } == 0 {
                killed = true;
            }
        }
        killed
    }
}

/// A running task's tree. Dropping it kills the tree (a run future dropped mid-way leaves
/// nothing running); [`Tree::end`] kills it and removes its cgroup.
#[derive(Debug)]
pub struct Tree {
    cgroup: Option<TaskCgroup>,
    pgid: Option<i32>,
    ended: bool,
}

impl Tree {
    /// The cgroup for a run about to start, when this host has them. A cgroup that cannot be
    /// created costs the run only its cgroup (logged), not the run.
    pub fn prepare(isolation: &Isolation, run_id: &str) -> Tree {
        let cgroup = match isolation {
            Isolation::Cgroup { base } => match TaskCgroup::create(base, run_id) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(run = %run_id, error = %e, "cannot create the task's cgroup; its process group only");
                    None
                }
            },
            Isolation::ProcessGroup { .. } => None,
        };
        Tree {
            cgroup,
            pgid: None,
            ended: false,
        }
    }

    pub fn cgroup(&self) -> Option<&TaskCgroup> {
        self.cgroup.as_ref()
    }

    pub fn started(&mut self, pgid: i32) {
        self.pgid = Some(pgid);
    }

    pub fn record(&self) -> TreeRecord {
        TreeRecord {
            cgroup: self.cgroup.as_ref().map(|c| c.path().to_path_buf()),
            pgid: self.pgid,
            leader_start: self
                .pgid
                .and_then(|p| owner::process_start(p as u32))
                .map(|p| p.start),
        }
    }

    /// What a kill of this tree reaches, for run errors.
    pub fn killed(&self) -> &'static str {
        if self.cgroup.is_some() {
            "the task's cgroup was killed (every process it started)"
        } else {
            "the task's process group was killed (a process that left the group is not reached without cgroup v2)"
        }
    }

    /// Signals every process of the tree.
    pub fn kill(&self) {
        if let Some(c) = &self.cgroup {
            let _ = cgroup::kill(c.path());
        }
        if let Some(pg) = self.pgid {
            // SAFETY: killpg only sends a signal; a group that is gone yields ESRCH.
            unsafe {
                libc::killpg(pg, libc::SIGKILL);
            }
        }
    }

    /// Kills whatever the task left behind and tries once to remove its cgroup (blocking, but
    /// only cgroupfs calls). A cgroup whose processes are still dying comes back, to be ended
    /// later with [`Tree::end`].
    pub fn try_end(mut self) -> Option<Tree> {
        self.kill();
        match &self.cgroup {
            Some(c) => match std::fs::remove_dir(c.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Some(self),
                _ => {
                    self.ended = true;
                    None
                }
            },
            None => {
                self.ended = true;
                None
            }
        }
    }

    /// Kills whatever the task left behind and removes its cgroup, waiting for it to empty.
    pub async fn end(mut self) {
        self.kill();
        if let Some(c) = &self.cgroup {
            cgroup::kill_and_remove(c.path(), CGROUP_EMPTY_WAIT).await;
        }
        self.ended = true;
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if !self.ended {
            self.kill();
            if let Some(c) = &self.cgroup {
                // Empty at once unless a process is slow to die; recovery removes it then.
                let _ = std::fs::remove_dir(c.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let r = TreeRecord {
            cgroup: Some("/sys/fs/cgroup/sitrep-r1".into()),
            pgid: Some(4242),
            leader_start: Some(99),
        };
        r.write(dir.path()).unwrap();
        assert_eq!(TreeRecord::read(dir.path()), Some(r));
    }

    #[tokio::test]
    async fn a_group_whose_leader_pid_now_names_another_process_is_left_alone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = owner::process_start(pid).unwrap().start;
        let reused = TreeRecord {
            cgroup: None,
            pgid: Some(pid as i32),
            leader_start: Some(start + 1),
        };
        assert!(!reused.kill_leftover("r").await);
        assert!(child.try_wait().unwrap().is_none(), "still running");
        let ours = TreeRecord {
            leader_start: Some(start),
            ..reused
        };
        assert!(ours.kill_leftover("r").await);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }

    #[tokio::test]
    async fn only_a_cgroup_named_for_the_run_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("system.slice");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("cgroup.kill"), "untouched").unwrap();
        let tampered = TreeRecord {
            cgroup: Some(other.clone()),
            pgid: None,
            leader_start: None,
        };
        assert!(!tampered.kill_leftover("r1").await);
        assert_eq!(
            std::fs::read_to_string(other.join("cgroup.kill")).unwrap(),
            "untouched"
        );
    }
}
