//! A bash or python run from start to end: its directory prepared in one blocking batch, the
//! process run, its results read and its directory and cgroup removed in another.

use crate::exec::{self, Outcome};
use crate::lifecycle::Interrupt;
use crate::prepare::script_env;
use crate::rundir;
use crate::runner::{RunRequest, Runner};
use sitrep_bundles::{ResolvedTask, SecretAs};
use sitrep_core::redact::Redactor;
use std::collections::BTreeMap;
use std::ffi::OsStr;

/// What to start for a script task: its interpreter and arguments, and variables to add to
/// the task's environment (a robot task's).
pub struct Script<'a> {
    pub program: &'a str,
    pub args: Vec<&'a OsStr>,
    pub env: Vec<(String, String)>,
    pub run_id: &'a str,
    /// A fork server running `program` that starts the task instead (robot tasks).
    pub server: Option<&'a exec::forkserver::ForkServer>,
}

impl Runner {
    pub(crate) async fn run_script(
        &self,
        t: &ResolvedTask<'_>,
        req: &RunRequest,
        vars: &BTreeMap<String, String>,
        redactor: &Redactor,
        script: Script<'_>,
        interrupt: Interrupt,
    ) -> Outcome {
        let dir = self.owner_dir().join(script.run_id);
        let secret_files = req
            .secrets
            .iter()
            .filter(|(name, _)| {
                t.bundle
                    .secret(name)
                    .is_some_and(|s| s.as_ == SecretAs::File)
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let prep = rundir::Prepare {
            dir: dir.clone(),
            secret_files,
            isolation: self.isolation().clone(),
            run_id: script.run_id.to_string(),
        };
        let prepared = if self.runs_on_tmpfs() {
            // tmpfs and cgroupfs: memory operations, nothing waits on a device
            rundir::prepare(prep)
        } else {
            tokio::task::spawn_blocking(move || rundir::prepare(prep))
                .await
                .unwrap_or_else(|e| Err(format!("preparing the run failed: {e}")))
        };
        let (tree, files) = match prepared {
            Ok(p) => p,
            Err(e) => return Outcome::failed(e),
        };
        let state = match self.state_dir(req).await {
            Ok(s) => s,
            Err(e) => {
                return Outcome::failed(format!("cannot create the task's state directory: {e}"));
            }
        };
        let mut env = script_env(
            req,
            vars,
            &dir,
            &files,
            &t.bundle.dir,
            &state,
            self.program_path(),
        );
        env.extend(script.env);
        let run = exec::script::ScriptRun {
            program: script.program,
            args: &script.args,
            dir: &dir,
            env,
            timeout: t.task.timeout,
            cap: self.output_cap(),
            redactor,
            server: script.server,
        };
        let (ended, tree) = exec::script::run(run, tree, interrupt).await;
        let (results, left) = if self.runs_on_tmpfs() {
            rundir::finish(&dir, tree)
        } else {
            tokio::task::spawn_blocking(move || rundir::finish(&dir, tree))
                .await
                .unwrap_or_default()
        };
        if let Some(left) = left {
            // processes still dying: remove the cgroup once they are gone
            tokio::spawn(left.end());
        }
        ended.outcome(&results)
    }
}
