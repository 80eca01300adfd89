use super::*;
use crate::generation::parse_rules;
use crate::imports::ImportedVariable;
use std::path::{Path, PathBuf};

fn k8s(kind: &str, ns: Option<&str>, name: &str) -> Resource {
    let key = match ns {
        Some(ns) => format!("k8s:c1/{kind}/{ns}/{name}"),
        None => format!("k8s:c1/{kind}/{name}"),
    };
    let display = ns.map_or(name.to_string(), |ns| format!("{ns}/{name}"));
    let mut r = Resource::new(key, format!("k8s-{kind}"), display)
        .with_prop("object_name", name)
        .with_prop("context", "c1")
        .with_prop("namespace", ns.unwrap_or(name));
    r.sources.push("kubernetes:c1".into());
    r
}

fn var(name: &str) -> ImportedVariable {
    ImportedVariable {
        name: name.into(),
        assigned_to: None,
        ty: "string".into(),
        description: String::new(),
        pattern: None,
        example: None,
        default: None,
        choices: vec![],
        options: Default::default(),
        line: 1,
    }
}

const RULES: &str = "\
apiVersion: runwhen.com/v1
kind: GenerationRules
spec:
  generationRules:
    - resourceTypes: [deployment]
      matchRules:
        - type: and
          matches:
            - {type: pattern, pattern: '.+', properties: [name], mode: substring}
            - type: not
              predicate: {type: pattern, pattern: 'kube-system', properties: [namespace], mode: exact}
      slxs:
        - baseName: depl-health
          levelOfDetail: detailed
          qualifiers: [resource, namespace, cluster]
          baseTemplateName: depl
          outputItems:
            - type: slx
            - type: sli
            - type: runbook
              templateName: depl-taskset.yaml
";

const SLI: &str = "\
spec:
  configProvided:
    - name: NAMESPACE
      value: {{match_resource.resource.metadata.namespace}}
    - name: DEPLOYMENT_NAME
      value: {{match_resource.resource.metadata.name}}
    - name: CONTEXT
      value: {{context}}
    - name: AGE
      value: 10m
    - name: NOT_A_PARAM
      value: x
  secretsProvided:
    - name: kubeconfig
      workspaceKey: {{custom.kubeconfig_secret_name}}
";

fn bundle() -> RunwhenBundle {
    let (rules, problems, _) = parse_rules(Path::new("depl.yaml"), RULES);
    assert!(problems.is_empty(), "{problems:?}");
    RunwhenBundle {
        name: "k8s-depl".into(),
        description: "Deployment triage".into(),
        metadata: Default::default(),
        params: ["NAMESPACE", "DEPLOYMENT_NAME", "CONTEXT", "AGE", "BINARY"]
            .map(var)
            .to_vec(),
        secrets: vec![var("kubeconfig")],
        platform_variables: vec![],
        tasks: vec![],
        generation_rules: vec![rules],
        templates: vec![],
        dir: PathBuf::from("codebundles/k8s-depl"),
    }
}

fn templates() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "depl-slx.yaml".into(),
            "metadata:\n  labels:\n    {% include \"common-labels.yaml\" %}\nspec:\n  alias: {{match_resource.resource.metadata.name}} Deployment Health\n".into(),
        ),
        ("depl-sli.yaml".into(), SLI.into()),
        (
            "depl-taskset.yaml".into(),
            "spec:\n  configProvided:\n    - {name: AGE, value: 30m}\n    - {name: BINARY, value: '{{custom.binary | default(\"kubectl\")}}'}\n".into(),
        ),
    ])
}

fn ctx(level: LevelOfDetail) -> ApplyContext {
    ApplyContext {
        collection: "rw".into(),
        workspace: "ws".into(),
        level_of_detail: level,
        secret_names: vec!["kubeconfig".into()],
        custom: BTreeMap::from([("kubeconfig_secret_name".into(), "kubeconfig".into())]),
    }
}

#[test]
fn maps_runwhen_types_to_map_kinds() {
    assert_eq!(map_kind("namespace"), Some("k8s-namespace"));
    assert_eq!(map_kind("Deployment"), Some("k8s-deployment"));
    assert_eq!(map_kind("cluster"), None);
}

