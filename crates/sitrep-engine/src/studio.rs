//! The Studio: the web UI's editor of the workspace folder's `rules/*.yaml`,
//! `commands/*.yaml`, `workflows/*.yaml` and `knowledge/*.md`. A text is checked before it is
//! saved by the validator every other edge uses (`rules validate`, `command validate`,
//! `workflows validate`, the knowledge sync), run on a private folder laid out like the
//! workspace folder (with copies of the kind's other files, so a name used twice is found),
//! so each problem names its line and field and the file as the user knows
//! it (`rules/foo.yaml`). A save with any problem writes nothing; a save without is written
//! beside the file and renamed into place. Each workspace edits its own folder only.

use crate::files::{MAX_FILE, files_in, files_under, located, read_text};
use crate::views::ProblemView;
use crate::{EngineError, Result, Sitrep};
use serde::{Deserialize, Serialize};
use sitrep_core::Timestamp;
use sitrep_core::knowledge::NoteOrigin;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What the Studio edits: one folder of the workspace folder each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudioKind {
    Rules,
    Commands,
    Workflows,
    Knowledge,
}

impl StudioKind {
    pub const ALL: [StudioKind; 4] = [
        StudioKind::Rules,
        StudioKind::Commands,
        StudioKind::Workflows,
        StudioKind::Knowledge,
    ];

    /// Its name in paths, and its folder under the workspace folder.
    pub fn as_str(self) -> &'static str {
        match self {
            StudioKind::Rules => "rules",
            StudioKind::Commands => "commands",
            StudioKind::Workflows => "workflows",
            StudioKind::Knowledge => "knowledge",
        }
    }

    /// The extensions of its files, the usual one first.
    fn exts(self) -> &'static [&'static str] {
        match self {
            StudioKind::Knowledge => &["md"],
            _ => &["yaml", "yml"],
        }
    }
}

impl std::fmt::Display for StudioKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StudioKind {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        StudioKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                EngineError::not_found(
                    "Studio kind",
                    s,
                    "the kinds are rules, commands, workflows and knowledge",
                )
            })
    }
}

/// One file of a kind's folder, as the Studio lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioFileView {
    /// Its file name (`foo.yaml`).
    pub name: String,
    /// Its path under the workspace folder (`rules/foo.yaml`).
    pub file: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<Timestamp>,
    /// How many problems its validator finds in it (a file with any is skipped elsewhere).
    pub problems: usize,
}

/// A kind's files in this workspace's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioListView {
    pub workspace: String,
    pub kind: StudioKind,
    pub files: Vec<StudioFileView>,
}

/// One file's text, and its problems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioTextView {
    pub kind: StudioKind,
    pub name: String,
    pub file: String,
    pub text: String,
    pub problems: Vec<ProblemView>,
}

/// What checking a text found: no problems means it can be saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioCheckView {
    pub kind: StudioKind,
    pub name: String,
    pub file: String,
    pub problems: Vec<ProblemView>,
}

/// A file saved or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioChangeView {
    pub kind: StudioKind,
    pub name: String,
    pub file: String,
    /// A save that made a new file (false for a replacement or a delete).
    pub created: bool,
}

/// A file name the Studio edits: 1-128 letters, digits, `-`, `_` or `.`, starting with a
/// letter or digit, no `..`, ending in one of the kind's extensions. No folders.
pub fn check_name(kind: StudioKind, name: &str) -> Result<()> {
    let ext = kind.exts()[0];
    let chars_ok = !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !chars_ok {
        return Err(EngineError::Invalid(format!(
            "{name:?} is not a file name the Studio saves: use 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit, no '..' and no folders (e.g. my-{}.{ext})",
            kind.as_str().trim_end_matches('s'),
        )));
    }
    let has_ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| kind.exts().contains(&e));
    if !has_ext {
        return Err(EngineError::Invalid(format!(
            "{name:?}: {} files end in .{}: name it {}.{ext}",
            kind,
            kind.exts().join(" or ."),
            name.trim_end_matches('.'),
        )));
    }
    Ok(())
}

fn relative(kind: StudioKind, name: &str) -> String {
    format!("{}/{name}", kind.as_str())
}

async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Invalid(format!("{what} crashed: {e}")))?
}

/// A problem as the user knows its file: the path under `root` (the checked folder's parent),
/// never where it was checked.
fn relabel(mut p: ProblemView, root: &Path) -> ProblemView {
    if let Ok(rel) = Path::new(&p.file).strip_prefix(root) {
        p.file = rel.to_string_lossy().replace('\\', "/");
    }
    p.message = p.message.replace(&format!("{}/", root.display()), "");
    p
}

impl Sitrep {
    fn studio_dir(&self, kind: StudioKind) -> PathBuf {
        self.workspace_dir().join(kind.as_str())
    }

