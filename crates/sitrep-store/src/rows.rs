//! Mapping between rows and domain types, shared by the store's queries.

use crate::Result;
use crate::error::StoreError;
use sitrep_core::{Issue, TaskRun, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

pub const RUN_COLS: &str = "id, workspace, scope, slx, resource, task, kind, status, exit_code, started_at, finished_at, stdout, stderr, report, error, reason";
pub const ISSUE_COLS: &str = "id, workspace, fingerprint, scope, resource, task, severity, title, expected, actual, details, next_steps, reproduce_hint, status, count, first_seen, last_seen, resolved_at, last_run_id, data, last_event_at, current_until";

pub fn corrupt(table: &'static str) -> impl Fn(String) -> StoreError {
    move |message| StoreError::Corrupt { table, message }
}

pub fn run_from_row(r: &AnyRow) -> Result<TaskRun> {
    let c = corrupt("task_runs");
    Ok(TaskRun {
        id: r.try_get("id")?,
        workspace: r.try_get("workspace")?,
        scope: r.try_get("scope")?,
        slx: r.try_get("slx")?,
        resource: r.try_get("resource")?,
        task: r.try_get("task")?,
        kind: r.try_get::<String, _>("kind")?.parse().map_err(&c)?,
        status: r.try_get::<String, _>("status")?.parse().map_err(&c)?,
        exit_code: r.try_get::<Option<i64>, _>("exit_code")?.map(|x| x as i32),
        started_at: Timestamp(r.try_get("started_at")?),
        finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(Timestamp),
        stdout: r.try_get("stdout")?,
        stderr: r.try_get("stderr")?,
        report: r.try_get("report")?,
        error: r.try_get("error")?,
        reason: r.try_get("reason")?,
    })
}

pub fn issue_from_row(r: &AnyRow) -> Result<Issue> {
    let c = corrupt("issues");
    Ok(Issue {
        id: r.try_get("id")?,
        workspace: r.try_get("workspace")?,
        fingerprint: r.try_get("fingerprint")?,
        scope: r.try_get("scope")?,
        resource: r.try_get("resource")?,
        task: r.try_get("task")?,
        severity: sitrep_core::Severity::new(r.try_get::<i64, _>("severity")? as u8).map_err(&c)?,
        title: r.try_get("title")?,
        expected: r.try_get("expected")?,
        actual: r.try_get("actual")?,
        details: r.try_get("details")?,
        next_steps: r.try_get("next_steps")?,
        reproduce_hint: r.try_get("reproduce_hint")?,
        status: r.try_get::<String, _>("status")?.parse().map_err(&c)?,
        count: r.try_get("count")?,
        first_seen: Timestamp(r.try_get("first_seen")?),
        last_seen: Timestamp(r.try_get("last_seen")?),
        resolved_at: r.try_get::<Option<i64>, _>("resolved_at")?.map(Timestamp),
        last_run_id: r.try_get("last_run_id")?,
        data: serde_json::from_str(&r.try_get::<String, _>("data")?)
            .map_err(|e| c(e.to_string()))?,
        last_event_at: r.try_get::<Option<i64>, _>("last_event_at")?.map(Timestamp),
        current_until: r.try_get::<Option<i64>, _>("current_until")?.map(Timestamp),
    })
}

/// `($1, $2), ($3, $4)` for a multi-row insert of `rows` rows of `cols` values.
pub fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let vals: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", vals.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
