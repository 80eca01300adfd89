//! Loading and validating collections from disk.

use sitrep_bundles::{
    Catalog, CollectionSource, Problem, TaskSpec, load_collection, validate_path,
};
use sitrep_core::{TaskKind, TaskRef};
use std::fs;
use std::path::Path;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn collection(bundle_yaml: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "collection.yaml", "name: test\nversion: 1\n");
    write(d.path(), "bundles/b/bundle.yaml", bundle_yaml);
    for (rel, text) in files {
        write(d.path(), &format!("bundles/b/{rel}"), text);
    }
    d
}

fn problems(bundle_yaml: &str, files: &[(&str, &str)]) -> Vec<Problem> {
    let d = collection(bundle_yaml, files);
    validate_path(d.path()).unwrap()
}

const GOOD: &str = "name: pg
description: test bundle
params:
  - name: PG_DSN
    required: true
  - name: MAX_IDLE
    default: \"5\"
secrets:
  - name: PGPASSWORD
tasks:
  - name: idle
    kind: health
    type: sql
    interval: 1m
    sql:
      dsn: ${PG_DSN}
      password: ${PGPASSWORD}
      query: select 1 as n
      raise:
        - when: n >= ${MAX_IDLE}
          severity: 2
          title: too many {n}
  - name: fix
    kind: remediation
    type: bash
    script: fix.sh
    risk: low
    rollback: nothing to undo
    params: [PID]
hypotheses:
  - id: h
    statement: it is broken
    tested_by: [idle]
    remediation: fix
    remediation_params: {PID: \"{pid}\"}
";

#[test]
fn a_good_bundle_loads() {
    let d = collection(GOOD, &[("fix.sh", "echo ok\n")]);
    let c = load_collection(d.path()).unwrap();
    let b = &c.bundles[0];
    assert_eq!(b.name, "pg");
    assert_eq!(b.tasks.len(), 2);
    assert_eq!(
        b.tasks[0].interval,
        Some(std::time::Duration::from_secs(60))
    );
    assert_eq!(b.tasks[1].kind, TaskKind::Remediation);
    assert!(matches!(b.tasks[1].spec, TaskSpec::Script { .. }));
}

#[test]
fn bad_yaml_names_file_and_line() {
    let ps = problems("name: pg\ntasks:\n  - name: a\n    kind: [health\n", &[]);
    assert_eq!(ps.len(), 1);
    let text = ps[0].to_string();
    assert!(text.contains("bundles/b/bundle.yaml:"), "{text}");
    assert!(ps[0].line.is_some(), "{text}");
    assert!(text.contains("invalid YAML"), "{text}");
}

#[test]
fn every_problem_is_reported_with_line_and_field() {
    let yaml = "name: pg
tasks:
  - name: one
    kind: health
    type: perl
  - name: two
    kind: diagnostic
    type: bash
    script: missing.sh
  - name: three
    kind: remediation
    type: bash
    script: ok.sh
  - name: four
    kind: health
    type: sql
    sql:
      dsn: ${NOPE}
      query: select 1
      raise:
        - when: n >=
          severity: 7
          title: x
    colour: blue
";
    let ps = problems(yaml, &[("ok.sh", "true\n")]);
    let lines: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
            .clone()
    };
    assert!(find("unknown task type \"perl\"").contains(":5: tasks[0].type:"));
    assert!(find("script \"missing.sh\" not found").contains(":9: tasks[1].script:"));
    assert!(find("must declare `risk`").contains(":10: tasks[2]:"));
    assert!(find("must declare `rollback`").contains(":10: tasks[2]:"));
    assert!(find("${NOPE} is not a declared").contains("tasks[3].sql"));
    assert!(find("invalid expression").contains(":21: tasks[3].sql.raise[0].when:"));
    assert!(find("severity must be 1").contains(":22: tasks[3].sql.raise[0].severity:"));
    assert!(find("tasks[3].colour").contains(":24:"));
    assert_eq!(ps.len(), 8, "{lines:#?}");
}

