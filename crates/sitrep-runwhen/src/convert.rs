//! Suite files, generation rules and template names into a [`RunwhenBundle`]. Pure: the
//! loader (`load.rs`) reads the files.

use crate::generation::{GenerationRules, parse_rules};
use crate::imports::{ImportedVariable, Imports, imports};
use crate::model::*;
use crate::robot::{Block, RobotFile, parse};
use sitrep_bundles::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT, Problem};
use sitrep_core::{TaskKind, TaskType};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const RUNBOOK: &str = "runbook.robot";
pub const SLI: &str = "sli.robot";
/// The tag RunWhen puts on tasks that change things.
pub const READ_WRITE_TAG: &str = "access:read-write";

/// A bundle's files as read from disk (`None`: the file is not there).
#[derive(Debug, Clone, Default)]
pub struct BundleSource {
    pub dir: PathBuf,
    pub runbook: Option<String>,
    pub sli: Option<String>,
    /// Generation-rules files: their path and text.
    pub rules: Vec<(PathBuf, String)>,
    pub templates: Vec<String>,
}

/// A bundle with what could not be read (`problems`: it is invalid) and what sitrep assumed
/// (`warnings`).
#[derive(Debug, Clone)]
pub struct LoadedBundle {
    pub bundle: RunwhenBundle,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl LoadedBundle {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One suite file, read.
struct Suite {
    file: PathBuf,
    robot: RobotFile,
    imports: Imports,
}

/// Reads a bundle from its files, collecting every problem.
pub fn convert(src: &BundleSource) -> LoadedBundle {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut suite = |name: &str, text: &Option<String>| {
        let file = src.dir.join(name);
        let text = text.as_deref()?;
        let (robot, p) = parse(&file, text);
        problems.extend(p);
        let (imports, p, w) = imports(&file, &robot);
        problems.extend(p);
        warnings.extend(w);
        Some(Suite {
            file,
            robot,
            imports,
        })
    };
    let runbook = suite(RUNBOOK, &src.runbook);
    let sli = suite(SLI, &src.sli);
    let mut bundle = RunwhenBundle {
        name: src
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        description: [&runbook, &sli]
            .into_iter()
            .flatten()
            .find_map(|s| s.robot.settings.documentation.as_ref())
            .map(|d| d.text.clone())
            .unwrap_or_default(),
        metadata: runbook
            .iter()
            .chain(&sli)
            .flat_map(|s| &s.robot.settings.metadata)
            .map(|m| (m.name.clone(), m.value.clone()))
            .rev()
            .collect(),
        params: Vec::new(),
        secrets: Vec::new(),
        platform_variables: Vec::new(),
        tasks: Vec::new(),
        generation_rules: Vec::new(),
        templates: src.templates.clone(),
        dir: src.dir.clone(),
    };
    match &runbook {
        // An SLI-only bundle exists upstream (k8s-labeledpods-healthcheck): a warning.
        None if sli.is_some() => warnings.push(at(
            &src.dir.join(RUNBOOK),
            None,
            "",
            "missing: this bundle has only its SLI (sli.robot), no runbook tasks",
        )),
        None => problems.push(at(
            &src.dir.join(RUNBOOK),
            None,
            "",
            "missing: a RunWhen codebundle holds its tasks in runbook.robot",
        )),
        Some(s) => {
            if s.robot.tasks.is_empty() {
                problems.push(at(
                    &s.file,
                    None,
                    "Tasks",
                    "no tasks: runbook.robot needs a *** Tasks *** section with at least one task",
                ));
            }
            for block in &s.robot.tasks {
                if let Some(t) = runbook_task(s, block, &mut problems, &mut warnings) {
                    bundle.tasks.push(t);
                }
            }
        }
    }
    if let Some(s) = &sli {
        match s.robot.tasks.first() {
            None => problems.push(at(
                &s.file,
                None,
                "Tasks",
                "no tasks: sli.robot needs a *** Tasks *** section with at least one task",
            )),
            Some(first) => {
                for block in &s.robot.tasks {
                    check_block(s, block, &mut problems);
                }
                bundle.tasks.push(sli_task(s, first));
            }
        }
    }
    let mut names = HashSet::new();
    for t in &bundle.tasks {
        if !names.insert(t.name.as_str()) {
            let file = src.dir.join(&t.robot.file);
            let field = format!("Tasks.{}", t.robot.test.as_deref().unwrap_or(SLI_TASK));
            let message = format!("another task of this bundle also has the name {:?}", t.name);
            problems.push(at(&file, Some(t.robot.line), &field, &message));
        }
    }
    for s in [&runbook, &sli].into_iter().flatten() {
        let (i, file, w) = (&s.imports, &s.file, &mut warnings);
        merge(&mut bundle.params, &i.params, "params", file, w);
        merge(&mut bundle.secrets, &i.secrets, "secrets", file, w);
        merge(
            &mut bundle.platform_variables,
            &i.platform,
            "platform_variables",
            file,
            w,
        );
    }
    for (path, text) in &src.rules {
        let (rules, p, w): (GenerationRules, _, _) = parse_rules(path, text);
        problems.extend(p);
        warnings.extend(w);
        bundle.generation_rules.push(rules);
    }
    LoadedBundle {
        bundle,
        problems,
        warnings,
    }
}

fn at(file: &Path, line: Option<usize>, field: &str, message: &str) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// A stable task name: lower-case letters and digits, everything else one dash.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A task's problems of its own: a name that gives no slug, no steps.
fn check_block(s: &Suite, block: &Block, problems: &mut Vec<Problem>) -> Option<String> {
    let field = format!("Tasks.{}", block.name);
    if block.steps.is_empty() {
        problems.push(at(
            &s.file,
            Some(block.line),
            &field,
            "the task has no steps",
        ));
    }
    let name = slug(&block.name);
    if name.is_empty() {
        problems.push(at(
            &s.file,
            Some(block.line),
            &field,
            "a task needs a name with letters or digits",
        ));
        return None;
    }
    Some(name)
}

fn tags(s: &Suite, block: &Block) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in s.robot.settings.test_tags.iter().chain(&block.tags) {
        if !out.contains(&t.text) {
            out.push(t.text.clone());
        }
    }
    out
}

fn names(vars: &[ImportedVariable]) -> Vec<String> {
    vars.iter().map(|v| v.name.clone()).collect()
}

fn runbook_task(
    s: &Suite,
    block: &Block,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Option<RobotTask> {
    let name = check_block(s, block, problems)?;
    let tags = tags(s, block);
    let read_write = tags.iter().any(|t| t.eq_ignore_ascii_case(READ_WRITE_TAG));
    let mut notes = Vec::new();
    if read_write {
        notes.push(format!(
            "tagged {READ_WRITE_TAG}: a remediation; RunWhen declares no risk, so sitrep assumes {DEFAULT_REMEDIATION_RISK}"
        ));
        notes.push(
            "rollback is undeclared: RunWhen bundles say nothing about undoing this task".into(),
        );
        let line = block.tags.first().map_or(block.line, |t| t.line);
        let field = format!("Tasks.{}.[Tags]", block.name);
        for n in &notes {
            warnings.push(at(&s.file, Some(line), &field, n));
        }
    }
    let timeout = task_timeout(s, block, warnings);
    Some(RobotTask {
        name,
        description: block
            .documentation
            .as_ref()
            .map_or_else(|| block.name.clone(), |d| d.text.clone()),
        kind: if read_write {
            TaskKind::Remediation
        } else {
            TaskKind::Diagnostic
        },
        ty: TaskType::Robot,
        interval: None,
        timeout,
        tags,
        risk: read_write.then_some(DEFAULT_REMEDIATION_RISK),
        rollback: None,
        params: names(&s.imports.params),
        secrets: names(&s.imports.secrets),
        notes,
        robot: RobotSpec {
            file: RUNBOOK.into(),
            test: Some(block.name.clone()),
            line: block.line,
            timeout: block.timeout.as_ref().map(|c| c.text.clone()),
        },
    })
}

/// Time sitrep gives a robot task beyond its `[Timeout]`, so Robot's own timeout ends it first
/// (with its message) and the interpreter's start and the report fit.
const ROBOT_TIMEOUT_MARGIN: Duration = Duration::from_secs(15);
/// The longest a task may run (as for native bundles).
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// A task's time limit: its `[Timeout]` plus [`ROBOT_TIMEOUT_MARGIN`] (at most an hour), else
/// sitrep's default. A value that is not a time (a variable) is a warning, not a problem.
fn task_timeout(s: &Suite, block: &Block, warnings: &mut Vec<Problem>) -> Duration {
    let Some(cell) = &block.timeout else {
        return DEFAULT_TIMEOUT;
    };
    let field = format!("Tasks.{}.[Timeout]", block.name);
    match crate::robot_time::parse(&cell.text) {
        Some(Some(d)) if d + ROBOT_TIMEOUT_MARGIN > MAX_TIMEOUT => {
            warnings.push(at(
                &s.file,
                Some(cell.line),
                &field,
                &format!(
                    "{:?} is over an hour: sitrep stops the task after {}s",
                    cell.text,
                    MAX_TIMEOUT.as_secs()
                ),
            ));
            MAX_TIMEOUT
        }
        Some(Some(d)) => (d + ROBOT_TIMEOUT_MARGIN).max(Duration::from_secs(1)),
        Some(None) => DEFAULT_TIMEOUT,
        None => {
            warnings.push(at(&s.file, Some(cell.line), &field, &format!(
                "{:?} is not a time sitrep can read before the suite runs: the task gets sitrep's default of {}s",
                cell.text,
                DEFAULT_TIMEOUT.as_secs()
            )));
            DEFAULT_TIMEOUT
        }
    }
}

/// The whole of sli.robot as the bundle's one health task.
fn sli_task(s: &Suite, first: &Block) -> RobotTask {
    let mut tags = Vec::new();
    for block in &s.robot.tasks {
        for t in self::tags(s, block) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
    }
    RobotTask {
        name: SLI_TASK.into(),
        description: s
            .robot
            .settings
            .documentation
            .as_ref()
            .or(first.documentation.as_ref())
            .map_or_else(|| first.name.clone(), |d| d.text.clone()),
        kind: TaskKind::Health,
        ty: TaskType::Robot,
        interval: Some(DEFAULT_INTERVAL),
        timeout: DEFAULT_TIMEOUT,
        tags,
        risk: None,
        rollback: None,
        params: names(&s.imports.params),
        secrets: names(&s.imports.secrets),
        notes: Vec::new(),
        robot: RobotSpec {
            file: SLI.into(),
            test: None,
            line: first.line,
            timeout: None,
        },
    }
}

/// Adds `new` to `into`; a variable both files import is kept once, and a different
/// declaration of it is a warning.
fn merge(
    into: &mut Vec<ImportedVariable>,
    new: &[ImportedVariable],
    list: &str,
    file: &Path,
    warnings: &mut Vec<Problem>,
) {
    for v in new {
        match into.iter().find(|o| o.name == v.name) {
            None => into.push(v.clone()),
            Some(o) if o.default != v.default || o.ty != v.ty => warnings.push(at(
                file,
                Some(v.line),
                &format!("{list}.{}", v.name),
                &format!(
                    "declared differently in runbook.robot (type {}, default {:?}); the runbook's declaration is used",
                    o.ty, o.default
                ),
            )),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_stable_and_plain() {
        assert_eq!(
            slug("Restart Resource with Labels `${LABELS}` in `${CONTEXT}`"),
            "restart-resource-with-labels-labels-in-context"
        );
        assert_eq!(slug("  Check HTTP URL  "), "check-http-url");
        assert_eq!(slug("Ünïcode — only"), "n-code-only");
        assert_eq!(slug("***"), "");
    }

    fn source(runbook: Option<&str>, sli: Option<&str>) -> BundleSource {
        BundleSource {
            dir: PathBuf::from("b/my-bundle"),
            runbook: runbook.map(str::to_string),
            sli: sli.map(str::to_string),
            ..BundleSource::default()
        }
    }

    #[test]
    fn a_missing_runbook_is_a_problem_unless_the_bundle_is_an_sli() {
        let l = convert(&source(None, None));
        assert_eq!(l.problems.len(), 1);
        assert_eq!(l.problems[0].file, Path::new("b/my-bundle/runbook.robot"));
        assert!(l.problems[0].message.contains("missing"));
        let l = convert(&source(None, Some("*** Tasks ***\nS\n    Log    x\n")));
        assert!(l.is_valid(), "{:?}", l.problems);
        assert_eq!(l.warnings[0].file, Path::new("b/my-bundle/runbook.robot"));
        assert_eq!(l.bundle.tasks[0].name, SLI_TASK);
        assert_eq!(l.bundle.name, "my-bundle");
    }

    #[test]
    fn empty_tasks_unnamed_tasks_and_twins_are_problems() {
        let l = convert(&source(
            Some(
                "*** Tasks ***\nEmpty Task\n-!-\n    Log    x\nA b\n    Log    x\nA-B\n    Log    x\n",
            ),
            Some("*** Tasks ***\n"),
        ));
        let got: Vec<(Option<usize>, &str)> = l
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(2), "Tasks.Empty Task"),
                (Some(3), "Tasks.-!-"),
                (None, "Tasks"),
                (Some(7), "Tasks.A-B"),
            ],
            "{:?}",
            l.problems
        );
    }

    #[test]
    fn read_write_tasks_are_remediations_with_a_defaulted_risk() {
        let l = convert(&source(
            Some(
                "*** Settings ***\nTest Tags    team\n*** Tasks ***\nFix It\n    [Tags]    ACCESS:READ-WRITE\n    Log    x\nLook\n    Log    x\n",
            ),
            None,
        ));
        assert!(l.is_valid(), "{:?}", l.problems);
        let fix = l.bundle.task("fix-it").unwrap();
        assert_eq!(fix.kind, TaskKind::Remediation);
        assert_eq!(fix.risk, Some(DEFAULT_REMEDIATION_RISK));
        assert_eq!(fix.rollback, None);
        assert_eq!(fix.tags, ["team", "ACCESS:READ-WRITE"]);
        assert!(
            fix.notes
                .iter()
                .any(|n| n.contains("rollback is undeclared"))
        );
        assert_eq!(l.warnings.len(), 2);
        assert_eq!(l.warnings[0].line, Some(5));
        let look = l.bundle.task("look").unwrap();
        assert_eq!((look.kind, look.risk), (TaskKind::Diagnostic, None));
        assert_eq!(look.robot.test.as_deref(), Some("Look"));
    }

    #[test]
    fn a_tasks_timeout_is_its_robot_timeout_with_a_margin() {
        let l = convert(&source(
            Some(
                "*** Tasks ***
Slow
    [Timeout]    3 minutes
    Log    x
Var
    [Timeout]    ${T}
    Log    x
Plain
    Log    x
",
            ),
            None,
        ));
        assert!(l.is_valid(), "{:?}", l.problems);
        let secs = |t: &str| l.bundle.task(t).unwrap().timeout.as_secs();
        assert_eq!(secs("slow"), 180 + ROBOT_TIMEOUT_MARGIN.as_secs());
        assert_eq!(secs("var"), DEFAULT_TIMEOUT.as_secs());
        assert_eq!(secs("plain"), DEFAULT_TIMEOUT.as_secs());
        let w: Vec<(Option<usize>, &str)> = l
            .warnings
            .iter()
            .map(|w| (w.line, w.field.as_str()))
            .collect();
        assert!(
            w.contains(&(Some(6), "Tasks.Var.[Timeout]")),
            "{:?}",
            l.warnings
        );
    }
}
