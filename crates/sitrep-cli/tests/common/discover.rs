//! Helpers shared by the discovery tests of both test binaries (`tests/it`, `tests/discovery`).

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

pub fn sitrep(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("sitrep")
        .unwrap()
        .env("SITREP_HOME", home)
        .env_remove("SITREP_DATABASE_URL")
        .args(args)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn sitrep_json(home: &Path, args: &[&str]) -> Value {
    let (code, out, err) = sitrep(home, args);
    assert_eq!(code, 0, "sitrep {args:?} failed:\n{out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("sitrep {args:?}: no JSON ({e}):\n{out}"))
}

pub fn resource<'a>(v: &'a Value, pred: impl Fn(&Value) -> bool) -> Option<&'a Value> {
    v["resources"].as_array().unwrap().iter().find(|r| pred(r))
}

pub fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn assert_no_changes(v: &Value) {
    for k in [
        "added",
        "changed",
        "retired",
        "edges_added",
        "edges_removed",
    ] {
        assert!(
            v["changes"][k].as_array().unwrap().is_empty(),
            "second discovery changed {k}: {}",
            pretty(&v["changes"])
        );
    }
    for k in ["create", "update", "retire"] {
        assert!(
            v["slxs"][k].as_array().unwrap().is_empty(),
            "second discovery would {k} SLXs: {}",
            pretty(&v["slxs"][k])
        );
    }
}
