//! The access aggregate: API tokens, stored with the hash of their secret (never the secret)
//! and looked up by that hash.

use crate::rows::json_text;
use crate::sql::SqlStore;
use crate::{Result, StoreError};
use async_trait::async_trait;
use sitrep_core::Timestamp;
use sitrep_core::access::TokenRecord;
use sqlx::Row;

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token. Its id and hash are unique.
    async fn put_token(&self, token: &TokenRecord) -> Result<()>;
    /// Every token of the workspace, revoked ones included, oldest first.
    async fn list_tokens(&self, workspace: &str) -> Result<Vec<TokenRecord>>;
    /// The token whose secret hashes to `hash`, in any workspace (the caller checks scope).
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
    /// Revokes the workspace's token with this id at `at`; returns it, or `None` when the
    /// workspace has no such token. Revoking twice keeps the first time.
    async fn revoke_token(
        &self,
        workspace: &str,
        id: &str,
        at: Timestamp,
    ) -> Result<Option<TokenRecord>>;
}

fn decode(row: &sqlx::any::AnyRow) -> Result<TokenRecord> {
    let spec: String = row.try_get("spec")?;
    let mut t: TokenRecord = serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt {
        table: "api_tokens",
        message: e.to_string(),
    })?;
    t.workspace = row.try_get("workspace")?;
    t.hash = row.try_get("hash")?;
    t.revoked_at = row.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp);
    Ok(t)
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn put_token(&self, t: &TokenRecord) -> Result<()> {
        sqlx::query(self.q(
            "INSERT INTO api_tokens (id, workspace, hash, created_at, revoked_at, spec) VALUES ($1, $2, $3, $4, $5, $6)",
        ))
        .bind(&t.id)
        .bind(&t.workspace)
        .bind(&t.hash)
        .bind(t.created_at.0)
        .bind(t.revoked_at.map(|x| x.0))
        .bind(json_text(t))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_tokens(&self, workspace: &str) -> Result<Vec<TokenRecord>> {
        sqlx::query(self.q(
            "SELECT workspace, hash, revoked_at, spec FROM api_tokens WHERE workspace = $1 ORDER BY created_at, id",
        ))
        .bind(workspace)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        sqlx::query(
            self.q("SELECT workspace, hash, revoked_at, spec FROM api_tokens WHERE hash = $1"),
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
    }

    async fn revoke_token(
        &self,
        workspace: &str,
        id: &str,
        at: Timestamp,
    ) -> Result<Option<TokenRecord>> {
        sqlx::query(self.q(
            "UPDATE api_tokens SET revoked_at = $3 WHERE workspace = $1 AND id = $2 AND revoked_at IS NULL",
        ))
        .bind(workspace)
        .bind(id)
        .bind(at.0)
        .execute(&self.pool)
        .await?;
        sqlx::query(self.q(
            "SELECT workspace, hash, revoked_at, spec FROM api_tokens WHERE workspace = $1 AND id = $2",
        ))
        .bind(workspace)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
    }
}
