//! Versioned migrations, recorded in `schema_migrations`. Each backend has its own SQL for the
//! same version; a version may also carry a data step written in Rust.
//!
//! Concurrent first starts are safe: the check and every pending migration run in one
//! transaction that holds a lock for its whole length (SQLite: `BEGIN EXCLUSIVE`; PostgreSQL:
//! a transaction-scoped advisory lock), so a second process waits, then finds nothing to do.
//! An up-to-date database is recognised by one read, without taking the lock.

use crate::error::{StoreError, describe};
use crate::open::{is_corruption, sqlite_open_error};
use crate::sql::Backend;
use sqlx::{AnyConnection, Connection, Row};
use std::collections::HashMap;
use std::path::Path;

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("migrations/sqlite/0001_init.sql"),
        postgres: include_str!("migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "map",
        sqlite: include_str!("migrations/sqlite/0002_map.sql"),
        postgres: include_str!("migrations/postgres/0002_map.sql"),
    },
    Migration {
        version: 3,
        name: "run owners; the scope is the resource",
        sqlite: include_str!("migrations/sqlite/0003_runs.sql"),
        postgres: include_str!("migrations/postgres/0003_runs.sql"),
    },
    Migration {
        version: 4,
        name: "issue lifetimes",
        sqlite: include_str!("migrations/sqlite/0004_issue_lifetimes.sql"),
        postgres: include_str!("migrations/postgres/0004_issue_lifetimes.sql"),
    },
    Migration {
        version: 6,
        name: "engine",
        sqlite: include_str!("migrations/sqlite/0006_engine.sql"),
        postgres: include_str!("migrations/postgres/0006_engine.sql"),
    },
    Migration {
        version: 7,
        name: "knowledge",
        sqlite: include_str!("migrations/sqlite/0007_knowledge.sql"),
        postgres: include_str!("migrations/postgres/0007_knowledge.sql"),
    },
    Migration {
        version: 8,
        name: "api tokens",
        sqlite: include_str!("migrations/sqlite/0008_tokens.sql"),
        postgres: include_str!("migrations/postgres/0008_tokens.sql"),
    },
    Migration {
        version: 9,
        name: "inbound events",
        sqlite: include_str!("migrations/sqlite/0009_inbound.sql"),
        postgres: include_str!("migrations/postgres/0009_inbound.sql"),
    },
    Migration {
        version: 10,
        name: "workspace secrets",
        sqlite: include_str!("migrations/sqlite/0010_secrets.sql"),
        postgres: include_str!("migrations/postgres/0010_secrets.sql"),
    },
    Migration {
        version: 11,
        name: "deliveries",
        sqlite: include_str!("migrations/sqlite/0011_deliveries.sql"),
        postgres: include_str!("migrations/postgres/0011_deliveries.sql"),
    },
];

/// Any fixed number: the advisory lock every sitrep migrating a PostgreSQL database takes.
const PG_MIGRATION_LOCK: i64 = 0x7369_7472_6570; // "sitrep"

