//! Loading and validating collections from disk.

use sitrep_bundles::{
    Catalog, CollectionSource, MAX_BUNDLE_FILE_BYTES, MAX_TASKS_PER_BUNDLE, Problem, TaskSpec,
    load_collection, validate_path,
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
fn a_native_task_cannot_be_robot() {
    let ps = problems(
        "name: pg\ntasks:\n  - name: a\n    kind: diagnostic\n    type: robot\n",
        &[],
    );
    let text: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
    assert_eq!(ps.len(), 1, "{text:#?}");
    assert!(
        text[0].contains(":5: tasks[0].type: unknown task type \"robot\""),
        "{text:#?}"
    );
    assert!(text[0].contains("RunWhen codebundles"), "{text:#?}");
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
    // Loaded from the JSON compiled in, it is the collection its YAML files describe.
    let from_yaml = load_collection(&core.root).unwrap();
    assert_eq!(
        (&from_yaml.description, &from_yaml.version),
        (&core.description, &core.version)
    );
    assert_eq!(
        format!("{:?}", from_yaml.bundles),
        format!("{:?}", core.bundles)
    );
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
        kind: Default::default(),
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
        kind: Default::default(),
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
        kind: Default::default(),
        git: Some(url),
        rev: Some("no-such-ref".into()),
    };
    let cat = Catalog::load(&[bad], cache.path()).unwrap();
    assert_eq!(cat.quarantined.len(), 1);
    let q = &cat.quarantined[0];
    assert_eq!(
        (
            q.collection.as_str(),
            q.bundle.as_ref(),
            q.collection_loaded
        ),
        ("bad", None, false)
    );
    assert!(q.to_string().contains("git"), "{q}");
    assert!(cat.collections.iter().any(|c| c.name == "core"));
}

fn source(name: &str, path: &Path) -> CollectionSource {
    CollectionSource {
        name: name.into(),
        kind: Default::default(),
        path: Some(path.to_path_buf()),
        git: None,
        rev: None,
    }
}

const ONE_TASK: &str =
    "name: NAME\ntasks:\n  - name: a\n    kind: diagnostic\n    type: bash\n    script: a.sh\n";

#[test]
fn one_invalid_bundle_is_left_out_and_everything_else_loads() {
    let d = collection(&ONE_TASK.replace("NAME", "good"), &[("a.sh", "true\n")]);
    write(
        d.path(),
        "bundles/bad/bundle.yaml",
        "name: bad\ntasks:\n  - name: a\n    kind: diagnostic\n    type: perl\n",
    );
    // a second bundle claiming a name already taken
    write(
        d.path(),
        "bundles/c/bundle.yaml",
        &ONE_TASK.replace("NAME", "good"),
    );
    write(d.path(), "bundles/c/a.sh", "true\n");
    let cache = tempfile::tempdir().unwrap();
    let cat = Catalog::load(&[source("mine", d.path())], cache.path()).unwrap();
    assert!(cat.resolve(&TaskRef::parse("mine/good/a").unwrap()).is_ok());
    assert!(
        cat.resolve(&TaskRef::parse("linux-host/disk-usage").unwrap())
            .is_ok(),
        "core's tasks run"
    );
    let left: Vec<_> = cat.quarantined.iter().map(|q| q.bundle.clone()).collect();
    assert_eq!(left, vec![Some("bad".to_string()), Some("c".to_string())]);
    let bad = &cat.quarantined[0];
    assert_eq!(bad.collection, "mine");
    assert_eq!(bad.problems[0].field, "tasks[0].type");
    assert_eq!(bad.problems[0].line, Some(5));
    let text = bad.to_string();
    assert!(
        text.starts_with("bundle mine/bad is left out: 1 problem(s)"),
        "{text}"
    );
    assert!(
        text.contains("bundles/bad/bundle.yaml:5: tasks[0].type: unknown task type"),
        "{text}"
    );
    assert!(
        cat.quarantined[1].problems[0]
            .message
            .contains("also named \"good\"")
    );
    let issue = bad.issue_draft();
    assert_eq!(issue.title, "bundle mine/bad is invalid and left out");
    assert!(
        issue.details.contains("tasks[0].type: unknown task type"),
        "{}",
        issue.details
    );
}

#[test]
fn a_collection_that_cannot_be_read_is_left_out_and_core_still_loads() {
    let cache = tempfile::tempdir().unwrap();
    let missing = cache.path().join("nowhere");
    let cat = Catalog::load(&[source("gone", &missing)], cache.path()).unwrap();
    assert_eq!(cat.collections.len(), 1);
    assert_eq!(cat.collections[0].name, "core");
    let q = &cat.quarantined[0];
    assert_eq!((q.bundle.as_ref(), q.collection_loaded), (None, false));
    assert!(q.to_string().contains("collection gone is left out"), "{q}");
    assert!(
        q.problems[0]
            .message
            .contains("is `path` of collection \"gone\" right?"),
        "{q}"
    );
}

