//! The reader never panics, whatever it is given.

use proptest::prelude::*;
use sitrep_runwhen::generation::parse_rules;
use sitrep_runwhen::robot::parse;
use sitrep_runwhen::{BundleSource, convert};
use std::path::Path;

/// Lines made of the pieces Robot files are made of, so that the parser's paths are taken.
fn robot_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("*** Settings ***".to_string()),
        Just("*** Tasks ***".to_string()),
        Just("*** Keywords ***".to_string()),
        Just("*** Variables ***".to_string()),
        Just("Suite Setup    Init".to_string()),
        Just("Init".to_string()),
        Just("    ...    ".to_string()),
        Just("...".to_string()),
        Just("    [Tags]    access:read-write".to_string()),
        Just("    [Documentation]".to_string()),
        Just("    ${x}=    RW.Core.Import User Variable    X    default=1".to_string()),
        Just("    RW.Core.Import Secret".to_string()),
        Just("    ${a}=".to_string()),
        Just("| | Log | x |".to_string()),
        Just("|".to_string()),
        "[ \\t|.*#=${}\\[\\]a-zA-Z]{0,30}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn the_robot_reader_never_panics(text in robot_text()) {
        let (file, problems) = parse(Path::new("x.robot"), &text);
        for p in &problems {
            prop_assert!(p.line.is_some_and(|l| l >= 1 && l <= text.lines().count()));
        }
        for t in &file.tasks {
            prop_assert!(t.line >= 1);
        }
    }

    #[test]
    fn conversion_never_panics(runbook in robot_text(), sli in robot_text()) {
        let loaded = convert(&BundleSource {
            dir: "b".into(),
            runbook: Some(runbook),
            sli: Some(sli),
            ..BundleSource::default()
        });
        for t in &loaded.bundle.tasks {
            prop_assert!(!t.name.is_empty());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(Path::new("x.robot"), &text);
        let _ = parse_rules(Path::new("g.yaml"), &text);
    }
}
