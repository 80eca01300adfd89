//! The queries of a run's life: recorded as started with its owner, finished with its results
//! and the issue lifecycle, listed while running, marked interrupted when its owner is gone.

use crate::rows::{ISSUE_COLS, RUN_COLS, issue_from_row, json_text};
use crate::sql::SqlStore;
use crate::{Result, RunResults, RunningRun};
use sitrep_core::issue::{
    DEFAULT_INTERVAL, IssueChange, RunEnd, RunScope, quiet_period, reconcile,
};
use sitrep_core::{Issue, IssueStatus, RunStatus, TaskRun, Timestamp};
use sqlx::{Connection, Row};

pub async fn start(s: &SqlStore, run: &TaskRun, owner: &str) -> Result<()> {
    sqlx::query(s.q(&format!("INSERT INTO task_runs ({RUN_COLS}, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)")))
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
        .bind(&run.reason)
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

pub async fn finish(s: &SqlStore, run: &TaskRun, results: &RunResults) -> Result<Vec<IssueChange>> {
    let now = run.finished_at.unwrap_or(run.started_at);
    let scope = RunScope {
        workspace: &run.workspace,
        scope: &run.scope,
        resource: &run.resource,
        task: &run.task,
        run_id: &run.id,
    };
    let end = RunEnd {
        measured: run.status.measured(),
        now,
        quiet: quiet_period(results.interval.unwrap_or(DEFAULT_INTERVAL)),
    };
    // One connection for everything: the pool hands a released connection back on a task of
    // its own, so a query straight after another would open a second one.
    let mut conn = s.pool.acquire().await?;
    // Most runs change nothing: no issue raised or resolved, no insight or metric. Their row
    // is updated alone (two statements, no transaction, instead of four); a run that changes
    // issues reads and writes them again in one transaction.
    if results.insights.is_empty() && results.metrics.is_empty() {
        let existing: Vec<Issue> = scope_issues(s, run)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(issue_from_row)
            .collect::<Result<_>>()?;
        let unchanged = reconcile(&scope, &existing, &results.issues, end, || {
            uuid::Uuid::new_v4().to_string()
        })
        .is_empty();
        if unchanged {
            update_row(s, run).execute(&mut *conn).await?;
            return Ok(vec![]);
        }
    }
    let mut tx = conn.begin().await?;
    let changes = finish_in(s, &mut tx, run, results, scope, end).await?;
    tx.commit().await?;
    Ok(changes)
}

/// A finished run that changes something, inside `tx`: its row, its issues reconciled, their
/// events, its insights and metrics.
async fn finish_in(
    s: &SqlStore,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run: &TaskRun,
    results: &RunResults,
    scope: RunScope<'_>,
    end: RunEnd,
) -> Result<Vec<IssueChange>> {
    let now = end.now;
    update_row(s, run).execute(&mut **tx).await?;
    let existing: Vec<Issue> = scope_issues(s, run)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(issue_from_row)
        .collect::<Result<_>>()?;
    let changes = reconcile(&scope, &existing, &results.issues, end, || {
        uuid::Uuid::new_v4().to_string()
    });

    for change in &changes {
        match change {
            IssueChange::Open(i) => {
                sqlx::query(s.q(&format!("INSERT INTO issues ({ISSUE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)")))
                    .bind(&i.id)
                    .bind(&i.workspace)
                    .bind(&i.fingerprint)
                    .bind(&i.scope)
                    .bind(&i.resource)
                    .bind(&i.task)
                    .bind(i64::from(i.severity.get()))
                    .bind(&i.title)
                    .bind(&i.expected)
                    .bind(&i.actual)
                    .bind(&i.details)
                    .bind(&i.next_steps)
                    .bind(&i.reproduce_hint)
                    .bind(i.status.as_str())
                    .bind(i.count)
                    .bind(i.first_seen.0)
                    .bind(i.last_seen.0)
                    .bind(i.resolved_at.map(|t| t.0))
                    .bind(&i.last_run_id)
                    .bind(json_text(&i.data))
                    .bind(i.last_event_at.map(|t| t.0))
                    .bind(i.current_until.map(|t| t.0))
                    .execute(&mut **tx)
                    .await?;
            }
            IssueChange::Raise { issue: i, .. } => {
                sqlx::query(s.q("UPDATE issues SET resource = $1, severity = $2, title = $3, expected = $4, actual = $5, details = $6, next_steps = $7, reproduce_hint = $8, status = $9, count = $10, last_seen = $11, resolved_at = NULL, last_run_id = $12, data = $13, last_event_at = $14, current_until = $15 WHERE id = $16 AND workspace = $17"))
                    .bind(&i.resource)
                    .bind(i64::from(i.severity.get()))
                    .bind(&i.title)
                    .bind(&i.expected)
                    .bind(&i.actual)
                    .bind(&i.details)
                    .bind(&i.next_steps)
                    .bind(&i.reproduce_hint)
                    .bind(i.status.as_str())
                    .bind(i.count)
                    .bind(i.last_seen.0)
                    .bind(&i.last_run_id)
                    .bind(json_text(&i.data))
                    .bind(i.last_event_at.map(|t| t.0))
                    .bind(i.current_until.map(|t| t.0))
                    .bind(&i.id)
                    .bind(&i.workspace)
                    .execute(&mut **tx)
                    .await?;
            }
            IssueChange::Resolve { issue_id, at } => {
                sqlx::query(s.q("UPDATE issues SET status = $1, resolved_at = $2, last_run_id = $3 WHERE id = $4 AND workspace = $5"))
                    .bind(IssueStatus::Resolved.as_str())
                    .bind(at.0)
                    .bind(&run.id)
                    .bind(issue_id)
                    .bind(&run.workspace)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        sqlx::query(s.q("INSERT INTO issue_events (workspace, issue_id, at, kind, run_id) VALUES ($1, $2, $3, $4, $5)"))
            .bind(&run.workspace)
            .bind(change.issue_id())
            .bind(now.0)
            .bind(change.event_kind().as_str())
            .bind(&run.id)
            .execute(&mut **tx)
            .await?;
    }

    for (text, data) in &results.insights {
        sqlx::query(s.q("INSERT INTO insights (workspace, run_id, scope, resource, task, text, data, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&run.workspace)
            .bind(&run.id)
            .bind(&run.scope)
            .bind(&run.resource)
            .bind(&run.task)
            .bind(text)
            .bind(json_text(data))
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
    }
    for (name, value, labels) in &results.metrics {
        sqlx::query(s.q("INSERT INTO metric_samples (workspace, run_id, scope, resource, task, name, labels, value, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(&run.workspace)
            .bind(&run.id)
            .bind(&run.scope)
            .bind(&run.resource)
            .bind(&run.task)
            .bind(name)
            .bind(json_text(labels))
            .bind(*value)
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(changes)
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// The finished run's row.
fn update_row<'q>(s: &SqlStore, run: &'q TaskRun) -> AnyQuery<'q> {
    sqlx::query(s.q("UPDATE task_runs SET status = $1, exit_code = $2, finished_at = $3, stdout = $4, stderr = $5, report = $6, error = $7, reason = $8 WHERE id = $9 AND workspace = $10"))
        .bind(run.status.as_str())
        .bind(run.exit_code.map(i64::from))
        .bind(run.finished_at.map(|t| t.0))
        .bind(&run.stdout)
        .bind(&run.stderr)
        .bind(&run.report)
        .bind(&run.error)
        .bind(&run.reason)
        .bind(&run.id)
        .bind(&run.workspace)
}

/// The issues of the run's scope and task, open or resolved.
fn scope_issues<'q>(s: &SqlStore, run: &'q TaskRun) -> AnyQuery<'q> {
    sqlx::query(s.q(&format!(
        "SELECT {ISSUE_COLS} FROM issues WHERE workspace = $1 AND scope = $2 AND task = $3"
    )))
    .bind(&run.workspace)
    .bind(&run.scope)
    .bind(&run.task)
}
