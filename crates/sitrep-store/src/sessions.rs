//! The sessions aggregate: a RunSession stored whole (its tree, evidence and conclusion are
//! small, bounded by the session's budget, and always read together), and its append-only
//! audit trail.

use crate::rows::json_text;
use crate::sql::SqlStore;
use crate::{Result, StoreError};
use async_trait::async_trait;
use sitrep_core::Timestamp;
use sitrep_core::investigation::{AuditEntry, AuditLine, Session, SessionStatus};
use sqlx::Row;

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts or replaces the session with this id.
    async fn put_session(&self, session: &Session) -> Result<()>;
    /// By id, or by a unique id prefix.
    async fn get_session(&self, workspace: &str, id: &str) -> Result<Option<Session>>;
    /// Newest first.
    async fn list_sessions(&self, workspace: &str, limit: i64) -> Result<Vec<Session>>;
    /// Marks a session that is not running as `running` (a follow-up continues it); false
    /// when it already is, because another writer continues it or it never stopped.
    async fn claim_session(&self, workspace: &str, id: &str) -> Result<bool>;
    /// Appends a line after the session's last one and returns it with its number: writers
    /// that append to one session at once each get their own (append-only, gap-free).
    async fn append_audit(&self, workspace: &str, line: AuditLine) -> Result<AuditEntry>;
    /// The session's audit trail in `seq` order.
    async fn audit(&self, workspace: &str, session_id: &str) -> Result<Vec<AuditEntry>>;
    /// Marks sessions still `running` as `interrupted` (at start-up of the only process that
    /// drives sessions); returns their ids.
    async fn interrupt_sessions(&self, workspace: &str, at: Timestamp) -> Result<Vec<String>>;
}

/// A stored session. Its status is the column's: a claim (`claim_session`) changes only that.
fn decode(row: &sqlx::any::AnyRow, workspace: &str) -> Result<Session> {
    let corrupt = |message: String| StoreError::Corrupt {
        table: "sessions",
        message,
    };
    let mut s: Session = serde_json::from_str(&row.try_get::<String, _>("spec")?)
        .map_err(|e| corrupt(e.to_string()))?;
    s.status = row
        .try_get::<String, _>("status")?
        .parse()
        .map_err(corrupt)?;
    s.workspace = workspace.to_string();
    Ok(s)
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn put_session(&self, s: &Session) -> Result<()> {
        sqlx::query(self.q(
            "INSERT INTO sessions (id, workspace, status, assistant, started_at, finished_at, spec) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, spec = excluded.spec
             WHERE sessions.workspace = excluded.workspace",
        ))
        .bind(&s.id)
        .bind(&s.workspace)
        .bind(s.status.as_str())
        .bind(&s.assistant)
        .bind(s.started_at.0)
        .bind(s.finished_at.map(|t| t.0))
        .bind(json_text(s))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_session(&self, workspace: &str, id: &str) -> Result<Option<Session>> {
        let rows = sqlx::query(self.q(
            "SELECT status, spec FROM sessions WHERE workspace = $1 AND (id = $2 OR id LIKE $3) LIMIT 2",
        ))
        .bind(workspace)
        .bind(id)
        .bind(format!("{}%", id.replace(['%', '_'], "")))
        .fetch_all(&self.pool)
        .await?;
        match rows.as_slice() {
            [one] => decode(one, workspace).map(Some),
            _ => Ok(None),
        }
    }

    async fn list_sessions(&self, workspace: &str, limit: i64) -> Result<Vec<Session>> {
        sqlx::query(self.q(
            "SELECT status, spec FROM sessions WHERE workspace = $1 ORDER BY started_at DESC, id LIMIT $2",
        ))
        .bind(workspace)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| decode(r, workspace))
        .collect()
    }

    async fn claim_session(&self, workspace: &str, id: &str) -> Result<bool> {
        let done = sqlx::query(self.q(
            "UPDATE sessions SET status = $3 WHERE workspace = $1 AND id = $2 AND status <> $3",
        ))
        .bind(workspace)
        .bind(id)
        .bind(SessionStatus::Running.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_audit(&self, workspace: &str, line: AuditLine) -> Result<AuditEntry> {
        // One statement numbers and inserts. SQLite runs it under its write lock; on
        // PostgreSQL two transactions can read the same last number, and the loser of the
        // primary key tries again with the next.
        const ATTEMPTS: usize = 8;
        let data = json_text(&line.data);
        for attempt in 1..=ATTEMPTS {
            let inserted = sqlx::query(self.q(
                "INSERT INTO session_audit (workspace, session_id, seq, at, kind, data)
                 SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5 FROM session_audit
                 WHERE workspace = $1 AND session_id = $2
                 RETURNING seq",
            ))
            .bind(workspace)
            .bind(&line.session_id)
            .bind(line.at.0)
            .bind(line.kind.as_str())
            .bind(&data)
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(row) => {
                    let seq = row.try_get::<i64, _>("seq")? as u64;
                    return Ok(line.numbered(seq));
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempt < ATTEMPTS => {
                    tracing::debug!(session = %line.session_id, attempt, "audit number taken, retrying");
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn audit(&self, workspace: &str, session_id: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(self.q(
            "SELECT seq, at, kind, data FROM session_audit WHERE workspace = $1 AND session_id = $2 ORDER BY seq",
        ))
        .bind(workspace)
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        let corrupt = |message: String| StoreError::Corrupt {
            table: "session_audit",
            message,
        };
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    session_id: session_id.to_string(),
                    seq: r.try_get::<i64, _>("seq")? as u64,
                    at: Timestamp(r.try_get("at")?),
                    kind: r.try_get::<String, _>("kind")?.parse().map_err(corrupt)?,
                    data: serde_json::from_str(&r.try_get::<String, _>("data")?)
                        .map_err(|e| corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    async fn interrupt_sessions(&self, workspace: &str, at: Timestamp) -> Result<Vec<String>> {
        let running = sqlx::query(
            self.q("SELECT status, spec FROM sessions WHERE workspace = $1 AND status = $2"),
        )
        .bind(workspace)
        .bind(SessionStatus::Running.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut ids = vec![];
        for r in &running {
            let mut s = decode(r, workspace)?;
            s.status = SessionStatus::Interrupted;
            s.finished_at = Some(at);
            self.put_session(&s).await?;
            ids.push(s.id);
        }
        Ok(ids)
    }
}
