//! `sitrep analyze anomalies|rca|logs` on the user's own files, through the binary.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

fn sitrep(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(args)
        .env("SITREP_HOME", home)
        .env_remove("SITREP_DATABASE_URL")
        .output()
        .unwrap()
}

fn json(home: &Path, args: &[&str]) -> Value {
    let out = sitrep(home, args);
    assert!(
        out.status.success(),
        "sitrep {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

/// Deterministic noise in [-1, 1].
fn noise(i: usize) -> f64 {
    let x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 33) as f64 / (1u64 << 31) as f64) - 1.0
}

/// Five-minute samples from 2024-01-01 00:00.
fn stamp(i: usize) -> String {
    let m = i * 5;
    format!(
        "2024-01-{:02} {:02}:{:02}:00",
        1 + m / 1440,
        m / 60 % 24,
        m % 60
    )
}

#[test]
fn anomalies_finds_a_spike_and_a_flattened_day_in_a_daily_series() {
    let dir = tempfile::tempdir().unwrap();
    // one week of a daily cycle; a spike on day 4, then (more than the detector's 300-point
    // rest later) day 6 goes flat at the mean
    let mut csv = String::from("timestamp,value\n");
    for i in 0..2016 {
        let day = (i as f64 / 288.0 * std::f64::consts::TAU).sin();
        let v = match i {
            1000 => 400.0,
            1700..=1900 => 100.0 + 0.5 * noise(i),
            _ => 100.0 + 30.0 * day + 0.5 * noise(i),
        };
        writeln!(csv, "{},{v}", stamp(i)).unwrap();
    }
    let file = dir.path().join("latency.csv");
    std::fs::write(&file, csv).unwrap();
    let f = file.to_str().unwrap();

    let v = json(dir.path(), &["analyze", "anomalies", f, "--json"]);
    assert_eq!(v["points"], 2016);
    assert_eq!(v["season"], 288, "one day of 5-minute points");
    let rows: Vec<u64> = v["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["index"].as_u64().unwrap())
        .collect();
    assert!(rows.contains(&1000), "the spike: {rows:?}");
    assert!(
        rows.iter().any(|r| (1700..1760).contains(r)),
        "the flat day, early: {rows:?}"
    );
    assert!(rows.len() <= 6, "a few points, not the noise: {rows:?}");

    // the human table numbers rows as in the file (header = row 1)
    let out = sitrep(dir.path(), &["analyze", "anomalies", f]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  1002  2024-01-04 11:20:00"), "{text}");

    // --all scores every row
    let out = sitrep(dir.path(), &["analyze", "anomalies", f, "--all"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2017);
}

#[test]
fn anomalies_on_a_bad_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, "just one line without numbers\n").unwrap();
    let out = sitrep(
        dir.path(),
        &["analyze", "anomalies", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv") && err.contains("timestamp,value"),
        "{err}"
    );
}

#[test]
fn rca_blames_the_dependency_that_explains_the_symptoms() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    // frontend calls api calls db; cache is a bystander
    std::fs::write(p("graph.csv"), "from,to\nfrontend,api\napi,db\napi,cache\n").unwrap();
    let table = |slow_db: bool| {
        let mut s = String::from("timestamp,frontend,api,db,cache\n");
        for i in 0..60 {
            let extra = if slow_db && i >= 10 { 200.0 } else { 0.0 };
            let j = |k: usize| 2.0 * noise(i * 7 + k);
            writeln!(
                s,
                "{i},{},{},{},{}",
                300.0 + extra + j(0),
                120.0 + extra + j(1),
                40.0 + extra + j(2),
                5.0 + j(3)
            )
            .unwrap();
        }
        s
    };
    std::fs::write(p("normal.csv"), table(false)).unwrap();
    std::fs::write(p("abnormal.csv"), table(true)).unwrap();
    let path = |n: &str| p(n).to_str().unwrap().to_string();
    let (g, n, a) = (path("graph.csv"), path("normal.csv"), path("abnormal.csv"));
    let args = [
        "analyze",
        "rca",
        "--graph",
        &g,
        "--normal",
        &n,
        "--abnormal",
        &a,
        "--target",
        "frontend",
        "--metric",
        "latency",
    ];
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let v = json(dir.path(), &with_json);
    assert_eq!(v["trigger_row"], 10);
    assert_eq!(v["root_causes"][0]["node"], "db", "{v:#}");
    let ranked: Vec<&str> = v["root_causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["node"].as_str().unwrap())
        .collect();
    assert!(!ranked.contains(&"cache"), "{ranked:?}");

    let out = sitrep(dir.path(), &args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("violation from abnormal row 11"), "{text}");
}

#[test]
fn logs_turns_thousands_of_lines_into_a_few_templates() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for i in 0..3000 {
        match i % 3 {
            0 => writeln!(log, "GET /orders/{} 200 {}ms", 1000 + i, i % 97).unwrap(),
            1 => writeln!(log, "connection from 10.0.{}.{} accepted", i % 7, i % 250).unwrap(),
            _ => writeln!(log, "worker {} finished job {} in {}s", i % 5, i, i % 13).unwrap(),
        }
    }
    let file = dir.path().join("app.log");
    std::fs::write(&file, &log).unwrap();
    let v = json(
        dir.path(),
        &["analyze", "logs", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(v["lines"], 3000);
    let t = v["templates"].as_array().unwrap();
    assert_eq!(t.len(), 3, "{v:#}");
    assert!(t.iter().all(|t| t["count"] == 1000), "{v:#}");
    assert!(
        t.iter()
            .any(|t| t["template"] == "connection from <*> accepted"),
        "{v:#}"
    );
}
