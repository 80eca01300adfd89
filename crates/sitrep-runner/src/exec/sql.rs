//! sql tasks against PostgreSQL, MySQL/MariaDB and SQLite. Pools are kept per DSN so a
//! scheduled check does not pay a connection set-up each run.
//!
//! PostgreSQL rows are fetched as `row_to_json`, so every column type (numeric, interval,
//! timestamptz, arrays) arrives as faithful JSON without per-type decoding.

use super::{Outcome, QueryError};
use sitrep_core::table::{Row, render_table};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Column, Row as _};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Rows past this are not read.
const MAX_ROWS: usize = 10_000;
/// Rows shown in the report.
const REPORT_ROWS: usize = 200;

#[derive(Default)]
pub struct Pools {
    pools: Mutex<HashMap<String, AnyPool>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

fn dialect(dsn: &str) -> Option<Dialect> {
    let scheme = dsn.split("://").next()?;
    match scheme {
        "postgres" | "postgresql" => Some(Dialect::Postgres),
        "mysql" | "mariadb" => Some(Dialect::Mysql),
        _ if dsn.starts_with("sqlite:") => Some(Dialect::Sqlite),
        _ => None,
    }
}

/// Sets (or replaces) the password of a URL-style DSN.
pub fn with_password(dsn: &str, password: &str) -> String {
    let Some(s) = dsn.find("://") else {
        return dsn.to_string();
    };
    let rest = &dsn[s + 3..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..auth_end].rfind('@') else {
        return dsn.to_string();
    };
    let user = rest[..at].split(':').next().unwrap_or("");
    format!(
        "{}://{}:{}{}",
        &dsn[..s],
        user,
        percent_encode(password),
        &rest[at..]
    )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Pools {
    async fn get(&self, dsn: &str, d: Dialect) -> Result<AnyPool, sqlx::Error> {
        if let Some(p) = self.pools.lock().unwrap().get(dsn) {
            return Ok(p.clone());
        }
        sqlx::any::install_default_drivers();
        let dsn_fixed = if d == Dialect::Mysql {
            dsn.replacen("mariadb://", "mysql://", 1)
        } else {
            dsn.to_string()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(60))
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy(&dsn_fixed)?;
        self.pools
            .lock()
            .unwrap()
            .insert(dsn.to_string(), pool.clone());
        Ok(pool)
    }

    pub async fn query(&self, dsn: &str, query: &str) -> Result<Vec<Row>, QueryError> {
        let d = dialect(dsn).ok_or_else(|| {
            "the DSN must start with postgres://, mysql://, mariadb:// or sqlite:".to_string()
        })?;
        let pool = self
            .get(dsn, d)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        // The pool retries a refused connection until its acquire timeout (10 s): with no
        // connection open, one TCP probe tells a server that is down at once.
        if pool.size() == 0
            && let Some(addr) = server_address(dsn, d)
            && let Err(cause) = probe(&addr).await
        {
            return Err(QueryError::Unreachable(format!(
                "cannot reach the database ({cause}); whether it is up is for its availability check to say"
            )));
        }
        let failed = |e: sqlx::Error| classify(e, dsn);
        let body = query.trim().trim_end_matches(';').trim();
        let rows: Vec<Row> = match d {
            Dialect::Postgres => {
                let wrapped =
                    format!("SELECT row_to_json(t)::text AS row FROM ({body}) t LIMIT {MAX_ROWS}");
                let raw = match sqlx::query(AssertSqlSafe(wrapped)).fetch_all(&pool).await {
                    Ok(raw) => raw,
                    Err(e) => return Err(failed(e).await),
                };
                raw.iter()
                    .map(|r| {
                        let text: String = r.try_get(0).map_err(|e| e.to_string())?;
                        let v: serde_json::Map<String, serde_json::Value> =
                            serde_json::from_str(&text).map_err(|e| e.to_string())?;
                        Ok(Row {
                            columns: v.into_iter().collect(),
                        })
                    })
                    .collect::<Result<_, String>>()?
            }
            Dialect::Mysql | Dialect::Sqlite => {
                let raw = match sqlx::query(AssertSqlSafe(body.to_string()))
                    .fetch_all(&pool)
                    .await
                {
                    Ok(raw) => raw,
                    Err(e) => return Err(failed(e).await),
                };
                raw.iter().take(MAX_ROWS).map(any_row).collect()
            }
        };
        Ok(rows)
    }
}

/// How long the probe of a server with no open connection waits for its TCP handshake.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// `host:port` of a URL-style DSN with one TCP host, or `None` (SQLite, Unix sockets, several
/// hosts), where the pool alone decides.
fn server_address(dsn: &str, d: Dialect) -> Option<String> {
    let default_port = match d {
        Dialect::Postgres => 5432,
        Dialect::Mysql => 3306,
        Dialect::Sqlite => return None,
    };
    let rest = &dsn[dsn.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() || hostport.contains(',') || hostport.starts_with('%') {
        return None;
    }
    let has_port = match hostport.rfind(']') {
        Some(end) => hostport[end..].contains(':'),
        None => hostport.contains(':'),
    };
    Some(if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    })
}

async fn probe(addr: &str) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no TCP answer from {addr} within {}s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// A server that does not answer, refuses, is starting or shutting down, or has no connection
/// slot left makes the run inconclusive (the availability check reports it); anything else
/// (a rejected login, a bad query) fails it.
async fn classify(e: sqlx::Error, dsn: &str) -> QueryError {
    let unreachable = |cause: String| {
        QueryError::Unreachable(format!(
            "cannot reach the database ({cause}); whether it is up is for its availability check to say"
        ))
    };
    match &e {
        sqlx::Error::Io(io) => unreachable(io.to_string()),
        // The pool retries a refused connection until it gives up: one direct attempt says why.
        sqlx::Error::PoolTimedOut => {
            let attempt = tokio::time::timeout(
                Duration::from_secs(5),
                <sqlx::AnyConnection as sqlx::Connection>::connect(dsn),
            )
            .await;
            match attempt {
                Ok(Ok(_)) => unreachable("no free connection in time".into()),
                Ok(Err(inner @ (sqlx::Error::Io(_) | sqlx::Error::Database(_)))) => {
                    match Box::pin(classify(inner, dsn)).await {
                        QueryError::Failed(m) => QueryError::Failed(m),
                        u => u,
                    }
                }
                Ok(Err(other)) => unreachable(other.to_string()),
                Err(_) => unreachable("no connection within the connect timeout".into()),
            }
        }
        sqlx::Error::Database(db) if unreachable_code(db.code().as_deref()) => {
            unreachable(db.message().to_string())
        }
        _ => QueryError::Failed(format!("query failed: {e}")),
    }
}

/// SQLSTATEs of a server that cannot serve sessions right now: class 08 (connection
/// exception), 57P01-57P03 (shutting down, starting up), 53300 (too many connections).
fn unreachable_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300"))
}

fn any_row(r: &AnyRow) -> Row {
    let columns = r
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let v = if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                v.map_or(serde_json::Value::Null, serde_json::Value::from)
            } else if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
                v.map_or(serde_json::Value::Null, serde_json::Value::from)
            } else if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                v.map_or(serde_json::Value::Null, serde_json::Value::from)
            } else if let Ok(v) = r.try_get::<Option<bool>, _>(i) {
                v.map_or(serde_json::Value::Null, serde_json::Value::from)
            } else {
                serde_json::Value::String("<unsupported type: cast it to text>".into())
            };
            (c.name().to_string(), v)
        })
        .collect();
    Row { columns }
}

