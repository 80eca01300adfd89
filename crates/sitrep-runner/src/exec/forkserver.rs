//! A fork server: one interpreter, started once with the modules its tasks import, that starts
//! each task as a fork of itself (`forkserver.py`). A robot task then costs a fork and Robot
//! Framework's own work, not a new Python and ~150 ms of importing Robot Framework.
//!
//! The forked task is set up as [`super::spawn`] sets up a process it starts: its own process
//! group, a parent-death signal (the server's own fires with sitrep's), its cgroup, /dev/null
//! in, the task's environment only, its run directory. Its output reaches sitrep through two
//! FIFOs in the run directory, read like the pipes of a spawned task; its exit comes back from
//! the server, which reaps it. Killing is unchanged: the process group, and the cgroup.

use super::spawn::TaskProcess;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

const SOURCE: &str = include_str!("forkserver.py");

/// The FIFOs a forked task's stdout and stderr go through, in its run directory.
const FIFOS: [&str; 2] = [".sitrep-stdout", ".sitrep-stderr"];

/// What a started task's waiter gets: the raw wait status.
type ExitTx = oneshot::Sender<i32>;
type StartTx = oneshot::Sender<Result<Started, String>>;

struct Started {
    pid: i32,
    exit: oneshot::Receiver<i32>,
}

#[derive(Default)]
struct Waiting {
    starts: HashMap<u64, StartTx>,
    exits: HashMap<i32, ExitTx>,
    next: u64,
}

/// A running fork server. Dropping it ends the server (its stdin closes; it is killed).
pub struct ForkServer {
    stdin: tokio::sync::Mutex<tokio::process::ChildStdin>,
    waiting: Arc<Mutex<Waiting>>,
    /// Cleared when the server's output ends: it is gone, and a new one is needed.
    alive: Arc<std::sync::atomic::AtomicBool>,
    _child: tokio::process::Child,
}

/// What a fork server runs: `python` (a path, or a name looked up in `env`'s PATH) with
/// `flags`, `modules` imported before serving, `env` its whole environment (each task gets
/// its own instead).
pub struct ServerSpec {
    pub python: std::path::PathBuf,
    pub flags: &'static [&'static str],
    pub modules: &'static [&'static str],
    pub env: Vec<(String, String)>,
}

/// One task to start: `args` as `python` takes them (`-m robot ...`).
pub struct ForkSpawn<'a> {
    pub args: &'a [&'a OsStr],
    pub env: &'a [(String, String)],
    pub cwd: &'a Path,
    pub cgroup: Option<&'a Path>,
}

impl ForkServer {
    /// Starts the server, and waits until it is ready.
    pub async fn start(spec: &ServerSpec) -> io::Result<Self> {
        let mut cmd = tokio::process::Command::new(&spec.python);
        cmd.args(spec.flags)
            .arg("-c")
            .arg(SOURCE)
            .arg(std::process::id().to_string())
            .args(spec.modules)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or_default();
        let stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let stderr = child.stderr.take().expect("piped");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(server = pid, line, "fork server");
            }
        });
        match lines.next_line().await? {
            Some(line) if line.starts_with("{\"ready\"") => {}
            other => {
                let _ = child.start_kill();
                return Err(io::Error::other(format!(
                    "the fork server did not start ({})",
                    other.unwrap_or_else(|| "it ended".into())
                )));
            }
        }
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        tokio::spawn(answers(lines, waiting.clone(), alive.clone()));
        tracing::debug!(server = pid, modules = ?spec.modules, "fork server ready");
        Ok(ForkServer {
            stdin: tokio::sync::Mutex::new(stdin),
            waiting,
            alive,
            _child: child,
        })
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Starts one task; its output is read from two FIFOs made in `cwd` (removed again when
    /// the task could not be started, so that it can be started another way).
    pub async fn spawn(&self, s: &ForkSpawn<'_>) -> io::Result<TaskProcess> {
        let started = self.start_task(s).await;
        if started.is_err() {
            for name in FIFOS {
                let _ = std::fs::remove_file(s.cwd.join(name));
            }
        }
        started
    }

    async fn start_task(&self, s: &ForkSpawn<'_>) -> io::Result<TaskProcess> {
        let stdout = fifo(s.cwd, FIFOS[0])?;
        let stderr = fifo(s.cwd, FIFOS[1])?;
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut w = self.waiting.lock().expect("fork server lock");
            w.next += 1;
            let id = w.next;
            w.starts.insert(id, tx);
            id
        };
        let request = serde_json::json!({
            "id": id,
            "args": s.args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>(),
            "env": s.env.iter().cloned().collect::<BTreeMap<_, _>>(),
            "cwd": s.cwd,
            "stdout": stdout.0,
            "stderr": stderr.0,
            "cgroup": s.cgroup,
        });
        let mut line = request.to_string();
        line.push('\n');
        let written = self.stdin.lock().await.write_all(line.as_bytes()).await;
        if let Err(e) = written {
            self.waiting
                .lock()
                .expect("fork server lock")
                .starts
                .remove(&id);
            return Err(io::Error::other(format!("the fork server is gone: {e}")));
        }
        let started = rx
            .await
            .map_err(|_| io::Error::other("the fork server ended while starting the task"))?
            .map_err(io::Error::other)?;
        Ok(TaskProcess::forked(
            started.pid,
            stdout.1,
            stderr.1,
            started.exit,
        ))
    }
}

