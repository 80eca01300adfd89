//! The handlers of `/api/v1`: each one reads its input, calls the engine once or twice and
//! returns the engine's view as JSON. No logic of their own.

use crate::Ws;
use crate::error::{ApiError, ApiResult};
use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use sitrep_core::access::Role;
use sitrep_core::approval::ApprovalStatus;
use sitrep_core::investigation::{Session, SessionStatus};
use sitrep_engine::access::Principal;
use sitrep_engine::investigate::{Ask, FollowUpRequest, InvestigateRequest};
use sitrep_engine::views::{IssuePage, Page, PageQuery};
use sitrep_engine::{Actor, ApprovalQuery, IssueQuery, MapQuery, RunTaskRequest, Sitrep};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio::task::JoinHandle;

type Pq = Query<PageQuery>;

/// Every field of a JSON body or query string is named; an unknown one is an error, so a
/// typo is not silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuesQuery {
    /// `open` (default) or `all` (resolved and suppressed ones too).
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
}

pub async fn workspace(Extension(p): Extension<Principal>) -> Json<Principal> {
    Json(p)
}

pub async fn issues(Ws(s): Ws, Query(q): Query<IssuesQuery>) -> ApiResult<impl IntoResponse> {
    let all = match q.status.as_deref() {
        None | Some("open") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "status {other:?}: use open or all"
            )));
        }
    };
    let list = s
        .issues(&IssueQuery {
            all,
            resource: q.resource,
            limit: None,
        })
        .await?;
    Ok(Json(IssuePage::of(
        list,
        PageQuery {
            limit: q.limit,
            offset: q.offset,
        },
    )))
}

pub async fn issue(Ws(s): Ws, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let (issue, events) = s.issue(&id).await?;
    Ok(Json(
        serde_json::json!({ "issue": issue, "events": events }),
    ))
}

pub async fn slxs(Ws(s): Ws, Query(q): Pq) -> ApiResult<impl IntoResponse> {
    Ok(Json(Page::of(s.slxs().await?, q)))
}

pub async fn slx(Ws(s): Ws, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.slx(&name).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Hours back from now (default 24, at most 720).
    #[serde(default)]
    hours: Option<u32>,
}

pub async fn slx_history(
    Ws(s): Ws,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.slx_history(&name, q.hours.unwrap_or(24)).await?))
}

pub async fn run_slx(Ws(s): Ws, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.run_slx(&name).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksQuery {
    /// Only tasks whose name contains this.
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
}

pub async fn tasks(Ws(s): Ws, Query(q): Query<TasksQuery>) -> ApiResult<impl IntoResponse> {
    let list = s.tasks(q.q.as_deref()).await?;
    Ok(Json(Page::of(
        list,
        PageQuery {
            limit: q.limit,
            offset: q.offset,
        },
    )))
}

pub async fn task(Ws(s): Ws, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.task(&name).await?))
}

pub async fn runs(Ws(s): Ws, Query(q): Pq) -> ApiResult<impl IntoResponse> {
    let list = s.runs(Page::<()>::wanted(&q)).await?;
    Ok(Json(Page::of(list, q)))
}

pub async fn run(Ws(s): Ws, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.run_record(&id).await?))
}

/// A diagnostic run asked for over the API. Remediations are refused here: they run only
/// from an approved proposal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    task: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

pub async fn start_run(Ws(s): Ws, Json(b): Json<RunBody>) -> ApiResult<impl IntoResponse> {
    let view = s
        .run_task(RunTaskRequest {
            task: b.task,
            resource: b.resource,
            slx: None,
            config: b.config,
            secrets: BTreeMap::new(),
            approve_as: None,
        })
        .await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapParams {
    /// Only this resource and its neighbours (a loose name works).
    #[serde(default)]
    around: Option<String>,
    #[serde(default)]
    stale: Option<bool>,
}

pub async fn map(Ws(s): Ws, Query(q): Query<MapParams>) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        s.map(&MapQuery {
            around: q.around,
            include_stale: q.stale.unwrap_or(false),
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    #[serde(default)]
    status: Option<SessionStatus>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
}

pub async fn sessions(Ws(s): Ws, Query(q): Query<SessionsQuery>) -> ApiResult<impl IntoResponse> {
    let list: Vec<_> = s
        .sessions(Page::<()>::MAX_LIMIT as i64 * 2)
        .await?
        .into_iter()
        .filter(|x| q.status.is_none_or(|st| x.status == st))
        .collect();
    Ok(Json(Page::of(
        list,
        PageQuery {
            limit: q.limit,
            offset: q.offset,
        },
    )))
}

pub async fn session(Ws(s): Ws, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.session(&id).await?))
}

