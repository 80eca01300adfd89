//! Issues as people list them.

use crate::rules::{IssueView, rule_issues};
use crate::{EngineError, Result, Sitrep};
use sitrep_core::{Insight, Issue, IssueEvent};
use sitrep_store::{IssueFilter, Store};

#[derive(Debug, Clone, Default)]
pub struct IssueQuery {
    /// Resolved issues, and issues a rule suppresses (marked), too.
    pub all: bool,
    /// Only the issues of this resource.
    pub resource: Option<String>,
    pub limit: Option<i64>,
}

impl Sitrep {
    /// The current insights (the latest of each check), of one resource or all.
    pub async fn insights(&self, resource: Option<&str>) -> Result<Vec<Insight>> {
        let store = self.store().await?;
        let mut list = Store::current_insights(&*store, self.workspace()).await?;
        if let Some(r) = resource {
            list.retain(|i| i.resource == r);
        }
        Ok(list)
    }

    /// Open issues (or all), read through the workspace's rules (severity as ruled;
    /// suppressed ones only with `all`), most current and most severe first
    /// (`core::currency::rank`).
    pub async fn issues(&self, q: &IssueQuery) -> Result<Vec<IssueView>> {
        let list = self.stored_issues(q).await?;
        let rules = self.loaded_rules().await?.rules();
        if rules.is_empty() {
            return Ok(list
                .into_iter()
                .map(|issue| IssueView {
                    issue,
                    ruling: Default::default(),
                })
                .collect());
        }
        let map = self.load_map(false).await?;
        let catalog = self.catalog().await?;
        let mut views = rule_issues(&rules, &map, &catalog, list, self.now());
        views.retain(|v| q.all || v.ruling.suppressed_by.is_none());
        // Ranked again: a rule's severity is the one that counts.
        let mut issues: Vec<Issue> = views.iter().map(|v| v.issue.clone()).collect();
        sitrep_core::currency::rank(&mut issues, self.now());
        let mut by_id: std::collections::HashMap<String, IssueView> =
            views.into_iter().map(|v| (v.issue.id.clone(), v)).collect();
        Ok(issues.iter().filter_map(|i| by_id.remove(&i.id)).collect())
    }

    /// Open issues (or all) as stored, ranked; no rules applied.
    pub(crate) async fn stored_issues(&self, q: &IssueQuery) -> Result<Vec<Issue>> {
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
