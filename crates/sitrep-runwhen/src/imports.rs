//! The parameters and secrets a RunWhen suite declares: the `RW.Core.Import User Variable`,
//! `RW.Core.Import Secret` and `RW.Core.Import Platform Variable` calls of its Suite Setup
//! keyword (usually `Suite Initialization`) and of the user keywords it calls. Everything else
//! there (`Set Suite Variable`, connectivity checks) is left alone.

use crate::robot::{Block, Call, RobotFile};
use serde::Serialize;
use sitrep_bundles::Problem;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// One imported variable as declared. Values are kept as written (Robot escapes such as
/// `\w` are not processed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedVariable {
    pub name: String,
    /// The suite variable it is assigned to, when not `${NAME}` itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// `type=`; `string` when not given.
    #[serde(rename = "type")]
    pub ty: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// `default=`; `Some("")` for a written empty default, `None` when there is none (the
    /// value is then required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// `enum=[a,b]`: the allowed values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Other `name=value` options, kept for the runtime.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    pub line: usize,
}

/// What a suite imports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Imports {
    pub params: Vec<ImportedVariable>,
    pub secrets: Vec<ImportedVariable>,
    /// `Import Platform Variable`: values RunWhen's platform supplies (`RW_LOOKBACK_WINDOW`).
    pub platform: Vec<ImportedVariable>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ImportKind {
    Param,
    Secret,
    Platform,
}

impl ImportKind {
    fn of(call: &Call) -> Option<ImportKind> {
        [
            ("Import User Variable", ImportKind::Param),
            ("Import Secret", ImportKind::Secret),
            ("Import Platform Variable", ImportKind::Platform),
        ]
        .into_iter()
        .find(|(name, _)| call.calls("RW.Core", name))
        .map(|(_, k)| k)
    }
}

/// The imports of `suite`'s Suite Setup, with problems (errors) and warnings.
pub fn imports(file: &Path, suite: &RobotFile) -> (Imports, Vec<Problem>, Vec<Problem>) {
    let mut out = Imports::default();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let Some(setup) = &suite.settings.suite_setup else {
        return (out, problems, warnings);
    };
    let Some(start) = suite.keyword(&setup.keyword) else {
        warnings.push(Problem {
            file: file.to_path_buf(),
            line: Some(setup.line),
            field: "Settings.Suite Setup".into(),
            message: format!(
                "{:?} is not a keyword of this file: no parameters or secrets read from it",
                setup.keyword
            ),
        });
        return (out, problems, warnings);
    };
    // The setup keyword and the user keywords it calls, each once (recursion is allowed in
    // Robot Framework; reading is not).
    let mut seen = HashSet::new();
    let mut queue: Vec<&Block> = vec![start];
    while let Some(block) = queue.pop() {
        if !seen.insert(crate::robot::normalize(&block.name)) {
            continue;
        }
        for call in &block.steps {
            match ImportKind::of(call) {
                Some(kind) => {
                    let mut found = Found {
                        file,
                        field: format!("Keywords.{}.{}", block.name, call.keyword),
                        problems: &mut problems,
                        warnings: &mut warnings,
                    };
                    let Some(v) = variable(call, &mut found) else {
                        continue;
                    };
                    let list = match kind {
                        ImportKind::Param => &mut out.params,
                        ImportKind::Secret => &mut out.secrets,
                        ImportKind::Platform => &mut out.platform,
                    };
                    if list.iter().any(|o| o.name == v.name) {
                        found.problem(v.line, format!("{} is imported twice", v.name));
                        continue;
                    }
                    if kind == ImportKind::Secret && v.default.is_some() {
                        let message = format!("secret {} has a default; it is ignored", v.name);
                        found.warning(v.line, message);
                    }
                    list.push(v);
                }
                None => queue.extend(suite.keyword(&call.keyword)),
            }
        }
    }
    (out, problems, warnings)
}

/// Where the problems and warnings of one import call go.
struct Found<'a> {
    file: &'a Path,
    field: String,
    problems: &'a mut Vec<Problem>,
    warnings: &'a mut Vec<Problem>,
}

impl Found<'_> {
    fn at(&self, line: usize, message: String) -> Problem {
        Problem {
            file: self.file.to_path_buf(),
            line: Some(line),
            field: self.field.clone(),
            message,
        }
    }
    fn problem(&mut self, line: usize, message: String) {
        let p = self.at(line, message);
        self.problems.push(p);
    }
    fn warning(&mut self, line: usize, message: String) {
        let p = self.at(line, message);
        self.warnings.push(p);
    }
}

