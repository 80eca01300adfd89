//! Commands from the workspace folder's `commands/*.yaml` (`docs/studio.md`): a named,
//! parameterised procedure: which read-only tasks to run first (with parameters from the
//! command's arguments), which question to investigate, with which assistant. Run as
//! `command run NAME k=v` or as an investigation's question `/NAME args`. Every file is checked
//! with file, line and field; every argument before anything runs.

mod spec;

pub use spec::{
    CommandParam, CommandRun, CommandSpec, CommandStep, CommandView, ParamType, StepRun, bind_args,
};

use crate::investigate::{Ask, InvestigateRequest, Prelude};
use crate::views::ProblemView;
use crate::{EngineError, Result, Sitrep};
use sitrep_core::investigation::AuditKind;
use sitrep_runner::RunRequest;
use spec::{fill, load_commands, task_of};
use std::path::{Path, PathBuf};

impl Sitrep {
    fn commands_dir(&self) -> PathBuf {
        self.workspace_dir().join("commands")
    }

    async fn load_commands_at(
        &self,
        path: PathBuf,
    ) -> Result<(Vec<CommandView>, Vec<ProblemView>)> {
        let catalog = self.catalog().await?;
        let assistants: Vec<String> = crate::investigate::assistants(self.settings())
            .into_iter()
            .map(|a| a.name)
            .collect();
        tokio::task::spawn_blocking(move || load_commands(&path, &catalog, &assistants))
            .await
            .map_err(|e| EngineError::Invalid(format!("reading commands crashed: {e}")))?
    }

    /// The valid commands of the workspace folder's `commands/`, by name (files with
    /// problems are logged and left out; `validate_commands` lists them).
    pub async fn commands(&self) -> Result<Vec<CommandView>> {
        let (good, problems) = self.load_commands_at(self.commands_dir()).await?;
        for p in &problems {
            tracing::warn!(problem = %p, "command skipped");
        }
        Ok(good)
    }

    pub async fn command(&self, name: &str) -> Result<CommandView> {
        self.commands()
            .await?
            .into_iter()
            .find(|c| c.spec.name == name)
            .ok_or_else(|| {
                EngineError::not_found(
                    "command",
                    name,
                    "commands are the files of the workspace folder's commands/",
                )
            })
    }

    /// Checks the workspace's commands (or those at `path`) with file, line and field.
    pub async fn validate_commands(&self, path: Option<&Path>) -> Result<Vec<ProblemView>> {
        let p = path.map_or_else(|| self.commands_dir(), Path::to_path_buf);
        Ok(self.load_commands_at(p).await?.1)
    }

    /// `/name args`: a command given as an investigation's question.
    pub async fn run_command_line(
        &self,
        line: &str,
        base: &InvestigateRequest,
    ) -> Result<CommandRun> {
        let mut words = line.trim().trim_start_matches('/').split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| EngineError::Invalid("name a command after /".into()))?;
        let args: Vec<String> = words.map(str::to_string).collect();
        self.run_command(name, &args, base).await
    }

    /// Runs a command: checks its arguments, runs its steps through the SLXs that watch their
    /// resources, then investigates its question (the steps' runs are in the session's audit,
    /// their issues in its context). `base` gives the budgets (and an assistant the command
    /// does not name).
    pub async fn run_command(
        &self,
        name: &str,
        args: &[String],
        base: &InvestigateRequest,
    ) -> Result<CommandRun> {
        let c = self.command(name).await?;
        let map = self.load_map(false).await?;
        let values = bind_args(&c.spec, args, &map)?;
        let slxs = self.slxs().await?;
        let catalog = self.catalog().await?;
        // Every step is resolved before any runs.
        let mut plan = vec![];
        for (i, s) in c.spec.steps.iter().enumerate() {
            let task = task_of(&catalog, &s.task).map_err(EngineError::Invalid)?;
            let task = catalog.resolve(&task)?.task_ref();
            let bundle = format!("{}/{}", task.collection, task.bundle);
            let of_bundle: Vec<&sitrep_core::Slx> = slxs
                .iter()
                .filter(|x| x.bundle == bundle && !x.stale)
                .collect();
            let slx = match &s.resource {
                Some(r) => {
                    let want = fill(r, &values);
                    let want =
                        crate::investigate::resolve(&map, &want).map_or(want, |x| x.name.clone());
                    of_bundle.iter().find(|x| {
                        x.resource == want || crate::investigate::resolve(&map, &x.resource).is_some_and(|m| m.name == want)
                    }).ok_or_else(|| EngineError::Invalid(format!(
                        "command {name}, step {} ({}): no SLX of {bundle} watches {want}; run discovery, or name a resource it watches",
                        i + 1, s.task
                    )))?
                }
                None => match of_bundle.as_slice() {
                    [one] => one,
                    [] => {
                        return Err(EngineError::Invalid(format!(
                            "command {name}, step {} ({}): no SLX of {bundle} exists; run discovery first",
                            i + 1,
                            s.task
                        )));
                    }
                    _ => {
                        return Err(EngineError::Invalid(format!(
                            "command {name}, step {} ({}): several resources are watched by {bundle}; give the step a resource",
                            i + 1,
                            s.task
                        )));
                    }
                },
            };
            let mut config = slx.config.clone();
            for (k, v) in &s.set {
                config.insert(k.clone(), fill(v, &values));
            }
            plan.push(((*slx).clone(), task, config));
        }
        let mut steps = vec![];
        let mut prelude = Prelude::default();
        let shown: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prelude.push(
            AuditKind::Note,
            serde_json::json!({"command": name, "args": values}),
            format!("command {name} {}", shown.join(" ")),
        );
        for (slx, task, config) in plan {
            let run = self
                .execute(
                    RunRequest {
                        task: task.clone(),
                        resource: slx.resource.clone(),
                        slx: Some(slx.name.clone()),
                        config,
                        secrets: self.slx_secrets(&slx).await?,
                        approval: None,
                    },
                    None,
                )
                .await?;
            prelude.push(
                AuditKind::TaskRun,
                serde_json::json!({
                    "command": name, "task": task.to_string(), "resource": slx.resource, "slx": slx.name,
                    "run_id": run.run.id, "status": run.run.status,
                    "issues": run.issues.iter().map(|i| &i.title).collect::<Vec<_>>(),
                }),
                format!("ran {task} on {} for command {name}: {}, {} issue(s)", slx.resource, run.run.status, run.issues.len()),
            );
            steps.push(StepRun {
                task: task.to_string(),
                resource: slx.resource.clone(),
                slx: slx.name.clone(),
                run,
            });
        }
        let req = InvestigateRequest {
            ask: Ask::Question(fill(&c.spec.question, &values)),
            assistant: c.spec.assistant.clone().or_else(|| base.assistant.clone()),
            time_budget: base.time_budget,
            task_budget: base.task_budget,
            session_id: base.session_id.clone(),
        };
        let session = self.open_session(req, prelude).await?;
        Ok(CommandRun {
            command: name.to_string(),
            args: values,
            steps,
            session,
        })
    }
}
