//! Rows into a [`RobotFile`]: sections, `...` continuations, settings, tasks and keywords.
//! Every problem is collected with its line; nothing stops the reading.

use super::lex::{Row, rows};
use super::model::*;
use sitrep_bundles::Problem;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Before the first header: ignored, as Robot Framework does.
    Preamble,
    Settings,
    Variables,
    Tasks,
    Keywords,
    Comments,
    /// A header Robot Framework does not know; its content is skipped.
    Unknown,
}

impl Section {
    fn from_header(header: &str) -> Section {
        let name = header.trim_matches(|c: char| c == '*' || c.is_whitespace());
        match super::normalize(name).as_str() {
            "settings" | "setting" => Section::Settings,
            "variables" | "variable" => Section::Variables,
            "tasks" | "task" | "testcases" | "testcase" => Section::Tasks,
            "keywords" | "keyword" => Section::Keywords,
            "comments" | "comment" => Section::Comments,
            _ => Section::Unknown,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Section::Settings => "Settings",
            Section::Variables => "Variables",
            Section::Tasks => "Tasks",
            Section::Keywords => "Keywords",
            _ => "",
        }
    }
}

/// A logical statement: a row and the `...` rows continuing it.
struct Statement {
    indented: bool,
    cells: Vec<Cell>,
}

struct Reader<'a> {
    file: &'a Path,
    out: RobotFile,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, line: usize, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line: Some(line),
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Reads a suite file. `file` only labels the problems; nothing is read from disk.
pub fn parse(file: &Path, text: &str) -> (RobotFile, Vec<Problem>) {
    let mut r = Reader {
        file,
        out: RobotFile::default(),
        problems: Vec::new(),
    };
    let mut sections: Vec<(Section, Vec<Statement>)> = vec![(Section::Preamble, Vec::new())];
    for row in rows(text) {
        let first = &row.cells[0];
        if !row.indented && first.text.starts_with('*') {
            let section = Section::from_header(&first.text);
            if section == Section::Unknown {
                r.problem(
                    first.line,
                    "section",
                    format!(
                        "unknown section {:?}: expected Settings, Variables, Tasks, Test Cases, Keywords or Comments",
                        first.text
                    ),
                );
            }
            sections.push((section, Vec::new()));
            continue;
        }
        let Some((section, statements)) = sections.last_mut() else {
            continue;
        };
        if matches!(
            section,
            Section::Preamble | Section::Comments | Section::Unknown
        ) {
            continue;
        }
        push_row(&mut r, *section, statements, row);
    }
    for (section, statements) in sections {
        match section {
            Section::Settings => statements
                .into_iter()
                .for_each(|s| setting(&mut r, s.cells)),
            Section::Variables => statements
                .into_iter()
                .for_each(|s| variable(&mut r, s.cells)),
            Section::Tasks | Section::Keywords => {
                let blocks = blocks(&mut r, section, statements);
                let into = if section == Section::Tasks {
                    &mut r.out.tasks
                } else {
                    &mut r.out.keywords
                };
                into.extend(blocks);
            }
            _ => {}
        }
    }
    (r.out, r.problems)
}

fn push_row(r: &mut Reader<'_>, section: Section, statements: &mut Vec<Statement>, row: Row) {
    match (row.continuation(), statements.last_mut()) {
        (Some(rest), Some(prev)) => prev.cells.extend_from_slice(rest),
        (Some(_), None) => r.problem(
            row.cells[0].line,
            section.label(),
            "`...` continues nothing: no statement before it in this section",
        ),
        (None, _) => statements.push(Statement {
            indented: row.indented,
            cells: row.cells,
        }),
    }
}

