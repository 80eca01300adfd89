//! Reading collections and bundles from disk, with every problem collected and located.

use crate::locate::{locate, parse_path};
use crate::model::*;
use crate::problem::{BundleError, Problem};
use crate::rules::{self, GenerationRule};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sitrep_core::TaskKind;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use yaml_serde::Value;

/// Names every script and template may use without declaring them.
pub const BUILTIN_VARS: &[&str] = &["SITREP_RESOURCE", "SITREP_TASK", "SITREP_BUNDLE"];

pub(crate) struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    pub(crate) fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let line = if field.is_empty() {
            None
        } else {
            locate(self.text, &parse_path(&field))
        };
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            field,
            message: message.into(),
        });
    }

    /// Deserializes `v` as `T`, reporting serde's complaint at `field` (or at the unknown key).
    pub(crate) fn typed<T: DeserializeOwned>(&mut self, field: &str, v: &Value) -> Option<T> {
        // straight from the borrowed value: no copy of the tree per field
        match T::deserialize(v) {
            Ok(t) => Some(t),
            Err(e) => {
                let msg = e.to_string();
                let at = unknown_field(&msg)
                    .map(|k| format!("{field}.{k}"))
                    .unwrap_or_else(|| field.to_string());
                self.problem(at, msg);
                None
            }
        }
    }
}

fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(&rest[..rest.find('`')?])
}

/// The largest `bundle.yaml` sitrep reads.
pub const MAX_BUNDLE_FILE_BYTES: u64 = 1024 * 1024;
/// The largest `collection.yaml` sitrep reads.
pub const MAX_COLLECTION_FILE_BYTES: u64 = 64 * 1024;
/// Tasks in one bundle.
pub const MAX_TASKS_PER_BUNDLE: usize = 200;
/// Params, secrets, hypotheses or generation rules of one bundle (each).
pub const MAX_ENTRIES_PER_LIST: usize = 200;
/// Bundles in one collection.
pub const MAX_BUNDLES_PER_COLLECTION: usize = 2000;

/// Reads a file of at most `limit` bytes; a larger one is a problem, not a read.
fn read_capped(path: &Path, limit: u64) -> Result<String, Problem> {
    let problem = |message: String| Problem {
        file: path.to_path_buf(),
        line: None,
        field: String::new(),
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| problem(format!("cannot read it: {e}")))?
        .len();
    if len > limit {
        return Err(problem(format!(
            "the file is {len} bytes; sitrep reads at most {limit}: split it into several bundles"
        )));
    }
    std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read it: {e}")))
}

fn parse_yaml(file: &Path, text: &str) -> Result<Value, Problem> {
    yaml_serde::from_str::<Value>(text).map_err(|e| Problem {
        file: file.to_path_buf(),
        line: e.location().map(|l| l.line()),
        field: String::new(),
        message: format!("invalid YAML: {e}"),
    })
}

pub(crate) fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

pub(crate) fn is_env_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_uppercase() || c == b'_')
        && b.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollection {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    version: Option<Value>,
}

/// Loads `root/collection.yaml` and every `root/bundles/*/bundle.yaml`, all of which must be
/// valid (the catalog keeps the valid part of a collection instead: [`read_collection`]).
pub fn load_collection(root: &Path) -> Result<Collection, BundleError> {
    let loaded = read_collection(root)?;
    let problems = loaded.problems();
    if problems.is_empty() {
        Ok(loaded.collection)
    } else {
        Err(BundleError::Invalid(problems))
    }
}

/// A collection as read: its valid bundles, and the problems of everything else.
#[derive(Debug)]
pub struct LoadedCollection {
    pub collection: Collection,
    /// Problems of `collection.yaml` itself, and of the collection as a whole.
    pub own: Vec<Problem>,
    /// Bundles left out: their folder name and problems.
    pub left_out: Vec<(String, Vec<Problem>)>,
}

impl LoadedCollection {
    pub fn problems(&self) -> Vec<Problem> {
        let mut all = self.own.clone();
        all.extend(self.left_out.iter().flat_map(|(_, ps)| ps.iter().cloned()));
        all
    }
}

