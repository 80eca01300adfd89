//! Reading both sides of a plan: a workspace folder on disk (every item checked by the
//! validators `rules validate`, `command validate`, `workflows validate`, the knowledge sync
//! and the settings loader use) and the current workspace (its folder's files, its SLXs).

use super::plan::{Item, Kind};
use crate::files::{files_in, files_under, located, parse_yaml, read_text, stem};
use crate::settings::{CONFIG_FILE, Settings, SettingsError};
use crate::views::ProblemView;
use crate::{Result, Sitrep};
use serde::{Deserialize, Serialize};
use sitrep_bundles::slx::{SlxTaskProblem, slx_health_tasks};
use sitrep_core::knowledge::NoteOrigin;
use sitrep_core::{Slx, SlxTask};
use std::collections::BTreeMap;
use std::path::Path;

/// An SLX as its file `slxs/NAME.yaml` holds it: what a person writes. Discovery's
/// bookkeeping (`stale`, the generated snapshot) stays in the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlxFile {
    /// Default: the file's name without `.yaml`.
    #[serde(default)]
    pub name: String,
    pub resource: String,
    /// `collection/bundle`.
    pub bundle: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<SlxTask>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Secret name → reference (`secret:NAME`, `env:VAR`, `file:/path`), never a value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

impl SlxFile {
    pub fn of(s: &Slx) -> SlxFile {
        SlxFile {
            name: s.name.clone(),
            resource: s.resource.clone(),
            bundle: s.bundle.clone(),
            description: s.description.clone(),
            tasks: s.tasks.clone(),
            config: s.config.clone(),
            secrets: s.secrets.clone(),
        }
    }

    /// The file's text: one canonical form, so that only content differences show.
    pub fn text(&self) -> String {
        yaml_serde::to_string(self).unwrap_or_default()
    }

    /// The SLX it makes in `workspace`, keeping what discovery knows of `existing`.
    pub fn into_slx(self, workspace: &str, existing: Option<&Slx>) -> Slx {
        Slx {
            workspace: workspace.to_string(),
            name: self.name,
            resource: self.resource,
            bundle: self.bundle,
            description: self.description,
            tasks: self.tasks,
            config: self.config,
            secrets: self.secrets,
            stale: existing.is_some_and(|e| e.stale),
            generated: existing.and_then(|e| e.generated.clone()),
        }
    }
}

/// A name an SLX file can carry: 1–128 letters, digits, `-`, `_`, `.`, not starting with `.`.
fn valid_slx_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// What a workspace folder on disk wants: its items, its SLXs parsed, and every problem.
#[derive(Debug, Default)]
pub(crate) struct Desired {
    pub items: Vec<Item>,
    pub slxs: BTreeMap<String, SlxFile>,
    pub problems: Vec<ProblemView>,
}

/// The files of one kind's folder under `root`, as items named by their path under it.
/// Unreadable files are left out (the kind's validator reports them).
fn file_items(root: &Path, kind: Kind) -> Result<Vec<Item>> {
    let dir = root.join(kind.folder().unwrap_or_default());
    let files = if kind == Kind::Knowledge {
        files_under(&dir, &["md", "markdown"])?
    } else {
        files_in(&dir, &["yaml", "yml"])?
    };
    Ok(files
        .into_iter()
        .filter_map(|f| {
            let text = read_text(&f).ok()?;
            let rel = f
                .strip_prefix(&dir)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            Some(Item {
                kind,
                name: rel,
                text,
            })
        })
        .collect())
}

fn settings_problem(path: &Path, text: &str, e: SettingsError) -> ProblemView {
    match e {
        SettingsError::Invalid { key, message, .. } => located(path, text, 0, &key, message),
        e => ProblemView {
            file: path.display().to_string(),
            line: None,
            field: String::new(),
            message: e.to_string(),
        },
    }
}

impl Sitrep {
    /// Whether this is the workspace the home's settings file names (the one a `sitrep.yaml`
    /// applies to: every other workspace of the home shares it).
    pub(crate) fn is_primary(&self) -> bool {
        self.settings().primary_workspace.is_none()
    }

    /// Reads and checks every item of the workspace folder `dir`.
    pub(crate) async fn read_desired(&self, dir: &Path) -> Result<Desired> {
        let mut d = Desired::default();
        self.read_settings_file(dir, &mut d);
        self.read_slx_files(dir, &mut d).await?;
        d.problems
            .extend(self.validate_rules(Some(&dir.join("rules"))).await?);
        d.problems
            .extend(self.validate_commands(Some(&dir.join("commands"))).await?);
        d.problems.extend(
            self.validate_workflows(Some(&dir.join("workflows")))
                .await?
                .problems,
        );
        let (kdir, now) = (dir.join("knowledge"), self.now());
        let (_, note_problems) = tokio::task::spawn_blocking(move || {
            crate::knowledge::read_tree(&kdir, NoteOrigin::Folder, now)
        })
        .await
        .map_err(|e| crate::EngineError::Invalid(format!("reading notes crashed: {e}")))??;
        d.problems.extend(note_problems);
        for kind in [Kind::Rule, Kind::Command, Kind::Workflow, Kind::Knowledge] {
            d.items.extend(file_items(dir, kind)?);
        }
        Ok(d)
    }

