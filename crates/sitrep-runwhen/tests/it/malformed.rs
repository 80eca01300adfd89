//! Malformed bundles: every problem is collected, each naming file, line and field.

use sitrep_runwhen::{BundleSource, Problem, convert, load_bundle};
use std::path::{Path, PathBuf};

fn located(problems: &[Problem]) -> Vec<(String, Option<usize>, String)> {
    problems
        .iter()
        .map(|p| {
            let file = p.file.file_name().unwrap().to_string_lossy().into_owned();
            (file, p.line, p.field.clone())
        })
        .collect()
}

const BAD_RUNBOOK: &str = "\
*** Settings ***
Suite Setup    Suite Initialization
Libary    RW.Core

*** Taks ***
Lost Task
    Log    x

*** Tasks ***
Fine Task
    [Tags]    access:read-only
    Log    x
-!-
    Log    x

*** Keywords ***
Suite Initialization
    ${A}=    RW.Core.Import User Variable    A
    ...    type=string
    ...    description
    ${S}=    RW.Core.Import Secret
    Set Suite Variable    ${A}    ${A}
";

const BAD_RULES: &str = "\
apiVersion: runwhen.com/v1
kind: GenerationRules
spec:
  generationRules:
    - resourceTypes: [deployment]
      matchRules:
        - type: patern
          pattern: x
      slxs:
        - baseName: x
          baseTemplateName: x
          levelOfDetail: basic
          outputItems: [{type: slx, templateNmae: x.yaml}]
";

#[test]
fn every_problem_is_collected_with_file_line_and_field() {
    let loaded = convert(&BundleSource {
        dir: PathBuf::from("collection/codebundles/bad"),
        runbook: Some(BAD_RUNBOOK.into()),
        sli: Some("*** Settings ***\nDocumentation    no tasks\n".into()),
        rules: vec![(
            PathBuf::from("collection/codebundles/bad/.runwhen/generation-rules/r.yaml"),
            BAD_RULES.into(),
        )],
        templates: vec![],
    });
    let s = |s: &str| s.to_string();
    assert_eq!(
        located(&loaded.problems),
        [
            (s("runbook.robot"), Some(5), s("section")),
            (s("runbook.robot"), Some(3), s("Settings.Libary")),
            (
                s("runbook.robot"),
                Some(20),
                s("Keywords.Suite Initialization.RW.Core.Import User Variable")
            ),
            (
                s("runbook.robot"),
                Some(21),
                s("Keywords.Suite Initialization.RW.Core.Import Secret")
            ),
            (s("runbook.robot"), Some(13), s("Tasks.-!-")),
            (s("sli.robot"), None, s("Tasks")),
            (
                s("r.yaml"),
                Some(7),
                s("spec.generationRules[0].matchRules[0]")
            ),
            (s("r.yaml"), Some(10), s("spec.generationRules[0].slxs[0]")),
        ],
        "{:#?}",
        loaded.problems
    );
    assert!(!loaded.is_valid());
    // What could be read is still there.
    assert_eq!(loaded.bundle.tasks.len(), 1);
    assert_eq!(loaded.bundle.tasks[0].name, "fine-task");
    assert!(
        loaded.bundle.params.is_empty(),
        "the bad import is not half-read"
    );
    assert!(loaded.problems[2].message.contains("expected name=value"));
    // Problems print as file:line: field: message.
    let shown = loaded.problems[1].to_string();
    assert!(
        shown.starts_with(
            "collection/codebundles/bad/runbook.robot:3: Settings.Libary: unknown setting"
        ),
        "{shown}"
    );
}

#[test]
fn a_folder_without_runbook_robot_is_a_problem_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("empty-bundle");
    std::fs::create_dir_all(b.join(".runwhen/generation-rules")).unwrap();
    std::fs::write(b.join(".runwhen/generation-rules/g.yaml"), "spec: [\n").unwrap();
    let loaded = load_bundle(&b).unwrap();
    let files: Vec<(String, Option<usize>)> = located(&loaded.problems)
        .into_iter()
        .map(|(f, l, _)| (f, l))
        .collect();
    assert_eq!(
        files,
        [
            ("runbook.robot".to_string(), None),
            ("g.yaml".to_string(), Some(2))
        ]
    );
    assert!(loaded.problems[0].message.contains("missing"));
    assert!(loaded.bundle.tasks.is_empty());
}

#[test]
fn a_folder_that_cannot_be_read_is_an_error() {
    let err = load_bundle(Path::new("/nonexistent/runwhen/bundle")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/runwhen/bundle"),
        "{err}"
    );
}
