//! Commands from the workspace folder's `commands/*.yaml` (`docs/studio.md`): a named,
//! parameterised procedure: which read-only tasks to run first (with parameters from the
//! command's arguments), which question to investigate, with which assistant. Run as
//! `command run NAME k=v` or as an investigation's question `/NAME args`. Every file is checked
//! with file, line and field; every argument before anything runs.

use crate::files::{files_in, located, parse_yaml, read_text, stem};
use crate::investigate::{Ask, InvestigateRequest, Prelude};
use crate::views::{ProblemView, RunView};
use crate::{EngineError, Result, Sitrep};
use serde::{Deserialize, Serialize};
use sitrep_bundles::Catalog;
use sitrep_core::investigation::{AuditKind, Session};
use sitrep_core::map::Map;
use sitrep_core::{TaskKind, TaskRef};
use sitrep_runner::RunRequest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a command parameter holds; checked before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    #[default]
    String,
    Integer,
    Duration,
    /// A Map resource, by name, alias or a kind word that names one.
    Resource,
}

impl std::fmt::Display for ParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Duration => "duration",
            ParamType::Resource => "resource",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandParam {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, rename = "type")]
    pub ty: ParamType,
    /// Required unless it has a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandStep {
    /// `bundle/task` or `collection/bundle/task`: a health or diagnostic task.
    pub task: String,
    /// The resource to run it on (`{param}` allowed); default: the one the bundle's SLX watches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Config values on top of the SLX's (`{param}` allowed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
}

/// A command as written (and listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<CommandParam>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<CommandStep>,
    /// What to investigate once the steps ran (`{param}` allowed).
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandView {
    pub file: String,
    #[serde(flatten)]
    pub spec: CommandSpec,
}

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRun {
    pub task: String,
    pub resource: String,
    pub slx: String,
    pub run: RunView,
}

/// A command run: its arguments, its steps' runs and the investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRun {
    pub command: String,
    pub args: BTreeMap<String, String>,
    pub steps: Vec<StepRun>,
    pub session: Session,
}

/// `{name}` placeholders of a template.
fn placeholders(t: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push(rest[open + 1..open + close].trim());
        rest = &rest[open + close + 1..];
    }
    out
}

