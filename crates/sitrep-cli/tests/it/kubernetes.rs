//! The core collection's `kubernetes` bundle against the Kubernetes API STUB in
//! `testkit/k8s-stub` (recorded, real-shaped objects; see its README), through the real `kubectl`
//! (Debian's kubernetes-client, or `SITREP_TEST_KUBECTL`).

use crate::collection::{
    Guard, Sitrep, assert_actionable, have, issue_with, issues, pretty, severity, skip, wait_for,
};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};

struct Stub {
    _guard: Guard,
    dir: tempfile::TempDir,
    kubeconfig: String,
}

impl Stub {
    fn start() -> Option<Stub> {
        let kubectl = kubectl();
        if !have("python3") || !have("openssl") || !have(&kubectl) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        let log = dir.path().join("requests.jsonl");
        let guard = spawn_stub(&kc, &["--request-log", log.to_str().unwrap()]);
        Some(Stub {
            _guard: guard,
            kubeconfig: std::fs::read_to_string(&kc).unwrap(),
            dir,
        })
    }

    fn run(&self, sitrep: &Sitrep, task: &str, sets: &[(&str, &str)]) -> Value {
        let k = kubectl();
        let mut all: Vec<(&str, &str)> = vec![("KUBECTL", k.as_str())];
        all.extend_from_slice(sets);
        sitrep.run(
            &format!("kubernetes/{task}"),
            "shop-prod-eu1",
            &all,
            &[("KUBECONFIG", self.kubeconfig.as_str())],
        )
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Starts `testkit/k8s-stub/stub.py` writing its kubeconfig to `kubeconfig`; returns once it
/// accepts connections.
pub fn spawn_stub(kubeconfig: &std::path::Path, extra: &[&str]) -> Guard {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testkit/k8s-stub/stub.py");
    let mut child = Proc::new("python3")
        .arg(&script)
        .args(["--port", "0", "--kubeconfig"])
        .arg(kubeconfig)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the k8s stub");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "stub did not start: {line:?}"
    );
    Guard(child)
}

fn kubectl() -> String {
    std::env::var("SITREP_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

#[test]
fn k8s_pods_crashloop_pending_oomkilled_with_logs() {
    let Some(stub) = Stub::start() else {
        return skip("python3, openssl or kubectl missing");
    };
    let sitrep = Sitrep::new();
    let v = stub.run(&sitrep, "pods", &[]);
    let crash = issue_with(&v, &["deployment shop/checkout", "CrashLoopBackOff"]);
    assert_eq!(severity(&crash), 2);
    assert_actionable(&crash);
    assert!(
        crash["details"]
            .as_str()
            .unwrap()
            .contains("database unavailable"),
        "last log lines of the previous container: {}",
        pretty(&crash)
    );
    let pending = issue_with(&v, &["deployment shop/search-indexer", "Pending"]);
    assert!(
        pending["actual"]
            .as_str()
            .unwrap()
            .contains("Insufficient memory"),
        "{}",
        pretty(&pending)
    );
    let oom = issue_with(&v, &["deployment shop/catalog", "OOMKilled"]);
    assert!(
        oom["actual"].as_str().unwrap().contains("256Mi"),
        "{}",
        pretty(&oom)
    );
    assert_eq!(
        issues(&v).len(),
        3,
        "healthy pods raise nothing: {}",
        pretty(&v)
    );

    // a namespace without problems: nothing, and the earlier issues are not carried over to it
    let v = stub.run(&sitrep, "pods", &[("NAMESPACE", "payments")]);
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
    // the OOM kill ages out of a shorter window; Pending must be older than the threshold
    let v = stub.run(
        &sitrep,
        "pods",
        &[
            ("NAMESPACE", "shop"),
            ("OOM_WINDOW_MIN", "5"),
            ("PENDING_MIN_AGE_S", "7200"),
        ],
    );
    assert_eq!(issues(&v).len(), 1, "{}", pretty(&v));
}

#[test]
fn k8s_workloads_events_pvcs_nodes_certificates() {
    let Some(stub) = Stub::start() else {
        return skip("python3, openssl or kubectl missing");
    };
    let sitrep = Sitrep::new();

    let v = stub.run(&sitrep, "workloads", &[]);
    assert_eq!(
        severity(&issue_with(
            &v,
            &["Deployment shop/checkout has unavailable replicas"]
        )),
        2
    );
    let si = issue_with(&v, &["Deployment shop/search-indexer"]);
    assert_eq!(
        severity(&si),
        1,
        "no replica available is critical: {}",
        pretty(&si)
    );
    assert!(
        si["actual"]
            .as_str()
            .unwrap()
            .contains("timed out progressing")
    );
    assert_eq!(issues(&v).len(), 2, "{}", pretty(&v));

    let v = stub.run(&sitrep, "warning-events", &[]);
    assert_eq!(
        severity(&issue_with(&v, &["ProvisioningFailed", "shop/uploads"])),
        2
    );
    issue_with(&v, &["FailedScheduling", "search-indexer"]);
    issue_with(&v, &["BackOff", "checkout"]);
    assert!(
        !issues(&v)
            .iter()
            .any(|i| i["title"].as_str().unwrap().contains("frontend")),
        "an event older than the window: {}",
        pretty(&v)
    );

    let v = stub.run(&sitrep, "pvcs", &[]);
    issue_with(&v, &["PVC shop/uploads is stuck Pending"]);
    let full = issue_with(&v, &["PVC payments/data-ledger-0 is nearly full"]);
    assert_eq!(
        severity(&full),
        2,
        "96% is over PVC_CRIT_PCT: {}",
        pretty(&full)
    );
    let v = stub.run(
        &sitrep,
        "pvcs",
        &[
            ("NAMESPACE", "payments"),
            ("PVC_WARN_PCT", "99"),
            ("PVC_CRIT_PCT", "99"),
        ],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));

    let v = stub.run(&sitrep, "nodes", &[]);
    assert_eq!(
        severity(&issue_with(&v, &["Node node-b has MemoryPressure"])),
        2
    );
    assert_eq!(issues(&v).len(), 1, "{}", pretty(&v));

    let v = stub.run(&sitrep, "certificates", &[]);
    let c = issue_with(&v, &["shop/shop-tls", "expires soon"]);
    assert_eq!(
        severity(&c),
        2,
        "3 days left is under CERT_CRIT_DAYS: {}",
        pretty(&c)
    );
    assert_eq!(
        issues(&v).len(),
        1,
        "payments-tls has 200 days: {}",
        pretty(&v)
    );
    let v = stub.run(
        &sitrep,
        "certificates",
        &[("CERT_WARN_DAYS", "2"), ("CERT_CRIT_DAYS", "1")],
    );
    assert!(issues(&v).is_empty(), "{}", pretty(&v));
}

#[test]
fn k8s_pod_logs_and_remediations() {
    let Some(stub) = Stub::start() else {
        return skip("python3, openssl or kubectl missing");
    };
    let sitrep = Sitrep::new();
    let v = stub.run(
        &sitrep,
        "pod-logs",
        &[("NAMESPACE", "shop"), ("POD", "checkout-7c9f6d5b8-x2x9z")],
    );
    assert!(
        v["report"].to_string().contains("panic: startup failed"),
        "{}",
        pretty(&v)
    );

    let v = stub.run(
        &sitrep,
        "scale-deployment",
        &[
            ("NAMESPACE", "shop"),
            ("DEPLOYMENT", "checkout"),
            ("REPLICAS", "4"),
        ],
    );
    assert!(
        v["report"].to_string().contains("from 2 to 4"),
        "{}",
        pretty(&v)
    );
    let scaled = stub.requests().into_iter().any(|r| {
        r["method"] != "GET"
            && r["path"]
                .as_str()
                .unwrap_or("")
                .contains("/deployments/checkout")
            && r["body"].to_string().contains("\"replicas\":4")
    });
    assert!(
        scaled,
        "the stub saw no scale request: {:?}",
        stub.requests()
    );

    let v = stub.run(
        &sitrep,
        "rollout-restart",
        &[
            ("NAMESPACE", "shop"),
            ("DEPLOYMENT", "frontend"),
            ("ROLLOUT_WAIT_S", "3"),
        ],
    );
    assert!(
        v["report"].to_string().contains("rollout undo"),
        "reports the rollback: {}",
        pretty(&v)
    );
    wait_for(5, "the restart patch", || {
        stub.requests().iter().any(|r| {
            r["method"] == "PATCH"
                && r["path"]
                    .as_str()
                    .unwrap_or("")
                    .contains("/deployments/frontend")
        })
    });
}
