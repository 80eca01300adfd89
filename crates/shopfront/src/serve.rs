//! `shopfront serve`: the shop's HTTP API.
//!
//! - `POST /checkout` `{"item_id": 1, "quantity": 1}`: counts the attempt in
//!   Redis, locks the product row and records the order in PostgreSQL, writes a
//!   receipt file to the receipts spool, commits, caches the last order id.
//! - `GET /catalog`: the product list, cached in Redis for 30 s (falls back to
//!   PostgreSQL when Redis is unavailable).
//! - `GET /health`: 200 when PostgreSQL and Redis answer, else 503 with details.
//! - `GET /metrics`: Prometheus text format.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::{ConfigError, RawConfig};
use crate::logging::Logger;
use crate::metrics::Metrics;
use crate::resp::{Redis, RedisError};

pub const KEYS: &[&str] = &[
    "listen",
    "database_url",
    "db_pool_size",
    "db_lock_timeout_ms",
    "db_statement_timeout_ms",
    "redis_addr",
    "redis_timeout_ms",
    "redis_latency_ms",
    "log_file",
    "receipts_dir",
];

pub struct ServeConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub db_pool_size: u32,
    pub db_lock_timeout_ms: u64,
    pub db_statement_timeout_ms: u64,
    pub redis_addr: String,
    pub redis_timeout_ms: u64,
    pub redis_latency_ms: u64,
    pub log_file: Option<PathBuf>,
    pub receipts_dir: PathBuf,
}

impl ServeConfig {
    pub fn from_raw(c: &RawConfig) -> Result<Self, ConfigError> {
        let listen_s = c.string("listen", Some("127.0.0.1:28000"))?;
        let listen = listen_s.parse().map_err(|_| {
            ConfigError(format!(
                "invalid value {listen_s:?} for \"listen\": expected IP:PORT"
            ))
        })?;
        let db_pool_size: u32 = c.number("db_pool_size", 5)?;
        if db_pool_size == 0 {
            return Err(ConfigError(
                "invalid value 0 for \"db_pool_size\": must be at least 1".into(),
            ));
        }
        let log_file = c.string("log_file", Some(""))?;
        Ok(Self {
            listen,
            database_url: c.string("database_url", None)?,
            db_pool_size,
            db_lock_timeout_ms: c.number("db_lock_timeout_ms", 2000)?,
            db_statement_timeout_ms: c.number("db_statement_timeout_ms", 5000)?,
            redis_addr: c.string("redis_addr", Some("127.0.0.1:26379"))?,
            redis_timeout_ms: c.number("redis_timeout_ms", 3000)?,
            redis_latency_ms: c.number("redis_latency_ms", 0)?,
            log_file: (!log_file.is_empty()).then(|| PathBuf::from(log_file)),
            receipts_dir: PathBuf::from(c.string("receipts_dir", Some("receipts"))?),
        })
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.rsplit_once('@')
        && let Some((user, _)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

struct AppState {
    db: PgPool,
    db_opts: PgConnectOptions,
    /// When the pool times out, why a fresh connection fails (cached 5 s).
    pool_diag: tokio::sync::Mutex<Option<(Instant, String)>>,
    redis: Redis,
    metrics: Metrics,
    log: Arc<Logger>,
    receipts_dir: PathBuf,
}

struct AppError {
    status: StatusCode,
    dependency: &'static str,
    message: String,
}

impl AppError {
    fn db(e: sqlx::Error) -> Self {
        let message = match &e {
            sqlx::Error::Database(d) => format!(
                "postgres: {} (SQLSTATE {})",
                d.message(),
                d.code().unwrap_or_default()
            ),
            sqlx::Error::PoolTimedOut => {
                "postgres: timed out waiting for a database connection".into()
            }
            other => format!("postgres: {other}"),
        };
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            dependency: "postgres",
            message,
        }
    }
    fn redis(e: RedisError) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            dependency: "redis",
            message: e.to_string(),
        }
    }
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

pub async fn run(cfg: ServeConfig, log: Arc<Logger>) -> Result<(), String> {
    let opts = PgConnectOptions::from_str(&cfg.database_url)
        .map_err(|e| {
            format!(
                "invalid database_url {}: {e}",
                redact_url(&cfg.database_url)
            )
        })?
        .application_name("shopfront")
        .options([
            ("lock_timeout", cfg.db_lock_timeout_ms.to_string()),
            ("statement_timeout", cfg.db_statement_timeout_ms.to_string()),
        ]);
    // Short idle timeout and lifetime: connections are recycled often, so the
    // service notices a saturated server quickly (as real services do).
    let db = PgPoolOptions::new()
        .max_connections(cfg.db_pool_size)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Some(Duration::from_secs(5)))
        .max_lifetime(Some(Duration::from_secs(20)))
        .connect_lazy_with(opts.clone());
    std::fs::create_dir_all(&cfg.receipts_dir).map_err(|e| {
        format!(
            "cannot create receipts_dir {}: {e}",
            cfg.receipts_dir.display()
        )
    })?;
    let state = Arc::new(AppState {
        db,
        db_opts: opts,
        pool_diag: tokio::sync::Mutex::new(None),
        redis: Redis::new(
            cfg.redis_addr.clone(),
            Duration::from_millis(cfg.redis_timeout_ms + cfg.redis_latency_ms),
            Duration::from_millis(cfg.redis_latency_ms),
        ),
        metrics: Metrics::new(),
        log: log.clone(),
        receipts_dir: cfg.receipts_dir.clone(),
    });
    let app = Router::new()
        .route("/checkout", post(checkout))
        .route("/catalog", get(catalog))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    log.info(
        "shopfront listening",
        json!({
            "listen": cfg.listen.to_string(),
            "database_url": redact_url(&cfg.database_url),
            "redis_addr": cfg.redis_addr,
            "db_pool_size": cfg.db_pool_size,
            "redis_latency_ms": cfg.redis_latency_ms,
            "pid": std::process::id(),
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    log.info("shopfront stopped", json!({}));
    Ok(())
}

async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route: &'static str = match req.uri().path() {
        "/checkout" => "/checkout",
        "/catalog" => "/catalog",
        "/health" => "/health",
        "/metrics" => "/metrics",
        _ => "other",
    };
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    if route != "/metrics" {
        state.metrics.observe(route, status, secs);
    }
    if route != "/metrics" && route != "/health" || status >= 500 {
        let level = if status >= 500 { "error" } else { "info" };
        state.log.log(
            level,
            "request",
            json!({"method": method, "route": route, "status": status, "duration_ms": (secs * 1000.0).round() as u64}),
        );
    }
    resp
}

/// The pool only says "timed out"; find out what a new connection runs into
/// (e.g. "remaining connection slots are reserved"), as an operator would.
async fn explain_pool_timeout(state: &AppState) -> String {
    let mut diag = state.pool_diag.lock().await;
    if let Some((at, msg)) = diag.as_ref()
        && at.elapsed() < Duration::from_secs(5)
    {
        return msg.clone();
    }
    use sqlx::Connection;
    let msg = match tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::PgConnection::connect_with(&state.db_opts),
    )
    .await
    {
        Err(_) => "new connections time out".to_string(),
        Ok(Err(e)) => format!("new connections fail: {}", AppError::db(e).message),
        Ok(Ok(c)) => {
            let _ = c.close().await;
            "new connections succeed; all pooled connections are busy".to_string()
        }
    };
    *diag = Some((Instant::now(), msg.clone()));
    msg
}

