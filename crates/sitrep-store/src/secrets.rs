//! The vault aggregate: workspace secrets, stored encrypted (nonce, ciphertext and the id of
//! the key) by the engine. The store never sees a value or a key.

use crate::sql::SqlStore;
use crate::{Result, StoreError};
use async_trait::async_trait;
use sitrep_core::Timestamp;
use sitrep_core::secret::SecretRecord;
use sqlx::Row;

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores a secret by name, replacing one of the same name (whose creation time is kept).
    async fn put_secret(&self, secret: &SecretRecord) -> Result<()>;
    /// The workspace's secrets, by name.
    async fn list_secrets(&self, workspace: &str) -> Result<Vec<SecretRecord>>;
    /// One secret of the workspace by name.
    async fn get_secret(&self, workspace: &str, name: &str) -> Result<Option<SecretRecord>>;
    /// Deletes the workspace's secret by name; returns it, or `None` when there is none.
    async fn delete_secret(&self, workspace: &str, name: &str) -> Result<Option<SecretRecord>>;
    /// Key rotation: replaces each secret's nonce, ciphertext and key id, in one transaction.
    /// Each pair is the record as it was read and its re-encryption; when any was changed or
    /// deleted since it was read, nothing is written and the error says to run it again.
    async fn rekey_secrets(
        &self,
        workspace: &str,
        rekeyed: &[(SecretRecord, SecretRecord)],
    ) -> Result<()>;
}

const COLS: &str = "workspace, name, nonce, ciphertext, key_id, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> Result<SecretRecord> {
    Ok(SecretRecord {
        workspace: row.try_get("workspace")?,
        name: row.try_get("name")?,
        nonce: row.try_get("nonce")?,
        ciphertext: row.try_get("ciphertext")?,
        key_id: row.try_get("key_id")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

#[async_trait]
impl SecretStore for SqlStore {
    async fn put_secret(&self, s: &SecretRecord) -> Result<()> {
        sqlx::query(self.q(
            "INSERT INTO secrets (workspace, name, nonce, ciphertext, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (workspace, name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = excluded.updated_at",
        ))
        .bind(&s.workspace)
        .bind(&s.name)
        .bind(&s.nonce)
        .bind(&s.ciphertext)
        .bind(&s.key_id)
        .bind(s.created_at.0)
        .bind(s.updated_at.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_secrets(&self, workspace: &str) -> Result<Vec<SecretRecord>> {
        sqlx::query(self.q(&format!(
            "SELECT {COLS} FROM secrets WHERE workspace = $1 ORDER BY name"
        )))
        .bind(workspace)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode)
        .collect()
    }

    async fn get_secret(&self, workspace: &str, name: &str) -> Result<Option<SecretRecord>> {
        sqlx::query(self.q(&format!(
            "SELECT {COLS} FROM secrets WHERE workspace = $1 AND name = $2"
        )))
        .bind(workspace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
    }

    async fn delete_secret(&self, workspace: &str, name: &str) -> Result<Option<SecretRecord>> {
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query(self.q(&format!(
            "SELECT {COLS} FROM secrets WHERE workspace = $1 AND name = $2"
        )))
        .bind(workspace)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(decode)
        .transpose()?;
        if found.is_some() {
            sqlx::query(self.q("DELETE FROM secrets WHERE workspace = $1 AND name = $2"))
                .bind(workspace)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(found)
    }

    async fn rekey_secrets(
        &self,
        workspace: &str,
        rekeyed: &[(SecretRecord, SecretRecord)],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (old, new) in rekeyed {
            let done = sqlx::query(
                self.q("UPDATE secrets SET nonce = $4, ciphertext = $5, key_id = $6
                 WHERE workspace = $1 AND name = $2 AND nonce = $3"),
            )
            .bind(workspace)
            .bind(&old.name)
            .bind(&old.nonce)
            .bind(&new.nonce)
            .bind(&new.ciphertext)
            .bind(&new.key_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                // Dropping the transaction rolls it back.
                return Err(StoreError::Conflict(format!(
                    "secret {:?} was changed or deleted while the vault was being re-encrypted; nothing was changed: run it again",
                    old.name
                )));
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