/// Reads a collection, keeping every valid bundle. Fails only when the folder is not a
/// collection at all (no readable `collection.yaml` or `bundles/`).
pub fn read_collection(root: &Path) -> Result<LoadedCollection, BundleError> {
    let file = root.join("collection.yaml");
    if let Err(source) = std::fs::metadata(&file) {
        return Err(BundleError::Io { path: file, source });
    }
    let mut problems = Vec::new();
    let text = read_capped(&file, MAX_COLLECTION_FILE_BYTES).unwrap_or_else(|p| {
        problems.push(p);
        String::new()
    });
    let mut collection = Collection {
        name: String::new(),
        description: String::new(),
        version: String::new(),
        root: root.to_path_buf(),
        bundles: Vec::new(),
    };
    match parse_yaml(&file, &text) {
        _ if !problems.is_empty() => {}
        Err(p) => problems.push(p),
        Ok(v) => {
            let mut ctx = Ctx {
                file: &file,
                text: &text,
                problems: Vec::new(),
            };
            if let Some(raw) = ctx.typed::<RawCollection>("", &v) {
                if !is_slug(&raw.name) {
                    ctx.problem(
                        "name",
                        format!(
                            "collection name {:?} must be lowercase letters, digits and dashes",
                            raw.name
                        ),
                    );
                }
                collection.name = raw.name;
                collection.description = raw.description;
                collection.version = match raw.version {
                    Some(Value::String(s)) => s,
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                };
            }
            problems.extend(ctx.problems);
        }
    }
    let bundles_dir = root.join("bundles");
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(&bundles_dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.join("bundle.yaml").is_file())
            .collect(),
        Err(source) => {
            return Err(BundleError::Io {
                path: bundles_dir,
                source,
            });
        }
    };
    dirs.sort();
    if dirs.len() > MAX_BUNDLES_PER_COLLECTION {
        problems.push(Problem {
            file: bundles_dir.clone(),
            line: None,
            field: String::new(),
            message: format!(
                "{} bundles; sitrep loads at most {MAX_BUNDLES_PER_COLLECTION} per collection (the first ones by name)",
                dirs.len()
            ),
        });
        dirs.truncate(MAX_BUNDLES_PER_COLLECTION);
    }
    let mut names = HashSet::new();
    let mut left_out = Vec::new();
    for dir in dirs {
        let folder = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match load_bundle(&dir) {
            Ok(b) if !names.insert(b.name.clone()) => left_out.push((
                folder,
                vec![Problem {
                    file: dir.join("bundle.yaml"),
                    line: None,
                    field: "name".into(),
                    message: format!(
                        "another bundle in this collection is also named {:?}",
                        b.name
                    ),
                }],
            )),
            Ok(b) => collection.bundles.push(b),
            Err(ps) => left_out.push((folder, ps)),
        }
    }
    // A hypothesis naming another bundle's remediation is checked across the collection;
    // a bundle with such a problem is left out like any other invalid bundle.
    let cross = check_cross_bundle_remediations(&collection.bundles);
    for p in cross {
        let bundle_dir = p.file.parent().map(Path::to_path_buf);
        let at = collection
            .bundles
            .iter()
            .position(|b| Some(&b.dir) == bundle_dir.as_ref());
        match at {
            Some(i) => {
                let b = collection.bundles.remove(i);
                let folder = b
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                left_out.push((folder, vec![p]));
            }
            None => match left_out
                .iter_mut()
                .find(|(_, ps)| ps.first().and_then(|x| x.file.parent()) == p.file.parent())
            {
                Some((_, ps)) => ps.push(p),
                None => problems.push(p),
            },
        }
    }
    Ok(LoadedCollection {
        collection,
        own: problems,
        left_out,
    })
}

