//! One task of a bundle: its kind, type, timing and definition (a script inside the bundle,
//! or an sql/http/promql block), checked against the names the bundle declares.

use crate::load::{BUILTIN_VARS, Ctx, is_env_name, is_slug};
use crate::model::*;
use serde::de::DeserializeOwned;
use sitrep_core::{Risk, TaskKind, TaskType, expr, template, time::parse_duration};
use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use yaml_serde::Value;

const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(serde::Deserialize)]
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

pub fn task(
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
        TaskType::Robot => {
            ctx.problem(
                at("type"),
                "unknown task type \"robot\" (expected bash, python, sql, http or promql): robot tasks come from RunWhen codebundles (runbook.robot, sli.robot), not bundle.yaml",
            );
            None
        }
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
                Some(s) => script_path(ctx, dir, &at("script"), s)
                    .map(|path| TaskSpec::Script { interpreter, path }),
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
            if let Some(l) = h.expect.max_latency.as_ref().filter(|l| !l.contains("${"))
                && let Err(e) = parse_duration(l)
            {
                ctx.problem(at("http.expect.max_latency"), e);
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

/// The script's file if it is inside the bundle folder once symlinks are resolved (the
/// folder's too): a symlink to a file outside the bundle is refused like a path outside it.
fn script_path(ctx: &mut Ctx<'_>, dir: &Path, field: &str, s: &str) -> Option<PathBuf> {
    let rel = Path::new(s);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir)) {
        ctx.problem(
            field,
            format!("script {s:?} must be a path inside the bundle folder"),
        );
        return None;
    }
    // A plain file right in the bundle folder (the usual case) needs no resolving.
    let direct = dir.join(rel);
    if rel.components().count() == 1
        && std::fs::symlink_metadata(&direct).is_ok_and(|m| m.file_type().is_file())
    {
        return Some(direct);
    }
    let (Ok(root), Ok(file)) = (dir.canonicalize(), direct.canonicalize()) else {
        ctx.problem(
            field,
            format!("script {s:?} not found in {}", dir.display()),
        );
        return None;
    };
    if !file.starts_with(&root) {
        ctx.problem(
            field,
            format!(
                "script {s:?} resolves to {}, outside the bundle folder (a symlink?); copy the file into the bundle",
                file.display()
            ),
        );
        None
    } else if !file.is_file() {
        ctx.problem(field, format!("script {s:?} is not a file"));
        None
    } else {
        Some(file)
    }
}