fn fill(t: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = t.to_string();
    for (k, v) in args {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// The problems of one command (beyond its YAML shape), by field.
fn check(spec: &CommandSpec, catalog: &Catalog, assistants: &[String]) -> Vec<(String, String)> {
    let mut bad: Vec<(String, String)> = vec![];
    if !valid_name(&spec.name) {
        bad.push(("name".into(), format!("{:?} must be 1-64 letters, digits, '-' or '_'", spec.name)));
    }
    let mut names = vec![];
    for (i, p) in spec.params.iter().enumerate() {
        if !valid_name(&p.name) {
            bad.push((format!("params[{i}].name"), format!("{:?} must be letters, digits, '-' or '_'", p.name)));
        }
        if names.contains(&p.name.as_str()) {
            bad.push((format!("params[{i}].name"), format!("{:?} is declared twice", p.name)));
        }
        names.push(&p.name);
        if let Some(d) = &p.default
            && let Err(e) = check_value(p, d)
        {
            bad.push((format!("params[{i}].default"), e));
        }
    }
    let mut templates: Vec<(String, &str)> = vec![("question".into(), spec.question.as_str())];
    if spec.question.trim().is_empty() {
        bad.push(("question".into(), "say what to investigate".into()));
    }
    if spec.question.trim_start().starts_with('/') {
        bad.push(("question".into(), "a command's question cannot run another command".into()));
    }
    if spec.steps.len() > 20 {
        bad.push(("steps".into(), "at most 20 steps".into()));
    }
    for (i, s) in spec.steps.iter().enumerate() {
        match task_of(catalog, &s.task).and_then(|t| {
            catalog.resolve(&t).map_err(|e| e.to_string()).map(|r| (r.task.kind, r.bundle.params.iter().map(|p| p.name.clone()).chain(r.task.params.iter().cloned()).collect::<Vec<_>>()))
        }) {
            Err(e) => bad.push((format!("steps[{i}].task"), e)),
            Ok((TaskKind::Remediation, _)) => bad.push((
                format!("steps[{i}].task"),
                "a remediation: commands run health and diagnostic tasks (an investigation proposes a fix and a person approves it)".into(),
            )),
            Ok((_, params)) => {
                for k in s.set.keys() {
                    if !params.contains(k) {
                        bad.push((format!("steps[{i}].set.{k}"), format!("{} has no parameter {k}; it has: {}", s.task, params.join(", "))));
                    }
                }
            }
        }
        if let Some(r) = &s.resource {
            templates.push((format!("steps[{i}].resource"), r));
        }
        for (k, v) in &s.set {
            templates.push((format!("steps[{i}].set.{k}"), v));
        }
    }
    for (field, t) in templates {
        for p in placeholders(t) {
            if !names.contains(&p) {
                bad.push((field.clone(), format!("{{{p}}} is not one of the command's params")));
            }
        }
    }
    if let Some(a) = &spec.assistant
        && !assistants.contains(a)
    {
        bad.push(("assistant".into(), format!("no assistant {a:?}; the assistants are {}", assistants.join(", "))));
    }
    bad
}

/// A step's task: `collection/bundle/task`, or `bundle/task` of the one collection that has
/// that bundle (`core` first).
fn task_of(catalog: &Catalog, text: &str) -> std::result::Result<TaskRef, String> {
    let parts: Vec<&str> = text.split('/').collect();
    if let [bundle, task] = parts.as_slice() {
        let mut having = catalog.collections.iter().filter(|c| c.bundle(bundle).is_some());
        let core = catalog.collections.iter().find(|c| c.name == "core" && c.bundle(bundle).is_some());
        if let Some(c) = core.or_else(|| having.next()) {
            return TaskRef::parse(&format!("{}/{bundle}/{task}", c.name));
        }
    }
    TaskRef::parse(text)
}

/// Whether `v` fits the parameter's type and choices.
fn check_value(p: &CommandParam, v: &str) -> std::result::Result<(), String> {
    match p.ty {
        ParamType::Integer if v.trim().parse::<i64>().is_err() => {
            return Err(format!("{}={v:?}: not a whole number", p.name));
        }
        ParamType::Duration if sitrep_core::time::parse_duration(v).is_err() => {
            return Err(format!("{}={v:?}: not a duration (like 30s, 5m or 1h)", p.name));
        }
        _ => {}
    }
    if !p.choices.is_empty() && !p.choices.iter().any(|c| c == v) {
        return Err(format!("{}={v:?}: must be one of {}", p.name, p.choices.join(", ")));
    }
    if v.contains('\n') || v.len() > 500 {
        return Err(format!("{}: one line of at most 500 characters", p.name));
    }
    Ok(())
}

/// The commands of a folder (or one file), each checked; problems for the others.
pub(crate) fn load_commands(path: &Path, catalog: &Catalog, assistants: &[String]) -> Result<(Vec<CommandView>, Vec<ProblemView>)> {
    let files = if path.is_file() { vec![path.to_path_buf()] } else { files_in(path, &["yaml", "yml"])? };
    let (mut good, mut problems): (Vec<CommandView>, Vec<ProblemView>) = (vec![], vec![]);
    for f in files {
        let text = match read_text(&f) {
            Ok(t) => t,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let mut spec: CommandSpec = match parse_yaml(&f, &text, 0) {
            Ok(s) => s,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        if spec.name.is_empty() {
            spec.name = stem(&f);
        }
        let mut bad = check(&spec, catalog, assistants);
        if let Some(o) = good.iter().find(|c| c.spec.name == spec.name) {
            bad.push(("name".into(), format!("{:?} is also the name of the command in {}", spec.name, o.file)));
        }
        if bad.is_empty() {
            good.push(CommandView { file: f.display().to_string(), spec });
        } else {
            problems.extend(bad.into_iter().map(|(field, m)| located(&f, &text, 0, &field, m)));
        }
    }
    good.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Ok((good, problems))
}

/// Reads `k=v` and positional arguments (in the order of the params) into checked values,
/// defaults filled. Every problem says what the command takes.
pub fn bind_args(spec: &CommandSpec, args: &[String], map: &Map) -> Result<BTreeMap<String, String>> {
    let usage = || {
        let ps: Vec<String> = spec
            .params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{}={d} ({}, default)", p.name, p.ty),
                None => format!("{}=... ({}, required)", p.name, p.ty),
            })
            .collect();
        if ps.is_empty() { "it takes no parameters".to_string() } else { format!("it takes {}", ps.join(", ")) }
    };
    let bad = |m: String| EngineError::Invalid(format!("command {}: {m}; {}", spec.name, usage()));
    let mut out = BTreeMap::new();
    let mut positional = spec.params.iter();
    for a in args {
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => match positional.find(|p| !out.contains_key(&p.name)) {
                Some(p) => (p.name.clone(), a.trim().to_string()),
                None => return Err(bad(format!("unexpected argument {a:?}"))),
            },
        };
        if !spec.params.iter().any(|p| p.name == k) {
            return Err(bad(format!("no parameter {k:?}")));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(bad(format!("{k} is given twice")));
        }
    }
    for p in &spec.params {
        if !out.contains_key(&p.name) {
            match &p.default {
                Some(d) => {
                    out.insert(p.name.clone(), d.clone());
                }
                None => {
                    let what = if p.description.is_empty() { String::new() } else { format!(" ({})", p.description) };
                    return Err(bad(format!("{}=... is required{what}", p.name)));
                }
            }
        }
        let v = out.get_mut(&p.name).expect("filled above");
        check_value(p, v).map_err(bad)?;
        if p.ty == ParamType::Resource {
            let r = crate::investigate::resolve(map, v).map(|r| r.name.clone()).or_else(|| {
                let hits = map.lookup(v);
                (hits.len() == 1).then(|| hits[0].name.clone())
            });
            match r {
                Some(name) => *v = name,
                None => return Err(bad(format!("{}={v:?}: no such resource on the Map (run discovery, or name one it found)", p.name))),
            }
        }
    }
    Ok(out)
}

impl Sitrep {
    fn commands_dir(&self) -> PathBuf {
        self.workspace_dir().join("commands")
    }

    async fn load_commands_at(&self, path: PathBuf) -> Result<(Vec<CommandView>, Vec<ProblemView>)> {
        let catalog = self.catalog().await?;
        let assistants: Vec<String> = crate::investigate::assistants(self.settings()).into_iter().map(|a| a.name).collect();
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
        self.commands().await?.into_iter().find(|c| c.spec.name == name).ok_or_else(|| {
            EngineError::not_found("command", name, "commands are the files of the workspace folder's commands/")
        })
    }

    /// Checks the workspace's commands (or those at `path`) with file, line and field.
    pub async fn validate_commands(&self, path: Option<&Path>) -> Result<Vec<ProblemView>> {
        let p = path.map_or_else(|| self.commands_dir(), Path::to_path_buf);
        Ok(self.load_commands_at(p).await?.1)
    }

    /// `/name args`: a command given as an investigation's question.
    pub async fn run_command_line(&self, line: &str, base: &InvestigateRequest) -> Result<CommandRun> {
        let mut words = line.trim().trim_start_matches('/').split_whitespace();
        let name = words.next().ok_or_else(|| EngineError::Invalid("name a command after /".into()))?;
        let args: Vec<String> = words.map(str::to_string).collect();
        self.run_command(name, &args, base).await
    }

    /// Runs a command: checks its arguments, runs its steps through the SLXs that watch their
    /// resources, then investigates its question (the steps' runs are in the session's audit,
    /// their issues in its context). `base` gives the budgets (and an assistant the command
    /// does not name).
    pub async fn run_command(&self, name: &str, args: &[String], base: &InvestigateRequest) -> Result<CommandRun> {
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
            let of_bundle: Vec<&sitrep_core::Slx> = slxs.iter().filter(|x| x.bundle == bundle && !x.stale).collect();
            let slx = match &s.resource {
                Some(r) => {
                    let want = fill(r, &values);
                    let want = crate::investigate::resolve(&map, &want).map_or(want, |x| x.name.clone());
                    of_bundle.iter().find(|x| {
                        x.resource == want || crate::investigate::resolve(&map, &x.resource).is_some_and(|m| m.name == want)
                    }).ok_or_else(|| EngineError::Invalid(format!(
                        "command {name}, step {} ({}): no SLX of {bundle} watches {want}; run discovery, or name a resource it watches",
                        i + 1, s.task
                    )))?
                }
                None => match of_bundle.as_slice() {
                    [one] => one,
                    [] => return Err(EngineError::Invalid(format!("command {name}, step {} ({}): no SLX of {bundle} exists; run discovery first", i + 1, s.task))),
                    _ => return Err(EngineError::Invalid(format!("command {name}, step {} ({}): several resources are watched by {bundle}; give the step a resource", i + 1, s.task))),
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
                        secrets: self.slx_secrets(&slx)?,
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
            steps.push(StepRun { task: task.to_string(), resource: slx.resource.clone(), slx: slx.name.clone(), run });
        }
        let req = InvestigateRequest {
            ask: Ask::Question(fill(&c.spec.question, &values)),
            assistant: c.spec.assistant.clone().or_else(|| base.assistant.clone()),
            time_budget: base.time_budget,
            task_budget: base.task_budget,
        };
        let session = self.open_session(req, prelude).await?;
        Ok(CommandRun { command: name.to_string(), args: values, steps, session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CommandSpec {
        yaml_serde::from_str(
            "name: t\nparams:\n  - {name: db, type: resource}\n  - {name: window, type: duration, default: 15m}\n  - {name: mode, choices: [fast, full], default: fast}\nquestion: why {db}",
        )
        .unwrap()
    }

    #[test]
    fn arguments_bind_by_name_or_position_and_bad_ones_say_what_the_command_takes() {
        use sitrep_core::map::{Inventory, Resource};
        let map = Map::new(Inventory {
            resources: vec![Resource::new("pg", "postgres", "pg-main")],
            edges: vec![],
        });
        let a = |v: &[&str]| bind_args(&spec(), &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &map);
        let ok = a(&["pg-main", "mode=full"]).unwrap();
        assert_eq!(ok["db"], "pg-main");
        assert_eq!((ok["window"].as_str(), ok["mode"].as_str()), ("15m", "full"));
        assert_eq!(a(&["db=postgres"]).unwrap()["db"], "pg-main", "a kind word finds the one resource");
        for (args, says) in [
            (vec![], "db=... is required"),
            (vec!["db=pg-main", "windw=5m"], "no parameter \"windw\""),
            (vec!["db=pg-main", "window=soon"], "not a duration"),
            (vec!["db=pg-main", "mode=slow"], "must be one of fast, full"),
            (vec!["db=nope"], "no such resource on the Map"),
        ] {
            let e = a(&args).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("it takes db=... (resource, required)"), "{args:?}: {e}");
        }
    }

    #[test]
    fn templates_name_params() {
        assert_eq!(placeholders("why is {db} slow over { window }?"), ["db", "window"]);
        let args = BTreeMap::from([("db".to_string(), "pg".to_string())]);
        assert_eq!(fill("{db}/{db}", &args), "pg/pg");
    }
}