fn setting(r: &mut Reader<'_>, cells: Vec<Cell>) {
    let Some((name, args)) = cells.split_first() else {
        return;
    };
    let key = super::normalize(name.text.trim_end_matches(':'));
    let field = format!("Settings.{}", name.text);
    let s = &mut r.out.settings;
    match key.as_str() {
        "documentation" => s.documentation = Some(Text::join(args, name.line)),
        "metadata" => match args.split_first() {
            Some((m, value)) => s.metadata.push(Metadata {
                name: m.text.clone(),
                value: Text::join(value, m.line).text,
                line: name.line,
            }),
            None => r.problem(name.line, field, "Metadata needs a name"),
        },
        "library" | "resource" | "variables" => match args.split_first() {
            Some((lib, rest)) => {
                let import = Import {
                    name: lib.text.clone(),
                    args: rest.to_vec(),
                    line: name.line,
                };
                if key == "library" {
                    s.libraries.push(import);
                } else {
                    s.resources.push(import);
                }
            }
            None => r.problem(name.line, field, format!("{} needs a name", name.text)),
        },
        "suitesetup" | "suiteteardown" => {
            let call = step(r, &field, args, name.line);
            if key == "suitesetup" {
                r.out.settings.suite_setup = call;
            } else {
                r.out.settings.suite_teardown = call;
            }
        }
        "testtags" | "tasktags" | "forcetags" | "defaulttags" => {
            s.test_tags.extend_from_slice(args);
        }
        "testsetup" | "tasksetup" | "testteardown" | "taskteardown" | "testtemplate"
        | "tasktemplate" | "testtimeout" | "tasktimeout" | "keywordtags" | "name" => {}
        _ => r.problem(name.line, field, format!("unknown setting {:?}", name.text)),
    }
}

fn variable(r: &mut Reader<'_>, cells: Vec<Cell>) {
    let Some((name, values)) = cells.split_first() else {
        return;
    };
    let bare = name.text.trim_end_matches('=').trim_end();
    if is_variable(bare) {
        r.out.variables.push(VariableDef {
            name: bare.to_string(),
            values: values.to_vec(),
            line: name.line,
        });
    } else {
        r.problem(
            name.line,
            format!("Variables.{}", name.text),
            "a variable is named `${NAME}`, `@{NAME}` or `&{NAME}`",
        );
    }
}

/// `${x}`, `@{x}` or `&{x}` (an item access such as `${x}[0]` is not an assignment target here).
fn is_variable(s: &str) -> bool {
    s.len() > 3 && ["${", "@{", "&{"].iter().any(|p| s.starts_with(p)) && s.ends_with('}')
}

fn blocks(r: &mut Reader<'_>, section: Section, statements: Vec<Statement>) -> Vec<Block> {
    let label = section.label();
    let mut out: Vec<Block> = Vec::new();
    for st in statements {
        let mut cells = st.cells.as_slice();
        if !st.indented {
            let (name, rest) = cells.split_first().expect("rows hold at least one cell");
            out.push(Block {
                name: name.text.clone(),
                line: name.line,
                documentation: None,
                tags: Vec::new(),
                timeout: None,
                arguments: Vec::new(),
                steps: Vec::new(),
            });
            cells = rest;
            if cells.is_empty() {
                continue;
            }
        }
        let Some(block) = out.last_mut() else {
            r.problem(
                cells[0].line,
                label,
                format!("a step before any name in {label}: a name starts at the first column"),
            );
            continue;
        };
        let field = format!("{label}.{}", block.name);
        let first = &cells[0];
        if let Some(setting) = first
            .text
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
        {
            let args = &cells[1..];
            match super::normalize(setting).as_str() {
                "documentation" => block.documentation = Some(Text::join(args, first.line)),
                "tags" => block.tags.extend_from_slice(args),
                "timeout" => block.timeout = args.first().cloned(),
                "arguments" => block.arguments.extend_from_slice(args),
                "setup" | "teardown" | "template" | "return" => {}
                _ => r.problem(first.line, field, format!("unknown setting {}", first.text)),
            }
            continue;
        }
        let line = first.line;
        if let Some(call) = step(r, &field, cells, line) {
            block.steps.push(call);
        }
    }
    out
}

