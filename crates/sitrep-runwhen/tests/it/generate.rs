//! The shared bundles' generation rules and templates applied to Map resources shaped as the
//! Kubernetes indexer stores them (`docs/runwhen.md`, "Generation rules at discovery").

use crate::harness::{BUNDLES, bundle, data_root};
use sitrep_bundles::rules::LevelOfDetail;
use sitrep_core::map::Resource;
use sitrep_runwhen::apply::{ApplyContext, Generated, generate};
use std::collections::BTreeMap;

fn k8s(kind: &str, ns: Option<&str>, name: &str) -> Resource {
    let key = match ns {
        Some(ns) => format!("k8s:prod/{kind}/{ns}/{name}"),
        None => format!("k8s:prod/{kind}/{name}"),
    };
    let display = ns.map_or(name.to_string(), |ns| format!("{ns}/{name}"));
    Resource::new(key, format!("k8s-{kind}"), display)
        .with_prop("object_name", name)
        .with_prop("context", "prod")
        .with_prop("namespace", ns.unwrap_or(name))
}

fn templates(name: &str) -> BTreeMap<String, String> {
    let dir = data_root()
        .join("codebundles")
        .join(name)
        .join(".runwhen/templates");
    bundle(name)
        .templates
        .iter()
        .map(|t| (t.clone(), std::fs::read_to_string(dir.join(t)).unwrap()))
        .collect()
}

fn run(name: &str, resources: &[Resource]) -> Generated {
    let ctx = ApplyContext {
        collection: "rw".into(),
        workspace: "ws".into(),
        level_of_detail: LevelOfDetail::Detailed,
        secret_names: vec!["kubeconfig".into()],
        custom: BTreeMap::from([("kubeconfig_secret_name".into(), "kubeconfig".into())]),
    };
    generate(&bundle(name), &templates(name), resources, &ctx)
}

fn resources() -> Vec<Resource> {
    vec![
        k8s("namespace", None, "shop"),
        k8s("deployment", Some("shop"), "checkout"),
        k8s("ingress", Some("shop"), "shop"),
        k8s("service", Some("shop"), "checkout").with_prop("type", "ClusterIP"),
    ]
}

#[test]
fn namespace_and_deployment_bundles_render_from_their_templates() {
    let g = run("k8s-namespace-healthcheck", &resources());
    // Upstream's SLI template provides two values its sli.robot does not import.
    let left_out: Vec<&str> = g
        .warnings
        .iter()
        .filter_map(|w| {
            w.strip_prefix(
                "k8s-namespace-healthcheck/.runwhen/templates/k8s-namespace-healthcheck-sli.yaml: configProvided ",
            )?
            .strip_suffix(" is not a parameter the bundle's robot files import: left out")
        })
        .collect();
    assert_eq!(
        left_out,
        ["DISTRIBUTION", "EVENT_TYPE"],
        "{:#?}",
        g.warnings
    );
    assert_eq!(g.warnings.len(), 2, "{:#?}", g.warnings);
    assert_eq!(g.slxs.len(), 1);
    let s = &g.slxs[0];
    assert_eq!(s.name, "shop-prod-ns-health");
    assert_eq!(s.config["NAMESPACE"], "shop");
    assert_eq!(s.config["CONTEXT"], "prod");
    assert_eq!(s.config["KUBERNETES_DISTRIBUTION_BINARY"], "kubectl");
    assert_eq!(s.secrets["kubeconfig"], "secret:kubeconfig");
    assert_eq!(s.description, "shop Namespace Health");

    let g = run("k8s-deployment-healthcheck", &resources());
    assert!(g.warnings.is_empty(), "{:#?}", g.warnings);
    let names: Vec<&str> = g.slxs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["checkout-shop-prod-depl-health"]);
    assert_eq!(g.slxs[0].config["DEPLOYMENT_NAME"], "checkout");
    assert_eq!(g.slxs[0].config["CHECK_SERVICE_ENDPOINTS"], "true");
}

#[test]
fn curl_http_oks_rules_read_the_ingress_routes_and_skip_what_the_map_does_not_keep() {
    // a plain-HTTP ingress with two paths (as the Kubernetes indexer keeps its routes), and
    // one with TLS hosts
    let plain = k8s("ingress", Some("shop"), "shop").with_prop(
        "rules",
        serde_json::json!([{"host": "shop.example.com",
            "http": {"paths": [{"path": "/"}, {"path": "/api(/|$)(.*)"}]}}]),
    );
    let tls = k8s("ingress", Some("shop"), "admin")
        .with_prop(
            "rules",
            serde_json::json!([{"host": "admin.example.com", "http": {"paths": [{"path": "/"}]}}]),
        )
        .with_prop("tls_hosts", serde_json::json!(["admin.example.com"]));
    let g = run(
        "curl-http-ok",
        &[plain, tls, k8s("service", Some("shop"), "lb")],
    );
    let urls: Vec<(&str, &str)> = g
        .slxs
        .iter()
        .map(|s| (s.name.as_str(), s.config["URLS"].as_str()))
        .collect();
    // upstream's own URLS template: a regex path's prefix, https for the TLS ingress
    assert_eq!(
        urls,
        [
            (
                "admin-shop-prod-http-ok-tls-test",
                "https://admin.example.com/"
            ),
            (
                "shop-shop-prod-http-ok",
                "http://shop.example.com/,http://shop.example.com/api"
            ),
        ],
        "{:#?}",
        g.warnings
    );
    // the load-balancer rule reads an annotation the Map does not keep: not applied, named
    assert!(
        g.warnings.iter().any(|w| w.starts_with(
            "curl-http-ok/.runwhen/generation-rules/http-ok-tls-aks-public-loadbalancer-ext-dns-tls.yaml"
        ) && w.contains("annotations")),
        "{:#?}",
        g.warnings
    );
    // bundles without generation rules generate nothing and warn about nothing
    for b in BUNDLES
        .iter()
        .filter(|b| ["dns-health", "k8s-restart-resource"].contains(b))
    {
        let g = run(b, &resources());
        assert!(g.slxs.is_empty() && g.warnings.is_empty(), "{b}");
    }
}
