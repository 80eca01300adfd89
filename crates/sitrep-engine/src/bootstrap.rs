//! `init`: a home with a settings file, the database, and an SLX watching this host.

use crate::settings::{CONFIG_FILE, TEMPLATE};
use crate::views::InitView;
use crate::{EngineError, OpenOptions, Result, Sitrep};
use sitrep_core::Slx;
use sitrep_store::Store;
use std::collections::BTreeMap;

/// The SLX `init` creates: the local host's checks.
pub const HOST_SLX: &str = "localhost";

impl Sitrep {
    /// Creates the home and its settings file if missing, then opens sitrep on it, with the
    /// database migrated and an SLX for this host. Safe to run again.
    pub async fn init(opts: OpenOptions) -> Result<(Sitrep, InitView)> {
        let home = opts.home.clone();
        std::fs::create_dir_all(&home).map_err(|e| EngineError::io(&home, e))?;
        let cfg = home.join(CONFIG_FILE);
        let mut wrote_config = None;
        if !cfg.exists() {
            // Exclusive create: two concurrent first starts write it once.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&cfg)
            {
                Ok(mut f) => {
                    std::io::Write::write_all(&mut f, TEMPLATE.as_bytes())
                        .map_err(|e| EngineError::io(&cfg, e))?;
                    wrote_config = Some(cfg.display().to_string());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(EngineError::io(&cfg, e)),
            }
        }
        let sitrep = Sitrep::open(opts)?;
        if sitrep.settings().primary_workspace.is_some() {
            // Another workspace of this home: its folder is what makes it one.
            sitrep.create_workspace_dir()?;
        }
        let created_slx = sitrep.ensure_host_slx().await?;
        let view = InitView {
            home: home.display().to_string(),
            wrote_config,
            created_slx,
        };
        Ok((sitrep, view))
    }

    /// Creates workspace `name` of this home if it is not there: its folder and its SLX for
    /// this host. Safe to run again.
    pub async fn create_workspace(&self, name: &str) -> Result<crate::WorkspaceView> {
        let ws = self.workspace_handle(name)?;
        let view = ws.create_workspace_dir()?;
        ws.ensure_host_slx().await?;
        Ok(view)
    }

    /// The SLX for this host, created unless the workspace has it; its name when created.
    async fn ensure_host_slx(&self) -> Result<Option<String>> {
        let store = self.store().await?;
        let existing = store.list_slxs(self.workspace()).await?;
        if existing.iter().any(|s| s.name == HOST_SLX) {
            return Ok(None);
        }
        let slx = Slx {
            workspace: self.workspace().into(),
            name: HOST_SLX.into(),
            resource: "localhost".into(),
            bundle: "core/linux-host".into(),
            description: "this machine: disk, inodes, memory, load, OOM kills, failed units".into(),
            tasks: vec![],
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            stale: false,
            generated: None,
        };
        store.put_slx(&slx, self.now()).await?;
        Ok(Some(HOST_SLX.to_string()))
    }
}
