//! RunWhen's Kubernetes codebundles run unmodified (docs/runwhen.md) through the real `kubectl`
//! against the Kubernetes API stub of `testkit/k8s-stub` (`kubernetes::spawn_stub`): the
//! `kubeconfig` secret is a file's text that RW.CLI writes to a file (`secret_file__kubeconfig=`),
//! the stub's unhealthy pods and deployments become issues, the restart remediation does not run
//! without approval, and a secret given to a robot task appears nowhere sitrep keeps or prints.
//!
//! Each robot task costs about a second of CPU (Robot Framework's start-up) plus its kubectl
//! calls, so only a few tasks run here.

use crate::collection::{Guard, have, skip};
use crate::harness::{Home, write};
use crate::kubernetes::spawn_stub;
use crate::runwhen::runwhen_home;
use crate::runwhen_robot::{robot_home, run_json, runtimes};
use serde_json::Value;
use std::path::{Path, PathBuf};

const PENDING: &str = "rw/k8s-namespace-healthcheck/inspect-pending-pods-in-namespace-namespace";
const WARNINGS: &str = "rw/k8s-namespace-healthcheck/inspect-warning-events-in-namespace-namespace";
const CONDITIONS: &str =
    "rw/k8s-namespace-healthcheck/inspect-workload-status-conditions-in-namespace-namespace";
const REPLICAS: &str = "rw/k8s-deployment-healthcheck/check-deployment-replica-status-for-deployment-name-in-namespace-namespace";
const RESTART: &str = "rw/k8s-restart-resource/restart-resource-with-labels-labels-in-context";

/// The stub, its request log and a kubeconfig secret file whose token is a canary.
struct Cluster {
    _guard: Guard,
    dir: tempfile::TempDir,
    /// The file `--secret kubeconfig=@FILE` reads.
    secret_file: PathBuf,
    /// The kubeconfig's text: the secret's value.
    kubeconfig: String,
    /// The token inside it (the stub takes any).
    token: String,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        if !have("python3") || !have("openssl") || !have("kubectl") || !have("jq") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        let log = dir.path().join("requests.jsonl");
        let guard = spawn_stub(&kc, &["--request-log", log.to_str().unwrap()]);
        let token = canary("kube");
        let kubeconfig = std::fs::read_to_string(&kc)
            .unwrap()
            .replace("stub-token", &token);
        assert!(kubeconfig.contains(&token), "{kubeconfig}");
        let secret_file = dir.path().join("kubeconfig.secret");
        std::fs::write(&secret_file, &kubeconfig).unwrap();
        Some(Cluster {
            _guard: guard,
            dir,
            secret_file,
            kubeconfig,
            token,
        })
    }

    /// `sitrep run TASK --set K=V… --set CONTEXT=stub --secret kubeconfig=@FILE --resource NS`,
    /// the resource being the namespace of `NAMESPACE=NS`.
    fn args(&self, task: &str, sets: &[&str]) -> Vec<String> {
        let ns = sets
            .iter()
            .find_map(|s| s.strip_prefix("NAMESPACE="))
            .expect("a NAMESPACE");
        let mut args: Vec<String> = vec!["run".into(), task.into()];
        for s in sets.iter().chain(&["CONTEXT=stub"]) {
            args.extend(["--set".into(), s.to_string()]);
        }
        args.extend([
            "--secret".into(),
            format!("kubeconfig=@{}", self.secret_file.display()),
            "--resource".into(),
            ns.into(),
        ]);
        args
    }

    fn run(&self, home: &Home, task: &str, sets: &[&str]) -> Value {
        let mut args = self.args(task, sets);
        args.push("--json".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = run_json(home, &args);
        assert_eq!(v["run"]["status"], "succeeded", "{v:#}");
        v
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// A value no output would contain by chance.
fn canary(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("canary-{what}-{}-{nanos:x}", std::process::id())
}

fn issues(v: &Value) -> &Vec<Value> {
    v["issues"].as_array().unwrap()
}

/// The files under `dir`, symbolic links (the shared runtime) left out.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let kind = e.file_type().unwrap();
        if kind.is_dir() {
            out.extend(files_under(&e.path()))
        } else if kind.is_file() {
            out.push(e.path())
        }
    }
    out
}

