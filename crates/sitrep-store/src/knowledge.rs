//! The knowledge aggregate: a workspace's notes, each stored whole (front matter and body,
//! small and always read together) with its content hash, which the search index is kept in
//! step by.

use crate::rows::json_text;
use crate::sql::SqlStore;
use crate::{Result, StoreError};
use async_trait::async_trait;
use sitrep_core::knowledge::Note;
use sqlx::Row;

#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// Inserts or replaces each note (by workspace and id), in one transaction.
    async fn put_notes(&self, workspace: &str, notes: &[Note]) -> Result<()>;
    /// Every note of the workspace, by id.
    async fn list_notes(&self, workspace: &str) -> Result<Vec<Note>>;
    /// By id, or by a unique id prefix.
    async fn get_note(&self, workspace: &str, id: &str) -> Result<Option<Note>>;
    /// Deletes these notes; returns how many there were.
    async fn delete_notes(&self, workspace: &str, ids: &[String]) -> Result<u64>;
}

fn decode(spec: &str, workspace: &str) -> Result<Note> {
    let mut n: Note = serde_json::from_str(spec).map_err(|e| StoreError::Corrupt {
        table: "knowledge_notes",
        message: e.to_string(),
    })?;
    n.workspace = workspace.to_string();
    Ok(n)
}

#[async_trait]
impl KnowledgeStore for SqlStore {
    async fn put_notes(&self, workspace: &str, notes: &[Note]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for n in notes {
            let mut n = n.clone();
            n.workspace = workspace.to_string();
            sqlx::query(self.q(
                "INSERT INTO knowledge_notes (workspace, id, origin, hash, updated_at, spec) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (workspace, id) DO UPDATE SET origin = excluded.origin, hash = excluded.hash, updated_at = excluded.updated_at, spec = excluded.spec",
            ))
            .bind(workspace)
            .bind(&n.id)
            .bind(n.origin.as_str())
            .bind(&n.hash)
            .bind(n.updated_at.0)
            .bind(json_text(&n))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_notes(&self, workspace: &str) -> Result<Vec<Note>> {
        sqlx::query(self.q("SELECT spec FROM knowledge_notes WHERE workspace = $1 ORDER BY id"))
            .bind(workspace)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| decode(&r.try_get::<String, _>("spec")?, workspace))
            .collect()
    }

    async fn get_note(&self, workspace: &str, id: &str) -> Result<Option<Note>> {
        let rows = sqlx::query(self.q(
            "SELECT id, spec FROM knowledge_notes WHERE workspace = $1 AND (id = $2 OR id LIKE $3 ESCAPE '\\') ORDER BY id LIMIT 3",
        ))
        .bind(workspace)
        .bind(id)
        .bind(format!(
            "{}%",
            id.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        ))
        .fetch_all(&self.pool)
        .await?;
        // An exact id wins over prefixes it shares with others.
        let exact = rows
            .iter()
            .find(|r| r.try_get::<String, _>("id").is_ok_and(|x| x == id));
        match (exact, rows.as_slice()) {
            (Some(r), _) | (None, [r]) => {
                decode(&r.try_get::<String, _>("spec")?, workspace).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn delete_notes(&self, workspace: &str, ids: &[String]) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for id in ids {
            n +=
                sqlx::query(self.q("DELETE FROM knowledge_notes WHERE workspace = $1 AND id = $2"))
                    .bind(workspace)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}