/// Brings the database at the other end of `conn` up to date. `path` names the SQLite file in
/// errors that mean it is damaged.
pub async fn run(
    conn: &mut AnyConnection,
    backend: Backend,
    path: Option<&Path>,
) -> Result<(), StoreError> {
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let damaged = |e: &sqlx::Error| match path {
        Some(p) if is_corruption(e) => Some(sqlite_open_error(p, e)),
        _ => None,
    };
    match applied_versions(conn).await.map(|a| up_to_date(&a, known)) {
        Ok(Ok(true)) => return Ok(()),
        Ok(Err(v)) => return Err(StoreError::SchemaTooNew { found: v, known }),
        Err(e) => {
            if let Some(d) = damaged(&e) {
                return Err(d);
            }
        }
        Ok(Ok(false)) => {}
    }
    let mut version = 0;
    let mut name = "lock";
    let result: Result<(), sqlx::Error> = async {
        let mut tx = match backend {
            Backend::Sqlite => conn.begin_with("BEGIN EXCLUSIVE").await?,
            Backend::Postgres => {
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        let applied = applied_versions(&mut tx).await?;
        if let Err(newer) = up_to_date(&applied, known) {
            // Checked again under the lock by the caller's error below.
            version = newer;
            return Ok(());
        }
        for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
            (version, name) = (m.version, m.name);
            let sql = match backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(sqlx::AssertSqlSafe(stmt)).execute(&mut *tx).await?;
            }
            if m.version == 3 {
                rescope_issues(&mut tx, backend).await?;
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            sqlx::query(backend.sql(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            ))
            .bind(m.version)
            .bind(m.name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tracing::info!(version = m.version, name = m.name, "applying migration");
        }
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) if version > known => Err(StoreError::SchemaTooNew {
            found: version,
            known,
        }),
        Ok(()) => Ok(()),
        Err(e) => Err(damaged(&e).unwrap_or(StoreError::Migrate {
            version,
            name,
            message: describe(&e),
        })),
    }
}

/// The versions applied so far. A version is applied when it is missing, not only when it is
/// above the highest applied one (migrations written on branches may land out of order).
async fn applied_versions(conn: &mut AnyConnection) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(conn)
        .await
}

/// Whether every known migration is applied, or (Err) the highest applied version when the
/// database is newer than this sitrep.
fn up_to_date(applied: &[i64], known: i64) -> Result<bool, i64> {
    match applied.iter().max() {
        Some(&v) if v > known => Err(v),
        _ => Ok(MIGRATIONS.iter().all(|m| applied.contains(&m.version))),
    }
}

/// Migration 3's data step: an issue's scope becomes its resource (it was the SLX name for
/// issues raised through an SLX), with the fingerprint recomputed. Where that makes two
/// issues one (the same problem raised by hand and by the SLX), the most recently seen one
/// keeps the fingerprint and the other is resolved and keeps a retired fingerprint.
async fn rescope_issues(conn: &mut AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    struct Row {
        id: String,
        workspace: String,
        fingerprint: String,
        resource: String,
        task: String,
        title: String,
        open: bool,
        last_seen: i64,
    }
    let rows: Vec<Row> = sqlx::query(
        "SELECT id, workspace, fingerprint, resource, task, title, status, last_seen FROM issues",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(Row {
            id: r.try_get("id")?,
            workspace: r.try_get("workspace")?,
            fingerprint: r.try_get("fingerprint")?,
            resource: r.try_get("resource")?,
            task: r.try_get("task")?,
            title: r.try_get("title")?,
            open: r.try_get::<String, _>("status")? == "open",
            last_seen: r.try_get("last_seen")?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let mut groups: HashMap<(String, String), Vec<&Row>> = HashMap::new();
    for r in &rows {
        let fp = sitrep_core::fingerprint::issue_fingerprint(
            &r.workspace,
            &r.resource,
            &r.task,
            &r.title,
        );
        groups.entry((r.workspace.clone(), fp)).or_default().push(r);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for ((_, fp), mut group) in groups {
        if group.len() == 1 && group[0].fingerprint == fp {
            continue;
        }
        // keeper first: open before resolved, then the latest seen
        group.sort_by_key(|r| (!r.open, std::cmp::Reverse(r.last_seen)));
        // Retire the others first so the keeper's new fingerprint is free.
        for r in &group[1..] {
            sqlx::query(backend.sql("UPDATE issues SET fingerprint = $1, scope = resource, status = 'resolved', resolved_at = COALESCE(resolved_at, $2) WHERE id = $3"))
                .bind(format!("{fp}~merged~{}", r.id))
                .bind(now)
                .bind(&r.id)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            backend.sql("UPDATE issues SET fingerprint = $1, scope = resource WHERE id = $2"),
        )
        .bind(&fp)
        .bind(&group[0].id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