/// Fails when any of `needles` is in a file of the home (its database among them) or in one
/// of `outputs`.
fn assert_nowhere(home: &Home, needles: &[(&str, &str)], outputs: &[(String, Vec<u8>)]) {
    let mut seen: Vec<(String, Vec<u8>)> = outputs.to_vec();
    for f in files_under(home.path()) {
        seen.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
    assert!(
        seen.iter().any(|(n, _)| n.ends_with("sitrep.db")),
        "the database was searched: {:?}",
        seen.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for (what, needle) in needles {
        for (name, bytes) in &seen {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{what} is in {name}"
            );
        }
    }
}

#[test]
fn runwhen_namespace_healthcheck_raises_the_stubs_pending_unready_and_warned_workloads() {
    let Some(cluster) = Cluster::start() else {
        return skip("python3, openssl, kubectl or jq missing");
    };
    let home = robot_home();

    let pending = cluster.run(&home, PENDING, &["NAMESPACE=shop"]);
    let found = issues(&pending);
    assert_eq!(found.len(), 1, "{pending:#}");
    let issue = &found[0];
    assert_eq!(issue["severity"], 2, "{issue:#}");
    let title = issue["title"].as_str().unwrap();
    assert!(
        title.contains("Deployment `search-indexer` cannot be scheduled"),
        "{title}"
    );
    assert!(
        issue["actual"]
            .as_str()
            .unwrap()
            .contains("search-indexer-6b7c8d9f5-pl4mn"),
        "{issue:#}"
    );
    assert!(
        issue["details"]
            .as_str()
            .unwrap()
            .contains("Insufficient memory"),
        "{issue:#}"
    );

    let conditions = cluster.run(&home, CONDITIONS, &["NAMESPACE=shop"]);
    let found = issues(&conditions);
    assert_eq!(found.len(), 1, "{conditions:#}");
    assert_eq!(found[0]["severity"], 4, "{conditions:#}");
    let title = found[0]["title"].as_str().unwrap();
    assert!(
        title.contains("`checkout-7c9f6d5b8-x2x9z`") && title.contains("unready"),
        "{title}"
    );

    // the stub's Warning events, grouped by the workload that owns their object
    let warnings = cluster.run(&home, WARNINGS, &["NAMESPACE=shop"]);
    let titled = |v: &Value, text: &str| -> Value {
        issues(v)
            .iter()
            .find(|i| i["title"].as_str().unwrap().contains(text))
            .unwrap_or_else(|| panic!("no issue titled {text:?}: {v:#}"))
            .clone()
    };
    let failing = titled(&warnings, "Deployment `checkout` has failing containers");
    assert_eq!(failing["severity"], 2, "{failing:#}");
    let probes = titled(
        &warnings,
        "Deployment `checkout` has readiness probe failures",
    );
    assert_eq!(probes["severity"], 2, "{probes:#}");
    titled(&warnings, "Deployment `search-indexer` cannot be scheduled");
    titled(&warnings, "PersistentVolumeClaim `uploads`");
    assert_eq!(issues(&warnings).len(), 4, "{warnings:#}");

    // a namespace without pending pods raises nothing
    let calm = cluster.run(&home, PENDING, &["NAMESPACE=payments"]);
    assert!(issues(&calm).is_empty(), "{calm:#}");

    // both went through kubectl to the stub, with the kubeconfig RW.CLI wrote from the secret
    let reqs = cluster.requests();
    assert!(
        reqs.iter().any(|r| r["path"]
            .as_str()
            .unwrap()
            .starts_with("/api/v1/namespaces/shop/pods")),
        "{reqs:#?}"
    );

    // stored like a native task's issues
    let stored = run_json(&home, &["issues", "--json"]);
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 6, "{stored:#?}");
    assert!(stored.iter().all(|i| i["scope"] == "shop"), "{stored:#?}");
    assert!(
        stored
            .iter()
            .any(|i| i["task"] == PENDING && i["severity"] == 2),
        "{stored:#?}"
    );

    // the kubeconfig (and its token) is nowhere sitrep keeps
    assert_nowhere(
        &home,
        &[
            ("the kubeconfig secret", cluster.kubeconfig.trim_end()),
            ("the kubeconfig's token", &cluster.token),
        ],
        &[(
            "the runs' JSON".into(),
            format!("{pending}{warnings}{conditions}{calm}").into_bytes(),
        )],
    );
}

#[test]
fn runwhen_deployment_healthcheck_raises_a_deployment_without_ready_replicas() {
    let Some(cluster) = Cluster::start() else {
        return skip("python3, openssl, kubectl or jq missing");
    };
    let home = robot_home();

    let broken = cluster.run(
        &home,
        REPLICAS,
        &["NAMESPACE=shop", "DEPLOYMENT_NAME=search-indexer"],
    );
    let found = issues(&broken);
    assert!(!found.is_empty(), "{broken:#}");
    let issue = found
        .iter()
        .find(|i| {
            i["title"]
                .as_str()
                .unwrap()
                .contains("Deployment `search-indexer` Has No Ready Replicas")
        })
        .unwrap_or_else(|| panic!("{broken:#}"));
    assert_eq!(issue["severity"], 1, "{issue:#}");

    let healthy = cluster.run(
        &home,
        REPLICAS,
        &["NAMESPACE=shop", "DEPLOYMENT_NAME=frontend"],
    );
    assert!(issues(&healthy).is_empty(), "{healthy:#}");
    assert!(
        cluster
            .requests()
            .iter()
            .any(|r| r["path"] == "/apis/apps/v1/namespaces/shop/deployments/search-indexer"),
        "{:#?}",
        cluster.requests()
    );
}