async fn fail_db(state: &AppState, route: &str, mut e: AppError) -> Response {
    if e.message
        .contains("timed out waiting for a database connection")
    {
        e.message = format!("{} ({})", e.message, explain_pool_timeout(state).await);
    }
    fail(state, route, e)
}

fn fail(state: &AppState, route: &str, e: AppError) -> Response {
    state.metrics.dependency_error(e.dependency);
    state.log.error(
        &format!("{route} failed"),
        json!({"route": route, "dependency": e.dependency, "error": e.message}),
    );
    json_response(
        e.status,
        json!({"error": e.message, "dependency": e.dependency}),
    )
}

async fn checkout(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let req: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    if !req.is_object() {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "body must be a JSON object"}),
        );
    }
    let item_id = req.get("item_id").and_then(Value::as_i64).unwrap_or(1) as i32;
    let quantity = req
        .get("quantity")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .clamp(1, 100) as i32;
    match do_checkout(&state, item_id, quantity).await {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            json_response(e.status, json!({"error": e.message}))
        }
        Err(e) => fail_db(&state, "/checkout", e).await,
    }
}

async fn do_checkout(state: &AppState, item_id: i32, quantity: i32) -> Result<Value, AppError> {
    // A write to Redis on every checkout (attempt counter): fails when Redis
    // is down or full under `noeviction`.
    state
        .redis
        .incr("shop:checkout:attempts")
        .await
        .map_err(AppError::redis)?;
    let mut tx = state.db.begin().await.map_err(AppError::db)?;
    let row = sqlx::query("SELECT name, price_cents FROM products WHERE id = $1 FOR UPDATE")
        .bind(item_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(AppError::db)?;
    let Some(row) = row else {
        return Err(AppError {
            status: StatusCode::NOT_FOUND,
            dependency: "",
            message: format!("no product {item_id}"),
        });
    };
    let name: String = row.try_get("name").map_err(AppError::db)?;
    let price: i64 = row.try_get("price_cents").map_err(AppError::db)?;
    let total = price * quantity as i64;
    sqlx::query("UPDATE products SET stock = stock - $2, sold = sold + $2 WHERE id = $1")
        .bind(item_id)
        .bind(quantity)
        .execute(&mut *tx)
        .await
        .map_err(AppError::db)?;
    let order_id: i64 = sqlx::query(
        "INSERT INTO orders (product_id, quantity, total_cents) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(item_id)
    .bind(quantity)
    .bind(total)
    .fetch_one(&mut *tx)
    .await
    .and_then(|r| r.try_get::<i64, _>("id"))
    .map_err(AppError::db)?;
    // The receipt goes to the spool before the commit: no receipt, no order.
    let receipt = json!({"order_id": order_id, "item_id": item_id, "name": name, "quantity": quantity,
                         "total_cents": total, "at": crate::logging::rfc3339_now()});
    let path = state.receipts_dir.join(format!("order-{order_id}.json"));
    if let Err(e) = tokio::fs::write(&path, receipt.to_string()).await {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(AppError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            dependency: "disk",
            message: format!("cannot write receipt {}: {e}", path.display()),
        });
    }
    tx.commit().await.map_err(AppError::db)?;
    let _ = state
        .redis
        .set_ex(
            &format!("shop:last_order:{item_id}"),
            order_id.to_string().as_bytes(),
            3600,
        )
        .await;
    Ok(
        json!({"order_id": order_id, "item_id": item_id, "quantity": quantity, "total_cents": total}),
    )
}

async fn catalog(State(state): State<Arc<AppState>>) -> Response {
    match state.redis.get("shop:catalog:v1").await {
        Ok(Some(cached)) => {
            return (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "max-age=5"),
                ],
                cached,
            )
                .into_response();
        }
        Ok(None) => {}
        Err(e) => {
            state.metrics.dependency_error("redis");
            state.log.warn(
                "catalog cache unavailable, reading from postgres",
                json!({"error": e.to_string()}),
            );
        }
    }
    let rows = sqlx::query("SELECT id, name, price_cents, stock FROM products ORDER BY id")
        .fetch_all(&state.db)
        .await;
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return fail_db(&state, "/catalog", AppError::db(e)).await,
    };
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.try_get::<i32, _>("id").unwrap_or_default(),
                "name": r.try_get::<String, _>("name").unwrap_or_default(),
                "price_cents": r.try_get::<i64, _>("price_cents").unwrap_or_default(),
                "in_stock": r.try_get::<i64, _>("stock").unwrap_or_default() > 0,
            })
        })
        .collect();
    let body = json!({"items": items}).to_string();
    let _ = state
        .redis
        .set_ex("shop:catalog:v1", body.as_bytes(), 30)
        .await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let pg = async {
        match tokio::time::timeout(
            Duration::from_secs(4),
            sqlx::query("SELECT 1").execute(&state.db),
        )
        .await
        {
            Err(_) => Err("timeout after 4s".to_string()),
            Ok(Err(e)) => {
                let m = AppError::db(e).message;
                if m.contains("timed out waiting for a database connection") {
                    Err(format!("{m} ({})", explain_pool_timeout(&state).await))
                } else {
                    Err(m)
                }
            }
            Ok(Ok(_)) => Ok(()),
        }
    };
    let redis = async { state.redis.ping().await.map_err(|e| e.to_string()) };
    let (pg, redis) = tokio::join!(pg, redis);
    let ok = pg.is_ok() && redis.is_ok();
    let show = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.clone(),
    };
    let body = json!({"status": if ok {"ok"} else {"unhealthy"}, "checks": {"postgres": show(&pg), "redis": show(&redis)}});
    json_response(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        body,
    )
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts() {
        assert_eq!(
            super::redact_url("postgres://app:s3cr3t@127.0.0.1:25432/shop"),
            "postgres://app:***@127.0.0.1:25432/shop"
        );
        assert_eq!(
            super::redact_url("postgres://127.0.0.1/shop"),
            "postgres://127.0.0.1/shop"
        );
    }
}
