//! cgroup v2: one cgroup per task, so that every process a task starts (including one that
//! calls `setsid` or forks twice) is killed with it by one write to `cgroup.kill`.
//!
//! A pure v2 host mounts the hierarchy at `/sys/fs/cgroup`; a hybrid one at
//! `/sys/fs/cgroup/unified`. Task cgroups are created as children of sitrep's own cgroup,
//! which must be writable (root, or a delegated subtree such as a systemd unit with
//! `Delegate=yes`); `cgroup.kill` needs Linux 5.14.

use crate::exec::spawn::CgroupFds;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// How task process trees are contained on this host, found once per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Each task runs in its own cgroup under `base` (sitrep's own cgroup).
    Cgroup { base: PathBuf },
    /// Each task runs in its own process group; `why` says why cgroups are not used.
    ProcessGroup { why: String },
}

impl Isolation {
    /// Detects a writable cgroup v2 hierarchy with `cgroup.kill` (once per process).
    pub fn detect() -> &'static Isolation {
        static DETECTED: OnceLock<Isolation> = OnceLock::new();
        DETECTED.get_or_init(|| match probe() {
            Ok(base) => Isolation::Cgroup { base },
            Err(why) => Isolation::ProcessGroup { why },
        })
    }

    /// Logs how tasks are contained: a warning when a task's escaped processes could survive.
    pub fn announce(&self) {
        match self {
            Isolation::Cgroup { base } => {
                tracing::info!(cgroup = %base.display(), "each task runs in its own cgroup")
            }
            Isolation::ProcessGroup { why } => tracing::warn!(
                reason = %why,
                "cgroup v2 is not usable: tasks run in their own process group, and a process that leaves it (setsid, daemonizing) survives a timeout or shutdown"
            ),
        }
    }
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Isolation::Cgroup { base } => {
                write!(f, "one cgroup per task under {}", base.display())
            }
            Isolation::ProcessGroup { why } => write!(f, "one process group per task ({why})"),
        }
    }
}

/// The name of a run's cgroup: recovery kills only cgroups named like this.
pub fn cgroup_name(run_id: &str) -> String {
    format!("sitrep-{run_id}")
}

/// A task's cgroup, created before the task starts. The task's first process is created in it
/// (`clone3(CLONE_INTO_CGROUP)`), or joins it before exec by writing to `cgroup.procs`; both
/// are opened here, as nothing may be allocated in the child.
#[derive(Debug)]
pub struct TaskCgroup {
    path: PathBuf,
    dir: File,
    procs: File,
}

impl TaskCgroup {
    pub fn create(base: &Path, run_id: &str) -> std::io::Result<TaskCgroup> {
        let path = base.join(cgroup_name(run_id));
        std::fs::create_dir(&path)?;
        let opened = open_dir(&path).and_then(|dir| {
            let procs = std::fs::OpenOptions::new()
                .write(true)
                .open(path.join("cgroup.procs"))?;
            Ok((dir, procs))
        });
        match opened {
            Ok((dir, procs)) => Ok(TaskCgroup { path, dir, procs }),
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                Err(e)
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cgroup's directory and `cgroup.procs`, for the task's process to start in.
    pub(crate) fn fds(&self) -> CgroupFds {
        CgroupFds {
            dir: self.dir.as_raw_fd(),
            procs: self.procs.as_raw_fd(),
        }
    }
}

/// Kills every process in the cgroup at `path` (SIGKILL, atomically, including new forks).
pub fn kill(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path.join("cgroup.kill"))?
        .write_all(b"1")
}

/// Whether any process is left in the cgroup.
pub fn populated(path: &Path) -> std::io::Result<bool> {
    let events = std::fs::read_to_string(path.join("cgroup.events"))?;
    Ok(events.lines().any(|l| l == "populated 1"))
}

/// Kills what is left in the cgroup, waits (up to `wait`) for it to empty and removes it.
/// Returns whether it is gone.
pub async fn kill_and_remove(path: &Path, wait: Duration) -> bool {
    if !path.exists() {
        return true;
    }
    let _ = kill(path);
    let deadline = tokio::time::Instant::now() + wait;
    let mut nap = Duration::from_micros(200);
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
            Err(_) if tokio::time::Instant::now() < deadline => {
                // SIGKILL is delivered asynchronously; the cgroup empties within moments.
                tokio::time::sleep(nap).await;
                nap = (nap * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                tracing::warn!(cgroup = %path.display(), error = %e, "cannot remove a task cgroup");
                return false;
            }
        }
    }
}

/// Finds sitrep's own cgroup in a writable cgroup v2 hierarchy and checks that a child
/// process can be moved into a new cgroup there and killed with `cgroup.kill`.
fn probe() -> Result<PathBuf, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let (mount, root) = cgroup2_mount(&mountinfo).ok_or("no cgroup2 file system is mounted")?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("this process is in no cgroup v2 group")?;
    let own = Path::new(own);
    let rel = own.strip_prefix(&root).unwrap_or(own);
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let base = if rel.as_os_str().is_empty() {
        mount
    } else {
        mount.join(rel)
    };
    let probe = base.join(format!("sitrep-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir(&probe);
    std::fs::create_dir(&probe).map_err(|e| {
        format!(
            "cannot create a cgroup under {} ({e}); run sitrep as root or in a delegated cgroup",
            base.display()
        )
    })?;
    let result = check_join(&probe);
    let _ = std::fs::remove_dir(&probe);
    result.map(|()| base)
}

fn check_join(probe: &Path) -> Result<(), String> {
    if !probe.join("cgroup.kill").exists() {
        return Err("cgroup.kill is missing (Linux 5.14 or newer is needed)".into());
    }
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(probe.join("cgroup.procs"))
        .map_err(|e| format!("cannot open {}: {e}", probe.join("cgroup.procs").display()))?;
    let dir = open_dir(probe).map_err(|e| format!("cannot open {}: {e}", probe.display()))?;
    crate::exec::spawn::probe_cgroup(CgroupFds {
        dir: dir.as_raw_fd(),
        procs: procs.as_raw_fd(),
    })
    .map_err(|e| {
        format!(
            "a process cannot be started in a new cgroup under {} ({e})",
            probe.parent().unwrap_or(probe).display()
        )
    })
}

fn open_dir(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
}

/// The mount point and root of the first cgroup2 mount in `/proc/self/mountinfo`.
fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, PathBuf)> {
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split_ascii_whitespace().next()? != "cgroup2" {
            return None;
        }
        let f: Vec<&str> = left.split_ascii_whitespace().collect();
        let (root, mount) = (f.get(3)?, f.get(4)?);
        if right
            .split_ascii_whitespace()
            .nth(2)
            .is_some_and(|o| o.split(',').any(|x| x == "ro"))
            || f.get(5).is_some_and(|o| o.split(',').any(|x| x == "ro"))
        {
            return None;
        }
        Some((
            PathBuf::from(unescape(mount)),
            PathBuf::from(unescape(root)),
        ))
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount_on_hybrid_and_pure_hosts() {
        let hybrid = "30 25 0:26 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n\
                      35 30 0:31 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n\
                      36 30 0:32 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(("/sys/fs/cgroup/unified".into(), "/".into()))
        );
        let pure = "35 30 0:31 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(
            cgroup2_mount(pure),
            Some(("/sys/fs/cgroup".into(), "/".into()))
        );
        let read_only = "35 30 0:31 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 ro";
        assert_eq!(cgroup2_mount(read_only), None);
        assert_eq!(
            cgroup2_mount("36 30 0:32 / /x rw - cgroup cgroup rw,cpu"),
            None
        );
    }
}