/// A fork server started on first use and again after it has ended. One that cannot start is
/// tried again a minute later; until then its tasks start as their own processes.
#[derive(Default)]
pub struct LazyServer {
    state: tokio::sync::Mutex<Lazy>,
}

#[derive(Default)]
struct Lazy {
    server: Option<Arc<ForkServer>>,
    failed_at: Option<std::time::Instant>,
}

const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

impl LazyServer {
    /// The running server, or a new one of `spec()`; `None` (with a warning) when it cannot
    /// start.
    pub async fn get(&self, spec: impl FnOnce() -> ServerSpec) -> Option<Arc<ForkServer>> {
        let mut state = self.state.lock().await;
        if let Some(s) = state.server.as_ref().filter(|s| s.is_alive()) {
            return Some(s.clone());
        }
        if state.failed_at.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return None;
        }
        let spec = spec();
        match ForkServer::start(&spec).await {
            Ok(s) => {
                let s = Arc::new(s);
                *state = Lazy {
                    server: Some(s.clone()),
                    failed_at: None,
                };
                Some(s)
            }
            Err(e) => {
                tracing::warn!(python = %spec.python.display(), error = %e, "cannot start a fork server; its tasks start their own interpreter");
                *state = Lazy {
                    server: None,
                    failed_at: Some(std::time::Instant::now()),
                };
                None
            }
        }
    }
}

/// A FIFO at `dir/name`, opened for reading (not blocking, so before any writer).
fn fifo(dir: &Path, name: &str) -> io::Result<(std::path::PathBuf, pipe::Receiver)> {
    let path = dir.join(name);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))?;
    // SAFETY: a valid C string; mkfifo only creates a file.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let rx = pipe::OpenOptions::new().open_receiver(&path)?;
    Ok((path, rx))
}

/// Reads the server's answers and hands each to whoever waits for it.
async fn answers(
    mut lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    waiting: Arc<Mutex<Waiting>>,
    alive: Arc<std::sync::atomic::AtomicBool>,
) {
    #[derive(serde::Deserialize)]
    struct Answer {
        id: Option<u64>,
        pid: Option<i32>,
        error: Option<String>,
        exited: Option<i32>,
        status: Option<i32>,
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(a) = serde_json::from_str::<Answer>(&line) else {
            tracing::warn!(line, "fork server: an answer that is not JSON");
            continue;
        };
        let mut w = waiting.lock().expect("fork server lock");
        match a {
            Answer {
                id: Some(id),
                pid: Some(pid),
                ..
            } => {
                let (exit_tx, exit) = oneshot::channel();
                w.exits.insert(pid, exit_tx);
                if let Some(tx) = w.starts.remove(&id) {
                    let _ = tx.send(Ok(Started { pid, exit }));
                }
            }
            Answer {
                id: Some(id),
                error,
                ..
            } => {
                if let Some(tx) = w.starts.remove(&id) {
                    let _ = tx.send(Err(error.unwrap_or_else(|| "unknown error".into())));
                }
            }
            Answer {
                exited: Some(pid),
                status: Some(status),
                ..
            } => {
                if let Some(tx) = w.exits.remove(&pid) {
                    let _ = tx.send(status);
                }
            }
            _ => tracing::warn!(line, "fork server: an answer of no known kind"),
        }
    }
    alive.store(false, std::sync::atomic::Ordering::Release);
    // every waiter learns that the server is gone (their senders drop)
    let mut w = waiting.lock().expect("fork server lock");
    w.starts.clear();
    w.exits.clear();
    tracing::warn!("the fork server ended; the next task starts a new one");
}
