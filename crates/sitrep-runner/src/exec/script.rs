//! bash and python tasks: a child process in its own cgroup (where cgroup v2 allows) and
//! process group, with a parent-death signal, in a private directory, with an allow-listed
//! environment and bounded output.

use super::Outcome;
use super::forkserver::{ForkServer, ForkSpawn};
use super::spawn::{Spawn, TaskProcess};
use crate::capture::{Captured, capture};
use crate::lifecycle::Interrupt;
use crate::tree::Tree;
use crate::tree::cgroup::Isolation;
use sitrep_core::RunStatus;
use sitrep_core::protocol::parse_results;
use sitrep_core::redact::Redactor;
use sitrep_core::time::format_duration;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// After the main process ends or is killed, readers get this long to drain the pipes.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

pub struct ScriptRun<'a> {
    pub program: &'a str,
    /// The interpreter's arguments: the script, for bash and python tasks.
    pub args: &'a [&'a std::ffi::OsStr],
    pub dir: &'a Path,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub cap: usize,
    pub redactor: &'a Redactor,
    /// Started as a fork of this server (which runs `program`) rather than a new process.
    pub server: Option<&'a ForkServer>,
}

enum Ended {
    Exited(std::io::Result<std::process::ExitStatus>),
    TimedOut,
    Interrupted(std::sync::Arc<str>),
}

/// How the task's process ended, and what it printed (redacted, capped).
#[derive(Debug)]
pub struct ScriptEnd {
    status: RunStatus,
    exit_code: Option<i32>,
    errors: Vec<String>,
    stdout: String,
    stderr: String,
}

impl ScriptEnd {
    fn failed(message: String) -> ScriptEnd {
        ScriptEnd {
            status: RunStatus::Failed,
            exit_code: None,
            errors: vec![message],
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// The run's outcome, with the results the task wrote (`$SITREP_RESULTS`).
    pub fn outcome(self, results: &str) -> Outcome {
        let parsed = parse_results(results);
        let mut errors = self.errors;
        errors.extend(parsed.errors);
        Outcome {
            status: Some(self.status),
            exit_code: self.exit_code,
            stdout: self.stdout,
            stderr: self.stderr,
            report: parsed.reports.join("\n"),
            results: sitrep_store::RunResults {
                issues: parsed.issues,
                insights: parsed.insights,
                metrics: parsed.metrics,
                interval: None,
            },
            inconclusive: parsed.inconclusive,
            errors,
        }
    }
}

/// Runs the script and kills whatever it leaves behind; the caller removes the tree. The spawn
/// happens on the calling thread, which must live as long as the run (a tokio runtime worker
/// or the thread driving `block_on`, never a `spawn_blocking` thread): the task's parent-death
/// signal fires when the thread that forked it exits. `tree` holds the task's cgroup, if this
/// host has them; `interrupt` cuts the run.
pub async fn run(r: ScriptRun<'_>, mut tree: Tree, mut interrupt: Interrupt) -> (ScriptEnd, Tree) {
    let spawned = match spawn(&r, &tree).await {
        Err(e) if tree.cgroup().is_some() => {
            tracing::warn!(error = %e, "cannot start the task in its cgroup; its process group only");
            tree = Tree::prepare(&Isolation::ProcessGroup { why: e.to_string() }, "");
            spawn(&r, &tree).await
        }
        other => other,
    };
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let msg = format!(
                "cannot start {}: {e} (is it installed and on PATH?)",
                r.program
            );
            return (ScriptEnd::failed(msg), tree);
        }
        Err(e) => {
            return (
                ScriptEnd::failed(format!("cannot start {}: {e}", r.program)),
                tree,
            );
        }
    };
    tree.started(child.pid);
    if tree.cgroup().is_none() {
        // Without a cgroup, recovery needs the process group and its leader's start.
        let (record, dir) = (tree.record(), r.dir.to_path_buf());
        let _ = tokio::task::spawn_blocking(move || record.write(&dir)).await;
    }
    let overlap = r.redactor.max_match_len();
    let out = tokio::spawn(capture(child.stdout.take().unwrap(), r.cap, overlap));
    let err = tokio::spawn(capture(child.stderr.take().unwrap(), r.cap, overlap));

    let ended = tokio::select! {
        waited = tokio::time::timeout(r.timeout, child.wait()) => match waited {
            Ok(st) => Ended::Exited(st),
            Err(_) => Ended::TimedOut,
        },
        reason = interrupt.fired() => Ended::Interrupted(reason),
    };
    // Whatever the task left behind dies with it: no orphans, no held pipes. (A signal, and
    // one write to cgroupfs: nothing that waits on a device.)
    tree.kill();
    if !matches!(ended, Ended::Exited(_)) {
        let _ = child.wait().await;
    }
    let (status, exit_code, errors) = match ended {
        Ended::Exited(Ok(st)) => {
            let code = st.code();
            let status = if st.success() {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            let errors = match (code, st.success()) {
                (_, true) => vec![],
                (Some(c), false) => vec![format!("the task exited with code {c}")],
                (None, false) => vec!["the task was killed by a signal".to_string()],
            };
            (status, code, errors)
        }
        Ended::Exited(Err(e)) => (
            RunStatus::Failed,
            None,
            vec![format!("waiting for the task failed: {e}")],
        ),
        Ended::TimedOut => (
            RunStatus::TimedOut,
            None,
            vec![format!(
                "timed out after {}; {}",
                format_duration(r.timeout),
                tree.killed()
            )],
        ),
        Ended::Interrupted(reason) => (
            RunStatus::Interrupted,
            None,
            vec![format!("interrupted: {reason}; {}", tree.killed())],
        ),
    };
    let stdout = drained(out).await.finish(r.cap, r.redactor);
    let stderr = drained(err).await.finish(r.cap, r.redactor);
    let end = ScriptEnd {
        status,
        exit_code,
        errors,
        stdout,
        stderr,
    };
    (end, tree)
}

async fn spawn(r: &ScriptRun<'_>, tree: &Tree) -> std::io::Result<TaskProcess> {
    if let Some(server) = r.server {
        let forked = server
            .spawn(&ForkSpawn {
                args: r.args,
                env: &r.env,
                cwd: r.dir,
                cgroup: tree.cgroup().map(|c| c.path()),
            })
            .await;
        match forked {
            Ok(task) => return Ok(task),
            // a task that could not be set up there is started the usual way
            Err(e) => {
                tracing::warn!(error = %e, program = r.program, "fork server could not start the task; starting it as a new process")
            }
        }
    }
    super::spawn::spawn(&Spawn {
        program: r.program,
        args: r.args,
        env: &r.env,
        cwd: r.dir,
        cgroup: tree.cgroup().map(|c| c.fds()),
    })
}

async fn drained(h: tokio::task::JoinHandle<Captured>) -> Captured {
    match tokio::time::timeout(DRAIN_GRACE, h).await {
        Ok(Ok(c)) => c,
        // A grandchild that left the process group still holds the pipe; give up on it.
        _ => Captured::default(),
    }
}

/// The `sitrep` executable a task finds first on its PATH (for `sitrep emit`).
pub fn emit_dir(runtime_dir: &Path, sitrep_exe: &Path) -> std::io::Result<PathBuf> {
    let bin = runtime_dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let link = bin.join("sitrep");
    match std::fs::read_link(&link) {
        Ok(target) if target == sitrep_exe => {}
        _ => {
            let tmp = bin.join(format!(".sitrep-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(sitrep_exe, &tmp)?;
            std::fs::rename(&tmp, &link)?;
        }
    }
    Ok(bin)
}