#[test]
fn match_rules_read_the_map_properties() {
    let mut r = k8s("deployment", Some("shop"), "checkout");
    r.labels.insert("app".into(), "checkout".into());
    let custom = BTreeMap::from([("gitops_provider".into(), "github".into())]);
    let m = |yaml: &str| matches(&yaml_serde::from_str(yaml).unwrap(), &r, &custom);
    assert_eq!(
        m("{type: pattern, pattern: check, properties: [name]}"),
        Ok(true)
    );
    // exact: the whole value, not the Map's `shop/checkout`
    assert_eq!(
        m("{type: pattern, pattern: check, properties: [name], mode: exact}"),
        Ok(false)
    );
    assert_eq!(
        m("{type: pattern, pattern: checkout, properties: [name], mode: exact}"),
        Ok(true)
    );
    assert_eq!(
        m("{type: pattern, pattern: '^checkout$', properties: [metadata/labels/app]}"),
        Ok(true)
    );
    assert_eq!(m("{type: exists, path: labels/tier}"), Ok(false));
    assert_eq!(
        m("{type: not, predicate: {type: exists, path: labels/app}}"),
        Ok(false)
    );
    assert_eq!(
        m(
            "{type: or, matches: [{type: exists, path: labels/x}, {type: pattern, pattern: shop, properties: [namespace], mode: exact}]}"
        ),
        Ok(true)
    );
    assert_eq!(
        m(
            "{type: pattern, pattern: github, properties: [custom/gitops_provider], mode: exact, resourceType: variables}"
        ),
        Ok(true)
    );
    // what the Map does not keep is not guessed
    assert_eq!(
        m("{type: exists, path: spec/selector}"),
        Err("spec/selector".into())
    );
    // an ingress's routes are kept: its TLS hosts and its rules' hosts
    assert_eq!(m("{type: exists, path: spec/tls/hosts}"), Ok(false));
    let mut ing = k8s("ingress", Some("shop"), "shop");
    ing.properties
        .insert("tls_hosts".into(), serde_json::json!(["shop.example.com"]));
    ing.properties.insert(
        "rules".into(),
        serde_json::json!([{"host": "shop.example.com", "http": {"paths": [{"path": "/"}]}}]),
    );
    let on_ingress = |yaml: &str| matches(&yaml_serde::from_str(yaml).unwrap(), &ing, &custom);
    assert_eq!(on_ingress("{type: exists, path: spec/tls/hosts}"), Ok(true));
    assert_eq!(
        on_ingress("{type: pattern, pattern: 'example[.]com$', properties: [spec/rules/host]}"),
        Ok(true)
    );
    assert!(m("{type: not, predicate: {type: pattern, pattern: x, properties: [metadata/annotations/a]}}").is_err());
}

#[test]
fn names_come_from_qualifiers_then_the_base_name() {
    let b = bundle();
    let slx = &b.generation_rules[0].rules[0].slxs[0];
    let r = k8s("deployment", Some("shop"), "checkout");
    assert_eq!(name_of(&r, slx), "checkout-shop-c1-depl-health");
    let mut ns_rule = slx.clone();
    ns_rule.qualifiers = vec!["namespace".into(), "cluster".into()];
    ns_rule.base_name = "ns-health".into();
    assert_eq!(
        name_of(&k8s("namespace", None, "Pay_ments"), &ns_rule),
        "pay-ments-c1-ns-health"
    );
}

#[test]
fn generates_slxs_with_config_rendered_from_the_templates() {
    let resources = vec![
        k8s("namespace", None, "shop"),
        k8s("deployment", Some("shop"), "checkout"),
        k8s("deployment", Some("kube-system"), "coredns"),
        k8s("statefulset", Some("shop"), "db"),
    ];
    let g = generate(
        &bundle(),
        &templates(),
        &resources,
        &ctx(LevelOfDetail::Detailed),
    );
    let names: Vec<&str> = g.slxs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["checkout-shop-c1-depl-health"]);
    let s = &g.slxs[0];
    assert_eq!(s.bundle, "rw/k8s-depl");
    assert_eq!(s.resource, "shop/checkout");
    assert_eq!(s.description, "checkout Deployment Health");
    assert_eq!(s.config["NAMESPACE"], "shop");
    assert_eq!(s.config["DEPLOYMENT_NAME"], "checkout");
    assert_eq!(s.config["CONTEXT"], "c1");
    assert_eq!(
        s.config["AGE"], "10m",
        "the SLI's value wins over the runbook's"
    );
    assert_eq!(s.config["BINARY"], "kubectl");
    assert!(!s.config.contains_key("NOT_A_PARAM"));
    assert_eq!(s.secrets["kubeconfig"], "secret:kubeconfig");
    let origin = s.generated.as_ref().unwrap();
    assert_eq!(origin.rule, "rw/k8s-depl#depl-health");
    assert_eq!(origin.resource_key, "k8s:c1/deployment/shop/checkout");
    assert!(
        g.warnings
            .iter()
            .any(|w| w.contains("depl-sli.yaml") && w.contains("NOT_A_PARAM")),
        "{:?}",
        g.warnings
    );
    // the same input gives the same SLXs (discovery's idempotency rests on it)
    let again = generate(
        &bundle(),
        &templates(),
        &resources,
        &ctx(LevelOfDetail::Detailed),
    );
    assert_eq!(again.slxs, g.slxs);
}

