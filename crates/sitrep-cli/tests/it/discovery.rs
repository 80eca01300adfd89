//! `sitrep discover` against the Kubernetes API stub in `testkit/k8s-stub` (recorded,
//! real-shaped objects; see its README). The sandbox half lives in its own test binary
//! (`tests/discovery`), because host discovery observes the whole machine.

#[path = "../common/discover.rs"]
mod common;

use crate::collection::{Guard, have, skip};
use crate::kubernetes::spawn_stub;
use common::{assert_no_changes, names, pretty, resource, sitrep, sitrep_json};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Starts the k8s stub; returns its guard, temp dir and kubeconfig path.
pub(crate) fn stub(extra: &[&str]) -> (Guard, tempfile::TempDir, PathBuf) {
    if !have("python3") || !have("openssl") {
        skip("python3 or openssl missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let guard = spawn_stub(&kc, extra);
    (guard, dir, kc)
}

fn k8s_home(kc: &Path, extra: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("sitrep.yaml"),
        format!(
            "secrets: {{kubeconfig: 'file:{kc}'}}\ndiscovery:\n  host: {{enabled: false}}\n  kubernetes:\n    - {{kubeconfig: '{kc}'{extra}}}\n",
            kc = kc.display()
        ),
    )
    .unwrap();
    home
}

fn key(kind: &str, ns: &str, name: &str) -> String {
    format!("k8s:stub/{kind}/{ns}/{name}")
}

fn edge(v: &Value, from: &str, to: &str, kind: &str) -> bool {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["from"] == from && e["to"] == to && e["kind"] == kind)
}

#[test]
fn kubernetes_indexer_builds_owner_selector_and_ingress_edges() {
    let (_g, _d, kc) = stub(&[]);
    let home = k8s_home(&kc, "");
    let h = home.path();
    let v = sitrep_json(h, &["discover", "--json"]);
    let pod = key("pod", "shop", "checkout-7c9f6d5b8-x2x9z");
    let rs = key("replicaset", "shop", "checkout-7c9f6d5b8");
    let deploy = key("deployment", "shop", "checkout");
    let svc = key("service", "shop", "checkout");
    assert!(
        edge(&v, &deploy, &rs, "owns"),
        "deployment -> replicaset: {}",
        pretty(&v["edges"])
    );
    assert!(edge(&v, &rs, &pod, "owns"), "replicaset -> pod");
    assert!(
        edge(&v, &svc, &pod, "depends-on"),
        "service -> pod (selector)"
    );
    assert!(
        edge(&v, &key("ingress", "shop", "shop"), &svc, "depends-on"),
        "ingress -> service"
    );
    assert!(
        edge(&v, &pod, "k8s:stub/node/node-c", "runs-on"),
        "pod -> node"
    );
    let p = resource(&v, |r| r["key"] == pod.as_str()).unwrap();
    assert_eq!(p["properties"]["context"], "stub");
    assert_eq!(p["properties"]["namespace"], "shop");

    // One SLX per namespace, the context as a qualifier, the kubeconfig by secret name.
    let created = names(&v["slxs"]["create"]);
    assert!(
        created.contains(&"stub-shop-ns-health".to_string()),
        "{created:?}"
    );
    assert!(
        !created.iter().any(|n| n.contains("kube-system")),
        "kube-* namespaces are not matched: {created:?}"
    );
    let slx = v["slxs"]["create"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "stub-shop-ns-health")
        .unwrap();
    assert_eq!(slx["config"]["NAMESPACE"], "shop");
    assert_eq!(slx["config"]["KUBE_CONTEXT"], "stub");
    assert_eq!(slx["secrets"]["KUBECONFIG"], "secret:kubeconfig");

    assert_no_changes(&sitrep_json(h, &["discover", "--json"]));

    // Namespace and label exclusions.
    let home = k8s_home(
        &kc,
        ", exclude_namespaces: [payments], exclude_labels: ['app=frontend']",
    );
    let v = sitrep_json(home.path(), &["discover", "--json"]);
    assert!(resource(&v, |r| r["properties"]["namespace"] == "payments").is_none());
    assert!(resource(&v, |r| r["labels"]["app"] == "frontend").is_none());
    assert!(resource(&v, |r| r["key"] == pod.as_str()).is_some());
}

#[test]
fn kubernetes_5000_objects_are_indexed() {
    let (_g, _d, kc) = stub(&["--generate", "5000"]);
    let home = k8s_home(&kc, "");
    let t = Instant::now();
    let v = sitrep_json(home.path(), &["discover", "--json"]);
    let n = v["resources"].as_array().unwrap().len();
    eprintln!(
        "indexed {n} objects in {:?} (debug build; see docs/discovery.md for release figures)",
        t.elapsed()
    );
    assert!(n >= 5000, "only {n} resources");
    // Every generated app: deployment owns its replicaset owns its pod; its service selects it.
    let svc_to_pod = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["kind"] == "depends-on"
                && e["from"].as_str().unwrap().contains("/service/gen-")
                && e["to"].as_str().unwrap().contains("/pod/gen-")
        })
        .count();
    let apps = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["kind"] == "k8s-deployment"
                && r["properties"]["namespace"]
                    .as_str()
                    .unwrap()
                    .starts_with("gen-")
        })
        .count();
    assert!(apps > 1000, "generated apps: {apps}");
    assert_eq!(
        svc_to_pod, apps,
        "one service -> pod edge per generated app"
    );
    let owns = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "owns" && e["from"].as_str().unwrap().contains("/gen-"))
        .count();
    assert_eq!(
        owns,
        2 * apps,
        "deployment -> replicaset -> pod per generated app"
    );
}

#[test]
fn discover_reports_a_bad_declared_entry_clearly() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("sitrep.yaml"),
        "discovery:\n  host: {enabled: false}\n  declared:\n    - {name: db, dsn: 'postgres://u:hunter2@h/db'}\n",
    )
    .unwrap();
    let (code, out, err) = sitrep(home.path(), &["discover"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("discovery.declared[0] (db)") && err.contains("secret"),
        "{err}"
    );
    assert!(!err.contains("hunter2") && !out.contains("hunter2"));
}
