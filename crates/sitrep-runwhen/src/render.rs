//! Rendering a RunWhen bundle's `.runwhen/templates/*.yaml` (Jinja) for one resource with
//! minijinja, and reading an SLX's config and secrets from the rendered SLI and runbook
//! (`spec.configProvided`, `spec.secretsProvided`). Pure: template texts come in.

use crate::apply::{ApplyContext, object_name};
use crate::generation::{OutputKind, SlxRule};
use crate::model::RunwhenBundle;
use minijinja::{Environment, UndefinedBehavior, Value, context};
use sitrep_core::map::Resource;
use std::collections::{BTreeMap, BTreeSet};
use yaml_serde::Value as Yaml;

/// The variables sitrep gives templates (RunWhen's names).
pub const PROVIDED: &[&str] = &[
    "slx_name",
    "slx_base_name",
    "base_name",
    "match_resource",
    "namespace",
    "cluster",
    "context",
    "workspace",
    "custom",
    "default_lod",
    "default_location",
    "repo_url",
    "ref",
    "wb_version",
];

/// minijinja's own globals: not variables a template expects from sitrep.
const GLOBALS: &[&str] = &["range", "dict", "debug", "cycler", "joiner", "lipsum"];

/// Templates RunWhen's workspace builder ships and bundles include without `ignore missing`:
/// labels and annotations of RunWhen's own objects, which sitrep does not generate.
const BUILTIN: &[&str] = &["common-labels.yaml", "common-annotations.yaml"];

/// What one resource's SLX takes from its rendered templates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// The SLX template's `spec.alias` (its description).
    pub alias: Option<String>,
    /// Bundle param → value, from the SLI's then the runbook's `configProvided`.
    pub config: BTreeMap<String, String>,
    /// Bundle secret → `secret:NAME` of a workspace secret.
    pub secrets: BTreeMap<String, String>,
}

/// What a template is rendered for.
pub struct Facts<'a> {
    pub slx_name: &'a str,
    pub base_name: &'a str,
    pub resource: &'a Resource,
    pub ctx: &'a ApplyContext,
}

/// A bundle's templates, parsed once.
pub struct Templates {
    env: Environment<'static>,
    dir: String,
    /// Templates that did not parse (already warned about).
    broken: BTreeSet<String>,
}

impl Templates {
    pub fn new(
        bundle: &str,
        texts: &BTreeMap<String, String>,
        warnings: &mut BTreeSet<String>,
    ) -> Templates {
        let dir = format!("{bundle}/.runwhen/templates");
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        // RunWhen renders with Jinja2 in Python: templates call str and dict methods
        // (`slx_name.split('--')`, `prefix.rstrip('/')`, `d.items()`) that minijinja lacks.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        for b in BUILTIN {
            let _ = env.add_template_owned(b.to_string(), String::new());
        }
        let mut broken = BTreeSet::new();
        for (name, text) in texts {
            if let Err(e) = env.add_template_owned(name.clone(), text.clone()) {
                warnings.insert(format!("{dir}/{name}: the template does not parse: {e}"));
                broken.insert(name.clone());
                continue;
            }
            let Ok(t) = env.get_template(name) else {
                continue;
            };
            let mut unknown: Vec<String> = t
                .undeclared_variables(false)
                .into_iter()
                .filter(|v| !PROVIDED.contains(&v.as_str()) && !GLOBALS.contains(&v.as_str()))
                .collect();
            unknown.sort();
            for v in unknown {
                warnings.insert(format!(
                    "{dir}/{name}: variable {v:?} is not one sitrep provides ({}): it renders empty",
                    PROVIDED.join(", ")
                ));
            }
        }
        Templates { env, dir, broken }
    }

    /// Renders the SLX, SLI and runbook templates of `s` for one resource. `None` (with a
    /// warning) when the SLI or runbook template is missing or does not render to YAML.
    pub fn render_slx(
        &self,
        bundle: &RunwhenBundle,
        s: &SlxRule,
        facts: &Facts,
        warnings: &mut BTreeSet<String>,
    ) -> Option<Rendered> {
        let vars = variables(facts);
        let mut out = Rendered::default();
        for item in &s.output_items {
            let file = item.template(s);
            let needed = matches!(item.kind, OutputKind::Sli | OutputKind::Runbook);
            if !matches!(item.kind, OutputKind::Slx) && !needed {
                continue; // SLOs and workflows: sitrep has no such objects
            }
            if self.broken.contains(&file) {
                if needed {
                    return None;
                }
                continue;
            }
            let Ok(t) = self.env.get_template(&file) else {
                warnings.insert(format!(
                    "{}/{file}: missing (named by the generation rule of {})",
                    self.dir, s.base_name
                ));
                if needed {
                    return None;
                }
                continue;
            };
            let doc = match t.render(&vars) {
                Ok(text) => yaml_serde::from_str::<Yaml>(&text).map_err(|e| {
                    format!("does not render to YAML for {}: {e}", facts.resource.name)
                }),
                Err(e) => Err(format!("does not render for {}: {e}", facts.resource.name)),
            };
            let doc = match doc {
                Ok(d) => d,
                Err(message) => {
                    warnings.insert(format!("{}/{file}: {message}", self.dir));
                    if needed {
                        return None;
                    }
                    continue;
                }
            };
            let spec = doc.get("spec");
            if item.kind == OutputKind::Slx {
                out.alias = spec
                    .and_then(|s| s.get("alias"))
                    .and_then(scalar)
                    .filter(|a| !a.trim().is_empty());
                continue;
            }
            let at = format!("{}/{file}", self.dir);
            read_config(bundle, spec, &at, &mut out, warnings);
            read_secrets(bundle, spec, facts.ctx, &at, &mut out, warnings);
        }
        Some(out)
    }
}

