//! RunWhen generation rules applied to sitrep's Map (pure: rules, templates and resources in,
//! SLXs and warnings out). Kubernetes resources only: a rule's `resourceTypes` (`namespace`,
//! `deployment`, ...) are the Kubernetes indexer's `k8s-*` kinds, and its match rules read the
//! properties that indexer keeps. A match rule over a property the Map does not keep
//! (annotations, an ingress's rules) makes the rule skip that resource, with a warning: sitrep
//! never generates an SLX from a guess. See `docs/runwhen.md`, "Generation rules".

use crate::generation::{LevelOfDetail as RwLevel, MatchMode, MatchRule, SlxRule};
use crate::model::RunwhenBundle;
use crate::render::{self, Facts, Templates};
use sitrep_bundles::rules::{LevelOfDetail, slx_name};
use sitrep_core::map::Resource;
use sitrep_core::slx_plan::{SlxFields, SlxOrigin};
use sitrep_core::{Slx, SlxTask};
use std::collections::{BTreeMap, BTreeSet};

/// What a workspace feeds RunWhen generation with.
#[derive(Debug, Clone, Default)]
pub struct ApplyContext {
    /// The collection's name in `sitrep.yaml` (SLXs name their bundle `COLLECTION/BUNDLE`).
    pub collection: String,
    pub workspace: String,
    pub level_of_detail: LevelOfDetail,
    /// Workspace secret names that exist (values never come here).
    pub secret_names: Vec<String>,
    /// `discovery.vars`: RunWhen's workspace `custom` variables (`custom.kubeconfig_secret_name`).
    pub custom: BTreeMap<String, String>,
}

/// The SLXs of one bundle, and what sitrep could not do (deduplicated, sorted).
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub slxs: Vec<Slx>,
    pub warnings: Vec<String>,
}

/// The Map kind a RunWhen resource type names, for the types the Kubernetes indexer stores.
pub fn map_kind(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type.to_ascii_lowercase().as_str() {
        "namespace" | "namespaces" => "k8s-namespace",
        "deployment" | "deployments" => "k8s-deployment",
        "statefulset" | "statefulsets" => "k8s-statefulset",
        "daemonset" | "daemonsets" => "k8s-daemonset",
        "replicaset" | "replicasets" => "k8s-replicaset",
        "pod" | "pods" => "k8s-pod",
        "service" | "services" => "k8s-service",
        "ingress" | "ingresses" => "k8s-ingress",
        "node" | "nodes" => "k8s-node",
        "persistentvolumeclaim" | "persistentvolumeclaims" | "pvc" => "k8s-persistentvolumeclaim",
        "configmap" | "configmaps" => "k8s-configmap",
        _ => return None,
    })
}

/// The values at a RunWhen property path (`name`, `labels`, `metadata/labels/app`,
/// `spec/type`), or `Err(path)` when the Map does not keep that property.
pub fn values_at(r: &Resource, path: &str) -> Result<Vec<String>, String> {
    let prop = |k: &str| -> Vec<String> {
        match r.properties.get(k) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect(),
            Some(serde_json::Value::Null) | None => vec![],
            Some(v) => vec![v.to_string()],
        }
    };
    let p = path.trim_matches('/');
    let p = p.strip_prefix("metadata/").unwrap_or(p);
    Ok(match p {
        "name" => vec![object_name(r).to_string()],
        "namespace" => prop("namespace"),
        "cluster" | "context" => prop("context"),
        "labels" => r
            .labels
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()])
            .collect(),
        "spec/type" => prop("type"),
        "spec/replicas" => prop("replicas"),
        // an ingress's (the Kubernetes indexer keeps its routes)
        "spec/tls/hosts" => prop("tls_hosts"),
        "spec/rules/host" => match r.properties.get("rules") {
            Some(serde_json::Value::Array(rules)) => rules
                .iter()
                .filter_map(|rule| rule["host"].as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        },
        _ => match p.strip_prefix("labels/") {
            Some(l) => r.labels.get(l).cloned().into_iter().collect(),
            None => return Err(path.to_string()),
        },
    })
}

/// The object's own name (`checkout`; the Map's name is `shop/checkout`).
pub fn object_name(r: &Resource) -> &str {
    r.prop_str("object_name").unwrap_or(&r.name)
}

/// Whether `m` matches `r`; `Err(path)` names a property the Map does not keep.
pub fn matches(
    m: &MatchRule,
    r: &Resource,
    custom: &BTreeMap<String, String>,
) -> Result<bool, String> {
    Ok(match m {
        MatchRule::Pattern {
            pattern,
            properties,
            mode,
            resource_type,
        } => {
            let re = regex::Regex::new(pattern)
                .map_err(|e| format!("pattern {pattern:?} (not a regular expression: {e})"))?;
            let mut values = vec![];
            for p in properties {
                match resource_type.as_deref() {
                    None => values.extend(values_at(r, p)?),
                    // RunWhen's workspace variables: `custom/NAME`.
                    Some("variables") => {
                        let name = p.trim_start_matches("custom/");
                        values.extend(custom.get(name).cloned());
                    }
                    Some(other) => return Err(format!("{p} of resource type {other}")),
                }
            }
            values.iter().any(|v| match mode {
                MatchMode::Substring => re.is_match(v),
                MatchMode::Exact => re
                    .find(v)
                    .is_some_and(|f| f.start() == 0 && f.end() == v.len()),
            })
        }
        MatchRule::Exists { path } => values_at(r, path)?.iter().any(|v| !v.is_empty()),
        MatchRule::And { matches: ms } => {
            let mut all = true;
            for m in ms {
                all &= matches(m, r, custom)?;
            }
            all
        }
        MatchRule::Or { matches: ms } => {
            let mut any = false;
            for m in ms {
                any |= matches(m, r, custom)?;
            }
            any
        }
        MatchRule::Not { predicate } => !matches(predicate, r, custom)?,
    })
}

