//! The deliveries aggregate: each answer a workflow sends, stored before it is sent, with
//! its attempts, so a restart delivers what was not delivered.

use crate::rows::json_text;
use crate::sql::SqlStore;
use crate::{Result, StoreError};
use async_trait::async_trait;
use sitrep_core::Timestamp;
use sitrep_core::delivery::{Delivery, DeliveryStatus};
use sitrep_core::intake::InboundEvent;
use sqlx::Row;

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Stores new deliveries and, in the same transaction, what became of the event that
    /// led to them: an event is never investigating without its deliveries, nor the reverse.
    async fn put_deliveries(
        &self,
        deliveries: &[Delivery],
        event: Option<&InboundEvent>,
    ) -> Result<()>;
    /// Stores an attempt's outcome.
    async fn update_delivery(&self, delivery: &Delivery) -> Result<()>;
    /// Pending deliveries due at `now`, the longest due first.
    async fn due_deliveries(
        &self,
        workspace: &str,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// Newest first; only one session's when given.
    async fn list_deliveries(
        &self,
        workspace: &str,
        session_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
}

fn decode(row: &sqlx::any::AnyRow) -> Result<Delivery> {
    let spec: String = row.try_get("spec")?;
    let mut d: Delivery = serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt {
        table: "deliveries",
        message: e.to_string(),
    })?;
    d.workspace = row.try_get("workspace")?;
    Ok(d)
}

#[async_trait]
impl DeliveryStore for SqlStore {
    async fn put_deliveries(
        &self,
        deliveries: &[Delivery],
        event: Option<&InboundEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for d in deliveries {
            sqlx::query(self.q(
                "INSERT INTO deliveries (id, workspace, session_id, status, next_at, created_at, spec) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ))
            .bind(&d.id)
            .bind(&d.workspace)
            .bind(&d.session_id)
            .bind(d.status.as_str())
            .bind(d.next_at.0)
            .bind(d.created_at.0)
            .bind(json_text(d))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(e) = event {
            crate::inbound::update(self, e).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_delivery(&self, d: &Delivery) -> Result<()> {
        sqlx::query(self.q(
            "UPDATE deliveries SET status = $3, next_at = $4, spec = $5 WHERE workspace = $1 AND id = $2",
        ))
        .bind(&d.workspace)
        .bind(&d.id)
        .bind(d.status.as_str())
        .bind(d.next_at.0)
        .bind(json_text(d))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn due_deliveries(
        &self,
        workspace: &str,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        sqlx::query(self.q(
            "SELECT workspace, spec FROM deliveries WHERE workspace = $1 AND status = $2 AND next_at <= $3 ORDER BY next_at, id LIMIT $4",
        ))
        .bind(workspace)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn list_deliveries(
        &self,
        workspace: &str,
        session_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        sqlx::query(self.q(
            "SELECT workspace, spec FROM deliveries WHERE workspace = $1 AND ($2 IS NULL OR session_id = $2) ORDER BY created_at DESC, id DESC LIMIT $3",
        ))
        .bind(workspace)
        .bind(session_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }
}
