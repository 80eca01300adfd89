//! The SQL store. Queries are written once with `$N` placeholders and rewritten to `?N` for
//! SQLite; values are plain TEXT / BIGINT / DOUBLE so the `Any` driver maps them identically.

use crate::error::StoreError;
use crate::open;
use crate::rows::*;
use crate::{IssueFilter, Result, RunResults, RunningRun, SeriesKey, Store};
use async_trait::async_trait;
use sitrep_core::issue::IssueChange;
use sitrep_core::map::StoredMap;
use sitrep_core::{Insight, Issue, IssueEvent, MetricSample, RunStatus, Slx, TaskRun, Timestamp};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Connection, Row};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Rewrites `$1` placeholders to SQLite's `?1`. Every statement is built from constants in
    /// this crate (values are always bound), which is what makes the assertion safe.
    pub fn sql(self, q: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(match self {
            Backend::Postgres => q.to_string(),
            Backend::Sqlite => q.replace('$', "?"),
        })
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long the first connection to a PostgreSQL server may take.
    pub connect_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            connect_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
}

impl SqlStore {
    /// Whether the database answers (one round trip).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<SqlStore> {
        SqlStore::connect_with(url, &OpenOptions::default()).await
    }

    /// [`SqlStore::connect`] with explicit options. A failure says what is wrong: a file that
    /// is not a SQLite database, a refused, unreachable or silent server, a failed login, a
    /// missing database. Concurrent first opens of one database are safe.
    pub async fn connect_with(url: &str, opts: &OpenOptions) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                let path = open::sqlite_path(url);
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let options = AnyPoolOptions::new()
                    .acquire_timeout(Duration::from_secs(30))
                    // Never fails: sqlx retries a connection whose set-up failed until the
                    // acquire timeout, logging each attempt, and the cause is lost. A pragma
                    // that fails here (on a damaged file) lets the first query fail instead,
                    // once, with its cause.
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            for pragma in open::SQLITE_PRAGMAS {
                                if let Err(e) = sqlx::query(*pragma).execute(&mut *conn).await {
                                    tracing::debug!(pragma, error = %e, "sqlite pragma failed");
                                }
                            }
                            Ok(())
                        })
                    });
                match &path {
                    // An existing WAL database with a sound header: straight to the pool (the
                    // header check has caught a file that is not a database; damage deeper
                    // in fails the migrations check below, once, by name).
                    Some(p) if open::check_sqlite_file(p)? == open::SqliteFile::Wal => {
                        let pool = options
                            .max_connections(4)
                            .connect(&url)
                            .await
                            .map_err(|e| open::sqlite_open_error(p, &e))?;
                        let mut conn = pool.acquire().await?;
                        crate::migrate::run(&mut conn, backend, Some(p)).await?;
                        drop(conn);
                        pool
                    }
                    // A new database (several processes may be creating it at once), or one
                    // in another journal mode: a first connection on its own, retried while
                    // another process holds the lock, and the migrations on it.
                    Some(p) => {
                        let mut conn = open::sqlite_connection(&url, Some(p)).await?;
                        crate::migrate::run(&mut conn, backend, Some(p)).await?;
                        // The pool's first connection opens while this one is still open, so
                        // closing it is not the last close (which would checkpoint the WAL).
                        let pool = options.max_connections(4).connect(&url).await?;
                        let _ = conn.close().await;
                        pool
                    }
                    None => {
                        // In memory: every connection is its own database, so keep exactly one.
                        let pool = options
                            .max_connections(1)
                            .min_connections(1)
                            .idle_timeout(None)
                            .max_lifetime(None)
                            .connect(&url)
                            .await?;
                        crate::migrate::run(&mut *pool.acquire().await?, backend, None).await?;
                        pool
                    }
                }
            }
            Backend::Postgres => {
                let mut conn = open::postgres_connection(url, opts.connect_timeout).await?;
                crate::migrate::run(&mut conn, backend, None).await?;
                let _ = conn.close().await;
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(opts.connect_timeout)
                    .connect_lazy(url)?
            }
        };
        Ok(SqlStore { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn q(&self, sql: &str) -> AssertSqlSafe<String> {
        self.backend.sql(sql)
    }
}

/// Hides the password of a database URL in messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:****{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn slx_from_row(r: &AnyRow, workspace: &str) -> Result<Slx> {
    let spec: String = r.try_get("spec")?;
    let mut slx: Slx = serde_json::from_str(&spec).map_err(|e| corrupt("slxs")(e.to_string()))?;
    slx.workspace = workspace.to_string();
    Ok(slx)
}

#[async_trait]
impl Store for SqlStore {
    async fn start_run(&self, run: &TaskRun, owner: &str) -> Result<()> {
        crate::runs::start(self, run, owner).await
    }

    async fn running_runs(&self, workspace: &str) -> Result<Vec<RunningRun>> {
        crate::runs::running(self, workspace).await
    }

    async fn interrupt_runs(
        &self,
        workspace: &str,
        ids: &[String],
        at: Timestamp,
        error: &str,
    ) -> Result<u64> {
        crate::runs::interrupt(self, workspace, ids, at, error).await
    }