/// One `Import ...    NAME    key=value ...` call. A named argument given twice is a warning
/// and the last value is used, as Robot Framework does.
fn variable(call: &Call, found: &mut Found<'_>) -> Option<ImportedVariable> {
    let Some((name, options)) = call.args.split_first() else {
        found.problem(
            call.line,
            "no variable name: the first argument names it".into(),
        );
        return None;
    };
    if name.text.contains('=') || name.text.is_empty() {
        found.problem(
            name.line,
            format!(
                "{:?} is not a variable name: the first argument names it",
                name.text
            ),
        );
        return None;
    }
    let mut v = ImportedVariable {
        name: name.text.clone(),
        assigned_to: call
            .assign
            .first()
            .filter(|a| a.get(2..a.len() - 1) != Some(name.text.as_str()))
            .cloned(),
        ty: "string".into(),
        description: String::new(),
        pattern: None,
        example: None,
        default: None,
        choices: Vec::new(),
        options: BTreeMap::new(),
        line: call.line,
    };
    let mut seen = HashSet::new();
    let mut ok = true;
    for opt in options {
        let Some((key, value)) = opt.text.split_once('=') else {
            found.problem(
                opt.line,
                format!("{:?} after {}: expected name=value", opt.text, v.name),
            );
            ok = false;
            continue;
        };
        if !seen.insert(key) {
            let message = format!("{key}= is given twice for {}; the last one is used", v.name);
            found.warning(opt.line, message);
        }
        let value = value.to_string();
        match key {
            "type" => v.ty = value,
            "description" => v.description = value,
            "pattern" => v.pattern = Some(value),
            "example" => v.example = Some(value),
            "default" => v.default = Some(value),
            "enum" => v.choices = choices(&value),
            _ => {
                v.options.insert(key.to_string(), value);
            }
        }
    }
    ok.then_some(v)
}

/// `[kubectl,oc]` → `kubectl`, `oc`.
fn choices(value: &str) -> Vec<String> {
    let inner = value.trim();
    let inner = inner
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(inner);
    inner
        .split(',')
        .map(|s| s.trim().trim_matches(['"', '\'']).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::parse;

    fn read(text: &str) -> (Imports, Vec<Problem>, Vec<Problem>) {
        let (f, p) = parse(Path::new("s.robot"), text);
        assert!(p.is_empty(), "{p:?}");
        imports(Path::new("s.robot"), &f)
    }

    #[test]
    fn reads_params_secrets_and_platform_variables_through_called_keywords() {
        let (i, problems, warnings) = read(
            "*** Settings ***\nSuite Setup    Init\n*** Keywords ***\nInit\n    ${kubeconfig}=    RW.Core.Import Secret\n    ...    kubeconfig\n    ...    type=string\n    ...    description=The kubeconfig.\n    ${CATS}=    Import User Variable    LOG_PATTERN_CATEGORIES\n    ...    enum=[basic, standard]\n    ...    example=app=web\n    ...    default=\n    ...    format=csv\n    Set Suite Variable    ${CATS}    ${CATS}\n    More\nMore\n    RW.Core.Import Platform Variable    RW_LOOKBACK_WINDOW\n    Init\n",
        );
        assert!(
            problems.is_empty() && warnings.is_empty(),
            "{problems:?} {warnings:?}"
        );
        let s = &i.secrets[0];
        assert_eq!(
            (s.name.as_str(), s.line, s.assigned_to.as_ref()),
            ("kubeconfig", 5, None)
        );
        assert_eq!(s.description, "The kubeconfig.");
        let p = &i.params[0];
        assert_eq!(p.name, "LOG_PATTERN_CATEGORIES");
        assert_eq!(p.assigned_to.as_deref(), Some("${CATS}"));
        assert_eq!(p.choices, ["basic", "standard"]);
        assert_eq!(p.example.as_deref(), Some("app=web"));
        assert_eq!(p.default.as_deref(), Some(""));
        assert_eq!(p.options["format"], "csv");
        assert_eq!(p.ty, "string");
        assert_eq!(i.platform[0].name, "RW_LOOKBACK_WINDOW");
    }

    #[test]
    fn bad_imports_are_problems_with_lines() {
        let (i, problems, warnings) = read(
            "*** Settings ***\nSuite Setup    Init\n*** Keywords ***\nInit\n    RW.Core.Import User Variable\n    RW.Core.Import User Variable    A    typo\n    RW.Core.Import User Variable    B    type=string    type=int\n    RW.Core.Import User Variable    C\n    RW.Core.Import User Variable    C\n    RW.Core.Import Secret    description=x\n",
        );
        let got: Vec<Option<usize>> = problems.iter().map(|p| p.line).collect();
        assert_eq!(got, [Some(5), Some(6), Some(9), Some(10)]);
        assert!(
            problems
                .iter()
                .all(|p| p.field == "Keywords.Init.RW.Core.Import User Variable"
                    || p.field == "Keywords.Init.RW.Core.Import Secret")
        );
        // A named argument given twice: the last one, with a warning.
        assert_eq!(warnings[0].line, Some(7));
        let names: Vec<(&str, &str)> = i
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.ty.as_str()))
            .collect();
        assert_eq!(names, [("B", "int"), ("C", "string")]);
    }

    #[test]
    fn a_setup_from_a_library_is_a_warning() {
        let (i, problems, warnings) = read("*** Settings ***\nSuite Setup    Lib.Setup\n");
        assert!(i.params.is_empty() && problems.is_empty());
        assert_eq!(warnings[0].line, Some(2));
    }
}
