//! Preparing a run: its variables (checked against what the bundle declares), its private
//! directory and secret files; and redacting what it produced.

use crate::error::RunError;
use crate::runner::RunRequest;
use sitrep_bundles::ResolvedTask;
use sitrep_core::redact::{MIN_SECRET_LEN, Redactor};
use sitrep_store::RunResults;
use std::collections::BTreeMap;
use std::path::Path;

/// Config values (declared defaults overridden by the request), secrets and built-ins.
pub fn variables(
    t: &ResolvedTask<'_>,
    req: &RunRequest,
) -> Result<BTreeMap<String, String>, RunError> {
    let task = req.task.to_string();
    let mut vars = BTreeMap::new();
    for p in &t.bundle.params {
        if let Some(d) = &p.default {
            vars.insert(p.name.clone(), d.clone());
        }
    }
    let declared = |n: &str| t.bundle.param(n).is_some() || t.task.params.iter().any(|p| p == n);
    for (k, v) in &req.config {
        if !declared(k) {
            let mut names: Vec<&str> = t
                .bundle
                .params
                .iter()
                .map(|p| p.name.as_str())
                .chain(t.task.params.iter().map(|s| s.as_str()))
                .collect();
            names.sort();
            return Err(RunError::UnknownName {
                task,
                name: k.clone(),
                declared: if names.is_empty() {
                    "nothing".into()
                } else {
                    names.join(", ")
                },
            });
        }
        vars.insert(k.clone(), v.clone());
    }
    for p in &t.bundle.params {
        if p.required && !vars.contains_key(&p.name) {
            return Err(RunError::MissingParam {
                task,
                name: p.name.clone(),
            });
        }
    }
    for p in &t.task.params {
        if !vars.contains_key(p) {
            return Err(RunError::MissingParam {
                task,
                name: p.clone(),
            });
        }
    }
    for s in &t.bundle.secrets {
        match req.secrets.get(&s.name) {
            Some(v) if v.len() < MIN_SECRET_LEN => {
                return Err(RunError::SecretTooShort(s.name.clone()));
            }
            Some(_) => {}
            None if s.required => {
                return Err(RunError::MissingSecret {
                    task,
                    name: s.name.clone(),
                });
            }
            None => {}
        }
    }
    for k in req.secrets.keys() {
        if t.bundle.secret(k).is_none() {
            let names: Vec<&str> = t.bundle.secrets.iter().map(|s| s.name.as_str()).collect();
            return Err(RunError::UnknownName {
                task,
                name: k.clone(),
                declared: if names.is_empty() {
                    "no secrets".into()
                } else {
                    names.join(", ")
                },
            });
        }
    }
    vars.insert("SITREP_RESOURCE".into(), req.resource.clone());
    vars.insert("SITREP_TASK".into(), req.task.to_string());
    vars.insert(
        "SITREP_BUNDLE".into(),
        format!("{}/{}", req.task.collection, req.task.bundle),
    );
    Ok(vars)
}

pub fn redact_results(r: &mut RunResults, redactor: &Redactor) {
    if redactor.is_empty() {
        return;
    }
    for d in &mut r.issues {
        for f in [
            &mut d.title,
            &mut d.expected,
            &mut d.actual,
            &mut d.details,
            &mut d.next_steps,
            &mut d.reproduce_hint,
        ] {
            redactor.redact_in_place(f);
        }
        if let Some(res) = &mut d.resource {
            redactor.redact_in_place(res);
        }
        for v in d.data.values_mut() {
            redactor.redact_json(v);
        }
    }
    for (text, data) in &mut r.insights {
        redactor.redact_in_place(text);
        redactor.redact_json(data);
    }
    for (name, _, labels) in &mut r.metrics {
        redactor.redact_in_place(name);
        for v in labels.values_mut() {
            redactor.redact_in_place(v);
        }
    }
}

/// The task's environment: its variables, its secrets (as values, or as the paths of the files
/// `files` holds them in), sitrep's built-ins and the few variables of sitrep's own environment
/// a task may see.
pub fn script_env(
    req: &RunRequest,
    vars: &BTreeMap<String, String>,
    dir: &Path,
    files: &[(String, std::path::PathBuf)],
    bundle_dir: &Path,
    state_dir: &Path,
    path: &str,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (name, value) in &req.secrets {
        match files.iter().find(|(n, _)| n == name) {
            Some((_, file)) => env.push((name.clone(), file.display().to_string())),
            None => env.push((name.clone(), value.clone())),
        }
    }
    let dir_text = dir.display().to_string();
    env.push((
        "SITREP_RESULTS".into(),
        dir.join("results.jsonl").display().to_string(),
    ));
    env.push(("SITREP_BUNDLE_DIR".into(), bundle_dir.display().to_string()));
    env.push(("SITREP_RUN_DIR".into(), dir_text.clone()));
    env.push(("SITREP_STATE_DIR".into(), state_dir.display().to_string()));
    env.push(("PATH".into(), path.to_string()));
    env.push((
        "HOME".into(),
        std::env::var("HOME").unwrap_or_else(|_| dir_text.clone()),
    ));
    env.push(("TMPDIR".into(), dir_text));
    env.push(("LANG".into(), "C.UTF-8".into()));
    env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
    for pass in ["USER", "LOGNAME", "KUBECONFIG", "TZ"] {
        if let Ok(v) = std::env::var(pass)
            && !env.iter().any(|(k, _)| k == pass)
        {
            env.push((pass.into(), v));
        }
    }
    env
}
