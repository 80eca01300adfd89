//! bash and python tasks: a child process in its own process group, in a private directory,
//! with an allow-listed environment and bounded output.

use super::Outcome;
use crate::capture::{Captured, capture};
use sitrep_core::RunStatus;
use sitrep_core::protocol::parse_results;
use sitrep_core::redact::Redactor;
use sitrep_core::time::format_duration;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// The result file a task may write is read up to this size.
const MAX_RESULTS_BYTES: u64 = 16 * 1024 * 1024;
/// After the main process ends or is killed, readers get this long to drain the pipes.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

pub struct ScriptRun<'a> {
    pub program: &'a str,
    pub script: &'a Path,
    pub dir: &'a Path,
    pub results_file: &'a Path,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub cap: usize,
    pub redactor: &'a Redactor,
}

pub async fn run(r: ScriptRun<'_>) -> Outcome {
    let mut cmd = Command::new(r.program);
    cmd.arg(r.script)
        .current_dir(r.dir)
        .env_clear()
        .envs(r.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(format!(
                "cannot start {}: {e} (is it installed and on PATH?)",
                r.program
            ));
        }
    };
    let pgid = child.id().map(|p| p as i32);
    let overlap = r.redactor.max_needle_len();
    let out = tokio::spawn(capture(child.stdout.take().unwrap(), r.cap, overlap));
    let err = tokio::spawn(capture(child.stderr.take().unwrap(), r.cap, overlap));

    let waited = tokio::time::timeout(r.timeout, child.wait()).await;
    // Whatever the task left behind in its group dies with it: no orphans, no held pipes.
    if let Some(pg) = pgid {
        kill_group(pg);
    }
    let (status, exit_code, mut errors) = match waited {
        Ok(Ok(st)) => {
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
        Ok(Err(e)) => (
            RunStatus::Failed,
            None,
            vec![format!("waiting for the task failed: {e}")],
        ),
        Err(_) => {
            let _ = child.wait().await;
            (
                RunStatus::TimedOut,
                None,
                vec![format!(
                    "timed out after {}; the task's process group was killed",
                    format_duration(r.timeout)
                )],
            )
        }
    };
    let stdout = drained(out).await.finish(r.cap, r.redactor);
    let stderr = drained(err).await.finish(r.cap, r.redactor);

    let mut results_text = String::new();
    if let Ok(f) = tokio::fs::File::open(r.results_file).await {
        let _ = f
            .take(MAX_RESULTS_BYTES)
            .read_to_string(&mut results_text)
            .await;
    }
    let parsed = parse_results(&results_text);
    errors.extend(parsed.errors);
    Outcome {
        status: Some(status),
        exit_code,
        stdout,
        stderr,
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

async fn drained(h: tokio::task::JoinHandle<Captured>) -> Captured {
    match tokio::time::timeout(DRAIN_GRACE, h).await {
        Ok(Ok(c)) => c,
        // A grandchild that left the process group still holds the pipe; give up on it.
        _ => Captured::default(),
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: killpg only sends a signal; a stale group id yields ESRCH, which is ignored.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
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