pub async fn session_audit(Ws(s): Ws, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.session_audit(&id).await?))
}

/// What to investigate: exactly one of a question, an alert payload (Alertmanager webhook v4
/// or PagerDuty v3 JSON) or an open issue's id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    alert: Option<serde_json::Value>,
    #[serde(default)]
    issue: Option<String>,
    #[serde(default)]
    assistant: Option<String>,
    /// Answer once the session concludes instead of at once (202).
    #[serde(default)]
    wait: Option<bool>,
}

pub async fn start_session(
    Ws(s): Ws,
    Json(b): Json<SessionBody>,
) -> ApiResult<axum::response::Response> {
    let ask = match (b.question, b.alert, b.issue) {
        (Some(q), None, None) => Ask::Question(q),
        (None, Some(a), None) => Ask::Alert(a.to_string()),
        (None, None, Some(i)) => Ask::Issue(i),
        _ => {
            return Err(ApiError::invalid(
                "give exactly one of question, alert or issue",
            ));
        }
    };
    let req = InvestigateRequest {
        ask,
        assistant: b.assistant,
        time_budget: None,
        task_budget: None,
        session_id: Some(Sitrep::new_session_id()),
    };
    let started = start_investigation(&s, req, b.wait.unwrap_or(false)).await?;
    Ok(respond(started, StatusCode::CREATED))
}