pub struct SqlRun<'a> {
    pub pools: &'a Pools,
    pub dsn: String,
    pub query: String,
    pub timeout: Duration,
}

/// Runs the query; the caller applies the row rules.
pub async fn run(r: SqlRun<'_>) -> (Outcome, Vec<Row>) {
    super::rows_within(
        r.timeout,
        "the query",
        r.pools.query(&r.dsn, &r.query),
        |rows| render_table(rows, REPORT_ROWS),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probed_address_is_the_dsns_one_tcp_host() {
        let pg = |dsn| server_address(dsn, Dialect::Postgres);
        assert_eq!(
            pg("postgres://u:p@db.example:6432/x").as_deref(),
            Some("db.example:6432")
        );
        assert_eq!(
            pg("postgresql://u@10.0.0.1/x?sslmode=disable").as_deref(),
            Some("10.0.0.1:5432")
        );
        assert_eq!(
            pg("postgres://u:p%40x@[::1]/x").as_deref(),
            Some("[::1]:5432")
        );
        assert_eq!(pg("postgres://u@[::1]:7/x").as_deref(), Some("[::1]:7"));
        assert_eq!(pg("postgres://u@/x?host=/run/postgresql"), None);
        assert_eq!(pg("postgres://u@h1:1,h2:2/x"), None);
        assert_eq!(
            server_address("mysql://u@h/x", Dialect::Mysql).as_deref(),
            Some("h:3306")
        );
        assert_eq!(server_address("sqlite:///tmp/x.db", Dialect::Sqlite), None);
    }

    #[tokio::test]
    async fn a_refused_server_is_unreachable_without_the_pools_retries() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dsn = format!("postgres://u:p@127.0.0.1:{port}/x");
        match Pools::default().query(&dsn, "select 1").await {
            Err(QueryError::Unreachable(m)) => {
                assert!(m.contains("refused"), "{m}");
                assert!(!m.contains("pool"), "answered by the pool's timeout: {m}");
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
    }

    #[test]
    fn passwords_are_set_and_encoded() {
        assert_eq!(
            with_password("postgres://mon@127.0.0.1:5432/db", "p@ss:w/rd"),
            "postgres://mon:p%40ss%3Aw%2Frd@127.0.0.1:5432/db"
        );
        assert_eq!(
            with_password("postgres://mon:old@h/db?x=1", "new"),
            "postgres://mon:new@h/db?x=1"
        );
        assert_eq!(
            with_password("sqlite:///tmp/x.db", "pw"),
            "sqlite:///tmp/x.db"
        );
    }
}
