//! SLXs: listing, hand edits, and running one. The scheduler and a run by hand choose an SLX's
//! tasks by the same rule (`sitrep_bundles::slx::slx_health_tasks`) and run them through
//! [`Sitrep::run_slx_tasks`].

use crate::views::{RunView, SlxRunView};
use crate::{EngineError, Result, Sitrep};
use sitrep_bundles::slx::slx_health_tasks;
use sitrep_core::{Slx, TaskRef};
use sitrep_runner::RunRequest;
use sitrep_store::Store;
use std::collections::{BTreeMap, BTreeSet};

impl Sitrep {
    pub async fn slxs(&self) -> Result<Vec<Slx>> {
        Ok(self.store().await?.list_slxs(self.workspace()).await?)
    }

    pub async fn slx(&self, name: &str) -> Result<Slx> {
        self.slxs()
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                EngineError::not_found(
                    "SLX",
                    name,
                    "list the SLXs; discovery generates them, or write one by hand",
                )
            })
    }

    /// A hand edit of an SLX's config; discovery keeps hand edits.
    pub async fn set_slx_config(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        unset: &[String],
    ) -> Result<Slx> {
        let mut s = self.slx(name).await?;
        for (k, v) in set {
            s.config.insert(k.clone(), v.clone());
        }
        for k in unset {
            s.config.remove(k);
        }
        self.store().await?.put_slx(&s, self.now()).await?;
        Ok(s)
    }

    /// The SLX's secrets, resolved from their references (values never stored): a
    /// `secret:NAME` from the settings' `secrets:` first, else decrypted from the vault.
    pub(crate) async fn slx_secrets(&self, s: &Slx) -> Result<BTreeMap<String, String>> {
        if s.secrets.is_empty() {
            return Ok(BTreeMap::new());
        }
        let named = self.settings().secrets.clone();
        let in_vault: BTreeSet<String> = s
            .secrets
            .values()
            .filter_map(|r| r.strip_prefix("secret:"))
            .filter(|n| !named.contains_key(*n))
            .map(str::to_string)
            .collect();
        let stored = self.vault_values(&in_vault).await?;
        let (references, slx) = (s.secrets.clone(), s.name.clone());
        // `file:` references read files.
        tokio::task::spawn_blocking(move || {
            sitrep_runner::secrets::resolve_all(&references, &named, &stored)
                .map_err(|(k, e)| EngineError::Invalid(format!("SLX {slx}: secret {k}: {e}")))
        })
        .await
        .map_err(|e| EngineError::Invalid(format!("resolving secrets crashed: {e}")))?
    }

    /// Runs an SLX's health tasks now, in order, with its config and secrets.
    pub async fn run_slx(&self, name: &str) -> Result<SlxRunView> {
        let s = self.slx(name).await?;
        if s.stale {
            return Err(EngineError::Invalid(format!(
                "SLX {name} is stale (its resource was not found by the last discovery); run discovery first"
            )));
        }
        let catalog = self.catalog().await?;
        // By hand, robot tasks run: the runner installs their runtime on first use.
        let (tasks, problems) = slx_health_tasks(&catalog, &s, true);
        let tasks: Vec<TaskRef> = tasks.into_iter().map(|t| t.task).collect();
        let (runs, failed) = self.run_slx_tasks(&s, &tasks).await?;
        let mut problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        problems.extend(failed);
        Ok(SlxRunView {
            slx: s.name,
            runs,
            problems,
        })
    }

    /// Runs `tasks` of `slx` one after another (the scheduler's jobs and `run_slx`). A task that
    /// cannot start is reported and the others still run; once the runner shuts down, the rest
    /// of the job is skipped.
    pub(crate) async fn run_slx_tasks(
        &self,
        slx: &Slx,
        tasks: &[TaskRef],
    ) -> Result<(Vec<RunView>, Vec<String>)> {
        let secrets = self.slx_secrets(slx).await?;
        let mut runs = vec![];
        let mut problems = vec![];
        for task in tasks {
            let req = RunRequest {
                task: task.clone(),
                resource: slx.resource.clone(),
                slx: Some(slx.name.clone()),
                config: slx.config.clone(),
                secrets: secrets.clone(),
                approval: None,
            };
            match self.execute(req, None).await {
                Ok(v) => runs.push(v),
                Err(EngineError::Run(sitrep_runner::RunError::ShuttingDown { .. })) => break,
                Err(e) => problems.push(format!("{task}: {e}")),
            }
        }
        Ok((runs, problems))
    }
}
