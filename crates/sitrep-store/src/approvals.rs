//! The approvals aggregate: every proposed or decided remediation run, stored whole.

use crate::rows::json_text;
use crate::sql::SqlStore;
use crate::{Result, StoreError};
use async_trait::async_trait;
use sitrep_core::approval::{ApprovalRecord, ApprovalStatus};
use sqlx::Row;

#[derive(Debug, Clone, Default)]
pub struct ApprovalFilter {
    pub status: Option<ApprovalStatus>,
    pub session_id: Option<String>,
    /// Only records for this task on this resource.
    pub task_on: Option<(String, String)>,
    pub limit: Option<i64>,
}

#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Inserts or replaces the record with this id.
    async fn put_approval(&self, record: &ApprovalRecord) -> Result<()>;
    /// By id, or by a unique id prefix.
    async fn get_approval(&self, workspace: &str, id: &str) -> Result<Option<ApprovalRecord>>;
    /// Newest first.
    async fn list_approvals(
        &self,
        workspace: &str,
        filter: &ApprovalFilter,
    ) -> Result<Vec<ApprovalRecord>>;
}

fn decode(spec: &str, workspace: &str) -> Result<ApprovalRecord> {
    let mut r: ApprovalRecord = serde_json::from_str(spec).map_err(|e| StoreError::Corrupt {
        table: "approvals",
        message: e.to_string(),
    })?;
    r.workspace = workspace.to_string();
    Ok(r)
}

#[async_trait]
impl ApprovalStore for SqlStore {
    async fn put_approval(&self, r: &ApprovalRecord) -> Result<()> {
        sqlx::query(self.q(
            "INSERT INTO approvals (id, workspace, session_id, task, resource, status, requested_at, decided_at, expires_at, spec) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at, spec = excluded.spec
             WHERE approvals.workspace = excluded.workspace",
        ))
        .bind(&r.id)
        .bind(&r.workspace)
        .bind(&r.session_id)
        .bind(&r.task)
        .bind(&r.resource)
        .bind(r.status.as_str())
        .bind(r.requested_at.0)
        .bind(r.decided_at.map(|t| t.0))
        .bind(r.expires_at.0)
        .bind(json_text(r))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_approval(&self, workspace: &str, id: &str) -> Result<Option<ApprovalRecord>> {
        let rows = sqlx::query(self.q(
            "SELECT spec FROM approvals WHERE workspace = $1 AND (id = $2 OR id LIKE $3) LIMIT 2",
        ))
        .bind(workspace)
        .bind(id)
        .bind(format!("{}%", id.replace(['%', '_'], "")))
        .fetch_all(&self.pool)
        .await?;
        match rows.as_slice() {
            [one] => decode(&one.try_get::<String, _>("spec")?, workspace).map(Some),
            _ => Ok(None),
        }
    }

    async fn list_approvals(
        &self,
        workspace: &str,
        f: &ApprovalFilter,
    ) -> Result<Vec<ApprovalRecord>> {
        let mut sql = String::from("SELECT spec FROM approvals WHERE workspace = $1");
        let mut n = 1;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.status.is_some() {
            sql.push_str(&format!(" AND status = {}", next()));
        }
        if f.session_id.is_some() {
            sql.push_str(&format!(" AND session_id = {}", next()));
        }
        if f.task_on.is_some() {
            sql.push_str(&format!(" AND task = {} AND resource = {}", next(), next()));
        }
        sql.push_str(" ORDER BY requested_at DESC, id");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {}", l.max(0)));
        }
        let mut q = sqlx::query(self.q(&sql)).bind(workspace);
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(s) = &f.session_id {
            q = q.bind(s);
        }
        if let Some((t, r)) = &f.task_on {
            q = q.bind(t).bind(r);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| decode(&row.try_get::<String, _>("spec")?, workspace))
            .collect()
    }
}
