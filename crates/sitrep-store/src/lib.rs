//! Persistence. One [`Store`] trait; one SQL implementation serving the embedded SQLite default
//! and PostgreSQL through sqlx's runtime-typed `Any` driver, so both run the same queries and
//! pass the same conformance suite (`tests/conformance.rs`).
//!
//! Every method takes the workspace explicitly: no query reads across workspaces.

mod approvals;
mod deliveries;
mod error;
mod inbound;
mod knowledge;
mod map;
mod migrate;
mod open;
mod rows;
mod runs;
mod secrets;
mod sessions;
mod sql;
mod tokens;

pub use approvals::{ApprovalFilter, ApprovalStore};
pub use deliveries::DeliveryStore;
pub use error::{ConnectProblem, StoreError};
pub use inbound::InboundStore;
pub use knowledge::KnowledgeStore;
pub use secrets::SecretStore;
pub use sessions::SessionStore;
pub use sql::{Backend, OpenOptions, SqlStore};
pub use tokens::TokenStore;

use async_trait::async_trait;
use sitrep_core::issue::IssueChange;
use sitrep_core::map::StoredMap;
use sitrep_core::{Insight, Issue, IssueDraft, IssueEvent, MetricSample, Slx, TaskRun, Timestamp};
use std::collections::BTreeMap;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a finished run hands the store, already redacted.
#[derive(Debug, Clone, Default)]
pub struct RunResults {
    pub issues: Vec<IssueDraft>,
    pub insights: Vec<(String, serde_json::Value)>,
    pub metrics: Vec<(String, f64, BTreeMap<String, String>)>,
    /// The interval the check runs at (its SLX's, else the task's); sets the quiet period of
    /// the issues it raises (`issue::quiet_period`). `None`: `issue::DEFAULT_INTERVAL`.
    pub interval: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub include_resolved: bool,
    /// A resource, or an SLX name (meaning the SLX's resource).
    pub scope: Option<String>,
    pub limit: Option<i64>,
}

/// One metric series as health runs emit it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesKey<'a> {
    pub scope: &'a str,
    pub task: &'a str,
    pub name: &'a str,
    pub labels: &'a std::collections::BTreeMap<String, String>,
}

/// A run recorded as `running`, with the process that runs it (see [`Store::start_run`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningRun {
    pub id: String,
    /// `None` for runs recorded before owners were (schema version 3).
    pub owner: Option<String>,
    pub task: String,
    pub resource: String,
    pub started_at: Timestamp,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records a run as started by `owner`, an opaque identity of the process running it. A
    /// crash after this leaves it `running` until a restart finds its owner gone and
    /// [`Store::interrupt_runs`] marks it `interrupted`.
    async fn start_run(&self, run: &TaskRun, owner: &str) -> Result<()>;

    /// The workspace's runs still `running`, oldest first.
    async fn running_runs(&self, workspace: &str) -> Result<Vec<RunningRun>>;

    /// Marks the named runs `interrupted` with `error`, those still `running` only; returns
    /// how many it marked.
    async fn interrupt_runs(
        &self,
        workspace: &str,
        ids: &[String],
        at: Timestamp,
        error: &str,
    ) -> Result<u64>;

    /// Stores the finished run with its results and applies the issue lifecycle, atomically.
    /// Returns the issue changes it made.
    async fn finish_run(&self, run: &TaskRun, results: &RunResults) -> Result<Vec<IssueChange>>;

    /// Marks runs still `running` that name no owner (recorded before schema version 3) as
    /// `interrupted`. Runs with an owner are left to the runner's recovery, which checks that
    /// the owner is gone first (`sitrep_runner::Runner::recover`).
    async fn mark_interrupted(&self, at: Timestamp) -> Result<u64>;

    async fn get_run(&self, workspace: &str, id: &str) -> Result<Option<TaskRun>>;
    async fn recent_runs(&self, workspace: &str, limit: i64) -> Result<Vec<TaskRun>>;
    /// The start time of the latest run of every (SLX, task) in the workspace: what the
    /// scheduler reads at start-up. Runs without an SLX are not included.
    async fn last_run_starts(&self, workspace: &str) -> Result<Vec<(String, String, Timestamp)>>;

    async fn list_issues(&self, workspace: &str, filter: &IssueFilter) -> Result<Vec<Issue>>;
    async fn get_issue(&self, workspace: &str, id: &str) -> Result<Option<Issue>>;
    async fn issue_events(&self, workspace: &str, issue_id: &str) -> Result<Vec<IssueEvent>>;

    /// The insights of the latest run of each (scope, task).
    async fn current_insights(&self, workspace: &str) -> Result<Vec<Insight>>;
    async fn metric_series(
        &self,
        workspace: &str,
        scope: &str,
        name: &str,
        since: Timestamp,
    ) -> Result<Vec<MetricSample>>;

    /// Every metric sample of one scope (a resource) since `since`, oldest first, at most
    /// `limit` (the newest kept): an SLX's SLI history.
    async fn scope_metric_samples(
        &self,
        workspace: &str,
        scope: &str,
        since: Timestamp,
        limit: i64,
    ) -> Result<Vec<MetricSample>>;
    /// Every insight of one scope since `since`, oldest first (anomalous SLIs among them).
    async fn scope_insights(
        &self,
        workspace: &str,
        scope: &str,
        since: Timestamp,
    ) -> Result<Vec<Insight>>;

    /// The latest `limit` values of one series (scope, task, metric name and exact labels)
    /// recorded by *succeeded* runs, oldest first: what the anomalous-SLI watch replays to
    /// warm a detector after a restart.
    async fn recent_series_values(
        &self,
        workspace: &str,
        key: &SeriesKey<'_>,
        limit: i64,
    ) -> Result<Vec<f64>>;

    async fn put_slx(&self, slx: &Slx, now: Timestamp) -> Result<()>;
    async fn list_slxs(&self, workspace: &str) -> Result<Vec<Slx>>;
    /// One SLX by name.
    async fn get_slx(&self, workspace: &str, name: &str) -> Result<Option<Slx>> {
        Ok(self
            .list_slxs(workspace)
            .await?
            .into_iter()
            .find(|s| s.name == name))
    }
    async fn delete_slx(&self, workspace: &str, name: &str) -> Result<bool>;
    /// Writes many SLXs in one transaction (discovery's apply).
    async fn put_slxs(&self, slxs: &[Slx], now: Timestamp) -> Result<()>;

    /// The workspace's map: every resource (stale ones too) and edge.
    async fn load_map(&self, workspace: &str) -> Result<StoredMap>;
    /// Replaces the workspace's map with `map`, atomically (see `map::reconcile`).
    async fn replace_map(&self, workspace: &str, map: &StoredMap) -> Result<()>;
}

/// Every aggregate the engine uses, behind one object: runs and issues, SLXs, the Map and
/// metrics ([`Store`]), approvals, investigation sessions, knowledge notes, API tokens,
/// inbound events, deliveries and the secrets vault.
pub trait EngineStore:
    Store
    + ApprovalStore
    + SessionStore
    + KnowledgeStore
    + TokenStore
    + InboundStore
    + DeliveryStore
    + SecretStore
{
}
impl<
    T: Store
        + ApprovalStore
        + SessionStore
        + KnowledgeStore
        + TokenStore
        + InboundStore
        + DeliveryStore
        + SecretStore,
> EngineStore for T
{
}