#[test]
fn scripts_cannot_escape_the_bundle() {
    let ps = problems(
        "name: x\ntasks:\n  - name: a\n    kind: diagnostic\n    type: bash\n    script: ../../etc/passwd\n",
        &[],
    );
    assert!(ps[0].message.contains("inside the bundle folder"), "{ps:?}");
}

#[test]
fn unknown_fields_in_blocks_are_located() {
    let yaml = "name: x\ntasks:\n  - name: a\n    kind: health\n    type: http\n    http:\n      url: http://x\n      methd: GET\n";
    let ps = problems(yaml, &[]);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].field, "tasks[0].http.methd");
    assert_eq!(ps[0].line, Some(8));
}

#[test]
fn the_embedded_core_collection_is_valid() {
    let cache = tempfile::tempdir().unwrap();
    let catalog = Catalog::load(&[], cache.path()).unwrap_or_else(|e| panic!("{e}"));
    let core = &catalog.collections[0];
    assert_eq!(core.name, "core");
    assert!(!core.bundles.is_empty());
    // Every remediation declares risk and rollback (enforced by validation, checked here end to end).
    for t in catalog.tasks() {
        if t.task.kind == TaskKind::Remediation {
            assert!(
                t.task.risk.is_some() && t.task.rollback.is_some(),
                "{}",
                t.task_ref()
            );
        }
    }
    // Extraction is idempotent.
    let again = Catalog::load(&[], cache.path()).unwrap();
    assert_eq!(again.collections[0].root, core.root);
}

#[test]
fn collections_load_from_a_folder_and_from_git() {
    let src = collection(GOOD, &[("fix.sh", "echo ok\n")]);
    let cache = tempfile::tempdir().unwrap();
    let folder = CollectionSource {
        name: "mine".into(),
        path: Some(src.path().to_path_buf()),
        git: None,
        rev: None,
    };
    let cat = Catalog::load(&[folder], cache.path()).unwrap();
    assert!(
        cat.resolve(&TaskRef::parse("mine/pg/idle").unwrap())
            .is_ok()
    );
    assert!(
        cat.resolve(&TaskRef::parse("mine/pg/nope").unwrap())
            .unwrap_err()
            .to_string()
            .contains("sitrep tasks")
    );

    // A git repository at a pinned tag.
    let run = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .args(args)
            .current_dir(src.path())
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    run(&["init", "-q"]);
    run(&["add", "."]);
    run(&[
        "-c",
        "user.email=t@t",
        "-c",
        "user.name=t",
        "commit",
        "-qm",
        "bundles",
    ]);
    run(&["tag", "v1"]);
    let url = format!("file://{}", src.path().display());
    let git = CollectionSource {
        name: "team".into(),
        path: None,
        git: Some(url.clone()),
        rev: Some("v1".into()),
    };
    let cat = Catalog::load(&[git.clone()], cache.path()).unwrap();
    let t = cat
        .resolve(&TaskRef::parse("team/pg/fix").unwrap())
        .unwrap();
    assert!(
        t.collection.root.starts_with(cache.path()),
        "cached under the cache dir"
    );
    // The cached checkout is reused even when the origin is gone.
    drop(src);
    assert!(Catalog::load(&[git], cache.path()).is_ok());
    let bad = CollectionSource {
        name: "bad".into(),
        path: None,
        git: Some(url),
        rev: Some("no-such-ref".into()),
    };
    assert!(Catalog::load(&[bad], cache.path()).is_err());
}

