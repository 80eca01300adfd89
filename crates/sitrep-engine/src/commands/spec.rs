//! The command format (`commands/*.yaml`): its types, the checks of a file, and the binding
//! of arguments to parameters. Pure over the catalog and the Map.

use crate::files::{files_in, located, parse_yaml, read_text, stem};
use crate::views::{ProblemView, RunView};
use crate::{EngineError, Result};
use serde::{Deserialize, Serialize};
use sitrep_bundles::Catalog;
use sitrep_core::investigation::Session;
use sitrep_core::map::Map;
use sitrep_core::{TaskKind, TaskRef};
use std::collections::BTreeMap;
use std::path::Path;

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
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(rest[open + 1..open + close].trim());
        rest = &rest[open + close + 1..];
    }
    out
}

pub(super) fn fill(t: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = t.to_string();
    for (k, v) in args {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// The problems of one command (beyond its YAML shape), by field.
fn check(spec: &CommandSpec, catalog: &Catalog, assistants: &[String]) -> Vec<(String, String)> {
    let mut bad: Vec<(String, String)> = vec![];
    if !valid_name(&spec.name) {
        bad.push((
            "name".into(),
            format!("{:?} must be 1-64 letters, digits, '-' or '_'", spec.name),
        ));
    }
    let mut names = vec![];
    for (i, p) in spec.params.iter().enumerate() {
        if !valid_name(&p.name) {
            bad.push((
                format!("params[{i}].name"),
                format!("{:?} must be letters, digits, '-' or '_'", p.name),
            ));
        }
        if names.contains(&p.name.as_str()) {
            bad.push((
                format!("params[{i}].name"),
                format!("{:?} is declared twice", p.name),
            ));
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
        bad.push((
            "question".into(),
            "a command's question cannot run another command".into(),
        ));
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
                bad.push((
                    field.clone(),
                    format!("{{{p}}} is not one of the command's params"),
                ));
            }
        }
    }
    if let Some(a) = &spec.assistant
        && !assistants.contains(a)
    {
        bad.push((
            "assistant".into(),
            format!(
                "no assistant {a:?}; the assistants are {}",
                assistants.join(", ")
            ),
        ));
    }
    bad
}

/// A step's task: `collection/bundle/task`, or `bundle/task` of the one collection that has
/// that bundle (`core` first).
pub(super) fn task_of(catalog: &Catalog, text: &str) -> std::result::Result<TaskRef, String> {
    let parts: Vec<&str> = text.split('/').collect();
    if let [bundle, task] = parts.as_slice() {
        let mut having = catalog
            .collections
            .iter()
            .filter(|c| c.bundle(bundle).is_some());
        let core = catalog
            .collections
            .iter()
            .find(|c| c.name == "core" && c.bundle(bundle).is_some());
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
            return Err(format!(
                "{}={v:?}: not a duration (like 30s, 5m or 1h)",
                p.name
            ));
        }
        _ => {}
    }
    if !p.choices.is_empty() && !p.choices.iter().any(|c| c == v) {
        return Err(format!(
            "{}={v:?}: must be one of {}",
            p.name,
            p.choices.join(", ")
        ));
    }
    if v.contains('\n') || v.len() > 500 {
        return Err(format!("{}: one line of at most 500 characters", p.name));
    }
    Ok(())
}

/// The commands of a folder (or one file), each checked; problems for the others.
pub(super) fn load_commands(
    path: &Path,
    catalog: &Catalog,
    assistants: &[String],
) -> Result<(Vec<CommandView>, Vec<ProblemView>)> {
    let files = if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        files_in(path, &["yaml", "yml"])?
    };
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
            bad.push((
                "name".into(),
                format!(
                    "{:?} is also the name of the command in {}",
                    spec.name, o.file
                ),
            ));
        }
        if bad.is_empty() {
            good.push(CommandView {
                file: f.display().to_string(),
                spec,
            });
        } else {
            problems.extend(
                bad.into_iter()
                    .map(|(field, m)| located(&f, &text, 0, &field, m)),
            );
        }
    }
    good.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Ok((good, problems))
}

/// Reads `k=v` and positional arguments (in the order of the params) into checked values,
/// defaults filled. Every problem says what the command takes.
pub fn bind_args(
    spec: &CommandSpec,
    args: &[String],
    map: &Map,
) -> Result<BTreeMap<String, String>> {
    let usage = || {
        let ps: Vec<String> = spec
            .params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{}={d} ({}, default)", p.name, p.ty),
                None => format!("{}=... ({}, required)", p.name, p.ty),
            })
            .collect();
        if ps.is_empty() {
            "it takes no parameters".to_string()
        } else {
            format!("it takes {}", ps.join(", "))
        }
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
                    let what = if p.description.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", p.description)
                    };
                    return Err(bad(format!("{}=... is required{what}", p.name)));
                }
            }
        }
        let v = out.get_mut(&p.name).expect("filled above");
        check_value(p, v).map_err(bad)?;
        if p.ty == ParamType::Resource {
            let r = crate::investigate::resolve(map, v)
                .map(|r| r.name.clone())
                .or_else(|| {
                    let hits = map.lookup(v);
                    (hits.len() == 1).then(|| hits[0].name.clone())
                });
            match r {
                Some(name) => *v = name,
                None => {
                    return Err(bad(format!(
                        "{}={v:?}: no such resource on the Map (run discovery, or name one it found)",
                        p.name
                    )));
                }
            }
        }
    }
    Ok(out)
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
        let a = |v: &[&str]| {
            bind_args(
                &spec(),
                &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                &map,
            )
        };
        let ok = a(&["pg-main", "mode=full"]).unwrap();
        assert_eq!(ok["db"], "pg-main");
        assert_eq!(
            (ok["window"].as_str(), ok["mode"].as_str()),
            ("15m", "full")
        );
        assert_eq!(
            a(&["db=postgres"]).unwrap()["db"],
            "pg-main",
            "a kind word finds the one resource"
        );
        for (args, says) in [
            (vec![], "db=... is required"),
            (vec!["db=pg-main", "windw=5m"], "no parameter \"windw\""),
            (vec!["db=pg-main", "window=soon"], "not a duration"),
            (vec!["db=pg-main", "mode=slow"], "must be one of fast, full"),
            (vec!["db=nope"], "no such resource on the Map"),
        ] {
            let e = a(&args).unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains("it takes db=... (resource, required)"),
                "{args:?}: {e}"
            );
        }
    }

    #[test]
    fn templates_name_params() {
        assert_eq!(
            placeholders("why is {db} slow over { window }?"),
            ["db", "window"]
        );
        let args = BTreeMap::from([("db".to_string(), "pg".to_string())]);
        assert_eq!(fill("{db}/{db}", &args), "pg/pg");
    }
}