    /// Every problem of the files in `dir`, by the kind's own validator.
    async fn studio_problems(&self, kind: StudioKind, dir: &Path) -> Result<Vec<ProblemView>> {
        match kind {
            StudioKind::Rules => self.validate_rules(Some(dir)).await,
            StudioKind::Commands => self.validate_commands(Some(dir)).await,
            StudioKind::Workflows => Ok(self.validate_workflows(Some(dir)).await?.problems),
            StudioKind::Knowledge => {
                let (dir, now) = (dir.to_path_buf(), self.now());
                let (_, problems) = blocking("reading notes", move || {
                    crate::knowledge::read_tree(&dir, NoteOrigin::Folder, now)
                })
                .await?;
                Ok(problems)
            }
        }
    }

    /// A kind's files in this workspace's folder (not its subfolders), by name, with how
    /// many problems each has.
    pub async fn studio_list(&self, kind: StudioKind) -> Result<StudioListView> {
        let dir = self.studio_dir(kind);
        let problems = self.studio_problems(kind, &dir).await?;
        let files = blocking("listing files", move || {
            let mut out = vec![];
            for path in files_in(&dir, kind.exts())? {
                let meta = std::fs::metadata(&path).map_err(|e| EngineError::io(&path, e))?;
                let shown = path.display().to_string();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                out.push(StudioFileView {
                    file: relative(kind, &name),
                    name,
                    size: meta.len(),
                    modified: meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| Timestamp::from_millis(d.as_millis() as i64)),
                    problems: problems.iter().filter(|p| p.file == shown).count(),
                });
            }
            Ok(out)
        })
        .await?;
        Ok(StudioListView {
            workspace: self.workspace().to_string(),
            kind,
            files,
        })
    }

    /// One file's text and its problems.
    pub async fn studio_read(&self, kind: StudioKind, name: &str) -> Result<StudioTextView> {
        check_name(kind, name)?;
        let path = self.studio_dir(kind).join(name);
        let file = relative(kind, name);
        let shown = file.clone();
        let text = blocking("reading a file", move || {
            if !path.is_file() {
                return Err(EngineError::not_found(
                    "file",
                    &shown,
                    "list the kind's files, or save a new one",
                ));
            }
            read_text(&path).map_err(|p| EngineError::Invalid(format!("{shown} {}", p.message)))
        })
        .await?;
        let problems = self.studio_check(kind, name, &text).await?.problems;
        Ok(StudioTextView {
            kind,
            name: name.to_string(),
            file,
            text,
            problems,
        })
    }

    /// Checks `text` as the file `name` of `kind` would be, without saving it: every problem
    /// with its line and field.
    pub async fn studio_check(
        &self,
        kind: StudioKind,
        name: &str,
        text: &str,
    ) -> Result<StudioCheckView> {
        check_name(kind, name)?;
        let file = relative(kind, name);
        if text.len() as u64 > MAX_FILE {
            return Err(EngineError::Invalid(format!(
                "{file} would be {} bytes; workspace files are at most {MAX_FILE}: split it",
                text.len()
            )));
        }
        let (owned_name, owned_text) = (name.to_string(), text.to_string());
        let real = self.studio_dir(kind);
        // A private folder (mode 0700) laid out like the workspace folder, with the kind's
        // other files beside the text, so that a name or id used twice is found.
        let scratch = blocking("preparing the check", move || {
            let tmp = tempfile::Builder::new()
                .prefix("sitrep-studio-")
                .tempdir()
                .map_err(|e| EngineError::io(std::env::temp_dir(), e))?;
            let dir = tmp.path().join(kind.as_str());
            std::fs::create_dir(&dir).map_err(|e| EngineError::io(&dir, e))?;
            let others = if kind == StudioKind::Knowledge {
                files_under(&real, kind.exts())?
            } else {
                files_in(&real, kind.exts())?
            };
            for f in others {
                let Ok(rel) = f.strip_prefix(&real) else {
                    continue;
                };
                if rel == Path::new(&owned_name) {
                    continue;
                }
                let to = dir.join(rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
                }
                std::fs::copy(&f, &to).map_err(|e| EngineError::io(&f, e))?;
            }
            let path = dir.join(&owned_name);
            std::fs::write(&path, owned_text).map_err(|e| EngineError::io(&path, e))?;
            Ok(tmp)
        })
        .await?;
        let root = scratch.path().to_path_buf();
        let found = self.studio_problems(kind, &root.join(kind.as_str())).await;
        // Removing the folder touches the disk: not on the runtime's threads.
        tokio::task::spawn_blocking(move || drop(scratch));
        let edited = root.join(kind.as_str()).join(name).display().to_string();
        let mut problems = vec![];
        for p in found? {
            if p.file == edited {
                problems.push(relabel(p, &root));
            } else if p.message.contains(&edited) {
                // A name or id used twice is the problem of the later file, which names this
                // one: it is this text's problem too. The other files' own problems are theirs.
                let other = relabel(p, &root);
                let message = format!("{}: {}: rename one of them", other.file, other.message);
                problems.push(if kind == StudioKind::Knowledge {
                    ProblemView {
                        file: file.clone(),
                        line: None,
                        field: other.field,
                        message,
                    }
                } else {
                    located(Path::new(&file), text, 0, &other.field, message)
                });
            }
        }
        Ok(StudioCheckView {
            kind,
            name: name.to_string(),
            file,
            problems,
        })
    }

    /// Saves `text` as the file `name` of `kind` when it has no problem (else nothing is
    /// written and the error carries every problem). A saved note is synced at once.
    pub async fn studio_save(
        &self,
        kind: StudioKind,
        name: &str,
        text: &str,
    ) -> Result<StudioChangeView> {
        let check = self.studio_check(kind, name, text).await?;
        if !check.problems.is_empty() {
            return Err(EngineError::Problems {
                file: check.file,
                problems: check.problems,
            });
        }
        let dir = self.studio_dir(kind);
        let path = dir.join(name);
        let owned_text = text.to_string();
        let created = blocking("saving a file", move || {
            std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
            let created = !path.exists();
            // Written beside, then renamed: a reader never sees half a file. The temporary
            // name ends in neither .yaml nor .md, so no validator or sync reads it.
            let mut tmp = tempfile::Builder::new()
                .prefix(".studio-")
                .suffix(".tmp")
                .tempfile_in(&dir)
                .map_err(|e| EngineError::io(&dir, e))?;
            tmp.write_all(owned_text.as_bytes())
                .map_err(|e| EngineError::io(tmp.path(), e))?;
            // A replaced file keeps its permissions (a new one is the owner's only).
            if let Ok(meta) = std::fs::metadata(&path) {
                std::fs::set_permissions(tmp.path(), meta.permissions())
                    .map_err(|e| EngineError::io(tmp.path(), e))?;
            }
            tmp.persist(&path)
                .map_err(|e| EngineError::io(&path, e.error))?;
            Ok(created)
        })
        .await?;
        tracing::info!(workspace = self.workspace(), %kind, name, created, "studio file saved");
        if kind == StudioKind::Knowledge {
            self.knowledge_sync().await?;
        }
        Ok(StudioChangeView {
            kind,
            name: name.to_string(),
            file: check.file,
            created,
        })
    }

    /// Deletes the file `name` of `kind` (a note leaves the knowledge at once).
    pub async fn studio_delete(&self, kind: StudioKind, name: &str) -> Result<StudioChangeView> {
        check_name(kind, name)?;
        let path = self.studio_dir(kind).join(name);
        let file = relative(kind, name);
        let shown = file.clone();
        blocking("deleting a file", move || {
            if !path.is_file() {
                return Err(EngineError::not_found(
                    "file",
                    &shown,
                    "list the kind's files to see what there is",
                ));
            }
            std::fs::remove_file(&path).map_err(|e| EngineError::io(&path, e))
        })
        .await?;
        tracing::info!(workspace = self.workspace(), %kind, name, "studio file deleted");
        if kind == StudioKind::Knowledge {
            self.knowledge_sync().await?;
        }
        Ok(StudioChangeView {
            kind,
            name: name.to_string(),
            file,
            created: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names_of_the_kind() {
        for ok in ["foo.yaml", "a.yml", "batch-jobs_2.yaml"] {
            assert!(check_name(StudioKind::Rules, ok).is_ok(), "{ok}");
        }
        assert!(check_name(StudioKind::Knowledge, "runbook.md").is_ok());
        for bad in [
            "../x.yaml",
            "..",
            "a/b.yaml",
            ".hidden.yaml",
            "x..yaml",
            "",
            "a b.yaml",
            "foo",
            "foo.md",
            "C:\\x.yaml",
        ] {
            let e = check_name(StudioKind::Rules, bad).unwrap_err();
            assert!(matches!(e, EngineError::Invalid(_)), "{bad}: {e}");
        }
        let e = check_name(StudioKind::Rules, "foo")
            .unwrap_err()
            .to_string();
        assert!(e.contains("name it foo.yaml"), "{e}");
        let e = "nope".parse::<StudioKind>().unwrap_err().to_string();
        assert!(
            e.contains("rules, commands, workflows and knowledge"),
            "{e}"
        );
    }

    #[test]
    fn a_problem_names_the_file_as_the_user_knows_it() {
        let root = Path::new("/tmp/sitrep-studio-x");
        let p = relabel(
            ProblemView {
                file: "/tmp/sitrep-studio-x/rules/foo.yaml".into(),
                line: Some(3),
                field: "match".into(),
                message: "also in /tmp/sitrep-studio-x/rules/bar.yaml".into(),
            },
            root,
        );
        assert_eq!(p.file, "rules/foo.yaml");
        assert_eq!(p.message, "also in rules/bar.yaml");
    }
}