/// A qualifier's value: `resource` (the object's name), `namespace`, `cluster` (the context),
/// or a property path.
fn qualifier(r: &Resource, q: &str) -> Option<String> {
    match q {
        "resource" => Some(object_name(r).to_string()),
        other => values_at(r, other).ok()?.into_iter().next(),
    }
}

/// The SLX name: the qualifiers' values, then the base name (`shop-stub-ns-health`).
pub fn name_of(r: &Resource, slx: &SlxRule) -> String {
    let mut parts: Vec<String> = slx
        .qualifiers
        .iter()
        .filter_map(|q| qualifier(r, q))
        .collect();
    parts.push(slx.base_name.clone());
    slx_name(&parts)
}

fn level(l: RwLevel) -> LevelOfDetail {
    match l {
        RwLevel::None => LevelOfDetail::None,
        RwLevel::Basic => LevelOfDetail::Basic,
        RwLevel::Detailed => LevelOfDetail::Detailed,
    }
}

/// The SLXs `bundle`'s generation rules make for `resources`, their config and secrets read
/// from the bundle's rendered SLI and runbook templates (`templates`: file name → text).
pub fn generate(
    bundle: &RunwhenBundle,
    templates: &BTreeMap<String, String>,
    resources: &[Resource],
    ctx: &ApplyContext,
) -> Generated {
    let mut warnings = BTreeSet::new();
    let rules_dir = format!("{}/.runwhen/generation-rules", bundle.name);
    let env = Templates::new(&bundle.name, templates, &mut warnings);
    let mut slxs: Vec<Slx> = vec![];
    for file in &bundle.generation_rules {
        for (i, rule) in file.rules.iter().enumerate() {
            let at = format!("{rules_dir}/{}: generationRules[{i}]", file.file);
            let mut kinds = vec![];
            for t in &rule.resource_types {
                match map_kind(t) {
                    Some(k) => kinds.push(k),
                    None => {
                        warnings.insert(format!(
                            "{at}: resource type {t:?} is not on sitrep's Map (Kubernetes \
                             namespace, deployment, statefulset, daemonset, replicaset, pod, \
                             service, ingress, node, persistentvolumeclaim, configmap): skipped"
                        ));
                    }
                }
            }
            for r in resources
                .iter()
                .filter(|r| kinds.contains(&r.kind.as_str()))
            {
                let mut ok = true;
                for m in &rule.match_rules {
                    match matches(m, r, &ctx.custom) {
                        Ok(true) => {}
                        Ok(false) => ok = false,
                        Err(path) => {
                            warnings.insert(format!(
                                "{at}: matchRules read {path}, which sitrep's Map does not \
                                 keep: the rule is not applied"
                            ));
                            ok = false;
                        }
                    }
                    if !ok {
                        break;
                    }
                }
                if !ok {
                    continue;
                }
                let lod = sitrep_bundles::rules::resource_level(r, ctx.level_of_detail);
                for s in &rule.slxs {
                    if level(s.level_of_detail) > lod || s.level_of_detail == RwLevel::None {
                        continue;
                    }
                    let name = name_of(r, s);
                    if slxs.iter().any(|x| x.name == name) {
                        continue;
                    }
                    let facts = Facts {
                        slx_name: &name,
                        base_name: &s.base_name,
                        resource: r,
                        ctx,
                    };
                    match env.render_slx(bundle, s, &facts, &mut warnings) {
                        Some(out) => slxs.push(slx(bundle, s, r, ctx, name, out)),
                        None => continue,
                    }
                }
            }
        }
    }
    Generated {
        slxs,
        warnings: warnings.into_iter().collect(),
    }
}

fn slx(
    bundle: &RunwhenBundle,
    s: &SlxRule,
    r: &Resource,
    ctx: &ApplyContext,
    name: String,
    out: render::Rendered,
) -> Slx {
    let mut slx = Slx {
        workspace: ctx.workspace.clone(),
        name,
        resource: r.name.clone(),
        bundle: format!("{}/{}", ctx.collection, bundle.name),
        description: out
            .alias
            .unwrap_or_else(|| format!("{} ({})", bundle.description.trim(), r.name)),
        tasks: Vec::<SlxTask>::new(),
        config: out.config,
        secrets: out.secrets,
        stale: false,
        generated: None,
    };
    slx.generated = Some(SlxOrigin {
        rule: format!("{}/{}#{}", ctx.collection, bundle.name, s.base_name),
        resource_key: r.key.clone(),
        sources: r.sources.clone(),
        snapshot: SlxFields::of(&slx),
    });
    slx
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