#[test]
fn runwhen_restart_resource_does_not_run_without_approval() {
    let Some(cluster) = Cluster::start() else {
        return skip("python3, openssl, kubectl or jq missing");
    };
    let home = robot_home();
    let tasks = run_json(&home, &["tasks", "--json"]);
    let restart = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == RESTART)
        .unwrap_or_else(|| panic!("{tasks:#}"));
    assert_eq!(restart["kind"], "remediation", "{restart:#}");

    let args = cluster.args(RESTART, &["NAMESPACE=shop", "LABELS=app=checkout"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = home.sitrep(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(RESTART)
            && stderr.contains("remediation")
            && stderr.contains("approval")
            && stderr.contains("--approve"),
        "{stderr}"
    );
    assert!(
        cluster.requests().is_empty(),
        "nothing reaches the cluster: {:#?}",
        cluster.requests()
    );
    let runs = run_json(&home, &["runs", "--json"]);
    assert!(
        runs.as_array().is_none_or(|r| r.is_empty()),
        "no run: {runs:#}"
    );
}

/// A codebundle of the test (not RunWhen's) passing a secret every way RW.CLI passes one:
/// `secret__` (an environment variable of the command), `secret_file__` (a file RW.CLI writes,
/// its path in the variable), and the value itself in the console, a report and an issue.
const CANARY_ROBOT: &str = r#"*** Settings ***
Documentation       A canary: a secret passed every way RW.CLI passes one, then printed.
Library             RW.Core
Library             RW.CLI
Suite Setup         Suite Initialization

*** Tasks ***
Leak The Token
    [Documentation]    Prints the secret every way it can.
    [Tags]    access:read-only
    ${as_env}=    RW.CLI.Run Cli    cmd=printf 'len=%s value=%s' "\${#TOKEN}" "$TOKEN"    secret__TOKEN=${TOKEN}
    ${as_file}=    RW.CLI.Run Cli    cmd=printf 'path=%s mode=%s value=' "$TOKEN" "$(stat -c %a "$TOKEN")"; cat "$TOKEN"    secret_file__TOKEN=${TOKEN}
    Log To Console    console ${TOKEN.value}
    RW.Core.Add Pre To Report    env ${as_env.stdout}
    RW.Core.Add Pre To Report    file ${as_file.stdout}
    RW.Core.Add Issue    severity=3    title=leaky ${TOKEN.value}    expected=nothing    actual=${as_file.stdout}    next_steps=none    details=${TOKEN.value}

*** Keywords ***
Suite Initialization
    ${TOKEN}=    RW.Core.Import Secret    TOKEN    type=string    description=a canary
    Set Suite Variable    ${TOKEN}    ${TOKEN}
"#;

#[test]
fn a_robot_tasks_secret_reaches_rw_cli_as_variable_and_file_and_is_kept_nowhere() {
    let cn = tempfile::tempdir().unwrap();
    write(
        &cn.path().join("codebundles/canary/runbook.robot"),
        CANARY_ROBOT,
    );
    let home = runwhen_home(&[("cn", cn.path())]);
    std::os::unix::fs::symlink(runtimes(), home.path().join("runtimes")).unwrap();
    let secret = canary("token");
    let secret_file = cn.path().join("token");
    std::fs::write(&secret_file, &secret).unwrap();
    let secret_arg = format!("TOKEN=@{}", secret_file.display());
    let args = [
        "run",
        "cn/canary/leak-the-token",
        "--secret",
        &secret_arg,
        "--resource",
        "canary",
        "--json",
    ];
    let out = home.sitrep(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["status"], "succeeded", "{v:#}");
    let report = v["report"].as_str().unwrap();
    // secret__: the value in the command's environment (its length printed, the value redacted)
    assert!(
        report.contains(&format!("env len={} value=[REDACTED:TOKEN]", secret.len())),
        "{report}"
    );
    // secret_file__: a file in the run directory holding the value
    let run_dir = report
        .split("file path=")
        .nth(1)
        .and_then(|r| r.split(" mode=").next())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(run_dir.ends_with("/TOKEN"), "{report}");
    // the task's user's only (RW.CLI adds u+x to what it stages; the umask keeps the rest out)
    let mode = report.split(" mode=").nth(1).unwrap_or_default();
    assert!(
        mode.starts_with(['6', '7']) && mode[1..].starts_with("00 "),
        "{report}"
    );
    assert!(
        report.contains("value=[REDACTED:TOKEN]") && !report.contains(&secret),
        "{report}"
    );
    assert!(!Path::new(run_dir).exists(), "the run directory is removed");
    let stdout = v["run"]["stdout"].as_str().unwrap_or_default();
    assert!(stdout.contains("console [REDACTED:TOKEN]"), "{v:#}");
    let issue = &issues(&v)[0];
    assert_eq!(issue["title"], "leaky [REDACTED:TOKEN]", "{issue:#}");
    assert_eq!(issue["details"], "[REDACTED:TOKEN]", "{issue:#}");

    let listed = home.sitrep(&["issues", "--all", "--json"]);
    assert_nowhere(
        &home,
        &[("the secret", &secret)],
        &[
            ("run stdout".into(), out.stdout.clone()),
            ("run stderr".into(), out.stderr.clone()),
            ("issues stdout".into(), listed.stdout),
            ("issues stderr".into(), listed.stderr),
        ],
    );
}
