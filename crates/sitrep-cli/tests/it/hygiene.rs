//! What an SRE expects of a command-line tool: a closed pipe ends output quietly, no colour
//! codes in redirected output, errors that point at the fix, printed once, filters that say
//! when nothing matched, and text output that shows what a task said.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sitrep(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(args)
        .env("SITREP_HOME", home)
        .env_remove("SITREP_DATABASE_URL")
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["tasks", "--json"])
        .env("SITREP_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -c 100`: read a little, then go away.
    let mut buf = [0u8; 100];
    child.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        matches!(status.code(), Some(0) | Some(141)),
        "{status:?} {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

#[test]
fn logs_have_no_colour_when_redirected_or_with_no_color() {
    let home = tempfile::tempdir().unwrap();
    // `issues` with debug logs writes log lines to stderr, which is not a terminal here.
    let run = |extra: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sitrep"));
        c.args(args)
            .env("SITREP_HOME", home.path())
            .env("SITREP_LOG", "debug")
            .env_remove("NO_COLOR");
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = run(&[], &["issues"]);
    let err = text(&o.stderr);
    assert!(!err.is_empty(), "debug logs were written");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI codes in redirected logs: {err:?}"
    );
    let o = run(&[], &["--color", "always", "issues"]);
    assert!(text(&o.stderr).contains('\u{1b}'), "--color always colours");
    let o = run(&[("NO_COLOR", "1")], &["issues"]);
    assert!(!text(&o.stderr).contains('\u{1b}'));
}

#[test]
fn every_command_refuses_a_bad_setting_and_points_at_the_docs() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("sitrep.yaml"),
        "runner:\n  max_concurrent: 0\n",
    )
    .unwrap();
    for args in [
        &["issues"][..],
        &["tasks"],
        &["slx", "list"],
        &["serve", "--once"],
    ] {
        let o = sitrep(home.path(), args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("runner.max_concurrent") && err.contains("docs/configuration.md"),
            "{args:?}: {err}"
        );
        assert_eq!(
            err.matches("max_concurrent").count(),
            1,
            "printed once: {err}"
        );
    }
    std::fs::write(
        home.path().join("sitrep.yaml"),
        "sli_watch: {threshold: 1.5}\n",
    )
    .unwrap();
    let o = sitrep(home.path(), &["issues"]);
    assert!(
        text(&o.stderr).contains("sli_watch.threshold"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_filter_that_matches_nothing_says_so() {
    let home = tempfile::tempdir().unwrap();
    let o = sitrep(home.path(), &["tasks", "zzz"]);
    assert!(o.stdout.is_empty());
    assert!(
        text(&o.stderr).contains("no task matches \"zzz\""),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_hand_run_shows_what_the_task_said_and_names_its_resource() {
    let home = tempfile::tempdir().unwrap();
    let col = home.path().join("col");
    std::fs::create_dir_all(col.join("bundles/b")).unwrap();
    std::fs::write(col.join("collection.yaml"), "name: t\n").unwrap();
    std::fs::write(
        col.join("bundles/b/bundle.yaml"),
        "name: b\nparams:\n  - name: URL\n    default: http://127.0.0.1:1/health\ntasks:\n  - name: talk\n    kind: diagnostic\n    type: bash\n    script: talk.sh\n  - name: quiet\n    kind: diagnostic\n    type: bash\n    script: talk.sh\n",
    )
    .unwrap();
    let lines: String = (1..=30).map(|i| format!("echo line {i}\n")).collect();
    std::fs::write(
        col.join("bundles/b/talk.sh"),
        format!("{lines}printf '%s\\n' '{{\"type\":\"report\",\"text\":\"all fine here\"}}' >> \"$SITREP_RESULTS\"\n"),
    )
    .unwrap();
    std::fs::write(
        home.path().join("sitrep.yaml"),
        format!("collections:\n  - name: t\n    path: {}\n", col.display()),
    )
    .unwrap();
    let o = sitrep(home.path(), &["run", "t/b/talk"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    // The resource comes from the task's URL; the report and the output's tail are shown.
    assert!(out.contains("on http://127.0.0.1:1/health"), "{out}");
    assert!(out.contains("all fine here"), "{out}");
    assert!(
        out.contains("line 30") && !out.contains("line 10\n"),
        "{out}"
    );
    assert!(out.contains("last 20 of 30 lines"), "{out}");
}

#[test]
fn a_task_without_a_target_asks_for_its_resource() {
    let home = tempfile::tempdir().unwrap();
    let o = sitrep(home.path(), &["run", "kubernetes/pods"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("which resource") && err.contains("--resource"),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

#[test]
fn one_bad_bundle_is_left_out_and_raised_while_the_rest_runs() {
    let home = tempfile::tempdir().unwrap();
    let col = home.path().join("col");
    let write = |rel: &str, text: &str| {
        let p = col.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("collection.yaml", "name: t\n");
    let good =
        "name: good\ntasks:\n  - name: ok\n    kind: health\n    type: bash\n    script: ok.sh\n";
    write("bundles/good/bundle.yaml", good);
    write("bundles/good/ok.sh", "echo fine\n");
    write(
        "bundles/bad/bundle.yaml",
        &good.replace("good", "bad").replace("health", "helth"),
    );
    write("bundles/bad/ok.sh", "echo fine\n");
    std::fs::write(
        home.path().join("sitrep.yaml"),
        format!("collections:\n  - name: t\n    path: {}\n", col.display()),
    )
    .unwrap();
    let o = sitrep(home.path(), &["run", "t/good/ok", "--resource", "x"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("t/bad") && err.contains("left out"), "{err}");
    let o = sitrep(home.path(), &["run", "t/bad/ok", "--resource", "x"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));

    let bad_issue = |home: &Path| -> Option<serde_json::Value> {
        let o = sitrep(home, &["issues", "--json"]);
        let list: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        list.into_iter()
            .find(|i| i["title"].as_str().unwrap_or("").contains("bundle t/bad"))
    };
    let o = sitrep(home.path(), &["serve", "--once"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let i = bad_issue(home.path()).expect("sitrep raises an issue about its left-out bundle");
    assert_eq!(i["resource"], "sitrep");
    assert!(
        i["details"].as_str().unwrap_or("").contains("bundle.yaml:"),
        "the problem names its file and line: {i}"
    );
    // Fixed, the next start loads it and resolves the issue.
    write("bundles/bad/bundle.yaml", &good.replace("good", "bad"));
    let o = sitrep(home.path(), &["serve", "--once"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(bad_issue(home.path()).is_none());
}
