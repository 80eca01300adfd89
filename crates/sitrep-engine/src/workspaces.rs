//! Several workspaces in one home, and so in one server. The home's settings file names its own
//! workspace (`workspace`, default `default`), whose folder is the home (or `workspace_dir`);
//! every other workspace has its folder at `$SITREP_HOME/workspaces/NAME` (its `rules/`,
//! `commands/`, `knowledge/` and `workflows/`). They share the database and the collections;
//! each has its own SLXs, issues, sessions, secrets, tokens, runner and domain events, and a
//! handle on one never reads another's rows (every store call names its workspace).

use crate::access::{AccessError, Principal};
use crate::settings::WORKSPACES_DIR;
use crate::{EngineError, OpenOptions, Result, Sitrep};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

/// One workspace of a home, as listings show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceView {
    pub name: String,
    /// Its folder: rules, commands, knowledge and workflows.
    pub dir: String,
    /// The one the settings file names.
    pub primary: bool,
}

impl Sitrep {
    /// A handle on another workspace of this home: the same database and collections, that
    /// workspace's own folder, runner and events. `name` is checked like the setting.
    pub fn workspace_handle(&self, name: &str) -> Result<Sitrep> {
        if name == self.workspace() {
            return Ok(self.clone());
        }
        let primary = self.primary_settings();
        let settings = if name == primary.workspace {
            primary
        } else {
            primary.for_workspace(name)
        };
        settings.validate(&self.home().join(crate::settings::CONFIG_FILE))?;
        let opts = OpenOptions {
            home: self.home().to_path_buf(),
            overrides: Default::default(),
            sitrep_exe: self.inner.sitrep_exe.clone(),
            clock: self.inner.clock.clone(),
        };
        Ok(Sitrep::build(opts, settings, self.inner.shared.clone()))
    }

    /// The settings of the workspace the file names.
    fn primary_settings(&self) -> crate::Settings {
        let s = self.settings();
        match &s.primary_workspace {
            None => s.clone(),
            Some(name) => {
                let mut p = s.clone();
                p.workspace = name.clone();
                p.workspace_dir = p.primary_workspace_dir.take();
                p.primary_workspace = None;
                p
            }
        }
    }

    /// Makes this workspace's folder (with `rules/`, `commands/`, `knowledge/` and
    /// `workflows/`) if it is not there. Safe to run again.
    pub fn create_workspace_dir(&self) -> Result<WorkspaceView> {
        let dir = self.workspace_dir();
        for sub in ["rules", "commands", "knowledge", "workflows"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| EngineError::io(&d, e))?;
        }
        Ok(self.workspace_view())
    }

    fn workspace_view(&self) -> WorkspaceView {
        WorkspaceView {
            name: self.workspace().to_string(),
            dir: self.workspace_dir().display().to_string(),
            primary: self.settings().primary_workspace.is_none(),
        }
    }

    /// Every workspace of this home: the settings file's, then one per folder under
    /// `$SITREP_HOME/workspaces/` (by name).
    pub fn workspaces(&self) -> Result<Vec<WorkspaceView>> {
        let primary = self.primary_settings();
        let mut out = vec![WorkspaceView {
            name: primary.workspace.clone(),
            dir: primary.workspace_dir(self.home()).display().to_string(),
            primary: true,
        }];
        for name in workspace_folders(&self.home().join(WORKSPACES_DIR))? {
            if name != primary.workspace {
                out.push(self.workspace_handle(&name)?.workspace_view());
            }
        }
        Ok(out)
    }
}

/// The names of the folders under `dir` (none when it does not exist), sorted.
fn workspace_folders(dir: &std::path::Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(EngineError::io(dir, e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// The workspaces one process serves, opened once at its start.
#[derive(Clone)]
pub struct Workspaces {
    primary: Sitrep,
    by_name: BTreeMap<String, Sitrep>,
}

impl Workspaces {
    /// `primary` (the home's) and every other workspace of its home.
    pub fn open(primary: Sitrep) -> Result<Workspaces> {
        let mut by_name = BTreeMap::new();
        for w in primary.workspaces()? {
            by_name.insert(w.name.clone(), primary.workspace_handle(&w.name)?);
        }
        by_name.insert(primary.workspace().to_string(), primary.clone());
        Ok(Workspaces { primary, by_name })
    }

    /// Just `only` (a process serving one workspace).
    pub fn single(only: Sitrep) -> Workspaces {
        let by_name = BTreeMap::from([(only.workspace().to_string(), only.clone())]);
        Workspaces {
            primary: only,
            by_name,
        }
    }

    /// The workspace the process was opened on.
    pub fn primary(&self) -> &Sitrep {
        &self.primary
    }

    pub fn get(&self, name: &str) -> Option<&Sitrep> {
        self.by_name.get(name)
    }

    /// Every served workspace, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Sitrep> {
        self.by_name.values()
    }

    /// Checks a presented secret and answers who it is and the handle on its workspace.
    pub async fn authenticate(&self, secret: Option<&str>) -> Result<(Principal, Sitrep)> {
        let p = self.primary.principal(secret).await?;
        match self.by_name.get(&p.workspace) {
            Some(s) => Ok((p, s.clone())),
            None => Err(AccessError::NotServed(p.workspace).into()),
        }
    }

    /// Runs every workspace's background work ([`Sitrep::serve`]) until `shutdown`; the
    /// first to fail stops the others.
    pub async fn serve(
        &self,
        opts: &crate::ServeOptions,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut set = tokio::task::JoinSet::new();
        for s in self.by_name.values() {
            let (s, tx, stop, opts) = (s.clone(), tx.clone(), stopped(), opts.clone());
            set.spawn(async move {
                let r = s.serve(&opts, stop).await;
                let _ = tx.send(true);
                r
            });
        }
        tokio::select! {
            _ = shutdown => {}
            _ = stopped() => {}
        }
        let _ = tx.send(true);
        let mut first = Ok(());
        while let Some(r) = set.join_next().await {
            let r = r.unwrap_or_else(|e| {
                Err(EngineError::Invalid(format!(
                    "a workspace's background work crashed: {e}"
                )))
            });
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}
