//! The HTTP edge: `/api/v1` (a thin layer over [`sitrep_engine::Sitrep`], described by the
//! OpenAPI document at `/api/v1/openapi.json`), the MCP endpoint `/mcp` ([`mcp`]), `/healthz`,
//! `/readyz` and `/metrics`, and the web UI at `/` ([`ui`]).
//!
//! Every `/api/v1` request carries a bearer token, and is served in that token's workspace
//! (one server serves every workspace of its home, [`Workspaces`]); the role each endpoint
//! needs is declared once in [`routes::ENDPOINTS`], from which both the router and the
//! document are built.

pub mod api;
pub mod error;
mod histogram;
pub mod limits;
pub mod mcp;
pub mod metrics;
pub mod routes;
pub mod secrets;
pub mod studio;
pub mod ui;

use crate::error::ApiError;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sitrep_core::access::Role;
use sitrep_engine::{Sitrep, Workspaces};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest request body accepted (alert payloads included).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a request may take before it is answered 503 (an investigation started with
/// `wait` is bounded by its own time budget, which is shorter).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct AppState {
    pub workspaces: Workspaces,
    pub limits: Arc<limits::Limits>,
    pub metrics: Arc<metrics::Metrics>,
    pub mcp: Arc<mcp::http::Mcp>,
}

/// The caller's workspace, as [`authorize`] found it from the token: every handler works in it
/// and in nothing else.
#[derive(Clone)]
pub struct Ws(pub Sitrep);

impl<S: Send + Sync> FromRequestParts<S> for Ws {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Ws>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "this endpoint was routed without its token check",
            )
        })
    }
}

/// The whole HTTP surface over the served workspaces.
pub fn router(workspaces: Workspaces) -> Router {
    let state = AppState {
        limits: Arc::new(limits::Limits::new(
            workspaces.primary().settings().serve.rate_limit,
        )),
        metrics: metrics::Metrics::start(&workspaces),
        mcp: Arc::new(mcp::http::Mcp::new(workspaces.clone())),
        workspaces,
    };
    let mut api = Router::new();
    for e in routes::ENDPOINTS {
        let role = e.role;
        let handler = (e.handler)().route_layer(middleware::from_fn_with_state(
            (state.clone(), role),
            authorize,
        ));
        api = api.route(e.path, handler);
    }
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route("/readyz", axum::routing::get(ready))
        .route("/metrics", axum::routing::get(metrics::render))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(|| async { axum::Json(routes::openapi()) }),
        )
        .merge(api)
        .merge(ui::routes())
        // JSON-RPC, so not in the OpenAPI document (docs/api.md, MCP); each tool checks its role.
        .route(
            "/mcp",
            axum::routing::post(mcp::http::post)
                .get(mcp::http::get)
                .delete(mcp::http::delete)
                .route_layer(middleware::from_fn_with_state(
                    (state.clone(), Role::Viewer),
                    authorize,
                )),
        )
        .fallback(|| async {
            ApiError::not_found("no such endpoint: the API is described at /api/v1/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method: see /api/v1/openapi.json",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Checks the bearer token and the endpoint's role; the caller's [`Principal`] and workspace
/// ([`Ws`]) go to the handler.
///
/// [`Principal`]: sitrep_engine::access::Principal
async fn authorize(
    State((state, role)): State<(AppState, Role)>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let (principal, sitrep) = match state.workspaces.authenticate(token).await {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(e) = principal.require(role) {
        return ApiError::from(e).into_response();
    }
    let class = if req.uri().path().starts_with("/api/v1/hooks/") {
        limits::Class::Hook
    } else {
        limits::Class::Api
    };
    if let Err(l) = state
        .limits
        .take(&principal.token_id, class, Instant::now())
    {
        let secs = l.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut res = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "this token made more than {} requests a second: retry after {secs}s (the limit is serve.rate_limit)",
                l.per_second
            ),
        )
        .into_response();
        res.headers_mut().insert(
            header::RETRY_AFTER,
            secs.to_string().parse().expect("digits"),
        );
        return res;
    }
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(Ws(sitrep));
    next.run(req).await
}

/// Counts every request by route and status, and bounds its time.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let t0 = Instant::now();
    let res = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {}s; for investigations, start one without wait and follow it",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    };
    let res = as_json_error(res).await;
    state
        .metrics
        .request(&route, res.status().as_u16(), t0.elapsed());
    tracing::debug!(%method, route, status = res.status().as_u16(), ms = t0.elapsed().as_millis() as u64, "request");
    res
}

/// axum's own rejections (a malformed query, path or body, a body over the limit) are plain
/// text; every error this API gives is `{code, message}`.
async fn as_json_error(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let text = match axum::body::to_bytes(res.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "invalid",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    ApiError::new(status, code, message).into_response()
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.workspaces.primary().ready().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

/// Serves HTTP on `listener` until `shutdown` completes; requests in flight get to finish.
pub async fn serve_http(
    workspaces: Workspaces,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let names: Vec<&str> = workspaces.iter().map(|s| s.workspace()).collect();
    tracing::info!(%addr, workspaces = ?names, "http api listening");
    axum::serve(listener, router(workspaces))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `addr`, with an error that says what to do when it is taken or not allowed.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {addr}: {source}; choose another address (the serve.listen setting or SITREP_LISTEN), or off"
)]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Engine(#[from] sitrep_engine::EngineError),
    #[error("the http api stopped: {0}")]
    Http(#[source] std::io::Error),
}

/// `serve`: every workspace of `sitrep`'s home ([`Workspaces::open`]) with its scheduler and
/// background work and, unless the settings say `off`, the HTTP API, until `shutdown`
/// completes. Then the API stops taking requests (those in flight get the shutdown grace to
/// finish) and the scheduler stops as [`Sitrep::serve`] does. An API that stops on its own
/// (it cannot serve) stops the scheduler too: the operator must see it.
pub async fn run(
    sitrep: Sitrep,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let workspaces = Workspaces::open(sitrep.clone())?;
    let listener = match sitrep.settings().serve.listen_addr() {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = on_signal.send(true);
    });
    let http = listener.map(|l| {
        let (workspaces, stop) = (workspaces.clone(), stopped());
        tokio::spawn(async move {
            let r = serve_http(workspaces, l, stop).await;
            let _ = stop_tx.send(true);
            r
        })
    });
    let engine = workspaces
        .serve(&sitrep_engine::ServeOptions::default(), stopped())
        .await;
    let http = match http {
        None => Ok(()),
        Some(h) => match tokio::time::timeout(sitrep.settings().serve.shutdown_grace, h).await {
            Ok(Ok(r)) => r.map_err(ServeError::Http),
            Ok(Err(e)) => Err(ServeError::Http(std::io::Error::other(e))),
            Err(_) => {
                tracing::warn!("http requests still in flight after the grace period were dropped");
                Ok(())
            }
        },
    };
    engine?;
    http
}