    fn read_settings_file(&self, dir: &Path, d: &mut Desired) {
        let path = dir.join(CONFIG_FILE);
        if !path.exists() {
            return;
        }
        let text = match read_text(&path) {
            Ok(t) => t,
            Err(p) => return d.problems.push(p),
        };
        let whole = |message: String| ProblemView {
            file: path.display().to_string(),
            line: None,
            field: String::new(),
            message,
        };
        if !self.is_primary() {
            d.problems.push(whole(format!(
                "the home's settings are shared by every workspace: apply a sitrep.yaml to the workspace it names ({}), or leave it out of the folder",
                self.settings().primary_workspace.as_deref().unwrap_or_default()
            )));
            return;
        }
        let parsed = Settings::parse(&text, &path).and_then(|s| s.validate(&path).map(|_| s));
        match parsed {
            Err(e) => d.problems.push(settings_problem(&path, &text, e)),
            Ok(s) if s.workspace != self.settings().workspace => {
                d.problems.push(located(
                    &path,
                    &text,
                    0,
                    "workspace",
                    format!(
                        "is {:?}, but it would be applied to workspace {:?}: apply cannot rename a workspace",
                        s.workspace,
                        self.settings().workspace
                    ),
                ));
            }
            Ok(_) => d.items.push(Item {
                kind: Kind::Settings,
                name: CONFIG_FILE.into(),
                text,
            }),
        }
    }

    async fn read_slx_files(&self, dir: &Path, d: &mut Desired) -> Result<()> {
        let catalog = self.catalog().await?;
        let mut seen: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
        for f in files_in(&dir.join("slxs"), &["yaml", "yml"])? {
            let text = match read_text(&f) {
                Ok(t) => t,
                Err(p) => {
                    d.problems.push(p);
                    continue;
                }
            };
            let mut spec: SlxFile = match parse_yaml(&f, &text, 0) {
                Ok(s) => s,
                Err(p) => {
                    d.problems.push(p);
                    continue;
                }
            };
            if spec.name.is_empty() {
                spec.name = stem(&f);
            }
            let mut bad = |field: &str, message: String| {
                d.problems.push(located(&f, &text, 0, field, message));
            };
            if !valid_slx_name(&spec.name) {
                bad(
                    "name",
                    format!(
                        "{:?}: 1-128 letters, digits, '-', '_' or '.', not starting with '.'",
                        spec.name
                    ),
                );
                continue;
            }
            if let Some(other) = seen.get(&spec.name) {
                bad(
                    "name",
                    format!(
                        "{:?} is also the name of the SLX in {}",
                        spec.name,
                        other.display()
                    ),
                );
                continue;
            }
            let slx = spec.clone().into_slx(self.workspace(), None);
            // A robot task whose runtime is not installed yet is the runtime's gap, not the
            // SLX's: the scheduler skips it with that reason.
            let (_, problems) = slx_health_tasks(&catalog, &slx, true);
            if !problems.is_empty() {
                for p in problems {
                    let field = match &p {
                        SlxTaskProblem::BadBundleName { .. }
                        | SlxTaskProblem::UnknownBundle { .. } => "bundle".to_string(),
                        _ => slx_task_field(&spec, &p),
                    };
                    bad(&field, p.to_string());
                }
                continue;
            }
            seen.insert(spec.name.clone(), f.clone());
            d.items.push(Item {
                kind: Kind::Slx,
                name: spec.name.clone(),
                text: spec.text(),
            });
            d.slxs.insert(spec.name.clone(), spec);
        }
        Ok(())
    }

    /// What the workspace holds now, as items: the settings file (the primary workspace's),
    /// its SLXs, and its folder's rules, commands, workflows and notes.
    pub(crate) async fn read_current(&self) -> Result<(Vec<Item>, Vec<Slx>)> {
        let mut items = vec![];
        if self.is_primary() {
            let path = self.home().join(CONFIG_FILE);
            if path.exists() {
                let text =
                    read_text(&path).map_err(|p| crate::EngineError::Invalid(p.to_string()))?;
                items.push(Item {
                    kind: Kind::Settings,
                    name: CONFIG_FILE.into(),
                    text,
                });
            }
        }
        let slxs = self.slxs().await?;
        items.extend(slxs.iter().map(|s| Item {
            kind: Kind::Slx,
            name: s.name.clone(),
            text: SlxFile::of(s).text(),
        }));
        let dir = self.workspace_dir();
        for kind in [Kind::Rule, Kind::Command, Kind::Workflow, Kind::Knowledge] {
            items.extend(file_items(&dir, kind)?);
        }
        Ok((items, slxs))
    }
}

/// The field of an SLX task problem: `tasks[i]` (or `tasks[i].interval`) when the task is
/// listed, else `tasks`.
fn slx_task_field(spec: &SlxFile, p: &SlxTaskProblem) -> String {
    let (task, sub) = match p {
        SlxTaskProblem::UnknownTask { task, .. } => (task.as_str(), ""),
        SlxTaskProblem::NotHealth { task, .. } => (task.as_str(), ""),
        SlxTaskProblem::BadInterval { task, .. } => (task.as_str(), ".interval"),
        _ => ("", ""),
    };
    match spec.tasks.iter().position(|t| t.task == task) {
        Some(i) => format!("tasks[{i}]{sub}"),
        None => "tasks".into(),
    }
}
