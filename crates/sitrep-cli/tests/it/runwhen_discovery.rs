//! RunWhen generation rules at discovery (docs/runwhen.md, "Generation rules"): the shared
//! RunWhen collection declared, `sitrep discover` against the Kubernetes API stub generates
//! the SLXs its bundles' rules and templates describe, and a second discovery changes nothing.

#[path = "../common/discover.rs"]
#[allow(dead_code)]
mod common;

use crate::discovery::stub;
use crate::runwhen::shared_runwhen;
use common::{assert_no_changes, pretty, sitrep_json};
use serde_json::Value;

fn kinds<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .collect()
}

#[test]
fn discovery_generates_slxs_from_runwhen_rules_and_templates() {
    let (_g, _d, kc) = stub(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(
        h.join("sitrep.yaml"),
        format!(
            "secrets: {{kubeconfig: 'file:{kc}'}}\n\
             collections:\n  - {{name: rw, path: '{rw}', kind: runwhen}}\n\
             discovery:\n  host: {{enabled: false}}\n  level_of_detail: detailed\n  \
             vars: {{kubeconfig_secret_name: kubeconfig}}\n  kubernetes:\n    - {{kubeconfig: '{kc}'}}\n",
            kc = kc.display(),
            rw = shared_runwhen().display(),
        ),
    )
    .unwrap();
    let v = sitrep_json(h, &["discover", "--json"]);
    let created: Vec<&Value> = v["slxs"]["create"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["bundle"].as_str().unwrap().starts_with("rw/"))
        .collect();
    let slx = |name: &str| {
        created
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no SLX {name}: {}", pretty(&v["slxs"]["create"])))
    };

    // One namespace SLX per namespace on the Map, named namespace-cluster-baseName.
    let namespaces = kinds(&v, "k8s-namespace");
    assert!(namespaces.len() >= 2, "{}", pretty(&v["resources"]));
    for ns in &namespaces {
        let name = ns["properties"]["object_name"].as_str().unwrap();
        let s = slx(&format!("{name}-stub-ns-health"));
        assert_eq!(s["bundle"], "rw/k8s-namespace-healthcheck");
        assert_eq!(s["config"]["NAMESPACE"], name, "{}", pretty(s));
        assert_eq!(s["config"]["CONTEXT"], "stub");
        assert_eq!(s["secrets"]["kubeconfig"], "secret:kubeconfig");
    }
    // One deployment SLX per deployment (levelOfDetail: detailed, the workspace's level).
    let deployments = kinds(&v, "k8s-deployment");
    assert!(!deployments.is_empty());
    for d in &deployments {
        let name = d["properties"]["object_name"].as_str().unwrap();
        let ns = d["properties"]["namespace"].as_str().unwrap();
        let s = slx(&format!("{name}-{ns}-stub-depl-health"));
        assert_eq!(s["bundle"], "rw/k8s-deployment-healthcheck");
        assert_eq!(s["resource"], format!("{ns}/{name}"));
        assert_eq!(s["config"]["DEPLOYMENT_NAME"], name, "{}", pretty(s));
        assert_eq!(s["config"]["NAMESPACE"], ns);
        // the SLI's value (10m) over the runbook's (30m)
        assert_eq!(s["config"]["CONTAINER_RESTART_AGE"], "10m");
        assert_eq!(s["description"], format!("{name} Deployment Health"));
    }
    // The TLS ingress: curl-http-ok's TLS rule (its hosts are on the Map), URLS rendered by
    // upstream's template (Python string methods) from its rules; not the plain-HTTP rule.
    let ingresses = kinds(&v, "k8s-ingress");
    assert_eq!(ingresses.len(), 1, "{}", pretty(&v["resources"]));
    let s = slx("shop-shop-stub-http-ok-tls-test");
    assert_eq!(s["bundle"], "rw/curl-http-ok");
    assert_eq!(s["resource"], "shop/shop");
    assert_eq!(
        s["config"]["URLS"],
        "https://shop.example.com/,https://shop.example.com/api/checkout",
        "{}",
        pretty(s)
    );
    assert_eq!(s["config"]["TARGET_LATENCY"], "1.2");
    assert_eq!(
        created.len(),
        namespaces.len() + deployments.len() + 1,
        "nothing else: {}",
        pretty(&Value::from(
            created
                .iter()
                .map(|s| s["name"].clone())
                .collect::<Vec<_>>()
        ))
    );
    let warnings = v["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.starts_with("rw/curl-http-ok/.runwhen/generation-rules/http-ok-tls-aks")
                && w.contains("annotations")
        }),
        "the annotation the Map does not keep is named: {}",
        pretty(&v["warnings"])
    );

    // Stored: `slx show` has the generated config; a second discovery changes nothing.
    let d = deployments[0];
    let name = format!(
        "{}-{}-stub-depl-health",
        d["properties"]["object_name"].as_str().unwrap(),
        d["properties"]["namespace"].as_str().unwrap()
    );
    let shown = sitrep_json(h, &["slx", "show", &name, "--json"]);
    assert_eq!(
        shown["config"]["DEPLOYMENT_NAME"],
        d["properties"]["object_name"],
        "{}",
        pretty(&shown)
    );
    let again = sitrep_json(h, &["discover", "--json"]);
    assert_no_changes(&again);
    let unchanged = again["slxs"]["unchanged"].as_array().unwrap();
    assert!(
        unchanged.iter().any(|n| n == name.as_str()),
        "{}",
        pretty(&again["slxs"])
    );
}