#[test]
fn level_of_detail_and_missing_secrets() {
    let resources = vec![k8s("deployment", Some("shop"), "checkout")];
    let g = generate(
        &bundle(),
        &templates(),
        &resources,
        &ctx(LevelOfDetail::Basic),
    );
    assert!(g.slxs.is_empty(), "a detailed SLX at the basic level");
    let mut r = resources[0].clone();
    r.labels
        .insert("sitrep.io/level-of-detail".into(), "detailed".into());
    let mut c = ctx(LevelOfDetail::Basic);
    c.secret_names.clear();
    let g = generate(&bundle(), &templates(), &[r], &c);
    assert_eq!(g.slxs.len(), 1, "the resource's label asks for detail");
    assert!(g.slxs[0].secrets.is_empty());
    assert!(
        g.warnings
            .iter()
            .any(|w| w.contains("no secret \"kubeconfig\"")),
        "{:?}",
        g.warnings
    );
}

#[test]
fn unknown_variables_and_broken_templates_are_warnings() {
    let mut t = templates();
    t.insert(
        "depl-sli.yaml".into(),
        format!("{SLI}    - name: X\n      value: {{{{ mystery.value }}}}\n"),
    );
    let resources = vec![k8s("deployment", Some("shop"), "checkout")];
    let g = generate(&bundle(), &t, &resources, &ctx(LevelOfDetail::Detailed));
    assert_eq!(g.slxs.len(), 1);
    assert!(
        g.warnings
            .iter()
            .any(|w| w
                .starts_with("k8s-depl/.runwhen/templates/depl-sli.yaml: variable \"mystery\"")),
        "{:?}",
        g.warnings
    );
    t.insert("depl-taskset.yaml".into(), "spec: {% if %}".into());
    let g = generate(&bundle(), &t, &resources, &ctx(LevelOfDetail::Detailed));
    assert!(
        g.slxs.is_empty(),
        "no SLX from a runbook template that does not parse"
    );
    assert!(
        g.warnings
            .iter()
            .any(|w| w.contains("depl-taskset.yaml: the template does not parse"))
    );
    t.remove("depl-taskset.yaml");
    let g = generate(&bundle(), &t, &resources, &ctx(LevelOfDetail::Detailed));
    assert!(g.slxs.is_empty());
    assert!(
        g.warnings
            .iter()
            .any(|w| w.contains("depl-taskset.yaml: missing"))
    );
}

#[test]
fn unknown_resource_types_and_properties_are_warned_about() {
    let text = RULES
        .replace(
            "resourceTypes: [deployment]",
            "resourceTypes: [deployment, cluster]",
        )
        .replace(
            "properties: [name], mode: substring",
            "properties: [metadata/annotations/x], mode: substring",
        );
    let (rules, problems, _) = parse_rules(Path::new("depl.yaml"), &text);
    assert!(problems.is_empty());
    let mut b = bundle();
    b.generation_rules = vec![rules];
    let g = generate(
        &b,
        &templates(),
        &[k8s("deployment", Some("shop"), "checkout")],
        &ctx(LevelOfDetail::Detailed),
    );
    assert!(g.slxs.is_empty());
    assert!(
        g.warnings
            .iter()
            .any(|w| w.contains("resource type \"cluster\"")),
        "{:?}",
        g.warnings
    );
    assert!(
        g.warnings
            .iter()
            .any(|w| w.contains("metadata/annotations/x"))
    );
}

#[test]
fn templates_may_call_pythons_string_methods_as_runwhens_do() {
    // as upstream's curl-http-ok and workflow templates do
    let mut t = templates();
    t.insert(
        "depl-taskset.yaml".into(),
        "spec:\n  configProvided:\n    - {name: AGE, value: '{{ slx_name.split(\"-\")[1] }}'}\n    - {name: BINARY, value: '{{ \"/x/\".rstrip(\"/\") }}{{ match_resource.name.upper() }}'}\n".into(),
    );
    let resources = vec![k8s("deployment", Some("shop"), "checkout")];
    let g = generate(&bundle(), &t, &resources, &ctx(LevelOfDetail::Detailed));
    assert_eq!(g.slxs.len(), 1, "{:?}", g.warnings);
    let s = &g.slxs[0];
    assert_eq!(s.config["BINARY"], "/xCHECKOUT", "{:?}", g.warnings);
    // the SLI's AGE wins; the runbook's rendered without an error
    assert_eq!(s.config["AGE"], "10m");
    assert!(
        !g.warnings.iter().any(|w| w.contains("depl-taskset.yaml")),
        "{:?}",
        g.warnings
    );
}