/// A hypothesis may be remediated by `BUNDLE/TASK` of the same collection (a bundle cannot
/// check that alone): the task must exist, be a remediation, and declare every parameter the
/// hypothesis fills.
fn check_cross_bundle_remediations(bundles: &[Bundle]) -> Vec<Problem> {
    let mut out = vec![];
    for b in bundles {
        let file = b.dir.join("bundle.yaml");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (i, h) in b.hypotheses.iter().enumerate() {
            let Some((bundle, task)) = h.remediation.as_deref().and_then(|r| r.split_once('/'))
            else {
                continue;
            };
            let field = format!("hypotheses[{i}].remediation");
            let mut problem = |field: String, message: String| {
                out.push(Problem {
                    line: locate(&text, &parse_path(&field)),
                    file: file.clone(),
                    field,
                    message,
                });
            };
            let Some(target) = bundles.iter().find(|o| o.name == bundle) else {
                problem(field, format!("no bundle {bundle:?} in this collection"));
                continue;
            };
            match target.task(task) {
                Some(t) if t.kind == TaskKind::Remediation => {
                    for p in h.remediation_params.keys() {
                        if !t.params.contains(p) && target.param(p).is_none() {
                            problem(
                                format!("hypotheses[{i}].remediation_params.{p}"),
                                format!("task {bundle}/{task} declares no parameter {p:?}"),
                            );
                        }
                    }
                    for p in t
                        .params
                        .iter()
                        .filter(|p| !h.remediation_params.contains_key(*p))
                    {
                        problem(
                            format!("hypotheses[{i}].remediation_params"),
                            format!("fill {p}: task {bundle}/{task} cannot run without it"),
                        );
                    }
                }
                Some(_) => problem(
                    field,
                    format!("task {bundle}/{task} is not a remediation task"),
                ),
                None => problem(field, format!("no task {task:?} in bundle {bundle}")),
            }
        }
    }
    out
}

/// Checks a collection folder, a bundle folder or a `bundle.yaml`; returns every problem found.
pub fn validate_path(path: &Path) -> Result<Vec<Problem>, BundleError> {
    if path.join("collection.yaml").is_file() {
        return Ok(read_collection(path)?.problems());
    }
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    if !dir.join("bundle.yaml").is_file() {
        return Err(BundleError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no collection.yaml or bundle.yaml here",
            ),
        });
    }
    Ok(load_bundle(&dir).err().unwrap_or_default())
}