/// `configProvided` into the config: the first value of a param wins (the SLI's, as the SLI is
/// what the SLX schedules); an empty value leaves the param at its default.
fn read_config(
    bundle: &RunwhenBundle,
    spec: Option<&Yaml>,
    at: &str,
    out: &mut Rendered,
    warnings: &mut BTreeSet<String>,
) {
    for item in list(spec, "configProvided") {
        let Some(name) = item.get("name").and_then(scalar) else {
            continue;
        };
        let Some(value) = item.get("value").and_then(scalar).filter(|v| !v.is_empty()) else {
            continue;
        };
        if bundle.param(&name).is_none() {
            warnings.insert(format!(
                "{at}: configProvided {name} is not a parameter the bundle's robot files import: left out"
            ));
            continue;
        }
        out.config.entry(name).or_insert(value);
    }
}

/// `secretsProvided` (`name`, `workspaceKey`) into the secrets, when the workspace holds that
/// secret.
fn read_secrets(
    bundle: &RunwhenBundle,
    spec: Option<&Yaml>,
    ctx: &ApplyContext,
    at: &str,
    out: &mut Rendered,
    warnings: &mut BTreeSet<String>,
) {
    for item in list(spec, "secretsProvided") {
        let Some(name) = item.get("name").and_then(scalar) else {
            continue;
        };
        if bundle.secret(&name).is_none() {
            continue;
        }
        match item
            .get("workspaceKey")
            .and_then(scalar)
            .filter(|k| !k.is_empty())
        {
            Some(key) if ctx.secret_names.contains(&key) => {
                out.secrets.entry(name).or_insert(format!("secret:{key}"));
            }
            Some(key) => {
                warnings.insert(format!(
                    "{at}: secret {name}: the workspace has no secret {key:?} (add it under `secrets:`): left out"
                ));
            }
            None => {
                warnings.insert(format!(
                    "{at}: secret {name} renders no workspaceKey (set discovery.vars.kubeconfig_secret_name \
                     or the custom variable the template reads to a workspace secret's name): left out"
                ));
            }
        }
    }
}

fn list<'a>(spec: Option<&'a Yaml>, key: &str) -> impl Iterator<Item = &'a Yaml> {
    spec.and_then(|s| s.get(key))
        .and_then(Yaml::as_sequence)
        .into_iter()
        .flatten()
}

fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The template variables for one resource, shaped as RunWhen's workspace builder gives them
/// (`match_resource.resource` is the Kubernetes object as far as the Map keeps it).
pub fn variables(f: &Facts) -> Value {
    let r = f.resource;
    let name = object_name(r);
    let ns = r.prop_str("namespace");
    let cluster = r.prop_str("context");
    let kind = r.kind.strip_prefix("k8s-").unwrap_or(&r.kind);
    let mut spec = serde_json::Map::new();
    for (from, to) in [
        ("type", "type"),
        ("replicas", "replicas"),
        ("rules", "rules"),
    ] {
        if let Some(v) = r.properties.get(from) {
            spec.insert(to.into(), v.clone());
        }
    }
    if let Some(hosts) = r.properties.get("tls_hosts") {
        spec.insert("tls".into(), serde_json::json!([{ "hosts": hosts }]));
    }
    let object = serde_json::json!({
        "kind": kind,
        "metadata": {"name": name, "namespace": ns, "labels": r.labels},
        "spec": spec,
    });
    let lod = match f.ctx.level_of_detail {
        sitrep_bundles::rules::LevelOfDetail::None => "none",
        sitrep_bundles::rules::LevelOfDetail::Basic => "basic",
        sitrep_bundles::rules::LevelOfDetail::Detailed => "detailed",
    };
    // `ref` is a Rust keyword, so not a `context!` key.
    let top = Value::from(minijinja::value::Serde(
        serde_json::json!({"ref": null, "wb_version": null}),
    ));
    let base = context! {
        slx_name => f.slx_name,
        slx_base_name => f.base_name,
        base_name => f.base_name,
        match_resource => context! {
            resource => Value::from(minijinja::value::Serde(&object)),
            name => name,
            kind => kind,
            qualified_name => r.name.as_str(),
        },
        namespace => context! { name => ns },
        cluster => context! { name => cluster, context => cluster },
        context => cluster,
        workspace => context! { name => f.ctx.workspace.as_str() },
        custom => Value::from(minijinja::value::Serde(&f.ctx.custom)),
        default_lod => lod,
        default_location => (),
        repo_url => (),
    };
    context! { ..top, ..base }
}
