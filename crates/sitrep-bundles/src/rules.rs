//! Generation rules: which discovered resources a bundle applies to and the SLXs it makes for
//! them. The model follows RunWhen Local's (`resourceTypes`, `matchRules` of type `pattern`,
//! `exists`, `and`, `or`, `not`, qualifiers, level of detail), in snake case:
//!
//! ```yaml
//! generation_rules:
//!   - resource_types: [postgres]
//!     match_rules:
//!       - {type: pattern, pattern: "^postgres", properties: [name], mode: substring}
//!     slxs:
//!       - base_name: health
//!         qualifiers: [resource]
//!         level_of_detail: basic
//!         config: {PG_DSN: "postgres://postgres@{{ resource.properties.host }}:{{ resource.properties.port }}/postgres"}
//!         secrets: {PGPASSWORD: postgres}      # a workspace secret's name, never a value
//! ```

use crate::model::Bundle;
use serde::{Deserialize, Serialize};
use sitrep_core::map::Resource;
use sitrep_core::slx_plan::{SlxFields, SlxOrigin};
use sitrep_core::{Slx, SlxTask};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationRule {
    /// Resource kinds this rule looks at (`postgres`, `k8s-namespace`, ...).
    pub resource_types: Vec<String>,
    /// All must match; none means every resource of those types.
    #[serde(default)]
    pub match_rules: Vec<MatchRule>,
    pub slxs: Vec<SlxTemplate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MatchRule {
    /// A regular expression against the name or property paths (`name`, `kind`, `labels.role`,
    /// `properties.exe`, `aliases`). `substring` finds it anywhere; `exact` must match the
    /// whole value.
    Pattern {
        pattern: String,
        #[serde(default = "default_properties")]
        properties: Vec<String>,
        #[serde(default)]
        mode: MatchMode,
    },
    /// The property path is present and not empty.
    Exists {
        path: String,
    },
    And {
        matches: Vec<MatchRule>,
    },
    Or {
        matches: Vec<MatchRule>,
    },
    Not {
        #[serde(rename = "match")]
        rule: Box<MatchRule>,
    },
}

fn default_properties() -> Vec<String> {
    vec!["name".into()]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    #[default]
    Substring,
    Exact,
}

/// How much discovery generates: `basic` SLXs everywhere, `detailed` ones only where the
/// workspace (or a resource's `sitrep.io/level-of-detail` label) asks for detail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelOfDetail {
    None,
    #[default]
    Basic,
    Detailed,
}