/// A hypothesis may name `BUNDLE/TASK` of another bundle: the collection checks that it is a
/// remediation there, that the parameters it fills exist, and that it fills the ones the task
/// cannot run without.
#[test]
fn cross_bundle_remediations_are_checked() {
    let d = collection(GOOD, &[("fix.sh", "true\n")]);
    let other = |remediation: &str, params: &str| {
        format!(
            "name: other\ntasks:\n  - name: check\n    kind: diagnostic\n    type: bash\n    script: c.sh\nhypotheses:\n  - id: x\n    statement: s\n    tested_by: [check]\n    remediation: {remediation}\n    remediation_params: {params}\n"
        )
    };
    write(d.path(), "bundles/other/c.sh", "true\n");
    let check = |yaml: String| {
        write(d.path(), "bundles/other/bundle.yaml", &yaml);
        validate_path(d.path())
            .unwrap()
            .into_iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        check(other("pg/fix", "{PID: \"{pid}\"}")),
        Vec::<String>::new()
    );
    assert_eq!(
        check(other("pg/fix", "{}")),
        ["hypotheses[0].remediation_params: fill PID: task pg/fix cannot run without it"]
    );
    assert_eq!(
        check(other("pg/fix", "{PID: \"{pid}\", NOPE: x}")),
        ["hypotheses[0].remediation_params.NOPE: task pg/fix declares no parameter \"NOPE\""]
    );
    assert_eq!(
        check(other("pg/idle", "{}")),
        ["hypotheses[0].remediation: task pg/idle is not a remediation task"]
    );
    assert_eq!(
        check(other("nobundle/fix", "{}")),
        ["hypotheses[0].remediation: no bundle \"nobundle\" in this collection"]
    );
}

/// The process bundle watches every process the host indexer mapped, with the files discovery
/// found; nginx's configuration is left to the nginx bundle (nginx -t, its own rollback).
#[test]
fn the_process_bundle_gets_each_process_with_its_files() {
    use sitrep_bundles::rules::{GenerationContext, generate};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../collections/core/bundles/process");
    let b = sitrep_bundles::load_bundle(&dir).unwrap();
    let mut svc =
        sitrep_core::map::Resource::new("tcp:localhost:8000", "http-service", "shop-8000")
            .with_prop("cmdline", "/srv/shop serve --config /etc/shop.conf")
            .with_prop(
                "config_files",
                serde_json::json!(["/etc/shop.conf", "/etc/shop.d/extra.conf"]),
            )
            .with_prop("log_files", serde_json::json!(["/var/log/shop.log"]));
    svc.sources.push("host".into());
    let nginx = sitrep_core::map::Resource::new("tcp:localhost:80", "nginx", "nginx-80")
        .with_prop(
            "cmdline",
            "nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf",
        )
        .with_prop("config_files", serde_json::json!(["/etc/nginx/nginx.conf"]));
    // a resource known only by configuration (no process seen): nothing to watch
    let remote = sitrep_core::map::Resource::new("tcp:10.0.0.5:5432", "postgres", "pg-remote");
    // a client that only connects out: a worker with files is watched, an interactive shell not
    let worker = sitrep_core::map::Resource::new("proc:h:batch", "process", "batch")
        .with_prop("cmdline", "/srv/shop batch --config /etc/batch.conf")
        .with_prop("config_files", serde_json::json!(["/etc/batch.conf"]));
    let shell = sitrep_core::map::Resource::new("proc:h:psql", "process", "psql")
        .with_prop("cmdline", "psql postgres://app@db/shop");
    let slxs = generate(
        "core",
        &b,
        &[svc, nginx, remote, worker, shell],
        &GenerationContext::default(),
    )
    .unwrap();
    let names: Vec<&str> = slxs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["shop-8000-process", "nginx-80-process", "batch-process"],
        "{slxs:#?}"
    );
    let shop = &slxs[0];
    assert_eq!(shop.name, "shop-8000-process");
    assert_eq!(
        shop.config["PROCESS_MATCH"],
        "/srv/shop serve --config /etc/shop.conf"
    );
    assert_eq!(
        shop.config["CONFIG_FILES"],
        "/etc/shop.conf,/etc/shop.d/extra.conf"
    );
    assert_eq!(shop.config["LOG_FILES"], "/var/log/shop.log");
    assert!(
        !slxs[1].config.contains_key("CONFIG_FILES"),
        "{:#?}",
        slxs[1]
    );
}
