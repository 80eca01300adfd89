//! The managed runtimes of this home (`$SITREP_HOME/runtimes/`): today one, `robot`, the
//! Python venv RunWhen codebundles run in (docs/runwhen.md). The runner installs it on a robot
//! task's first run; `sitrep runtimes install robot` does it ahead of time.

use crate::{Result, Sitrep};
use sitrep_runner::{ROBOT, RobotRuntime, RuntimeError, RuntimeStatus};
use std::path::PathBuf;

impl Sitrep {
    /// Where the managed runtimes live.
    pub(crate) fn runtimes_dir(&self) -> PathBuf {
        self.home().join("runtimes")
    }

    /// Every runtime sitrep manages, installed or not.
    pub fn runtimes(&self) -> Vec<RuntimeStatus> {
        vec![RobotRuntime::new(&self.runtimes_dir()).status()]
    }

    /// Installs `name` unless it is current, calling `progress` with each step (from a
    /// blocking thread).
    pub async fn install_runtime(
        &self,
        name: &str,
        progress: impl FnMut(&str) + Send + 'static,
    ) -> Result<RuntimeStatus> {
        if name != ROBOT {
            return Err(RuntimeError::Unknown(name.into()).into());
        }
        let rt = RobotRuntime::new(&self.runtimes_dir());
        let mut progress = progress;
        tokio::task::spawn_blocking(move || rt.ensure(&mut progress))
            .await
            .map_err(|e| crate::EngineError::Invalid(format!("installing crashed: {e}")))?
            .map_err(Into::into)
    }
}
