//! RunWhen codebundles in the catalog (`kind: runwhen` collections, docs/runwhen.md): listed by
//! `sitrep tasks`, checked by `sitrep bundles validate`, a broken one left out while the rest
//! loads. Running robot tasks: `runwhen_robot.rs`.
//!
//! Reads the five unmodified codebundles kept in `../shared/data/runwhen/` (beside the checkout);
//! fails, never skips, when they are missing.

use crate::harness::Home;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The shared test data: `<checkout>/../shared/data/runwhen`.
pub(crate) fn shared_runwhen() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/runwhen");
    assert!(
        dir.join("codebundles").is_dir(),
        "the RunWhen test data is missing: expected the five codebundles under {} (see ../shared/data/runwhen/README.md)",
        dir.display()
    );
    dir
}

const BUNDLES: [&str; 5] = [
    "curl-http-ok",
    "dns-health",
    "k8s-deployment-healthcheck",
    "k8s-namespace-healthcheck",
    "k8s-restart-resource",
];

/// A SITREP_HOME whose sitrep.yaml lists `collections` as (name, path) of kind runwhen.
pub(crate) fn runwhen_home(collections: &[(&str, &Path)]) -> Home {
    let home = Home::empty();
    let mut yaml = String::from("collections:\n");
    for (name, path) in collections {
        yaml.push_str(&format!(
            "  - name: {name}\n    path: {}\n    kind: runwhen\n",
            path.display()
        ));
    }
    std::fs::write(home.path().join("sitrep.yaml"), yaml).unwrap();
    home
}

/// `sitrep tasks --json` and what it said on standard error.
fn tasks_json(home: &Home) -> (Vec<Value>, String) {
    let out = home.sitrep(&["tasks", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v.as_array().unwrap().clone(), stderr)
}

fn rw_tasks<'a>(tasks: &'a [Value], collection: &str) -> Vec<&'a Value> {
    let prefix = format!("{collection}/");
    tasks
        .iter()
        .filter(|t| t["task"].as_str().unwrap().starts_with(&prefix))
        .collect()
}

#[test]
fn runwhen_codebundles_are_listed_as_robot_tasks() {
    let data = shared_runwhen();
    let home = runwhen_home(&[("rw", &data)]);
    let (tasks, stderr) = tasks_json(&home);
    let rw = rw_tasks(&tasks, "rw");
    for b in BUNDLES {
        assert!(
            rw.iter()
                .any(|t| t["task"].as_str().unwrap().starts_with(&format!("rw/{b}/"))),
            "no task of {b}: {rw:#?}\n{stderr}"
        );
    }
    assert!(rw.iter().all(|t| t["type"] == "robot"), "{rw:#?}");
    // Native tasks are still there.
    assert!(
        tasks
            .iter()
            .any(|t| t["task"] == "core/linux-host/disk-usage")
    );
    // sli.robot is the health task; access:read-write makes a remediation with the defaulted risk.
    let sli = rw
        .iter()
        .find(|t| t["task"] == "rw/curl-http-ok/sli")
        .expect("the SLI of curl-http-ok");
    assert_eq!(sli["kind"], "health");
    let fixes: Vec<_> = rw.iter().filter(|t| t["kind"] == "remediation").collect();
    assert!(!fixes.is_empty(), "{rw:#?}");
    assert!(
        fixes.iter().all(|t| t["task"]
            .as_str()
            .unwrap()
            .starts_with("rw/k8s-restart-resource/")
            && t["risk"] == "high"),
        "{fixes:#?}"
    );
    // Parameters and secrets come from RW.Core.Import User Variable / Import Secret.
    let deploy = rw
        .iter()
        .find(|t| {
            t["task"]
                .as_str()
                .unwrap()
                .starts_with("rw/k8s-deployment-healthcheck/")
        })
        .unwrap();
    let params: Vec<&str> = deploy["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"NAMESPACE"), "{deploy:#}");
    assert!(
        deploy["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "kubeconfig"),
        "{deploy:#}"
    );
    // The table shows the type too.
    let out = home.sitrep(&["tasks", "rw/k8s-restart-resource"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("robot") && table.contains("remediation"),
        "{table}"
    );
}

#[test]
fn the_shared_runwhen_collection_validates() {
    let data = shared_runwhen();
    let out = runwhen_home(&[]).sitrep(&["bundles", "validate", data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
}

/// A copy of `k8s-restart-resource` with its `*** Tasks ***` header misspelt, beside an
/// unmodified copy of `curl-http-ok`, in a temporary collection.
fn broken_collection() -> tempfile::TempDir {
    let data = shared_runwhen().join("codebundles");
    let dir = tempfile::tempdir().unwrap();
    for b in ["curl-http-ok", "k8s-restart-resource"] {
        let to = dir.path().join("codebundles").join(b);
        std::fs::create_dir_all(&to).unwrap();
        for f in ["runbook.robot", "sli.robot"] {
            if let Ok(text) = std::fs::read_to_string(data.join(b).join(f)) {
                std::fs::write(to.join(f), text).unwrap();
            }
        }
    }
    let runbook = dir
        .path()
        .join("codebundles/k8s-restart-resource/runbook.robot");
    let text = std::fs::read_to_string(&runbook).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.trim() == "*** Tasks ***")
        .unwrap();
    assert_eq!(line, 19, "the upstream file changed; update this test");
    std::fs::write(&runbook, text.replace("*** Tasks ***", "*** Taskz ***")).unwrap();
    dir
}

#[test]
fn a_broken_codebundle_is_reported_with_its_line_and_the_rest_loads() {
    let data = shared_runwhen();
    let bad = broken_collection();
    let broken_file = "codebundles/k8s-restart-resource/runbook.robot:19";

    let out = runwhen_home(&[]).sitrep(&["bundles", "validate", bad.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(broken_file), "{err}");
    assert!(!err.contains("curl-http-ok"), "{err}");

    let home = runwhen_home(&[("rw", &data), ("mine", bad.path())]);
    let (tasks, stderr) = tasks_json(&home);
    assert!(stderr.contains(broken_file), "{stderr}");
    let mine = rw_tasks(&tasks, "mine");
    assert!(
        mine.iter().all(|t| t["task"]
            .as_str()
            .unwrap()
            .starts_with("mine/curl-http-ok/")),
        "{mine:#?}"
    );
    assert!(!mine.is_empty(), "{stderr}");
    // The other collection is untouched, its k8s-restart-resource included.
    let rw = rw_tasks(&tasks, "rw");
    assert!(
        rw.iter().any(|t| t["task"]
            .as_str()
            .unwrap()
            .starts_with("rw/k8s-restart-resource/")),
        "{rw:#?}"
    );
}
