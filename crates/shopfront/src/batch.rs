//! `shopfront batch`: the background worker. Every `interval_ms` it rolls up
//! the last minute of orders into `order_stats`, prunes old rows, and ships
//! (deletes) receipts older than `receipts_retention_s` from the spool.
//!
//! `leak_connections = true` reproduces a classic bug: a reporting query is
//! run in a transaction on a fresh connection that is never committed nor
//! closed, so connections pile up "idle in transaction" until PostgreSQL's
//! `max_connections` is reached.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::config::{ConfigError, RawConfig};
use crate::logging::Logger;
use crate::serve::redact_url;

pub const KEYS: &[&str] = &[
    "database_url",
    "interval_ms",
    "leak_connections",
    "leak_interval_ms",
    "receipts_dir",
    "receipts_retention_s",
    "log_file",
];

pub struct BatchConfig {
    pub database_url: String,
    pub interval_ms: u64,
    pub leak_connections: bool,
    pub leak_interval_ms: u64,
    pub receipts_dir: Option<PathBuf>,
    pub receipts_retention_s: u64,
    pub log_file: Option<PathBuf>,
}

impl BatchConfig {
    pub fn from_raw(c: &RawConfig) -> Result<Self, ConfigError> {
        let receipts = c.string("receipts_dir", Some(""))?;
        let log_file = c.string("log_file", Some(""))?;
        Ok(Self {
            database_url: c.string("database_url", None)?,
            interval_ms: c.number("interval_ms", 2000)?,
            leak_connections: c.boolean("leak_connections", false)?,
            leak_interval_ms: c.number("leak_interval_ms", 300)?,
            receipts_dir: (!receipts.is_empty()).then(|| PathBuf::from(receipts)),
            receipts_retention_s: c.number("receipts_retention_s", 60)?,
            log_file: (!log_file.is_empty()).then(|| PathBuf::from(log_file)),
        })
    }
}

pub async fn run(cfg: BatchConfig, log: Arc<Logger>) -> Result<(), String> {
    let opts = PgConnectOptions::from_str(&cfg.database_url)
        .map_err(|e| {
            format!(
                "invalid database_url {}: {e}",
                redact_url(&cfg.database_url)
            )
        })?
        .application_name("batch");
    log.info(
        "batch worker starting",
        json!({"database_url": redact_url(&cfg.database_url), "interval_ms": cfg.interval_ms,
               "leak_connections": cfg.leak_connections, "pid": std::process::id()}),
    );
    let mut conn: Option<PgConnection> = None;
    let mut leaked: Vec<PgConnection> = Vec::new();
    let mut next_rollup = tokio::time::Instant::now();
    let mut next_leak = tokio::time::Instant::now();
    let shutdown = crate::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let wake = if cfg.leak_connections {
            next_rollup.min(next_leak)
        } else {
            next_rollup
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = tokio::time::Instant::now();
        if now >= next_rollup {
            next_rollup = now + Duration::from_millis(cfg.interval_ms);
            if let Err(e) = rollup(&opts, &mut conn).await {
                conn = None;
                log.error("rollup failed", json!({"error": e}));
            }
            if let Some(dir) = &cfg.receipts_dir {
                ship_receipts(dir, Duration::from_secs(cfg.receipts_retention_s), &log);
            }
        }
        if cfg.leak_connections && now >= next_leak {
            next_leak = now + Duration::from_millis(cfg.leak_interval_ms);
            match open_report_txn(&opts).await {
                Ok(c) => {
                    leaked.push(c);
                    if leaked.len().is_multiple_of(5) {
                        log.info("report snapshots open", json!({"open": leaked.len()}));
                    }
                }
                Err(e) => log.error(
                    "cannot open report snapshot",
                    json!({"error": e, "open": leaked.len()}),
                ),
            }
        }
    }
    log.info(
        "batch worker stopping",
        json!({"leaked_connections": leaked.len()}),
    );
    Ok(())
}

fn db_err(e: sqlx::Error) -> String {
    match &e {
        sqlx::Error::Database(d) => format!(
            "postgres: {} (SQLSTATE {})",
            d.message(),
            d.code().unwrap_or_default()
        ),
        other => format!("postgres: {other}"),
    }
}

async fn rollup(opts: &PgConnectOptions, conn: &mut Option<PgConnection>) -> Result<(), String> {
    if conn.is_none() {
        let c = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(opts))
            .await
            .map_err(|_| "postgres: connect timed out".to_string())?
            .map_err(db_err)?;
        *conn = Some(c);
    }
    let c = conn.as_mut().expect("connected above");
    let work = async {
        sqlx::query(
            "INSERT INTO order_stats (orders, revenue_cents) \
             SELECT count(*), coalesce(sum(total_cents), 0) FROM orders WHERE created_at > now() - interval '1 minute'",
        )
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM order_stats WHERE computed_at < now() - interval '1 hour'")
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM orders WHERE created_at < now() - interval '1 hour'")
            .execute(&mut *c)
            .await?;
        Ok::<_, sqlx::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| "postgres: rollup timed out".to_string())?
        .map_err(db_err)
}

/// The bug: a transaction opened for a "consistent report snapshot" that is
/// never finished, on a connection that is never returned.
async fn open_report_txn(opts: &PgConnectOptions) -> Result<PgConnection, String> {
    let mut c = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(opts))
        .await
        .map_err(|_| "postgres: connect timed out".to_string())?
        .map_err(db_err)?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut c)
        .await
        .map_err(db_err)?;
    sqlx::query("SELECT count(*) FROM orders")
        .execute(&mut c)
        .await
        .map_err(db_err)?;
    Ok(c)
}

fn ship_receipts(dir: &PathBuf, retention: Duration, log: &Logger) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut shipped = 0u64;
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .map(|t| now.duration_since(t).unwrap_or_default() > retention)
            .unwrap_or(false);
        let is_receipt = e.file_name().to_string_lossy().starts_with("order-");
        if old && is_receipt && std::fs::remove_file(e.path()).is_ok() {
            shipped += 1;
        }
    }
    if shipped > 0 {
        log.info("receipts shipped", json!({"count": shipped}));
    }
}
