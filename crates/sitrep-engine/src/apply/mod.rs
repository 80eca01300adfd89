//! Workspace as code (`docs/workspace-as-code.md`): `apply` brings the current workspace to
//! what a workspace folder (`sitrep.yaml`, `slxs/`, `rules/`, `commands/`, `workflows/`,
//! `knowledge/`) holds; `export` writes the workspace out in that layout. Planning is pure
//! ([`plan`]); [`folder`] reads both sides through the validators every other edge uses, and
//! this module carries a plan out. Secrets are never exported nor applied from files.

mod folder;
pub mod plan;

pub use plan::{Action, Change, Item, Kind, Plan};

use crate::views::ProblemView;
use crate::{EngineError, Result, Sitrep};
use serde::{Deserialize, Serialize};
use sitrep_store::Store;
use std::path::{Path, PathBuf};

/// Said by every apply and export.
pub const SECRETS_NOTE: &str = "secrets are never exported nor applied from files: SLXs and sitrep.yaml name them (secret:NAME, env:VAR, file:PATH); set values with `sitrep secret set NAME`";

/// What `apply` found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyView {
    pub workspace: String,
    pub dir: String,
    pub dry_run: bool,
    pub prune: bool,
    /// Whether the plan was carried out (not a dry run, no problems).
    pub applied: bool,
    pub plan: Plan,
    /// Every problem of the folder; with any, nothing is applied.
    pub problems: Vec<ProblemView>,
    pub notes: Vec<String>,
}

/// What `export` wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportView {
    pub workspace: String,
    pub dir: String,
    /// The files written, by path under `dir`.
    pub written: Vec<String>,
    pub notes: Vec<String>,
}

/// Options of [`Sitrep::apply`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    pub dry_run: bool,
    /// Remove the workspace's items the folder does not have (else they are kept).
    pub prune: bool,
}

/// A database URL with a password in it (`scheme://user:password@host`).
fn has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|auth| auth.rsplit_once('@'))
        .is_some_and(|(user, _)| user.contains(':'))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
    }
    // Written beside, then renamed: a reader never sees half a file.
    let tmp = path.with_extension("sitrep-apply.tmp");
    std::fs::write(&tmp, text).map_err(|e| EngineError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| EngineError::io(path, e))
}

impl Sitrep {
    /// Plans bringing this workspace to the folder `dir`, and carries it out unless
    /// `dry_run` or the folder has any problem (then nothing is applied).
    pub async fn apply(&self, dir: &Path, opts: ApplyOptions) -> Result<ApplyView> {
        if !dir.is_dir() {
            return Err(EngineError::Invalid(format!(
                "{} is not a folder: apply takes a workspace folder (sitrep.yaml, slxs/, rules/, commands/, workflows/, knowledge/)",
                dir.display()
            )));
        }
        let desired = self.read_desired(dir).await?;
        let (current, slxs) = self.read_current().await?;
        let plan = plan::plan(&current, &desired.items, opts.prune);
        let mut notes = vec![SECRETS_NOTE.to_string()];
        if !self.is_primary() && dir.join(crate::settings::CONFIG_FILE).exists() {
            notes.push("sitrep.yaml is the home's, shared by every workspace".into());
        }
        let mut view = ApplyView {
            workspace: self.workspace().to_string(),
            dir: dir.display().to_string(),
            dry_run: opts.dry_run,
            prune: opts.prune,
            applied: false,
            plan,
            problems: desired.problems,
            notes,
        };
        if opts.dry_run || !view.problems.is_empty() {
            return Ok(view);
        }
        let store = self.store().await?;
        let wdir = self.workspace_dir();
        let mut knowledge = false;
        for c in view.plan.effective() {
            match (c.kind, c.action) {
                (Kind::Slx, Action::Remove) => {
                    store.delete_slx(self.workspace(), &c.name).await?;
                }
                (Kind::Slx, _) => {
                    let spec = desired.slxs[&c.name].clone();
                    let existing = slxs.iter().find(|s| s.name == c.name);
                    let slx = spec.into_slx(self.workspace(), existing);
                    store.put_slx(&slx, self.now()).await?;
                }
                (kind, action) => {
                    let path = match kind {
                        Kind::Settings => self.home().join(&c.name),
                        k => wdir.join(k.path_of(&c.name)),
                    };
                    if action == Action::Remove {
                        std::fs::remove_file(&path).map_err(|e| EngineError::io(&path, e))?;
                    } else {
                        let text = desired
                            .items
                            .iter()
                            .find(|i| i.kind == kind && i.name == c.name)
                            .map(|i| i.text.as_str())
                            .unwrap_or_default();
                        write_file(&path, text)?;
                    }
                    knowledge |= kind == Kind::Knowledge;
                }
            }
        }
        if knowledge {
            self.knowledge_sync().await?;
        }
        view.applied = true;
        Ok(view)
    }