impl std::str::FromStr for LevelOfDetail {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(LevelOfDetail::None),
            "basic" => Ok(LevelOfDetail::Basic),
            "detailed" => Ok(LevelOfDetail::Detailed),
            o => Err(format!(
                "unknown level of detail {o:?} (expected none, basic or detailed)"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlxTemplate {
    pub base_name: String,
    /// Resource facts that make the SLX name unique: `resource` (its name), `namespace`,
    /// `cluster`/`context`, `host`, or any property name.
    #[serde(default = "default_qualifiers")]
    pub qualifiers: Vec<String>,
    #[serde(default)]
    pub level_of_detail: LevelOfDetail,
    /// A template; default: the bundle's description.
    #[serde(default)]
    pub description: Option<String>,
    /// Health tasks to schedule; empty: every health task of the bundle.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Param name → template.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Bundle secret name → template rendering a workspace secret's name.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

fn default_qualifiers() -> Vec<String> {
    vec!["resource".into()]
}

/// What a workspace feeds generation with.
#[derive(Debug, Clone, Default)]
pub struct GenerationContext {
    pub workspace: String,
    pub level_of_detail: LevelOfDetail,
    /// Workspace secret names that exist (values never come here).
    pub secret_names: Vec<String>,
    /// Free-form `discovery.vars` from sitrep.yaml, visible to templates as `vars`.
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{bundle}: generation rule {rule}: {message}")]
    Invalid {
        bundle: String,
        rule: usize,
        message: String,
    },
    #[error(
        "{bundle}: SLX {slx} for resource {resource}: template of {field} failed: {message} (fix the bundle's generation rule)"
    )]
    Render {
        bundle: String,
        slx: String,
        resource: String,
        field: String,
        message: String,
    },
}

/// Checks a rule set without resources: patterns compile, templates parse, config and secret
/// keys are declared by the bundle, named tasks exist. Returns (field path, message) pairs.
pub fn check(rules: &[GenerationRule], bundle: &Bundle) -> Vec<(String, String)> {
    let mut out = vec![];
    let env = minijinja::Environment::new();
    for (i, r) in rules.iter().enumerate() {
        let at = format!("generation_rules[{i}]");
        if r.resource_types.is_empty() {
            out.push((
                format!("{at}.resource_types"),
                "list at least one resource type".into(),
            ));
        }
        for (j, m) in r.match_rules.iter().enumerate() {
            check_match(m, &format!("{at}.match_rules[{j}]"), &mut out);
        }
        for (j, s) in r.slxs.iter().enumerate() {
            let sat = format!("{at}.slxs[{j}]");
            if !s
                .base_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
                || s.base_name.is_empty()
            {
                out.push((
                    format!("{sat}.base_name"),
                    "use letters, digits and '-'".into(),
                ));
            }
            for t in &s.tasks {
                if bundle.task(t).is_none() {
                    out.push((
                        format!("{sat}.tasks"),
                        format!("no task {t:?} in this bundle"),
                    ));
                }
            }
            for k in s.config.keys() {
                if bundle.param(k).is_none() {
                    out.push((
                        format!("{sat}.config.{k}"),
                        "not a param of this bundle".into(),
                    ));
                }
            }
            for k in s.secrets.keys() {
                if bundle.secret(k).is_none() {
                    out.push((
                        format!("{sat}.secrets.{k}"),
                        "not a secret of this bundle".into(),
                    ));
                }
            }
            let templates = s
                .config
                .iter()
                .map(|(k, v)| (format!("{sat}.config.{k}"), v))
                .chain(
                    s.secrets
                        .iter()
                        .map(|(k, v)| (format!("{sat}.secrets.{k}"), v)),
                )
                .chain(
                    s.description
                        .iter()
                        .map(|d| (format!("{sat}.description"), d)),
                );
            for (field, t) in templates {
                if let Err(e) = env.template_from_str(t) {
                    out.push((field, format!("template does not parse: {e}")));
                }
            }
        }
    }
    out
}

fn check_match(m: &MatchRule, at: &str, out: &mut Vec<(String, String)>) {
    match m {
        MatchRule::Pattern { pattern, .. } => {
            if let Err(e) = regex::Regex::new(pattern) {
                out.push((
                    format!("{at}.pattern"),
                    format!("not a regular expression: {e}"),
                ));
            }
        }
        MatchRule::Exists { .. } => {}
        MatchRule::And { matches } | MatchRule::Or { matches } => {
            for (i, m) in matches.iter().enumerate() {
                check_match(m, &format!("{at}.matches[{i}]"), out);
            }
        }
        MatchRule::Not { rule } => check_match(rule, &format!("{at}.match"), out),
    }
}

/// The values at a property path; `aliases` and arrays give several.
fn values_at(r: &Resource, path: &str) -> Vec<String> {
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    };
    match path {
        "name" => vec![r.name.clone()],
        "kind" | "type" => vec![r.kind.clone()],
        "key" => vec![r.key.clone()],
        "aliases" => r.aliases.clone(),
        _ => {
            if let Some(l) = path.strip_prefix("labels.") {
                return r.labels.get(l).cloned().into_iter().collect();
            }
            let p = path.strip_prefix("properties.").unwrap_or(path);
            let mut cur = r.properties.get(p.split('.').next().unwrap_or(p));
            for seg in p.split('.').skip(1) {
                cur = cur.and_then(|v| v.get(seg));
            }
            match cur {
                Some(serde_json::Value::Array(a)) => a.iter().filter_map(scalar).collect(),
                Some(v) => scalar(v).into_iter().collect(),
                None => vec![],
            }
        }
    }
}

pub fn matches(m: &MatchRule, r: &Resource) -> bool {
    match m {
        MatchRule::Pattern {
            pattern,
            properties,
            mode,
        } => {
            let Ok(re) = regex::Regex::new(pattern) else {
                return false;
            };
            properties
                .iter()
                .flat_map(|p| values_at(r, p))
                .any(|v| match mode {
                    MatchMode::Substring => re.is_match(&v),
                    MatchMode::Exact => re
                        .find(&v)
                        .is_some_and(|f| f.start() == 0 && f.end() == v.len()),
                })
        }
        MatchRule::Exists { path } => values_at(r, path).iter().any(|v| !v.is_empty()),
        MatchRule::And { matches: ms } => ms.iter().all(|m| matches(m, r)),
        MatchRule::Or { matches: ms } => ms.iter().any(|m| matches(m, r)),
        MatchRule::Not { rule } => !matches(rule, r),
    }
}

fn qualifier(r: &Resource, q: &str) -> Option<String> {
    match q {
        "resource" => Some(r.name.clone()),
        "cluster" | "context" => r
            .prop_str("context")
            .or_else(|| r.prop_str("cluster"))
            .map(str::to_string),
        other => values_at(r, other).into_iter().next(),
    }
}

/// How much a resource asks generation for: its `sitrep.io/level-of-detail` label, else the
/// workspace's level.
pub fn resource_level(r: &Resource, workspace: LevelOfDetail) -> LevelOfDetail {
    r.labels
        .get("sitrep.io/level-of-detail")
        .and_then(|l| l.parse().ok())
        .unwrap_or(workspace)
}

/// SLX names: lower case, `[a-z0-9-]`, qualifiers first, at most 63 characters.
pub fn slx_name(parts: &[String]) -> String {
    let mut s = String::new();
    for p in parts {
        let p: String = p
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let p = p.trim_matches('-');
        if p.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(p);
    }
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    s.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// The SLXs `bundle` generates for `resources`, each with its origin.
pub fn generate(
    collection: &str,
    bundle: &Bundle,
    resources: &[Resource],
    ctx: &GenerationContext,
) -> Result<Vec<Slx>, RuleError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    let mut out = vec![];
    for rule in &bundle.generation_rules {
        for r in resources {
            if !rule.resource_types.iter().any(|t| t == &r.kind)
                || !rule.match_rules.iter().all(|m| matches(m, r))
            {
                continue;
            }
            let lod = resource_level(r, ctx.level_of_detail);
            for t in &rule.slxs {
                if t.level_of_detail > lod {
                    continue;
                }
                let mut parts: Vec<String> = t
                    .qualifiers
                    .iter()
                    .filter_map(|q| qualifier(r, q))
                    .collect();
                parts.push(t.base_name.clone());
                let name = slx_name(&parts);
                let tctx = minijinja::context! {
                    resource => minijinja::Value::from(minijinja::value::Serde(r)),
                    vars => minijinja::Value::from(minijinja::value::Serde(&ctx.vars)),
                    workspace => ctx.workspace.as_str(),
                    secret_names => minijinja::Value::from(minijinja::value::Serde(&ctx.secret_names)),
                };
                let render = |field: &str, tpl: &str| {
                    env.render_str(tpl, &tctx).map_err(|e| RuleError::Render {
                        bundle: format!("{collection}/{}", bundle.name),
                        slx: name.clone(),
                        resource: r.name.clone(),
                        field: field.to_string(),
                        message: e.to_string(),
                    })
                };
                let mut config = BTreeMap::new();
                for (k, tpl) in &t.config {
                    let v = render(&format!("config.{k}"), tpl)?;
                    if !v.is_empty() {
                        config.insert(k.clone(), v);
                    }
                }
                let mut secrets = BTreeMap::new();
                for (k, tpl) in &t.secrets {
                    let secret = render(&format!("secrets.{k}"), tpl)?;
                    // A secret the workspace does not hold is left out: the bundle's
                    // optional secrets then run without it, required ones fail clearly.
                    if ctx.secret_names.contains(&secret) {
                        secrets.insert(k.clone(), format!("secret:{secret}"));
                    }
                }
                let description = match &t.description {
                    Some(d) => render("description", d)?,
                    None => format!("{} ({})", bundle.description.trim(), r.name),
                };
                let mut slx = Slx {
                    workspace: ctx.workspace.clone(),
                    name,
                    resource: r.name.clone(),
                    bundle: format!("{collection}/{}", bundle.name),
                    description,
                    tasks: t
                        .tasks
                        .iter()
                        .map(|task| SlxTask {
                            task: task.clone(),
                            interval: None,
                        })
                        .collect(),
                    config,
                    secrets,
                    stale: false,
                    generated: None,
                };
                slx.generated = Some(SlxOrigin {
                    rule: format!("{collection}/{}#{}", bundle.name, t.base_name),
                    resource_key: r.key.clone(),
                    sources: r.sources.clone(),
                    snapshot: SlxFields::of(&slx),
                });
                out.push(slx);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res() -> Resource {
        let mut r = Resource::new("tcp:localhost:5432", "postgres", "postgres-5432")
            .with_prop("host", "127.0.0.1")
            .with_prop("port", 5432)
            .with_prop("listen", serde_json::json!(["127.0.0.1:5432"]));
        r.labels.insert("role".into(), "primary".into());
        r.aliases.push("orders-db".into());
        r
    }

    fn rule(yaml: &str) -> MatchRule {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn match_rules() {
        let r = res();
        assert!(matches(&rule("{type: pattern, pattern: postgres}"), &r));
        assert!(!matches(
            &rule("{type: pattern, pattern: postgres, mode: exact}"),
            &r
        ));
        assert!(matches(
            &rule("{type: pattern, pattern: 'postgres-\\d+', mode: exact}"),
            &r
        ));
        assert!(matches(
            &rule("{type: pattern, pattern: primary, properties: [labels.role], mode: exact}"),
            &r
        ));
        assert!(matches(
            &rule("{type: pattern, pattern: orders, properties: [aliases]}"),
            &r
        ));
        assert!(matches(
            &rule("{type: pattern, pattern: '5432', properties: [properties.listen]}"),
            &r
        ));
        assert!(matches(&rule("{type: exists, path: properties.port}"), &r));
        assert!(!matches(&rule("{type: exists, path: properties.dsn}"), &r));
        assert!(matches(
            &rule("{type: not, match: {type: exists, path: dsn}}"),
            &r
        ));
        assert!(matches(
            &rule(
                "{type: and, matches: [{type: exists, path: port}, {type: or, matches: [{type: pattern, pattern: x}, {type: pattern, pattern: pg|postgres}]}]}"
            ),
            &r
        ));
        assert!(yaml_serde::from_str::<MatchRule>("{type: pattern, patern: x}").is_err());
    }

    fn core_bundle(name: &str) -> Bundle {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../collections/core/bundles")
            .join(name);
        crate::load_bundle(&dir).unwrap()
    }

    #[test]
    fn generate_fills_config_names_secrets_and_respects_level_of_detail() {
        let b = core_bundle("postgres");
        let mut ctx = GenerationContext {
            workspace: "w".into(),
            secret_names: vec!["postgres-password".into()],
            ..GenerationContext::default()
        };
        let slxs = generate("core", &b, &[res()], &ctx).unwrap();
        assert_eq!(slxs.len(), 1);
        let s = &slxs[0];
        assert_eq!(s.name, "postgres-5432-health");
        assert_eq!(
            s.config["PG_DSN"],
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=prefer"
        );
        assert_eq!(s.secrets["PGPASSWORD"], "secret:postgres-password");
        let origin = s.generated.as_ref().unwrap();
        assert_eq!(origin.resource_key, "tcp:localhost:5432");
        assert_eq!(origin.snapshot, SlxFields::of(s));
        // A secret the workspace does not hold is left out, not invented.
        ctx.secret_names.clear();
        assert!(
            generate("core", &b, &[res()], &ctx).unwrap()[0]
                .secrets
                .is_empty()
        );
        // Level of detail: a detailed SLX needs a detailed workspace or resource.
        let mut detailed = b.clone();
        detailed.generation_rules[0].slxs[0].level_of_detail = LevelOfDetail::Detailed;
        assert!(
            generate("core", &detailed, &[res()], &ctx)
                .unwrap()
                .is_empty()
        );
        let mut r = res();
        r.labels
            .insert("sitrep.io/level-of-detail".into(), "detailed".into());
        assert_eq!(generate("core", &detailed, &[r], &ctx).unwrap().len(), 1);
        ctx.level_of_detail = LevelOfDetail::Detailed;
        assert_eq!(
            generate("core", &detailed, &[res()], &ctx).unwrap().len(),
            1
        );
        // Other kinds are not matched.
        let redis = Resource::new("tcp:localhost:6379", "redis", "redis-6379");
        assert!(generate("core", &b, &[redis], &ctx).unwrap().is_empty());
    }

    #[test]
    fn check_reports_bad_rules_by_field() {
        let mut b = core_bundle("redis");
        b.generation_rules = yaml_serde::from_str(
            "- resource_types: []\n  match_rules: [{type: pattern, pattern: '('}]\n  slxs:\n    - {base_name: 'bad name', tasks: [nope], config: {NOPE: x, REDIS_HOST: '{{ oops'}, secrets: {X: y}}\n",
        )
        .unwrap();
        let fields: Vec<String> = check(&b.generation_rules, &b)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        for want in [
            "generation_rules[0].resource_types",
            "generation_rules[0].match_rules[0].pattern",
            "generation_rules[0].slxs[0].base_name",
            "generation_rules[0].slxs[0].tasks",
            "generation_rules[0].slxs[0].config.NOPE",
            "generation_rules[0].slxs[0].config.REDIS_HOST",
            "generation_rules[0].slxs[0].secrets.X",
        ] {
            assert!(
                fields.contains(&want.to_string()),
                "{want} not in {fields:?}"
            );
        }
    }

    #[test]
    fn names_are_slugs() {
        assert_eq!(
            slx_name(&["Shop/Orders_DB".into(), "health".into()]),
            "shop-orders-db-health"
        );
        assert_eq!(slx_name(&["".into(), "x".into()]), "x");
        assert!(slx_name(&["a".repeat(100)]).len() <= 63);
    }

    #[test]
    fn values_at_nested_paths() {
        let r = res().with_prop("tls", serde_json::json!({"days": 3}));
        assert_eq!(values_at(&r, "properties.tls.days"), vec!["3"]);
        assert_eq!(values_at(&r, "tls.days"), vec!["3"]);
        assert!(values_at(&r, "nope.x").is_empty());
    }
}
