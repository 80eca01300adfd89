//! `.runwhen/generation-rules/*.yaml`: which discovered resources a RunWhen bundle applies to
//! and which SLX, SLI, SLO and runbook templates it then renders. Read into types here;
//! `apply` applies them to the Map.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sitrep_bundles::Problem;
use sitrep_bundles::locate::{locate, parse_path};
use std::path::Path;
use yaml_serde::Value;

/// One generation-rules file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationRules {
    /// The file name under `.runwhen/generation-rules/`.
    pub file: String,
    /// `spec.platform` (`kubernetes`, `azure`, `gcp`, ...), when given.
    pub platform: Option<String>,
    pub rules: Vec<GenerationRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationRule {
    pub resource_types: Vec<String>,
    pub match_rules: Vec<MatchRule>,
    pub slxs: Vec<SlxRule>,
}

/// A rule as read, its items checked one by one so that each problem names its item.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRule {
    resource_types: Vec<String>,
    #[serde(default)]
    match_rules: Vec<Value>,
    slxs: Vec<Value>,
}

/// A match rule; a resource matches a generation rule when all of its match rules match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum MatchRule {
    /// `pattern` (a regular expression) against the values at `properties`
    /// (`name`, `labels`, `spec/type`, `metadata/annotations/...`).
    #[serde(rename_all = "camelCase")]
    Pattern {
        pattern: String,
        properties: Vec<String>,
        #[serde(default)]
        mode: MatchMode,
        /// Matches another resource than the candidate (`variables`: workspace variables).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_type: Option<String>,
    },
    /// A value is present at `path`.
    Exists {
        path: String,
    },
    And {
        matches: Vec<MatchRule>,
    },
    Or {
        matches: Vec<MatchRule>,
    },
    /// RunWhen writes the negated rule as `predicate` (or `match`).
    Not {
        #[serde(alias = "match")]
        predicate: Box<MatchRule>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    #[default]
    Substring,
    Exact,
}