/// The answer to a started session: `finished` with the session, or 202 with its id.
fn respond(started: Started, finished: StatusCode) -> axum::response::Response {
    match started {
        Started::Finished(session) => (finished, Json(session)).into_response(),
        Started::Running { id, .. } => {
            let body = serde_json::json!({ "id": id, "status": "running",
                "href": format!("/api/v1/sessions/{id}") });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
    }
}

/// An investigation as an edge starts it: concluded (when waited for, or when it ended before
/// it was recorded), or recorded and still running.
pub enum Started {
    Finished(Box<Session>),
    Running {
        id: String,
        /// The investigation going on; dropping it lets it run on.
        task: JoinHandle<sitrep_engine::Result<Session>>,
    },
}

/// Starts `req` (whose `session_id` is set). With `wait`, answers once the session concludes;
/// otherwise once it is recorded (or refused), and lets it run. The API and MCP both start
/// investigations here.
pub async fn start_investigation(
    sitrep: &Sitrep,
    req: InvestigateRequest,
    wait: bool,
) -> ApiResult<Started> {
    let id = req.session_id.clone().unwrap_or_default();
    let engine = sitrep.clone();
    track(
        sitrep,
        id,
        wait,
        async move { engine.investigate(req).await },
    )
    .await
}

/// Asks a follow-up question of a finished session, answering as [`start_investigation`]
/// does. The API and MCP both ask follow-ups here.
pub async fn start_follow_up(
    sitrep: &Sitrep,
    mut req: FollowUpRequest,
    wait: bool,
) -> ApiResult<Started> {
    // The full id, so progress events can be matched (and an unknown id is a 404 at once).
    let id = sitrep.session(&req.session).await?.id;
    req.session = id.clone();
    let engine = sitrep.clone();
    track(sitrep, id, wait, async move { engine.follow_up(req).await }).await
}

/// Runs `work` on session `id`: with `wait`, to its end; otherwise until its first step is
/// recorded (or it ends or is refused first), letting it run on.
async fn track(
    sitrep: &Sitrep,
    id: String,
    wait: bool,
    work: impl std::future::Future<Output = sitrep_engine::Result<Session>> + Send + 'static,
) -> ApiResult<Started> {
    if wait {
        return Ok(Started::Finished(Box::new(work.await?)));
    }
    let mut events = sitrep.subscribe();
    let mut running = tokio::spawn(work);
    loop {
        tokio::select! {
            done = &mut running => {
                let session = done.map_err(|e| ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the investigation crashed: {e}")))??;
                return Ok(Started::Finished(Box::new(session)));
            }
            ev = events.recv() => match ev {
                Ok(sitrep_engine::events::Event::Session { session_id, .. }) if session_id == id => {
                    return Ok(Started::Running { id, task: running });
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
            },
        }
    }
}

/// A follow-up question about a finished session.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpBody {
    question: String,
    /// Answer once the session concludes again instead of at once (202).
    #[serde(default)]
    wait: Option<bool>,
}

pub async fn follow_up(
    Ws(s): Ws,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Json(b): Json<FollowUpBody>,
) -> ApiResult<axum::response::Response> {
    let req = FollowUpRequest {
        session: id,
        text: b.question,
        by: actor(&p).as_str().to_string(),
        time_budget: None,
        task_budget: None,
    };
    let started = start_follow_up(&s, req, b.wait.unwrap_or(false)).await?;
    Ok(respond(started, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsQuery {
    #[serde(default)]
    status: Option<ApprovalStatus>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
}

pub async fn approvals(Ws(s): Ws, Query(q): Query<ApprovalsQuery>) -> ApiResult<impl IntoResponse> {
    let list = s
        .approvals(&ApprovalQuery {
            status: q.status,
            session_id: q.session,
            limit: Some(Page::<()>::MAX_LIMIT as i64 * 2),
        })
        .await?;
    Ok(Json(Page::of(
        list,
        PageQuery {
            limit: q.limit,
            offset: q.offset,
        },
    )))
}

pub async fn approval(Ws(s): Ws, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.approval(&id).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// For high and critical risk: the resource's name, typed by the approver.
    #[serde(default)]
    confirmation: Option<String>,
    /// Why it is denied.
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) fn actor(p: &Principal) -> Actor {
    Actor::user(&format!("{} ({})", p.name, p.token_id))
}

pub async fn approve(
    Ws(s): Ws,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Option<Json<DecisionBody>>,
) -> ApiResult<impl IntoResponse> {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    Ok(Json(s.approve(&id, &actor(&p), b.confirmation).await?))
}

pub async fn deny(
    Ws(s): Ws,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Option<Json<DecisionBody>>,
) -> ApiResult<impl IntoResponse> {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let reason = b.reason.unwrap_or_else(|| "denied".into());
    Ok(Json(s.deny(&id, &actor(&p), &reason).await?))
}

/// The workspace's domain events as they happen (Server-Sent Events, one JSON per event).
pub async fn events(Ws(s): Ws) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = s.subscribe();
    let stream = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(|ev| async move {
        match ev {
            Ok(e) => SseEvent::default().json_data(&e).ok().map(Ok),
            // A slow reader is told how many it missed rather than slowing sitrep down.
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                Some(Ok(SseEvent::default().event("lagged").data(n.to_string())))
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    name: String,
    role: Role,
    /// Seconds until it expires (default: never).
    #[serde(default)]
    ttl_s: Option<u64>,
}

pub async fn tokens(Ws(s): Ws) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.tokens().await?))
}

pub async fn create_token(Ws(s): Ws, Json(b): Json<TokenBody>) -> ApiResult<impl IntoResponse> {
    let ttl = b.ttl_s.map(Duration::from_secs);
    let created = s.create_token(&b.name, b.role, ttl).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn revoke_token(Ws(s): Ws, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.revoke_token(&id).await?))
}

/// An alert webhook from `source`: stored before this answers 202.
async fn hook(
    s: Sitrep,
    source: sitrep_core::intake::Source,
    body: String,
) -> ApiResult<impl IntoResponse> {
    let receipt = s.receive(source, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}

/// An Alertmanager webhook (version 4).
pub async fn alertmanager_hook(Ws(s): Ws, body: String) -> ApiResult<impl IntoResponse> {
    hook(s, sitrep_core::intake::Source::Alertmanager, body).await
}

/// A PagerDuty webhook (version 3).
pub async fn pagerduty_hook(Ws(s): Ws, body: String) -> ApiResult<impl IntoResponse> {
    hook(s, sitrep_core::intake::Source::Pagerduty, body).await
}

/// An Opsgenie webhook (its outgoing Webhook integration).
pub async fn opsgenie_hook(Ws(s): Ws, body: String) -> ApiResult<impl IntoResponse> {
    hook(s, sitrep_core::intake::Source::Opsgenie, body).await
}

/// A generic webhook for workflow `name`, checked against its signature first.
pub async fn webhook_hook(
    Ws(s): Ws,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: String,
) -> ApiResult<impl IntoResponse> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let sig = sitrep_engine::webhooks::Signature {
        timestamp: h("x-sitrep-timestamp"),
        signature: h("x-sitrep-signature"),
    };
    let receipt = s.receive_webhook(&name, sig, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}

pub async fn inbound(Ws(s): Ws, Query(q): Pq) -> ApiResult<impl IntoResponse> {
    let list = s.inbound(Page::<()>::wanted(&q) as i64).await?;
    Ok(Json(Page::of(list, q)))
}

pub async fn inbound_event(Ws(s): Ws, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.inbound_event(&id).await?))
}

pub async fn workflows(Ws(s): Ws) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.workflows().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
}

pub async fn deliveries(
    Ws(s): Ws,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<impl IntoResponse> {
    let list = s
        .deliveries(q.session.as_deref(), Page::<()>::MAX_LIMIT as i64 * 2)
        .await?;
    Ok(Json(Page::of(
        list,
        PageQuery {
            limit: q.limit,
            offset: q.offset,
        },
    )))
}
