//! The queries of a run's life: recorded as started with its owner, listed while running,
//! marked interrupted when its owner is gone.

use crate::rows::RUN_COLS;
use crate::sql::SqlStore;
use crate::{Result, RunningRun};
use sitrep_core::{RunStatus, TaskRun, Timestamp};
use sqlx::Row;

pub async fn start(s: &SqlStore, run: &TaskRun, owner: &str) -> Result<()> {
    sqlx::query(s.q(&format!("INSERT INTO task_runs ({RUN_COLS}, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")))
        .bind(&run.id)
        .bind(&run.workspace)
        .bind(&run.scope)
        .bind(&run.slx)
        .bind(&run.resource)
        .bind(&run.task)
        .bind(run.kind.as_str())
        .bind(run.status.as_str())
        .bind(run.exit_code.map(i64::from))
        .bind(run.started_at.0)
        .bind(run.finished_at.map(|t| t.0))
        .bind(&run.stdout)
        .bind(&run.stderr)
        .bind(&run.report)
        .bind(&run.error)
        .bind(owner)
        .execute(&s.pool)
        .await?;
    Ok(())
}

pub async fn running(s: &SqlStore, workspace: &str) -> Result<Vec<RunningRun>> {
    let rows = sqlx::query(s.q("SELECT id, owner, task, resource, started_at FROM task_runs WHERE workspace = $1 AND status = $2 ORDER BY started_at, id"))
        .bind(workspace)
        .bind(RunStatus::Running.as_str())
        .fetch_all(&s.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RunningRun {
                id: r.try_get("id")?,
                owner: r.try_get("owner")?,
                task: r.try_get("task")?,
                resource: r.try_get("resource")?,
                started_at: Timestamp(r.try_get("started_at")?),
            })
        })
        .collect()
}

pub async fn interrupt(
    s: &SqlStore,
    workspace: &str,
    ids: &[String],
    at: Timestamp,
    error: &str,
) -> Result<u64> {
    const CHUNK: usize = 500;
    let mut marked = 0;
    for chunk in ids.chunks(CHUNK) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "UPDATE task_runs SET status = $1, finished_at = $2, error = $3 WHERE workspace = $4 AND status = 'running' AND id IN ({})",
            list.join(", ")
        );
        let mut q = sqlx::query(s.q(&sql))
            .bind(RunStatus::Interrupted.as_str())
            .bind(at.0)
            .bind(error)
            .bind(workspace);
        for id in chunk {
            q = q.bind(id);
        }
        marked += q.execute(&s.pool).await?.rows_affected();
    }
    Ok(marked)
}

pub async fn mark_unowned_interrupted(s: &SqlStore, at: Timestamp) -> Result<u64> {
    let r =
        sqlx::query(s.q(
            "UPDATE task_runs SET status = $1, finished_at = $2, error = $3 WHERE status = $4 AND owner IS NULL",
        ))
        .bind(RunStatus::Interrupted.as_str())
        .bind(at.0)
        .bind("sitrep stopped while this run was in progress")
        .bind(RunStatus::Running.as_str())
        .execute(&s.pool)
        .await?;
    Ok(r.rows_affected())
}
