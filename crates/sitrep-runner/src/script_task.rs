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
use std::path::Path;

/// What to start for a script task.
pub struct Script<'a> {
    pub program: &'a str,
    pub path: &'a Path,
    pub run_id: &'a str,
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
        let (tree, files) = match tokio::task::spawn_blocking(move || rundir::prepare(prep)).await {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(e)) => return Outcome::failed(e),
            Err(e) => return Outcome::failed(format!("preparing the run failed: {e}")),
        };
        let env = script_env(req, vars, &dir, &files, &t.bundle.dir, self.program_path());
        let run = exec::script::ScriptRun {
            program: script.program,
            script: script.path,
            dir: &dir,
            env,
            timeout: t.task.timeout,
            cap: self.output_cap(),
            redactor,
        };
        let (ended, tree) = exec::script::run(run, tree, interrupt).await;
        let finished = tokio::task::spawn_blocking(move || rundir::finish(&dir, tree)).await;
        let results = match finished {
            Ok((results, left)) => {
                if let Some(left) = left {
                    // processes still dying: remove the cgroup once they are gone
                    tokio::spawn(left.end());
                }
                results
            }
            Err(_) => String::new(),
        };
        ended.outcome(&results)
    }
}
