//! Issues as people list them.

use crate::{EngineError, Result, Sitrep};
use sitrep_core::{Issue, IssueEvent};
use sitrep_store::{IssueFilter, Store};

#[derive(Debug, Clone, Default)]
pub struct IssueQuery {
    /// Resolved issues too.
    pub all: bool,
    /// Only the issues of this resource.
    pub resource: Option<String>,
    pub limit: Option<i64>,
}

impl Sitrep {
    /// Open issues (or all), most current and most severe first (`core::currency::rank`).
    pub async fn issues(&self, q: &IssueQuery) -> Result<Vec<Issue>> {
        let store = self.store().await?;
        let mut list = store
            .list_issues(
                self.workspace(),
                &IssueFilter {
                    include_resolved: q.all,
                    scope: q.resource.clone(),
                    limit: q.limit,
                },
            )
            .await?;
        sitrep_core::currency::rank(&mut list, self.now());
        Ok(list)
    }

    /// One issue (a unique id prefix works) and its history.
    pub async fn issue(&self, id: &str) -> Result<(Issue, Vec<IssueEvent>)> {
        let store = self.store().await?;
        let issue = store
            .get_issue(self.workspace(), id)
            .await?
            .ok_or_else(|| EngineError::not_found("issue", id, "list issues to see their ids"))?;
        let events = store.issue_events(self.workspace(), &issue.id).await?;
        Ok((issue, events))
    }
}