    async fn finish_run(&self, run: &TaskRun, results: &RunResults) -> Result<Vec<IssueChange>> {
        crate::runs::finish(self, run, results).await
    }

    async fn mark_interrupted(&self, at: Timestamp) -> Result<u64> {
        crate::runs::mark_unowned_interrupted(self, at).await
    }

    async fn get_run(&self, workspace: &str, id: &str) -> Result<Option<TaskRun>> {
        let row = sqlx::query(self.q(&format!(
            "SELECT {RUN_COLS} FROM task_runs WHERE workspace = $1 AND id = $2"
        )))
        .bind(workspace)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn recent_runs(&self, workspace: &str, limit: i64) -> Result<Vec<TaskRun>> {
        sqlx::query(self.q(&format!("SELECT {RUN_COLS} FROM task_runs WHERE workspace = $1 ORDER BY started_at DESC, id LIMIT $2")))
            .bind(workspace)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(run_from_row)
            .collect()
    }

    async fn last_run_starts(&self, workspace: &str) -> Result<Vec<(String, String, Timestamp)>> {
        let rows = sqlx::query(self.q("SELECT slx, task, MAX(started_at) AS last FROM task_runs WHERE workspace = $1 AND slx IS NOT NULL GROUP BY slx, task ORDER BY slx, task"))
            .bind(workspace)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("slx")?,
                    r.try_get("task")?,
                    Timestamp(r.try_get("last")?),
                ))
            })
            .collect()
    }

    async fn list_issues(&self, workspace: &str, filter: &IssueFilter) -> Result<Vec<Issue>> {
        let mut sql = format!("SELECT {ISSUE_COLS} FROM issues WHERE workspace = $1");
        if !filter.include_resolved {
            sql.push_str(" AND status = 'open'");
        }
        if filter.scope.is_some() {
            // a resource, or an SLX standing for its resource
            sql.push_str(" AND (scope = $2 OR scope IN (SELECT resource FROM slxs WHERE workspace = $1 AND name = $2))");
        }
        sql.push_str(" ORDER BY status, severity, last_seen DESC, id");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {}", limit.max(0)));
        }
        let mut q = sqlx::query(self.q(&sql)).bind(workspace);
        if let Some(s) = &filter.scope {
            q = q.bind(s);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(issue_from_row)
            .collect()
    }

    async fn get_issue(&self, workspace: &str, id: &str) -> Result<Option<Issue>> {
        let row = sqlx::query(self.q(&format!(
            "SELECT {ISSUE_COLS} FROM issues WHERE workspace = $1 AND (id = $2 OR id LIKE $3)"
        )))
        .bind(workspace)
        .bind(id)
        .bind(format!("{}%", id.replace(['%', '_'], "")))
        .fetch_all(&self.pool)
        .await?;
        // A unique id prefix is accepted, like git's short hashes.
        if row.len() == 1 {
            issue_from_row(&row[0]).map(Some)
        } else {
            Ok(None)
        }
    }

    async fn issue_events(&self, workspace: &str, issue_id: &str) -> Result<Vec<IssueEvent>> {
        let rows = sqlx::query(self.q("SELECT issue_id, at, kind, run_id FROM issue_events WHERE workspace = $1 AND issue_id = $2 ORDER BY at, id"))
            .bind(workspace)
            .bind(issue_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(IssueEvent {
                    issue_id: r.try_get("issue_id")?,
                    at: Timestamp(r.try_get("at")?),
                    kind: r
                        .try_get::<String, _>("kind")?
                        .parse()
                        .map_err(corrupt("issue_events"))?,
                    run_id: r.try_get("run_id")?,
                })
            })
            .collect()
    }

    async fn current_insights(&self, workspace: &str) -> Result<Vec<Insight>> {
        // The latest run per (scope, task) that produced insights.
        let rows = sqlx::query(self.q(
            "SELECT i.run_id, i.scope, i.resource, i.task, i.text, i.data, i.at FROM insights i
             JOIN (SELECT scope, task, MAX(at) AS at FROM insights WHERE workspace = $1 GROUP BY scope, task) latest
               ON latest.scope = i.scope AND latest.task = i.task AND latest.at = i.at
             WHERE i.workspace = $2 ORDER BY i.scope, i.task, i.id",
        ))
        .bind(workspace)
        .bind(workspace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| insight_from_row(r, workspace))
            .collect()
    }

    async fn metric_series(
        &self,
        workspace: &str,
        scope: &str,
        name: &str,
        since: Timestamp,
    ) -> Result<Vec<MetricSample>> {
        let rows = sqlx::query(self.q("SELECT run_id, scope, resource, task, name, labels, value, at FROM metric_samples WHERE workspace = $1 AND scope = $2 AND name = $3 AND at >= $4 ORDER BY at, id"))
            .bind(workspace)
            .bind(scope)
            .bind(name)
            .bind(since.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| sample_from_row(r, workspace)).collect()
    }

    async fn scope_metric_samples(
        &self,
        workspace: &str,
        scope: &str,
        since: Timestamp,
        limit: i64,
    ) -> Result<Vec<MetricSample>> {
        let rows = sqlx::query(self.q(
            "SELECT run_id, scope, resource, task, name, labels, value, at, id FROM metric_samples \
             WHERE workspace = $1 AND scope = $2 AND at >= $3 ORDER BY at DESC, id DESC LIMIT $4",
        ))
        .bind(workspace)
        .bind(scope)
        .bind(since.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(|r| sample_from_row(r, workspace))
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    async fn scope_insights(
        &self,
        workspace: &str,
        scope: &str,
        since: Timestamp,
    ) -> Result<Vec<Insight>> {
        let rows = sqlx::query(self.q(
            "SELECT run_id, scope, resource, task, text, data, at FROM insights \
             WHERE workspace = $1 AND scope = $2 AND at >= $3 ORDER BY at, id",
        ))
        .bind(workspace)
        .bind(scope)
        .bind(since.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| insight_from_row(r, workspace))
            .collect()
    }

    async fn recent_series_values(
        &self,
        workspace: &str,
        key: &SeriesKey<'_>,
        limit: i64,
    ) -> Result<Vec<f64>> {
        // labels are stored as the JSON of a BTreeMap, so equal label sets have equal text
        let rows = sqlx::query(self.q(
            "SELECT m.value FROM metric_samples m JOIN task_runs r ON r.id = m.run_id \
             WHERE m.workspace = $1 AND m.scope = $2 AND m.name = $3 AND m.task = $4 \
             AND m.labels = $5 AND r.status = $6 ORDER BY m.at DESC, m.id DESC LIMIT $7",
        ))
        .bind(workspace)
        .bind(key.scope)
        .bind(key.name)
        .bind(key.task)
        .bind(json_text(key.labels))
        .bind(RunStatus::Succeeded.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut values = rows
            .iter()
            .map(|r| r.try_get::<f64, _>("value"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        values.reverse();
        Ok(values)
    }

    async fn put_slx(&self, slx: &Slx, now: Timestamp) -> Result<()> {
        self.put_slxs(std::slice::from_ref(slx), now).await
    }

    async fn list_slxs(&self, workspace: &str) -> Result<Vec<Slx>> {
        let rows = sqlx::query(self.q("SELECT spec FROM slxs WHERE workspace = $1 ORDER BY name"))
            .bind(workspace)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| slx_from_row(r, workspace)).collect()
    }

    async fn get_slx(&self, workspace: &str, name: &str) -> Result<Option<Slx>> {
        let row = sqlx::query(self.q("SELECT spec FROM slxs WHERE workspace = $1 AND name = $2"))
            .bind(workspace)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| slx_from_row(r, workspace)).transpose()
    }

    async fn delete_slx(&self, workspace: &str, name: &str) -> Result<bool> {
        let r = sqlx::query(self.q("DELETE FROM slxs WHERE workspace = $1 AND name = $2"))
            .bind(workspace)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn put_slxs(&self, slxs: &[Slx], now: Timestamp) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for slx in slxs {
            // Same statement in both dialects: both support ON CONFLICT upserts.
            sqlx::query(self.q(
                "INSERT INTO slxs (workspace, name, resource, bundle, spec, stale, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (workspace, name) DO UPDATE SET resource = excluded.resource, bundle = excluded.bundle, spec = excluded.spec, stale = excluded.stale, updated_at = excluded.updated_at",
            ))
            .bind(&slx.workspace)
            .bind(&slx.name)
            .bind(&slx.resource)
            .bind(&slx.bundle)
            .bind(json_text(slx))
            .bind(i64::from(slx.stale))
            .bind(now.0)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_map(&self, workspace: &str) -> Result<StoredMap> {
        crate::map::load(self, workspace).await
    }

    async fn replace_map(&self, workspace: &str, map: &StoredMap) -> Result<()> {
        crate::map::replace(self, workspace, map).await
    }
}

/// A `metric_samples` row (its run_id, scope, resource, task, name, labels, value, at).
fn sample_from_row(r: &AnyRow, workspace: &str) -> Result<MetricSample> {
    Ok(MetricSample {
        workspace: workspace.to_string(),
        run_id: r.try_get("run_id")?,
        scope: r.try_get("scope")?,
        resource: r.try_get("resource")?,
        task: r.try_get("task")?,
        name: r.try_get("name")?,
        labels: serde_json::from_str(&r.try_get::<String, _>("labels")?).unwrap_or_default(),
        value: r.try_get("value")?,
        at: Timestamp(r.try_get("at")?),
    })
}

/// An `insights` row (its run_id, scope, resource, task, text, data, at).
fn insight_from_row(r: &AnyRow, workspace: &str) -> Result<Insight> {
    Ok(Insight {
        workspace: workspace.to_string(),
        run_id: r.try_get("run_id")?,
        scope: r.try_get("scope")?,
        resource: r.try_get("resource")?,
        task: r.try_get("task")?,
        text: r.try_get("text")?,
        data: serde_json::from_str(&r.try_get::<String, _>("data")?).unwrap_or_default(),
        at: Timestamp(r.try_get("at")?),
    })
}
