//! Versioned migrations, applied in order inside a transaction each and recorded in
//! `schema_migrations`. Each backend has its own SQL for the same version.

use crate::error::StoreError;
use crate::sql::Backend;
use sqlx::AnyPool;

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
];

pub async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        .execute(pool)
        .await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(pool)
        .await?;
    let current = current.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let err = |source| StoreError::Migrate {
            version: m.version,
            name: m.name,
            source,
        };
        let mut tx = pool.begin().await.map_err(err)?;
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(stmt).execute(&mut *tx).await.map_err(err)?;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        sqlx::query(
            backend.sql(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            ),
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}