/// One SLX a matching resource gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlxRule {
    pub base_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortened_base_name: Option<String>,
    /// What the SLX name is qualified by (`resource`, `namespace`, `cluster`, `project`, ...).
    #[serde(default)]
    pub qualifiers: Vec<String>,
    pub base_template_name: String,
    pub level_of_detail: LevelOfDetail,
    pub output_items: Vec<OutputItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelOfDetail {
    None,
    Basic,
    Detailed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputItem {
    #[serde(rename = "type")]
    pub kind: OutputKind,
    /// The template under `.runwhen/templates/`; without it, `{baseTemplateName}-{type}.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    Slx,
    Sli,
    Slo,
    Runbook,
    Workflow,
}

impl OutputItem {
    /// The template file this item renders.
    pub fn template(&self, slx: &SlxRule) -> String {
        self.template_name.clone().unwrap_or_else(|| {
            let kind = match self.kind {
                OutputKind::Slx => "slx",
                OutputKind::Sli => "sli",
                OutputKind::Slo => "slo",
                OutputKind::Runbook => "taskset",
                OutputKind::Workflow => "workflow",
            };
            format!("{}-{kind}.yaml", slx.base_template_name)
        })
    }
}

/// Reads one generation-rules file. `path` labels problems (file:line:field); `text` is its
/// content. Returns the rules that could be read, problems, and warnings (an empty file).
pub fn parse_rules(path: &Path, text: &str) -> (GenerationRules, Vec<Problem>, Vec<Problem>) {
    let mut out = GenerationRules {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        platform: None,
        rules: Vec::new(),
    };
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let problem = |list: &mut Vec<Problem>, field: &str, line: Option<usize>, message: String| {
        list.push(Problem {
            file: path.to_path_buf(),
            line: line.or_else(|| locate(text, &parse_path(field))),
            field: field.to_string(),
            message,
        })
    };
    let value: Value = match yaml_serde::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let line = e.location().map(|l| l.line());
            problem(&mut problems, "", line, format!("invalid YAML: {e}"));
            return (out, problems, warnings);
        }
    };
    if value.is_null() {
        problem(
            &mut warnings,
            "",
            None,
            "empty file: no generation rules".into(),
        );
        return (out, problems, warnings);
    }
    for (key, want) in [
        ("apiVersion", "runwhen.com/v1"),
        ("kind", "GenerationRules"),
    ] {
        match value.get(key).and_then(Value::as_str) {
            Some(v) if v == want => {}
            other => problem(
                &mut problems,
                key,
                None,
                format!("expected {want:?}, found {other:?}"),
            ),
        }
    }
    let spec = value.get("spec");
    out.platform = spec
        .and_then(|s| s.get("platform"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(Value::Sequence(rules)) = spec.and_then(|s| s.get("generationRules")) else {
        problem(
            &mut problems,
            "spec.generationRules",
            None,
            "missing: a list of generation rules".into(),
        );
        return (out, problems, warnings);
    };
    for (i, rule) in rules.iter().enumerate() {
        let field = format!("spec.generationRules[{i}]");
        let raw = match item::<RawRule>(rule, &field) {
            Ok(raw) => raw,
            Err((at, msg)) => {
                problem(&mut problems, &at, None, msg);
                continue;
            }
        };
        let mut ok = true;
        let mut match_rules = Vec::new();
        for (j, m) in raw.match_rules.iter().enumerate() {
            let at = format!("{field}.matchRules[{j}]");
            match item::<MatchRule>(m, &at) {
                Ok(m) => match_rules.push(m),
                Err((at, msg)) => {
                    problem(&mut problems, &at, None, msg);
                    ok = false;
                }
            }
        }
        let mut slxs = Vec::new();
        for (j, slx) in raw.slxs.iter().enumerate() {
            let at = format!("{field}.slxs[{j}]");
            match item::<SlxRule>(slx, &at) {
                Ok(s) if s.output_items.is_empty() => {
                    let at = format!("{at}.outputItems");
                    problem(
                        &mut problems,
                        &at,
                        None,
                        "no output items: nothing to generate".into(),
                    );
                    ok = false;
                }
                Ok(s) => slxs.push(s),
                Err((at, msg)) => {
                    problem(&mut problems, &at, None, msg);
                    ok = false;
                }
            }
        }
        if ok {
            out.rules.push(GenerationRule {
                resource_types: raw.resource_types,
                match_rules,
                slxs,
            });
        }
    }
    (out, problems, warnings)
}

/// `v` as a `T`, or the field serde complains about (the unknown key, when it is one) and
/// its message.
fn item<T: DeserializeOwned>(v: &Value, at: &str) -> Result<T, (String, String)> {
    T::deserialize(v).map_err(|e| {
        let msg = e.to_string();
        let field = msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split_once('`'))
            // serde names the key, not where it is: only a key of `v` itself is located
            .filter(|(k, _)| v.get(*k).is_some())
            .map(|(k, _)| format!("{at}.{k}"))
            .unwrap_or_else(|| at.to_string());
        (field, msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "\
apiVersion: runwhen.com/v1
kind: GenerationRules
spec:
  platform: kubernetes
  generationRules:
    - resourceTypes: [ingress]
      matchRules:
        - type: and
          matches:
            - {type: pattern, pattern: '.+', properties: [name], mode: substring}
            - {resourceType: variables, type: pattern, pattern: github, properties: [custom/gitops_provider], mode: exact}
        - type: not
          predicate: {type: exists, path: spec/tls/hosts}
        - type: or
          matches: [{type: not, match: {type: pattern, pattern: x, properties: [labels]}}]
      slxs:
        - baseName: http-ok
          qualifiers: [resource, namespace, cluster]
          baseTemplateName: http-ok
          levelOfDetail: basic
          outputItems:
            - type: slx
            - type: runbook
              templateName: http-ok-taskset.yaml
";

    #[test]
    fn reads_rules_into_types() {
        let (r, problems, warnings) = parse_rules(Path::new("x/http-ok.yaml"), RULES);
        assert!(problems.is_empty() && warnings.is_empty(), "{problems:?}");
        assert_eq!(r.file, "http-ok.yaml");
        assert_eq!(r.platform.as_deref(), Some("kubernetes"));
        let rule = &r.rules[0];
        assert_eq!(rule.resource_types, ["ingress"]);
        let MatchRule::And { matches } = &rule.match_rules[0] else {
            panic!("{:?}", rule.match_rules[0])
        };
        assert!(matches!(
            &matches[1],
            MatchRule::Pattern { mode: MatchMode::Exact, resource_type: Some(t), .. } if t == "variables"
        ));
        assert!(
            matches!(&rule.match_rules[1], MatchRule::Not { predicate } if matches!(**predicate, MatchRule::Exists { .. }))
        );
        let slx = &rule.slxs[0];
        assert_eq!(slx.level_of_detail, LevelOfDetail::Basic);
        assert_eq!(slx.output_items[0].template(slx), "http-ok-slx.yaml");
        assert_eq!(slx.output_items[1].template(slx), "http-ok-taskset.yaml");
    }

    #[test]
    fn problems_name_line_and_field() {
        let bad = RULES
            .replace("levelOfDetail: basic", "levelOfDetial: basic")
            .replace("kind: GenerationRules", "kind: Other");
        let (r, problems, _) = parse_rules(Path::new("g.yaml"), &bad);
        assert!(r.rules.is_empty());
        let got: Vec<(Option<usize>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(2), "kind"),
                (Some(20), "spec.generationRules[0].slxs[0].levelOfDetial"),
            ]
        );
        let (_, problems, _) = parse_rules(Path::new("g.yaml"), "a: [\n");
        assert_eq!(problems[0].field, "");
        assert!(problems[0].line.is_some());
        let (_, problems, warnings) = parse_rules(Path::new("g.yaml"), "");
        assert!(problems.is_empty() && warnings.len() == 1);
    }
}
