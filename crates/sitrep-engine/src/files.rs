//! The workspace folder's files (`rules/*.yaml`, `commands/*.yaml`, `knowledge/**/*.md`):
//! listing them and reading YAML with every problem located by file, line and field, the way
//! bundles are validated (`sitrep_bundles::locate`).

use crate::views::ProblemView;
use crate::{EngineError, Result, Sitrep};
use serde::de::DeserializeOwned;
use sitrep_bundles::locate::{locate, parse_path};
use std::path::{Path, PathBuf};

/// Largest workspace file read (rules, commands, notes are short).
pub(crate) const MAX_FILE: u64 = 256 * 1024;

impl Sitrep {
    /// The workspace folder (`workspace_dir`, default `$SITREP_HOME`).
    pub fn workspace_dir(&self) -> PathBuf {
        self.settings().workspace_dir(self.home())
    }
}

/// The files directly in `dir` with one of `exts`, by name. A missing folder has none.
pub(crate) fn files_in(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(EngineError::io(dir, e)),
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && has_ext(p, exts))
        .collect();
    out.sort();
    Ok(out)
}

/// Every file under `dir` (recursively, not following links) with one of `exts`, by path.
pub(crate) fn files_under(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(EngineError::io(&d, e)),
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && has_ext(&p, exts) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.contains(&e))
}

/// Reads a workspace file (at most [`MAX_FILE`] bytes of UTF-8).
pub(crate) fn read_text(path: &Path) -> std::result::Result<String, ProblemView> {
    let whole = |message: String| ProblemView {
        file: path.display().to_string(),
        line: None,
        field: String::new(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE {
        return Err(whole(format!(
            "is {} bytes; workspace files are at most {MAX_FILE}: split it",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|_| whole("is not UTF-8 text".into()))
}

/// A problem at `field` of a YAML text, on the field's line when it can be found.
/// `line_offset` is added (front matter starts after a `---` line).
pub(crate) fn located(
    file: &Path,
    text: &str,
    line_offset: usize,
    field: &str,
    message: impl Into<String>,
) -> ProblemView {
    let line = if field.is_empty() {
        None
    } else {
        locate(text, &parse_path(field))
    };
    ProblemView {
        file: file.display().to_string(),
        line: line.map(|l| l + line_offset),
        field: field.to_string(),
        message: message.into(),
    }
}

/// Parses YAML text as `T`; a syntax or shape error is one problem with its line and field.
pub(crate) fn parse_yaml<T: DeserializeOwned>(
    file: &Path,
    text: &str,
    line_offset: usize,
) -> std::result::Result<T, ProblemView> {
    yaml_serde::from_str::<T>(text).map_err(|e| {
        let line = e.location().map(|l| l.line() + line_offset);
        let full = e.to_string();
        // "match.severity: invalid type ... at line 3 column 13": the path, then the message.
        let msg = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m)
            .to_string();
        let (mut field, mut message) = match msg.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') => (path.to_string(), rest.to_string()),
            _ => (String::new(), msg.clone()),
        };
        if let Some(key) = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split_once('`'))
            .map(|(k, _)| k.to_string())
        {
            field = if field.is_empty() {
                key
            } else {
                format!("{field}.{key}")
            };
        }
        if let Some(key) = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split_once('`'))
            .map(|(k, _)| k.to_string())
        {
            field = if field.is_empty() {
                key
            } else {
                format!("{field}.{key}")
            };
            message = "is required".into();
        }
        ProblemView {
            file: file.display().to_string(),
            line: if message == "is required" { None } else { line },
            field,
            message,
        }
    })
}

/// The name a file gives its item when it names none: its file name without the extension.
pub(crate) fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        #[serde(default)]
        steps: Vec<S>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        task: String,
    }

    #[test]
    fn yaml_problems_name_line_and_field() {
        let f = Path::new("c.yaml");
        let p = parse_yaml::<T>(f, "name: x\nsteps:\n  - task: a\n  - tusk: b\n", 0).unwrap_err();
        assert_eq!((p.line, p.field.as_str()), (Some(4), "steps[1].tusk"));
        assert!(p.message.starts_with("unknown field"), "{}", p.message);
        let p = parse_yaml::<T>(f, "name: [\n", 2).unwrap_err();
        assert_eq!((p.line, p.field.as_str()), (Some(3), "name"));
        let p = parse_yaml::<T>(f, "steps: []\n", 0).unwrap_err();
        assert_eq!(
            (p.field.as_str(), p.message.as_str()),
            ("name", "is required")
        );
        let p = located(
            f,
            "name: x\nsteps:\n  - task: a\n",
            1,
            "steps[0].task",
            "no such task",
        );
        assert_eq!(p.to_string(), "c.yaml:4: steps[0].task: no such task");
    }
}

/// A kind of named workspace file (`rules/*.yaml`, `workflows/*.yaml`): its spec, read from
/// YAML, compiled with every problem by field.
pub(crate) trait NamedFile: Sized {
    type Spec: DeserializeOwned;
    /// The kind, in messages (`rule`).
    const KIND: &'static str;
    /// The spec's own name (empty when it gives none).
    fn spec_name(spec: &mut Self::Spec) -> &mut String;
    /// Checks a spec: the compiled value, or every problem as (field, message).
    fn compile(spec: Self::Spec) -> std::result::Result<Self, Vec<(String, String)>>;
    fn name(&self) -> &str;
}

/// What a folder of named files held: the valid ones by name, with their file, and the
/// problems of the others.
#[derive(Debug, Clone)]
pub(crate) struct Loaded<T> {
    pub items: Vec<(T, PathBuf)>,
    pub problems: Vec<ProblemView>,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Loaded {
            items: vec![],
            problems: vec![],
        }
    }
}

/// Reads and checks every `*.yaml` of a folder (or one file): each is named after its file
/// when it gives no name, and a name used twice is a problem of the second file.
pub(crate) fn load_named<T: NamedFile>(path: &Path) -> Result<Loaded<T>> {
    let files = if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        files_in(path, &["yaml", "yml"])?
    };
    let mut out = Loaded::<T>::default();
    for f in files {
        let text = match read_text(&f) {
            Ok(t) => t,
            Err(p) => {
                out.problems.push(p);
                continue;
            }
        };
        let mut spec: T::Spec = match parse_yaml(&f, &text, 0) {
            Ok(s) => s,
            Err(p) => {
                out.problems.push(p);
                continue;
            }
        };
        let name = T::spec_name(&mut spec);
        if name.is_empty() {
            *name = stem(&f);
        }
        match T::compile(spec) {
            Ok(x) => {
                if let Some((_, other)) = out.items.iter().find(|(o, _)| o.name() == x.name()) {
                    let message = format!(
                        "{:?} is also the name of the {} in {}",
                        x.name(),
                        T::KIND,
                        other.display()
                    );
                    out.problems.push(located(&f, &text, 0, "name", message));
                } else {
                    out.items.push((x, f));
                }
            }
            Err(ps) => out.problems.extend(
                ps.into_iter()
                    .map(|(field, message)| located(&f, &text, 0, &field, message)),
            ),
        }
    }
    out.items.sort_by(|a, b| a.0.name().cmp(b.0.name()));
    Ok(out)
}
