//! A robot task run: `python -m robot` of the runtime's venv on the bundle's suite, only the
//! requested task, in the same sandbox as a bash or python task (private directory, process
//! group and cgroup, timeout, capped output, allow-listed environment). sitrep's RW.Core writes
//! the task's issues, reports and metrics to `$SITREP_RESULTS` like a native task. The task is
//! a fork of a Python that has imported Robot Framework once (`exec::forkserver`).

use super::runtime::{ROBOT, RobotRuntime, RuntimeError};
use crate::exec::Outcome;
use crate::exec::forkserver::{ForkServer, LazyServer, ServerSpec};
use crate::lifecycle::Interrupt;
use crate::runner::{RunRequest, Runner};
use sitrep_bundles::{ResolvedTask, RobotSpec};
use sitrep_core::redact::Redactor;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A runner's robot runtime: installed by one run at a time, checked once per process.
pub(crate) struct ManagedRobot {
    runtime: RobotRuntime,
    lock: tokio::sync::Mutex<()>,
    ready: AtomicBool,
    /// Robot Framework imported once; every robot task a fork of it. Started on first use,
    /// again if it has ended.
    server: LazyServer,
}

/// What the fork server imports before serving: Robot Framework's runner, whose import is
/// most of a robot task's start, and the libraries nearly every codebundle imports (RW.Core,
/// RW.CLI and theirs) (docs/runwhen.md, "Speed"). None of them reads the environment when
/// imported, which would be the server's, not the task's.
const PRELOAD: &[&str] = &[
    "robot.run",
    "robot.running",
    "robot.running.namespace",
    "robot.running.suiterunner",
    "robot.libraries.BuiltIn",
    "robot.libraries.Easter",
    "RW.Core",
    "RW.CLI",
];

impl ManagedRobot {
    pub fn new(runtimes_dir: &Path) -> ManagedRobot {
        ManagedRobot {
            runtime: RobotRuntime::new(runtimes_dir),
            lock: tokio::sync::Mutex::new(()),
            ready: AtomicBool::new(false),
            server: LazyServer::default(),
        }
    }

    /// The fork server, started if there is none (None: it cannot start; tasks then start
    /// their own interpreter, as before).
    async fn server(&self) -> Option<Arc<ForkServer>> {
        self.server
            .get(|| ServerSpec {
                python: self.runtime.python(),
                // no user site: the venv only (as PYTHONNOUSERSITE in a task's environment)
                flags: &["-s"],
                modules: PRELOAD,
                env: vec![
                    ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                    ("LANG".into(), "C.UTF-8".into()),
                    // the RW package: sitrep's shim merged with rw-cli-keywords'
                    (
                        "PYTHONPATH".into(),
                        self.runtime.shim_dir().display().to_string(),
                    ),
                ],
            })
            .await
    }

    /// Installs the robot runtime if this home does not have it current (about 20 s).
    pub async fn ensure(&self) -> Result<(), RuntimeError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let _one = self.lock.lock().await;
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let rt = self.runtime.clone();
        let status = tokio::task::spawn_blocking(move || {
            if !rt.is_current() {
                tracing::warn!(
                    runtime = ROBOT,
                    dir = %rt.dir().display(),
                    "the robot runtime is not installed; installing it now (`sitrep runtimes install robot` does it ahead of time)"
                );
            }
            rt.ensure(&mut |step| tracing::info!(runtime = ROBOT, step, "robot runtime"))
        })
        .await
        .map_err(|e| RuntimeError::Step {
            step: "install".into(),
            detail: e.to_string(),
        })??;
        tracing::debug!(runtime = ROBOT, dir = %status.dir, state = %status.state, "robot runtime ready");
        self.ready.store(true, Ordering::Release);
        Ok(())
    }
}

impl Runner {
    pub(crate) async fn run_robot(
        &self,
        t: &ResolvedTask<'_>,
        req: &RunRequest,
        vars: &BTreeMap<String, String>,
        redactor: &Redactor,
        (spec, run_id): (&RobotSpec, &str),
        interrupt: Interrupt,
    ) -> Outcome {
        let rt = &self.robot().runtime;
        let dir = self.owner_dir().join(run_id);
        // absolute: robot runs in the run directory
        let suite = t.bundle.dir.join(&spec.file);
        let suite = std::path::absolute(&suite).unwrap_or(suite);
        let args = robot_args(spec, &suite, &dir, &rt.shim_dir());
        let python = rt.python().display().to_string();
        let server = self.robot().server().await;
        let script = crate::script_task::Script {
            program: &python,
            args: args.iter().map(OsString::as_os_str).collect(),
            env: vec![
                // RW.CLI runs commands there, with the bundle's files staged beside them
                ("CODEBUNDLE_TEMP_DIR".into(), dir.display().to_string()),
                // how RW.CLI's Run Bash File finds the bundle's scripts
                ("RW_PATH_TO_ROBOT".into(), suite.display().to_string()),
                ("PYTHONNOUSERSITE".into(), "1".into()),
            ],
            run_id,
            server: server.as_deref(),
        };
        self.run_script(t, req, vars, redactor, script, interrupt)
            .await
    }
}

/// `-m robot` and its options: no output files, the shim on the path, only the requested task
/// (a whole suite for an SLI), the suite last.
fn robot_args(spec: &RobotSpec, suite: &Path, out_dir: &Path, shim: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-m", "robot", "--outputdir"]
        .into_iter()
        .map(OsString::from)
        .collect();
    args.push(out_dir.into());
    for (opt, value) in [
        ("--output", "NONE"),
        ("--report", "NONE"),
        ("--log", "NONE"),
    ] {
        args.extend([OsString::from(opt), OsString::from(value)]);
    }
    args.extend([OsString::from("--pythonpath"), shim.into()]);
    if let Some(name) = &spec.test {
        args.extend([OsString::from("--task"), OsString::from(literal(name))]);
    }
    args.push(OsStr::new(suite).into());
    args
}

/// A task name as a Robot Framework `--task` pattern matching only itself (`*`, `?` and `[`
/// are pattern characters there).
fn literal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_requested_task_runs_without_output_files() {
        let spec = RobotSpec {
            file: "runbook.robot".into(),
            test: Some("Check [a]* or b?".into()),
            line: 3,
            timeout: None,
        };
        let args = robot_args(
            &spec,
            Path::new("/b/runbook.robot"),
            Path::new("/run"),
            Path::new("/rt/shim"),
        );
        let text: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            text.join(" "),
            "-m robot --outputdir /run --output NONE --report NONE --log NONE \
             --pythonpath /rt/shim --task Check [[]a][*] or b[?] /b/runbook.robot"
        );
        let sli = RobotSpec { test: None, ..spec };
        let args = robot_args(
            &sli,
            Path::new("/b/sli.robot"),
            Path::new("/run"),
            Path::new("/s"),
        );
        assert!(!args.iter().any(|a| a == "--task"), "{args:?}");
    }
}