    /// Writes this workspace to `dir` in the layout `apply` reads: applying the result to the
    /// same workspace changes nothing. A non-empty `dir` is refused unless `force` (then its
    /// sitrep.yaml and item folders are replaced; other files stay).
    pub async fn export(&self, dir: &Path, force: bool) -> Result<ExportView> {
        let canon = |p: &Path| std::fs::canonicalize(p).ok();
        if let Some(d) = canon(dir)
            && (Some(&d) == canon(&self.workspace_dir()).as_ref()
                || Some(&d) == canon(self.home()).as_ref())
        {
            return Err(EngineError::Invalid(format!(
                "{} is this workspace's own folder or home: export to another folder",
                dir.display()
            )));
        }
        let non_empty = std::fs::read_dir(dir).is_ok_and(|mut r| r.next().is_some());
        if non_empty && !force {
            return Err(EngineError::Invalid(format!(
                "{} is not empty: export to an empty or new folder, or pass --force to replace its sitrep.yaml and item folders",
                dir.display()
            )));
        }
        if dir.exists() && !dir.is_dir() {
            return Err(EngineError::Invalid(format!(
                "{} is a file, not a folder",
                dir.display()
            )));
        }
        let (items, _) = self.read_current().await?;
        let mut notes = vec![SECRETS_NOTE.to_string()];
        let names: Vec<String> = self.secrets().await?.into_iter().map(|s| s.name).collect();
        if !names.is_empty() {
            notes.push(format!(
                "the vault's secrets stay in the database, not exported: {}",
                names.join(", ")
            ));
        }
        let leaks = self
            .settings()
            .database_url
            .as_deref()
            .is_some_and(has_password);
        if force {
            let mut old: Vec<PathBuf> = Kind::ALL
                .iter()
                .filter_map(|k| k.folder())
                .map(|f| dir.join(f))
                .collect();
            old.push(dir.join(crate::settings::CONFIG_FILE));
            for p in old {
                let r = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else if p.exists() {
                    std::fs::remove_file(&p)
                } else {
                    Ok(())
                };
                r.map_err(|e| EngineError::io(&p, e))?;
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        let mut written = vec![];
        for i in &items {
            if i.kind == Kind::Settings && leaks {
                notes.push("sitrep.yaml not exported: its database_url holds a password (put it in the environment, e.g. PGPASSWORD, to export it)".into());
                continue;
            }
            let rel = i.kind.path_of(&i.name);
            write_file(&dir.join(&rel), &i.text)?;
            written.push(rel);
        }
        Ok(ExportView {
            workspace: self.workspace().to_string(),
            dir: dir.display().to_string(),
            written,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::has_password;

    #[test]
    fn passwords_in_database_urls_are_seen() {
        assert!(has_password("postgres://u:secret@db:5432/x"));
        assert!(!has_password("postgres://u@db:5432/x"));
        assert!(!has_password("sqlite:///srv/sitrep.db"));
        assert!(!has_password("postgres://db:5432/x?user=a@b"));
    }
}
