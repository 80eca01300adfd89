//! The inbound aggregate: alert webhooks as received, committed before they are answered, and
//! what became of each.

use crate::rows::json_text;
use crate::sql::SqlStore;
use crate::{Result, StoreError};
use async_trait::async_trait;
use sitrep_core::Timestamp;
use sitrep_core::intake::{InboundEvent, InboundStatus};
use sqlx::Row;

#[async_trait]
pub trait InboundStore: Send + Sync {
    /// Stores newly received events (their ids are new) in one transaction: all or none.
    async fn put_inbound(&self, events: &[InboundEvent]) -> Result<()>;
    /// Stores what became of events (status, session, note) in one transaction: all or none.
    async fn update_inbound(&self, events: &[InboundEvent]) -> Result<()>;
    /// Events in `status`, oldest first.
    async fn inbound_in(
        &self,
        workspace: &str,
        status: InboundStatus,
        limit: i64,
    ) -> Result<Vec<InboundEvent>>;
    /// The newest event with this key that has a session, received at or before `before`.
    async fn latest_with_session(
        &self,
        workspace: &str,
        dedup_key: &str,
        before: Timestamp,
    ) -> Result<Option<InboundEvent>>;
    /// Newest first.
    async fn list_inbound(&self, workspace: &str, limit: i64) -> Result<Vec<InboundEvent>>;
    /// By id, or by a unique id prefix.
    async fn get_inbound(&self, workspace: &str, id: &str) -> Result<Option<InboundEvent>>;
}

fn decode(row: &sqlx::any::AnyRow) -> Result<InboundEvent> {
    let spec: String = row.try_get("spec")?;
    let mut e: InboundEvent = serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt {
        table: "inbound_events",
        message: e.to_string(),
    })?;
    e.workspace = row.try_get("workspace")?;
    Ok(e)
}

const COLUMNS: &str = "workspace, spec";

/// The statement that stores what became of an event (also run inside other aggregates'
/// transactions).
pub(crate) fn update<'q>(
    store: &SqlStore,
    e: &'q InboundEvent,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(store.q(
        "UPDATE inbound_events SET status = $3, session_id = $4, spec = $5 WHERE workspace = $1 AND id = $2",
    ))
    .bind(&e.workspace)
    .bind(&e.id)
    .bind(e.status.as_str())
    .bind(&e.session_id)
    .bind(json_text(e))
}

#[async_trait]
impl InboundStore for SqlStore {
    async fn put_inbound(&self, events: &[InboundEvent]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for e in events {
            sqlx::query(self.q(
                "INSERT INTO inbound_events (id, workspace, source, received_at, dedup_key, status, session_id, spec) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ))
            .bind(&e.id)
            .bind(&e.workspace)
            .bind(e.source.as_str())
            .bind(e.received_at.0)
            .bind(&e.dedup_key)
            .bind(e.status.as_str())
            .bind(&e.session_id)
            .bind(json_text(e))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_inbound(&self, events: &[InboundEvent]) -> Result<()> {
        match events {
            [] => {}
            [e] => {
                update(self, e).execute(&self.pool).await?;
            }
            _ => {
                let mut tx = self.pool.begin().await?;
                for e in events {
                    update(self, e).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn inbound_in(
        &self,
        workspace: &str,
        status: InboundStatus,
        limit: i64,
    ) -> Result<Vec<InboundEvent>> {
        sqlx::query(self.q(&format!(
            "SELECT {COLUMNS} FROM inbound_events WHERE workspace = $1 AND status = $2 ORDER BY received_at, id LIMIT $3"
        )))
        .bind(workspace)
        .bind(status.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn latest_with_session(
        &self,
        workspace: &str,
        dedup_key: &str,
        before: Timestamp,
    ) -> Result<Option<InboundEvent>> {
        sqlx::query(self.q(&format!(
            "SELECT {COLUMNS} FROM inbound_events WHERE workspace = $1 AND dedup_key = $2 AND session_id IS NOT NULL AND received_at <= $3 ORDER BY received_at DESC, id DESC LIMIT 1"
        )))
        .bind(workspace)
        .bind(dedup_key)
        .bind(before.0)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
    }

    async fn list_inbound(&self, workspace: &str, limit: i64) -> Result<Vec<InboundEvent>> {
        sqlx::query(self.q(&format!(
            "SELECT {COLUMNS} FROM inbound_events WHERE workspace = $1 ORDER BY received_at DESC, id DESC LIMIT $2"
        )))
        .bind(workspace)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn get_inbound(&self, workspace: &str, id: &str) -> Result<Option<InboundEvent>> {
        let rows = sqlx::query(self.q(&format!(
            "SELECT id, {COLUMNS} FROM inbound_events WHERE workspace = $1 AND (id = $2 OR id LIKE $3 ESCAPE '\\') ORDER BY id LIMIT 3"
        )))
        .bind(workspace)
        .bind(id)
        .bind(format!(
            "{}%",
            id.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        ))
        .fetch_all(&self.pool)
        .await?;
        let exact = rows
            .iter()
            .find(|r| r.try_get::<String, _>("id").is_ok_and(|x| x == id));
        match (exact, rows.as_slice()) {
            (Some(r), _) | (None, [r]) => decode(r).map(Some),
            _ => Ok(None),
        }
    }
}
