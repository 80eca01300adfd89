//! SLO workflows (`on: {slo: ...}`, `docs/workflows.md`): each SLX health check that finishes
//! is good (it succeeded and raised no issue) or bad (it raised one, failed or timed out;
//! inconclusive checks do not count); a workflow whose window falls below its
//! objective starts one investigation of the SLX's resource (its question, or its command
//! with `${slx}`, `${resource}`, `${percent}`, `${objective}`, `${window}`), delivered like an
//! alert's, and fires again only once the SLO has recovered. The windows live in the serving
//! process: after a restart they fill again before they can fire (`min_checks`).

use crate::investigate::{Ask, InvestigateRequest};
use crate::workflows::event_command;
use crate::{Result, Sitrep};
use sitrep_core::RunStatus;
use sitrep_core::workflow::{SloChange, SloState, SloTrigger, SloWindow, Workflow};
use sitrep_store::DeliveryStore;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// How often the workflows folder is read again for SLO workflows.
const REREAD: Duration = Duration::from_secs(60);

/// The SLO workflows and the windows of the SLXs they watch.
#[derive(Default)]
pub(crate) struct SloWatch {
    workflows: Vec<Workflow>,
    read_at: Option<Instant>,
    /// (workflow, SLX) -> its checks; dropped when the workflow's trigger changes.
    windows: HashMap<(String, String), (SloTrigger, SloWindow)>,
}

/// One SLX health check that finished.
pub(crate) struct Check<'a> {
    pub slx: &'a str,
    pub resource: &'a str,
    pub status: RunStatus,
    pub issues_raised: usize,
}

impl Sitrep {
    /// Feeds one finished health check to the SLO workflows that watch its SLX, and starts
    /// the investigation of each that it puts in violation.
    pub(crate) async fn slo_check(&self, watch: &mut SloWatch, check: Check<'_>) -> Result<()> {
        let good = match check.status {
            RunStatus::Succeeded => check.issues_raised == 0,
            // A check that failed or timed out did not see the service well.
            RunStatus::Failed | RunStatus::TimedOut => false,
            // One that could not check (or was cut) says nothing of the SLO.
            _ => return Ok(()),
        };
        if watch.read_at.is_none_or(|t| t.elapsed() >= REREAD) {
            watch.workflows = self
                .loaded_workflows()
                .await?
                .items
                .into_iter()
                .map(|(w, _)| w)
                .filter(|w| w.slo().is_some())
                .collect();
            watch.read_at = Some(Instant::now());
        }
        let now = self.now();
        for w in &watch.workflows {
            let Some(t) = w.slo().filter(|t| t.watches(check.slx)) else {
                continue;
            };
            let key = (w.name().to_string(), check.slx.to_string());
            let (kept, window) = watch
                .windows
                .entry(key)
                .or_insert_with(|| (t.clone(), SloWindow::default()));
            if kept != t {
                *kept = t.clone();
                *window = SloWindow::default();
            }
            match window.push(t, now, good) {
                SloChange::Violated(state) => self.slo_violated(w, t, &check, state).await?,
                SloChange::Recovered(state) => {
                    tracing::info!(
                        workflow = w.name(),
                        slx = check.slx,
                        good = state.good,
                        total = state.total,
                        "slo recovered"
                    );
                }
                SloChange::Same => {}
            }
        }
        Ok(())
    }

    async fn slo_violated(
        &self,
        w: &Workflow,
        t: &SloTrigger,
        check: &Check<'_>,
        state: SloState,
    ) -> Result<()> {
        let percent = format!("{:.1}", state.percent);
        let fields = BTreeMap::from([
            ("slx".to_string(), check.slx.to_string()),
            ("resource".to_string(), check.resource.to_string()),
            ("percent".to_string(), percent.clone()),
            ("objective".to_string(), t.objective.to_string()),
            ("window".to_string(), t.window.clone()),
        ]);
        let command = match event_command(&[w], "the SLO breach", &fields) {
            Some(Err(e)) => {
                tracing::error!(error = %e, workflow = w.name(), "an SLO workflow's command cannot investigate the breach");
                return Ok(());
            }
            c => c.and_then(std::result::Result::ok),
        };
        let session_id = Sitrep::new_session_id();
        let (assistant, deliveries) = self.plan_deliveries(&[w], &session_id);
        self.store()
            .await?
            .put_deliveries(&deliveries, None)
            .await?;
        tracing::warn!(workflow = w.name(), slx = check.slx, resource = check.resource, good = state.good, total = state.total, session = %session_id, "slo violated; investigating");
        let question = format!(
            "{} is breaking the SLO of {}: {} of {} checks good over the last {} ({percent}%, objective {}%). Why?",
            check.resource, check.slx, state.good, state.total, t.window, t.objective
        );
        let req = InvestigateRequest {
            ask: Ask::Question(question),
            assistant,
            time_budget: None,
            task_budget: None,
            session_id: Some(session_id),
        };
        self.spawn_investigation(req, command, "an SLO breach");
        Ok(())
    }
}