#[derive(Deserialize)]
struct RawBundle {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    params: Vec<Value>,
    #[serde(default)]
    secrets: Vec<Value>,
    #[serde(default)]
    tasks: Vec<Value>,
    #[serde(default)]
    hypotheses: Vec<Value>,
    #[serde(default)]
    generation_rules: Option<Value>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

/// Loads and validates `dir/bundle.yaml`.
pub fn load_bundle(dir: &Path) -> Result<Bundle, Vec<Problem>> {
    let file = dir.join("bundle.yaml");
    let text = read_capped(&file, MAX_BUNDLE_FILE_BYTES).map_err(|p| vec![p])?;
    let value = parse_yaml(&file, &text).map_err(|p| vec![p])?;
    bundle_from_value(dir, &text, value)
}

/// Validates a bundle already parsed (`text` locates problems by line; empty: no lines).
pub(crate) fn bundle_from_value(
    dir: &Path,
    text: &str,
    value: Value,
) -> Result<Bundle, Vec<Problem>> {
    let file = dir.join("bundle.yaml");
    let mut ctx = Ctx {
        file: &file,
        text,
        problems: Vec::new(),
    };
    let Some(raw) = ctx.typed::<RawBundle>("", &value) else {
        return Err(ctx.problems);
    };
    let rules = match &raw.generation_rules {
        Some(Value::Sequence(r)) => r.len(),
        _ => 0,
    };
    for (field, len, max) in [
        ("tasks", raw.tasks.len(), MAX_TASKS_PER_BUNDLE),
        ("params", raw.params.len(), MAX_ENTRIES_PER_LIST),
        ("secrets", raw.secrets.len(), MAX_ENTRIES_PER_LIST),
        ("hypotheses", raw.hypotheses.len(), MAX_ENTRIES_PER_LIST),
        ("generation_rules", rules, MAX_ENTRIES_PER_LIST),
    ] {
        if len > max {
            ctx.problem(
                field,
                format!(
                    "{len} {field}; a bundle holds at most {max}: split it into several bundles"
                ),
            );
        }
    }
    if !ctx.problems.is_empty() {
        // Nothing else is checked in a bundle that is too big to load.
        return Err(ctx.problems);
    }
    for key in raw.unknown.keys() {
        ctx.problem(key.clone(), "unknown field (expected name, description, resource_type, tags, params, secrets, tasks, hypotheses, generation_rules)");
    }
    let name = raw.name.clone().unwrap_or_default();
    if raw.name.is_none() {
        ctx.problem("", "missing field `name`");
    } else if !is_slug(&name) {
        ctx.problem(
            "name",
            format!("bundle name {name:?} must be lowercase letters, digits and dashes"),
        );
    }

    let mut params: Vec<ParamDecl> = Vec::new();
    for (i, v) in raw.params.iter().enumerate() {
        if let Some(p) = ctx.typed::<ParamDecl>(&format!("params[{i}]"), v) {
            if !is_env_name(&p.name) {
                ctx.problem(
                    format!("params[{i}].name"),
                    format!(
                        "param {:?} must be UPPER_SNAKE_CASE (it becomes an env var)",
                        p.name
                    ),
                );
            }
            if params.iter().any(|q| q.name == p.name) {
                ctx.problem(
                    format!("params[{i}].name"),
                    format!("param {:?} is declared twice", p.name),
                );
            }
            params.push(p);
        }
    }
    let mut secrets: Vec<SecretDecl> = Vec::new();
    for (i, v) in raw.secrets.iter().enumerate() {
        if let Some(s) = ctx.typed::<SecretDecl>(&format!("secrets[{i}]"), v) {
            if !is_env_name(&s.name) {
                ctx.problem(
                    format!("secrets[{i}].name"),
                    format!(
                        "secret {:?} must be UPPER_SNAKE_CASE (it becomes an env var)",
                        s.name
                    ),
                );
            }
            if params.iter().any(|p| p.name == s.name) || secrets.iter().any(|q| q.name == s.name) {
                ctx.problem(
                    format!("secrets[{i}].name"),
                    format!("{:?} is declared twice", s.name),
                );
            }
            secrets.push(s);
        }
    }

    let mut tasks: Vec<Task> = Vec::new();
    for (i, v) in raw.tasks.iter().enumerate() {
        if let Some(t) = crate::task::task(&mut ctx, dir, i, v, &params, &secrets) {
            if tasks.iter().any(|o| o.name == t.name) {
                ctx.problem(
                    format!("tasks[{i}].name"),
                    format!("task {:?} is declared twice", t.name),
                );
            }
            tasks.push(t);
        }
    }
    if raw.tasks.is_empty() {
        ctx.problem("tasks", "a bundle needs at least one task");
    }

    let mut hypotheses = Vec::new();
    let declared: HashSet<&str> = raw
        .tasks
        .iter()
        .filter_map(|t| t.get("name").and_then(|n| n.as_str()))
        .collect();
    for (i, v) in raw.hypotheses.iter().enumerate() {
        if let Some(h) = ctx.typed::<Hypothesis>(&format!("hypotheses[{i}]"), v) {
            for t in &h.tested_by {
                if !declared.contains(t.as_str()) {
                    ctx.problem(
                        format!("hypotheses[{i}].tested_by"),
                        format!("no task {t:?} in this bundle"),
                    );
                }
            }
            if let Some(r) = h.remediation.as_ref().filter(|r| !r.contains('/')) {
                match tasks.iter().find(|t| &t.name == r) {
                    Some(t) if t.kind == TaskKind::Remediation => {
                        for p in h.remediation_params.keys() {
                            if !t.params.contains(p) && !params.iter().any(|d| &d.name == p) {
                                ctx.problem(
                                    format!("hypotheses[{i}].remediation_params.{p}"),
                                    format!("task {r:?} declares no parameter {p:?}"),
                                );
                            }
                        }
                        for p in t
                            .params
                            .iter()
                            .filter(|p| !h.remediation_params.contains_key(*p))
                        {
                            ctx.problem(
                                format!("hypotheses[{i}].remediation_params"),
                                format!("fill {p}: task {r:?} cannot run without it"),
                            );
                        }
                    }
                    Some(_) => ctx.problem(
                        format!("hypotheses[{i}].remediation"),
                        format!("task {r:?} is not a remediation task"),
                    ),
                    None if !declared.contains(r.as_str()) => ctx.problem(
                        format!("hypotheses[{i}].remediation"),
                        format!("no task {r:?} in this bundle"),
                    ),
                    None => {}
                }
            }
            hypotheses.push(h);
        }
    }
    let generation_rules: Vec<GenerationRule> = match &raw.generation_rules {
        Some(v) if !v.is_null() => ctx.typed("generation_rules", v).unwrap_or_default(),
        _ => vec![],
    };

    let bundle = Bundle {
        name,
        description: raw.description,
        resource_type: raw.resource_type,
        tags: raw.tags,
        params,
        secrets,
        tasks,
        hypotheses,
        generation_rules,
        dir: dir.to_path_buf(),
    };
    for (field, message) in rules::check(&bundle.generation_rules, &bundle) {
        ctx.problem(field, message);
    }
    if !ctx.problems.is_empty() {
        return Err(ctx.problems);
    }
    Ok(bundle)
}
