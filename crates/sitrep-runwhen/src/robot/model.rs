//! A suite file as written: cells with their lines, nothing resolved.

use serde::Serialize;

/// One cell and the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub text: String,
    pub line: usize,
}

/// Text joined from cells (a row's cells by a space, rows by a newline), at its first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    pub text: String,
    pub line: usize,
}

impl Text {
    pub(crate) fn join(cells: &[Cell], line: usize) -> Text {
        let mut text = String::new();
        let mut row = None;
        for c in cells {
            if let Some(r) = row {
                text.push(if r == c.line { ' ' } else { '\n' });
            }
            text.push_str(&c.text);
            row = Some(c.line);
        }
        Text { text, line }
    }
}

/// A parsed suite file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RobotFile {
    pub settings: SuiteSettings,
    pub variables: Vec<VariableDef>,
    /// `*** Tasks ***` and `*** Test Cases ***`, in file order.
    pub tasks: Vec<Block>,
    pub keywords: Vec<Block>,
}

impl RobotFile {
    /// The user keyword called `name`, matched the way Robot Framework matches names.
    pub fn keyword(&self, name: &str) -> Option<&Block> {
        let want = super::normalize(name);
        self.keywords
            .iter()
            .find(|k| super::normalize(&k.name) == want)
    }
}

/// `*** Settings ***`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SuiteSettings {
    pub documentation: Option<Text>,
    pub metadata: Vec<Metadata>,
    pub libraries: Vec<Import>,
    pub resources: Vec<Import>,
    pub suite_setup: Option<Call>,
    pub suite_teardown: Option<Call>,
    /// `Test Tags`, `Force Tags` and `Default Tags`: tags every task gets.
    pub test_tags: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// `Library`, `Resource` or `Variables`: a name and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    pub name: String,
    pub args: Vec<Cell>,
    pub line: usize,
}

/// `*** Variables ***`: `${NAME}`, `@{LIST}` or `&{DICT}` and its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariableDef {
    pub name: String,
    pub values: Vec<Cell>,
    pub line: usize,
}

/// A task, test case or user keyword.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    pub name: String,
    pub line: usize,
    pub documentation: Option<Text>,
    pub tags: Vec<Cell>,
    pub timeout: Option<Cell>,
    /// `[Arguments]` of a keyword.
    pub arguments: Vec<Cell>,
    pub steps: Vec<Call>,
}

/// One step: `${a}    ${b}=    Keyword Name    arg    name=value`. Control structures
/// (`FOR`, `IF`, `END`, ...) are steps too, their marker as the keyword.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    /// Variables assigned, as written without the trailing `=` (`${x}`).
    pub assign: Vec<String>,
    pub keyword: String,
    pub args: Vec<Cell>,
    pub line: usize,
}

impl Call {
    /// Whether this calls `name` (`Library.Keyword Name`, or the keyword name alone).
    pub fn calls(&self, library: &str, name: &str) -> bool {
        let kw = super::normalize(&self.keyword);
        let name = super::normalize(name);
        kw == name || kw == format!("{}.{name}", super::normalize(library))
    }
}
