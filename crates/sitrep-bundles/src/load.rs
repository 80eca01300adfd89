//! Reading collections and bundles from disk, with every problem collected and located.

use crate::locate::{locate, parse_path};
use crate::model::*;
use crate::problem::{BundleError, Problem};
use crate::rules::{self, GenerationRule};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sitrep_core::{Risk, TaskKind, TaskType, expr, template, time::parse_duration};
use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use yaml_serde::Value;

/// Names every script and template may use without declaring them.
pub const BUILTIN_VARS: &[&str] = &["SITREP_RESOURCE", "SITREP_TASK", "SITREP_BUNDLE"];

const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
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
    fn typed<T: DeserializeOwned>(&mut self, field: &str, v: &Value) -> Option<T> {
        match yaml_serde::from_value::<T>(v.clone()) {
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

fn read(path: &Path) -> Result<String, BundleError> {
    std::fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_yaml(file: &Path, text: &str) -> Result<Value, Problem> {
    yaml_serde::from_str::<Value>(text).map_err(|e| Problem {
        file: file.to_path_buf(),
        line: e.location().map(|l| l.line()),
        field: String::new(),
        message: format!("invalid YAML: {e}"),
    })
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

fn is_env_name(s: &str) -> bool {
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

/// Loads `root/collection.yaml` and every `root/bundles/*/bundle.yaml`.
pub fn load_collection(root: &Path) -> Result<Collection, BundleError> {
    let (collection, problems) = read_collection(root)?;
    if problems.is_empty() {
        Ok(collection)
    } else {
        Err(BundleError::Invalid(problems))
    }
}

fn read_collection(root: &Path) -> Result<(Collection, Vec<Problem>), BundleError> {
    let file = root.join("collection.yaml");
    let text = read(&file)?;
    let mut problems = Vec::new();
    let mut collection = Collection {
        name: String::new(),
        description: String::new(),
        version: String::new(),
        root: root.to_path_buf(),
        bundles: Vec::new(),
    };
    match parse_yaml(&file, &text) {
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
    let mut names = HashSet::new();
    for dir in dirs {
        match load_bundle(&dir) {
            Ok(b) => {
                if !names.insert(b.name.clone()) {
                    problems.push(Problem {
                        file: dir.join("bundle.yaml"),
                        line: None,
                        field: "name".into(),
                        message: format!(
                            "another bundle in this collection is also named {:?}",
                            b.name
                        ),
                    });
                }
                collection.bundles.push(b);
            }
            Err(ps) => problems.extend(ps),
        }
    }
    problems.extend(check_cross_bundle_remediations(&collection.bundles));
    Ok((collection, problems))
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
        return Ok(read_collection(path)?.1);
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

#[derive(Deserialize)]
struct RawTask {
    name: Option<String>,
    #[serde(default)]
    description: String,
    kind: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
    interval: Option<Value>,
    timeout: Option<Value>,
    #[serde(default)]
    tags: Vec<String>,
    script: Option<String>,
    risk: Option<String>,
    rollback: Option<String>,
    #[serde(default)]
    params: Vec<String>,
    sql: Option<Value>,
    http: Option<Value>,
    promql: Option<Value>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

/// Loads and validates `dir/bundle.yaml`.
pub fn load_bundle(dir: &Path) -> Result<Bundle, Vec<Problem>> {
    let file = dir.join("bundle.yaml");
    let text = read(&file).map_err(|e| {
        vec![Problem {
            file: file.clone(),
            line: None,
            field: String::new(),
            message: e.to_string(),
        }]
    })?;
    let value = parse_yaml(&file, &text).map_err(|p| vec![p])?;
    let mut ctx = Ctx {
        file: &file,
        text: &text,
        problems: Vec::new(),
    };
    let Some(raw) = ctx.typed::<RawBundle>("", &value) else {
        return Err(ctx.problems);
    };
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
        if let Some(t) = task(&mut ctx, dir, i, v, &params, &secrets) {
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

fn duration_field(
    ctx: &mut Ctx<'_>,
    field: String,
    v: &Option<Value>,
) -> Option<std::time::Duration> {
    let v = v.as_ref()?;
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            ctx.problem(field, "expected a duration such as 30s, 5m or 1h");
            return None;
        }
    };
    match parse_duration(&text) {
        Ok(d) if d.is_zero() => {
            ctx.problem(field, "must be more than zero");
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            ctx.problem(field, e);
            None
        }
    }
}

fn task(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    i: usize,
    v: &Value,
    params: &[ParamDecl],
    secrets: &[SecretDecl],
) -> Option<Task> {
    let at = |f: &str| format!("tasks[{i}].{f}");
    let raw = ctx.typed::<RawTask>(&format!("tasks[{i}]"), v)?;
    for key in raw.unknown.keys() {
        ctx.problem(
            at(key),
            "unknown field (see docs/bundles.md for the task fields)",
        );
    }
    let name = match &raw.name {
        Some(n) if is_slug(n) => n.clone(),
        Some(n) => {
            ctx.problem(
                at("name"),
                format!("task name {n:?} must be lowercase letters, digits and dashes"),
            );
            n.clone()
        }
        None => {
            ctx.problem(format!("tasks[{i}]"), "missing field `name`");
            String::new()
        }
    };
    let kind = match raw.kind.as_deref() {
        None => {
            ctx.problem(
                format!("tasks[{i}]"),
                "missing field `kind` (health, diagnostic or remediation)",
            );
            None
        }
        Some(k) => k
            .parse::<TaskKind>()
            .map_err(|_| {
                ctx.problem(
                    at("kind"),
                    format!("unknown task kind {k:?} (expected health, diagnostic or remediation)"),
                )
            })
            .ok(),
    };
    let ty = match raw.ty.as_deref() {
        None => {
            ctx.problem(
                format!("tasks[{i}]"),
                "missing field `type` (bash, python, sql, http or promql)",
            );
            None
        }
        Some(t) => t
            .parse::<TaskType>()
            .map_err(|_| {
                ctx.problem(
                    at("type"),
                    format!("unknown task type {t:?} (expected bash, python, sql, http or promql)"),
                )
            })
            .ok(),
    };
    let timeout = duration_field(ctx, at("timeout"), &raw.timeout).unwrap_or(DEFAULT_TIMEOUT);
    if timeout > MAX_TIMEOUT {
        ctx.problem(at("timeout"), "must be at most 1h");
    }
    let interval = duration_field(ctx, at("interval"), &raw.interval);
    if interval.is_some() && kind.is_some_and(|k| k != TaskKind::Health) {
        ctx.problem(
            at("interval"),
            "only health tasks are scheduled; remove `interval` or make the task `kind: health`",
        );
    }
    let interval = match kind {
        Some(TaskKind::Health) => Some(interval.unwrap_or(DEFAULT_INTERVAL)),
        _ => None,
    };

    let risk = match (&raw.risk, kind) {
        (Some(r), Some(TaskKind::Remediation)) => r
            .parse::<Risk>()
            .map_err(|e| ctx.problem(at("risk"), e))
            .ok(),
        (None, Some(TaskKind::Remediation)) => {
            ctx.problem(
                format!("tasks[{i}]"),
                "remediation tasks must declare `risk` (low, medium, high or critical)",
            );
            None
        }
        (Some(_), _) => {
            ctx.problem(at("risk"), "only remediation tasks declare a risk");
            None
        }
        (None, _) => None,
    };
    match (&raw.rollback, kind) {
        (None, Some(TaskKind::Remediation)) => {
            ctx.problem(format!("tasks[{i}]"), "remediation tasks must declare `rollback` (how to undo it, or why nothing needs undoing)")
        }
        (Some(_), Some(k)) if k != TaskKind::Remediation => ctx.problem(at("rollback"), "only remediation tasks declare a rollback"),
        _ => {}
    }
    for p in &raw.params {
        if !is_env_name(p) {
            ctx.problem(
                at("params"),
                format!("param {p:?} must be UPPER_SNAKE_CASE"),
            );
        }
    }

    let known: HashSet<String> = params
        .iter()
        .map(|p| p.name.clone())
        .chain(secrets.iter().map(|s| s.name.clone()))
        .chain(raw.params.iter().cloned())
        .chain(BUILTIN_VARS.iter().map(|s| s.to_string()))
        .collect();

    let blocks = [
        ("sql", raw.sql.is_some()),
        ("http", raw.http.is_some()),
        ("promql", raw.promql.is_some()),
    ];
    let wanted = ty.map(|t| t.as_str()).unwrap_or("");
    for (block, present) in blocks {
        if present && block != wanted {
            ctx.problem(
                at(block),
                format!("a {wanted} task takes no `{block}` block"),
            );
        }
    }
    if raw.script.is_some() && !matches!(ty, Some(TaskType::Bash | TaskType::Python) | None) {
        ctx.problem(
            at("script"),
            format!("a {wanted} task takes no `script`; its definition is the `{wanted}` block"),
        );
    }

    let spec = match ty? {
        TaskType::Bash | TaskType::Python => {
            let interpreter = if ty == Some(TaskType::Bash) {
                Interpreter::Bash
            } else {
                Interpreter::Python
            };
            match &raw.script {
                None => {
                    ctx.problem(
                        format!("tasks[{i}]"),
                        format!("missing field `script` (the {wanted} file next to bundle.yaml)"),
                    );
                    None
                }
                Some(s) => {
                    let rel = Path::new(s);
                    if rel.is_absolute()
                        || rel.components().any(|c| matches!(c, Component::ParentDir))
                    {
                        ctx.problem(
                            at("script"),
                            format!("script {s:?} must be a path inside the bundle folder"),
                        );
                        None
                    } else if !dir.join(rel).is_file() {
                        ctx.problem(
                            at("script"),
                            format!("script {s:?} not found in {}", dir.display()),
                        );
                        None
                    } else {
                        Some(TaskSpec::Script {
                            interpreter,
                            path: dir.join(rel),
                        })
                    }
                }
            }
        }
        TaskType::Sql => block::<SqlSpec>(ctx, &at("sql"), &raw.sql).map(|s| {
            check_refs(
                ctx,
                &at("sql"),
                &[&s.dsn, s.password.as_deref().unwrap_or(""), &s.query],
                &known,
            );
            check_rules(ctx, &at("sql"), s.rules(), &known);
            TaskSpec::Sql(s)
        }),
        TaskType::Http => block::<HttpSpec>(ctx, &at("http"), &raw.http).map(|h| {
            let mut texts: Vec<&str> = vec![
                &h.url,
                h.body.as_deref().unwrap_or(""),
                h.expect.max_latency.as_deref().unwrap_or(""),
                h.expect.body_contains.as_deref().unwrap_or(""),
            ];
            texts.extend(h.headers.values().map(|s| s.as_str()));
            check_refs(ctx, &at("http"), &texts, &known);
            if sitrep_core::Severity::new(h.severity).is_err() {
                ctx.problem(
                    at("http.severity"),
                    "severity must be 1 (critical) to 4 (info)",
                );
            }
            if let Some(l) = h.expect.max_latency.as_ref().filter(|l| !l.contains("${")) {
                if let Err(e) = parse_duration(l) {
                    ctx.problem(at("http.expect.max_latency"), e);
                }
            }
            TaskSpec::Http(h)
        }),
        TaskType::Promql => block::<PromqlSpec>(ctx, &at("promql"), &raw.promql).map(|p| {
            let durations = [
                p.range.as_deref().unwrap_or(""),
                p.step.as_deref().unwrap_or(""),
            ];
            check_refs(
                ctx,
                &at("promql"),
                &[&p.url, &p.query, durations[0], durations[1]],
                &known,
            );
            for (f, v) in [("range", &p.range), ("step", &p.step)] {
                // `${WINDOW}` is filled and checked at run time
                if let Some(Err(e)) = v
                    .as_ref()
                    .filter(|v| !v.contains("${"))
                    .map(|v| parse_duration(v))
                {
                    ctx.problem(at(&format!("promql.{f}")), e);
                }
            }
            check_rules(ctx, &at("promql"), p.rules(), &known);
            TaskSpec::Promql(p)
        }),
    };
    let tags = raw.tags;
    Some(Task {
        name,
        description: raw.description,
        kind: kind?,
        ty: ty?,
        interval,
        timeout,
        tags,
        risk,
        rollback: raw.rollback,
        params: raw.params,
        spec: spec?,
    })
}

fn block<T: DeserializeOwned>(ctx: &mut Ctx<'_>, field: &str, v: &Option<Value>) -> Option<T> {
    match v {
        None => {
            let ty = field.rsplit('.').next().unwrap_or(field);
            let task_field = &field[..field.len() - ty.len() - 1];
            ctx.problem(
                task_field.to_string(),
                format!("missing field `{ty}` (the {ty} task's definition)"),
            );
            None
        }
        Some(v) => ctx.typed::<T>(field, v),
    }
}

fn check_refs(ctx: &mut Ctx<'_>, field: &str, texts: &[&str], known: &HashSet<String>) {
    for t in texts {
        for r in template::references(t) {
            if !known.contains(&r) {
                ctx.problem(
                    field.to_string(),
                    format!("${{{r}}} is not a declared param or secret of this bundle or task"),
                );
            }
        }
    }
}

fn check_rules(ctx: &mut Ctx<'_>, field: &str, rules: RowRules<'_>, known: &HashSet<String>) {
    for (j, r) in rules.inconclusive.iter().enumerate() {
        let f = format!("{field}.inconclusive[{j}]");
        if r.when.is_some() == r.no_rows {
            ctx.problem(
                f.clone(),
                "give exactly one of `when` (a row expression) and `no_rows: true`",
            );
        }
        if r.reason.trim().is_empty() {
            ctx.problem(
                format!("{f}.reason"),
                "reason is empty: say what could not be measured and why",
            );
        }
        check_when(ctx, &f, r.when.as_deref(), known);
        check_refs(ctx, &f, &[&r.reason], known);
    }
    for (j, r) in rules.raise.iter().enumerate() {
        let f = format!("{field}.raise[{j}]");
        if sitrep_core::Severity::new(r.severity).is_err() {
            ctx.problem(
                format!("{f}.severity"),
                "severity must be 1 (critical) to 4 (info)",
            );
        }
        if r.title.trim().is_empty() {
            ctx.problem(format!("{f}.title"), "title is empty");
        }
        check_when(ctx, &f, r.when.as_deref(), known);
        check_refs(
            ctx,
            &f,
            &[
                &r.title,
                &r.expected,
                &r.actual,
                &r.details,
                &r.next_steps,
                r.last_event_at.as_deref().unwrap_or(""),
            ],
            known,
        );
    }
    for (j, r) in rules.insights.iter().enumerate() {
        check_when(
            ctx,
            &format!("{field}.insights[{j}]"),
            r.when.as_deref(),
            known,
        );
    }
}

fn check_when(ctx: &mut Ctx<'_>, field: &str, when: Option<&str>, known: &HashSet<String>) {
    let Some(when) = when else { return };
    // `${PARAM}` thresholds are filled at run time; any number stands in for them here.
    let filled = template::substitute(when, |n| known.contains(n).then(|| "0".to_string()));
    match filled {
        Err(e) => ctx.problem(format!("{field}.when"), e),
        Ok(f) => {
            if let Err(e) = expr::parse(&f) {
                ctx.problem(
                    format!("{field}.when"),
                    format!("invalid expression {when:?}: {e}"),
                );
            }
        }
    }
}