/// A keyword call: assignments, the keyword, its arguments.
fn step(r: &mut Reader<'_>, field: &str, cells: &[Cell], line: usize) -> Option<Call> {
    let assigned = cells
        .iter()
        .take_while(|c| is_variable(c.text.trim_end_matches('=').trim_end()))
        .count();
    let Some((keyword, args)) = cells[assigned..].split_first() else {
        r.problem(line, field, "a step with no keyword to call");
        return None;
    };
    Some(Call {
        assign: cells[..assigned]
            .iter()
            .map(|c| c.text.trim_end_matches('=').trim_end().to_string())
            .collect(),
        keyword: keyword.text.clone(),
        args: args.to_vec(),
        line: keyword.line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (RobotFile, Vec<Problem>) {
        parse(Path::new("t.robot"), text)
    }

    const SUITE: &str = "\
*** Settings ***
Documentation       First line
...                 second line.
Metadata            Display Name    cURL HTTP OK
Library             RW.Core
Suite Setup         Suite Initialization
Force Tags          team

*** Variables ***
${GREETING}    hello

*** Tasks ***
Check `${URL}` Works
    [Documentation]    Checks it
    [Tags]    access:read-only    http
    ${rsp}=    RW.CLI.Run Cli
    ...    cmd=curl ${URL}
    FOR    ${x}    IN    a    b
        Log    ${x}
    END

*** Keywords ***
Suite Initialization
    ${URL}=    RW.Core.Import User Variable    URL
    ...    type=string
";

    #[test]
    fn reads_every_section_with_lines() {
        let (f, problems) = read(SUITE);
        assert!(problems.is_empty(), "{problems:?}");
        let doc = f.settings.documentation.as_ref().unwrap();
        assert_eq!(doc.text, "First line\nsecond line.");
        assert_eq!(doc.line, 2);
        assert_eq!(f.settings.metadata[0].name, "Display Name");
        assert_eq!(f.settings.metadata[0].value, "cURL HTTP OK");
        assert_eq!(f.settings.libraries[0].name, "RW.Core");
        assert_eq!(
            f.settings.suite_setup.as_ref().unwrap().keyword,
            "Suite Initialization"
        );
        assert_eq!(f.settings.test_tags[0].text, "team");
        assert_eq!(f.variables[0].name, "${GREETING}");
        assert_eq!(f.variables[0].line, 10);
        let t = &f.tasks[0];
        assert_eq!((t.name.as_str(), t.line), ("Check `${URL}` Works", 13));
        assert_eq!(t.documentation.as_ref().unwrap().text, "Checks it");
        let tags: Vec<&str> = t.tags.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(tags, ["access:read-only", "http"]);
        assert_eq!(t.steps[0].assign, ["${rsp}"]);
        assert_eq!(t.steps[0].keyword, "RW.CLI.Run Cli");
        assert_eq!(t.steps[0].args[0].text, "cmd=curl ${URL}");
        assert_eq!(t.steps[0].args[0].line, 17);
        let kws: Vec<&str> = t.steps.iter().map(|s| s.keyword.as_str()).collect();
        assert_eq!(kws, ["RW.CLI.Run Cli", "FOR", "Log", "END"]);
        let k = f.keyword("suite_initialization").unwrap();
        assert!(k.steps[0].calls("RW.Core", "Import User Variable"));
        assert_eq!(k.steps[0].args.len(), 2);
    }

    #[test]
    fn test_cases_are_tasks_and_pipes_work() {
        let (f, problems) = read("| *** Test Cases *** |\n| A Test |\n| | Log | hi |\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(f.tasks[0].name, "A Test");
        assert_eq!(f.tasks[0].steps[0].keyword, "Log");
    }

    #[test]
    fn problems_are_collected_with_lines() {
        let (f, problems) = read(
            "*** Settings ***\nLibary    X\n*** Nope ***\nwhatever\n*** Tasks ***\n    Log    orphan\nT\n    [Bogus]    x\n    ${x}=\n*** Variables ***\nNAME    v\n...    w\n",
        );
        let got: Vec<(Option<usize>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(3), "section"),
                (Some(2), "Settings.Libary"),
                (Some(6), "Tasks"),
                (Some(8), "Tasks.T"),
                (Some(9), "Tasks.T"),
                (Some(11), "Variables.NAME"),
            ]
        );
        assert_eq!(f.tasks.len(), 1);
    }

    #[test]
    fn a_dangling_continuation_is_a_problem() {
        let (_, problems) = read("*** Settings ***\n...    x\n");
        assert_eq!(problems[0].line, Some(2));
        assert!(problems[0].message.contains("continues nothing"));
    }
}