#[test]
fn a_script_symlinked_to_a_file_outside_the_bundle_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("evil.sh"), "rm -rf /\n").unwrap();
    let d = collection(&ONE_TASK.replace("NAME", "x"), &[("inside.sh", "true\n")]);
    let bundle = d.path().join("bundles/b");
    std::os::unix::fs::symlink(outside.path().join("evil.sh"), bundle.join("a.sh")).unwrap();
    let ps = validate_path(d.path()).unwrap();
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].field, "tasks[0].script");
    assert!(
        ps[0]
            .message
            .contains("outside the bundle folder (a symlink?)"),
        "{ps:?}"
    );
    let cache = tempfile::tempdir().unwrap();
    let cat = Catalog::load(&[source("mine", d.path())], cache.path()).unwrap();
    assert!(
        cat.resolve(&TaskRef::parse("mine/x/a").unwrap()).is_err(),
        "never runs"
    );

    // a symlink that stays inside the bundle is fine, and runs the file it points to
    std::fs::remove_file(bundle.join("a.sh")).unwrap();
    std::os::unix::fs::symlink("inside.sh", bundle.join("a.sh")).unwrap();
    let c = load_collection(d.path()).unwrap();
    match &c.bundles[0].tasks[0].spec {
        TaskSpec::Script { path, .. } => assert!(path.ends_with("bundles/b/inside.sh"), "{path:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_bundles_are_refused_quickly_with_the_limit() {
    // 2 MiB of tasks
    let mut big = String::from("name: big\ntasks:\n");
    while big.len() as u64 <= 2 * MAX_BUNDLE_FILE_BYTES {
        big.push_str("  - name: a\n    kind: diagnostic\n    type: bash\n    script: a.sh\n");
    }
    let start = std::time::Instant::now();
    let ps = problems(&big, &[("a.sh", "true\n")]);
    assert!(start.elapsed() < std::time::Duration::from_millis(500));
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(
        ps[0]
            .message
            .contains(&format!("sitrep reads at most {MAX_BUNDLE_FILE_BYTES}")),
        "{ps:?}"
    );

    let n = MAX_TASKS_PER_BUNDLE + 1;
    let mut many = String::from("name: many\ntasks:\n");
    for i in 0..n {
        many.push_str(&format!(
            "  - name: t{i}\n    kind: diagnostic\n    type: bash\n    script: a.sh\n"
        ));
    }
    let ps = problems(&many, &[("a.sh", "true\n")]);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!((ps[0].field.as_str(), ps[0].line), ("tasks", Some(2)));
    assert!(
        ps[0].message.starts_with(&format!(
            "{n} tasks; a bundle holds at most {MAX_TASKS_PER_BUNDLE}"
        )),
        "{ps:?}"
    );
}

#[test]
fn an_alias_bomb_is_refused_not_expanded() {
    let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        yaml.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
    }
    yaml.push_str("name: bomb\ntasks: *a9\n");
    let start = std::time::Instant::now();
    let ps = problems(&yaml, &[]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(ps[0].message.contains("repetition limit"), "{ps:?}");
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

#[test]
fn a_collection_of_another_kind_is_read_by_the_reader_given_or_left_out() {
    use sitrep_bundles::{CollectionKind, LoadedCollection, Readers};
    let cache = tempfile::tempdir().unwrap();
    let rw = CollectionSource {
        kind: CollectionKind::Runwhen,
        ..source("rw", cache.path())
    };
    // Without a reader: left out, named in sitrep.yaml, core still loads.
    let cat = Catalog::load(std::slice::from_ref(&rw), cache.path()).unwrap();
    assert_eq!(cat.collections.len(), 1);
    let q = &cat.quarantined[0];
    assert_eq!(q.problems[0].field, "collections.rw.kind");
    // With one: its collection is in the catalog under the configured name.
    fn read(root: &Path) -> Result<LoadedCollection, sitrep_bundles::BundleError> {
        Ok(LoadedCollection {
            collection: sitrep_bundles::Collection {
                name: "ignored".into(),
                description: String::new(),
                version: String::new(),
                root: root.to_path_buf(),
                bundles: vec![],
            },
            own: vec![],
            left_out: vec![("broken".into(), vec![])],
        })
    }
    let readers = Readers {
        runwhen: Some(read),
    };
    let cat = Catalog::load_with(&[rw], cache.path(), readers).unwrap();
    assert_eq!(cat.collections[1].name, "rw");
    assert_eq!(cat.quarantined[0].bundle.as_deref(), Some("broken"));
}
