//! The one table of endpoints. The router and the OpenAPI document are both built from it,
//! so the document cannot drift from what is served, and each endpoint's role is declared
//! once, next to its path.

use crate::{AppState, api, secrets, studio};
use axum::routing::{MethodRouter, delete, get, post, put};
use serde_json::{Value, json};
use sitrep_core::access::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Bool,
    /// One of these strings.
    OneOf(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub at: In,
    pub ty: Ty,
    pub about: &'static str,
}

pub struct Endpoint {
    pub method: Method,
    /// The path, with `{name}` for a path parameter (axum's and OpenAPI's syntax alike).
    pub path: &'static str,
    /// The least role that may call it.
    pub role: Role,
    pub summary: &'static str,
    pub params: &'static [Param],
    /// The JSON schema of the request body, when it takes one.
    pub body: Option<fn() -> Value>,
    /// The success statuses and what each returns.
    pub ok: &'static [(u16, &'static str)],
    pub handler: fn() -> MethodRouter<AppState>,
}

const fn path(name: &'static str, about: &'static str) -> Param {
    Param {
        name,
        at: In::Path,
        ty: Ty::Str,
        about,
    }
}
const fn header(name: &'static str, about: &'static str) -> Param {
    Param {
        name,
        at: In::Header,
        ty: Ty::Str,
        about,
    }
}
const fn query(name: &'static str, ty: Ty, about: &'static str) -> Param {
    Param {
        name,
        at: In::Query,
        ty,
        about,
    }
}
const LIMIT: Param = query(
    "limit",
    Ty::Int,
    "at most this many items (default 100, max 1000)",
);
const OFFSET: Param = query("offset", Ty::Int, "skip this many items first");
const PAGE: &[Param] = &[LIMIT, OFFSET];
const SESSION_STATUSES: &[&str] = &[
    "running",
    "concluded",
    "inconclusive",
    "failed",
    "interrupted",
];
const APPROVAL_STATUSES: &[&str] = &["pending", "granted", "denied", "expired", "executed"];

fn run_body() -> Value {
    json!({"type": "object", "required": ["task"], "additionalProperties": false, "properties": {
        "task": {"type": "string", "description": "collection/bundle/task or bundle/task (a diagnostic task)"},
        "resource": {"type": "string", "description": "the resource it looks at (default: derived from its target)"},
        "config": {"type": "object", "additionalProperties": {"type": "string"}},
    }})
}
fn session_body() -> Value {
    json!({"type": "object", "additionalProperties": false,
        "description": "exactly one of question, alert or issue",
        "properties": {
        "question": {"type": "string"},
        "alert": {"type": "object", "description": "an Alertmanager webhook v4 or PagerDuty webhook v3 payload"},
        "issue": {"type": "string", "description": "an open issue's id"},
        "assistant": {"type": "string"},
        "wait": {"type": "boolean", "description": "answer when the session concludes (201) instead of at once (202)"},
    }})
}
fn follow_up_body() -> Value {
    json!({"type": "object", "additionalProperties": false, "required": ["question"],
        "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": 2000},
        "wait": {"type": "boolean", "description": "answer when the session concludes again (200) instead of at once (202)"},
    }})
}
fn decision_body() -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": {
        "confirmation": {"type": "string", "description": "high and critical risk: the resource's name"},
        "reason": {"type": "string"},
    }})
}
fn alert_body() -> Value {
    json!({"type": "object", "description": "the payload as the monitoring system sends it"})
}
fn token_body() -> Value {
    json!({"type": "object", "required": ["name", "role"], "additionalProperties": false, "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "role": {"type": "string", "enum": ["viewer", "operator", "approver", "admin"]},
        "ttl_s": {"type": "integer", "minimum": 1},
    }})
}

fn secret_body() -> Value {
    json!({"type": "object", "required": ["value"], "additionalProperties": false, "properties": {
        "value": {"type": "string", "minLength": 4, "maxLength": 65536, "description": "the value; stored encrypted, never shown again"},
    }})
}

fn studio_text_body() -> Value {
    json!({"type": "object", "required": ["text"], "additionalProperties": false, "properties": {
        "text": {"type": "string", "maxLength": 262144, "description": "the file's whole text (YAML, or markdown for knowledge)"},
    }})
}

const STUDIO_KINDS: &[&str] = &["rules", "commands", "workflows", "knowledge"];
const STUDIO_KIND: Param = Param {
    name: "kind",
    at: In::Path,
    ty: Ty::OneOf(STUDIO_KINDS),
    about: "the workspace folder's folder: rules, commands, workflows or knowledge",
};
const STUDIO_NAME: Param = path(
    "name",
    "the file's name: letters, digits, '-', '_', '.', ending in .yaml (.md for knowledge); no folders",
);

/// Every endpoint under `/api/v1` that takes a token.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: Method::Get,
        path: "/api/v1/workspace",
        role: Role::Viewer,
        summary: "The caller: workspace, token and role",
        params: &[],
        body: None,
        ok: &[(200, "the principal")],
        handler: || get(api::workspace),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/issues",
        role: Role::Viewer,
        summary: "Issues, most current and most severe first",
        params: &[
            query(
                "status",
                Ty::OneOf(&["open", "all"]),
                "open (default) or all",
            ),
            query("resource", Ty::Str, "only this resource's"),
            LIMIT,
            OFFSET,
        ],
        body: None,
        ok: &[(200, "a page of issues")],
        handler: || get(api::issues),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/issues/{id}",
        role: Role::Viewer,
        summary: "One issue and its history",
        params: &[path("id", "the issue's id or a unique prefix")],
        body: None,
        ok: &[(200, "the issue and its events")],
        handler: || get(api::issue),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/slxs",
        role: Role::Viewer,
        summary: "SLXs",
        params: PAGE,
        body: None,
        ok: &[(200, "a page of SLXs")],
        handler: || get(api::slxs),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/slxs/{name}",
        role: Role::Viewer,
        summary: "One SLX",
        params: &[path("name", "the SLX's name")],
        body: None,
        ok: &[(200, "the SLX")],
        handler: || get(api::slx),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/slxs/{name}/history",
        role: Role::Viewer,
        summary: "One SLX's SLI history: its health tasks, recent runs, and the metric series they recorded, each with its SLO threshold and anomalies",
        params: &[
            path("name", "the SLX's name"),
            query(
                "hours",
                Ty::Int,
                "the window, in hours back from now (default 24, at most 720)",
            ),
        ],
        body: None,
        ok: &[(200, "the SLX, its tasks, runs and series")],
        handler: || get(api::slx_history),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/slxs/{name}/run",
        role: Role::Operator,
        summary: "Run an SLX's health tasks now",
        params: &[path("name", "the SLX's name")],
        body: None,
        ok: &[(200, "the runs")],
        handler: || post(api::run_slx),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/tasks",
        role: Role::Viewer,
        summary: "Tasks of every collection",
        params: &[
            query("q", Ty::Str, "only tasks whose name contains this"),
            LIMIT,
            OFFSET,
        ],
        body: None,
        ok: &[(200, "a page of tasks")],
        handler: || get(api::tasks),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/tasks/{name}",
        role: Role::Viewer,
        summary: "One task (its name URL-encoded: core%2Fhttp%2Fcheck)",
        params: &[path("name", "collection/bundle/task, URL-encoded")],
        body: None,
        ok: &[(200, "the task")],
        handler: || get(api::task),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/runs",
        role: Role::Viewer,
        summary: "Task runs, newest first",
        params: PAGE,
        body: None,
        ok: &[(200, "a page of runs")],
        handler: || get(api::runs),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/runs",
        role: Role::Operator,
        summary: "Run a diagnostic task now (remediations run only from an approved proposal)",
        params: &[],
        body: Some(run_body),
        ok: &[(200, "the run and what it reported")],
        handler: || post(api::start_run),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/runs/{id}",
        role: Role::Viewer,
        summary: "One run",
        params: &[path("id", "the run's id or a unique prefix")],
        body: None,
        ok: &[(200, "the run")],
        handler: || get(api::run),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/map",
        role: Role::Viewer,
        summary: "The Map: resources and edges",
        params: &[
            query("around", Ty::Str, "only this resource and its neighbours"),
            query(
                "stale",
                Ty::Bool,
                "include resources discovery no longer finds",
            ),
        ],
        body: None,
        ok: &[(200, "resources and edges")],
        handler: || get(api::map),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/sessions",
        role: Role::Viewer,
        summary: "Investigation sessions, newest first",
        params: &[
            query("status", Ty::OneOf(SESSION_STATUSES), "only these"),
            LIMIT,
            OFFSET,
        ],
        body: None,
        ok: &[(200, "a page of sessions")],
        handler: || get(api::sessions),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/sessions",
        role: Role::Operator,
        summary: "Start an investigation",
        params: &[],
        body: Some(session_body),
        ok: &[
            (202, "the session's id; progress on /api/v1/events"),
            (201, "with wait: the concluded session"),
        ],
        handler: || post(api::start_session),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/sessions/{id}",
        role: Role::Viewer,
        summary: "One session: hypotheses, evidence, conclusion, proposals",
        params: &[path("id", "the session's id or a unique prefix")],
        body: None,
        ok: &[(200, "the session")],
        handler: || get(api::session),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/sessions/{id}/follow-ups",
        role: Role::Operator,
        summary: "Ask a follow-up question: the finished session continues and concludes again",
        params: &[path("id", "the session's id or a unique prefix")],
        body: Some(follow_up_body),
        ok: &[
            (202, "the session's id; progress on /api/v1/events"),
            (200, "with wait: the session, concluded again"),
        ],
        handler: || post(api::follow_up),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/sessions/{id}/audit",
        role: Role::Viewer,
        summary: "A session's audit trail, in order",
        params: &[path("id", "the session's id or a unique prefix")],
        body: None,
        ok: &[(200, "the audit entries")],
        handler: || get(api::session_audit),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/approvals",
        role: Role::Viewer,
        summary: "Remediation approvals, newest first",
        params: &[
            query("status", Ty::OneOf(APPROVAL_STATUSES), "only these"),
            query("session", Ty::Str, "only this session's"),
            LIMIT,
            OFFSET,
        ],
        body: None,
        ok: &[(200, "a page of approvals")],
        handler: || get(api::approvals),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/approvals/{id}",
        role: Role::Viewer,
        summary: "One approval",
        params: &[path("id", "the approval's id or a unique prefix")],
        body: None,
        ok: &[(200, "the approval")],
        handler: || get(api::approval),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/approvals/{id}/approve",
        role: Role::Approver,
        summary: "Approve a proposed remediation: it runs, then its cause is checked again",
        params: &[path("id", "the approval's id or a unique prefix")],
        body: Some(decision_body),
        ok: &[(200, "the remediation's run and verification")],
        handler: || post(api::approve),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/approvals/{id}/deny",
        role: Role::Approver,
        summary: "Deny a proposed remediation",
        params: &[path("id", "the approval's id or a unique prefix")],
        body: Some(decision_body),
        ok: &[(200, "the decided approval")],
        handler: || post(api::deny),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/events",
        role: Role::Viewer,
        summary: "Domain events as they happen (text/event-stream)",
        params: &[],
        body: None,
        ok: &[(200, "an event stream")],
        handler: || get(api::events),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/hooks/alertmanager",
        role: Role::Operator,
        summary: "Alertmanager webhook (v4): stored, then one investigation per alert group",
        params: &[],
        body: Some(alert_body),
        ok: &[(202, "the stored event's id, status and group key")],
        handler: || post(api::alertmanager_hook),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/hooks/pagerduty",
        role: Role::Operator,
        summary: "PagerDuty webhook (v3): stored, then one investigation per incident",
        params: &[],
        body: Some(alert_body),
        ok: &[(202, "the stored event's id, status and incident key")],
        handler: || post(api::pagerduty_hook),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/hooks/opsgenie",
        role: Role::Operator,
        summary: "Opsgenie webhook: stored, then one investigation per alert alias (Create starts one; Close and other actions are recorded against it)",
        params: &[],
        body: Some(alert_body),
        ok: &[(202, "the stored event's id, status and alias")],
        handler: || post(api::opsgenie_hook),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/hooks/webhook/{workflow}",
        role: Role::Operator,
        summary: "A generic webhook for a workflow with on: webhook, signed with its key: stored, then one investigation of its question per key",
        params: &[
            path("workflow", "the workflow's name"),
            header(
                "X-Sitrep-Timestamp",
                "Unix seconds when it was signed (within 5 minutes of now)",
            ),
            header(
                "X-Sitrep-Signature",
                "sha256=HEX of HMAC-SHA256(the workflow's key, \"{timestamp}.{body}\")",
            ),
        ],
        body: Some(alert_body),
        ok: &[(202, "the stored event's id, status and key")],
        handler: || post(api::webhook_hook),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/inbound",
        role: Role::Viewer,
        summary: "Received alert events and what became of each, newest first",
        params: PAGE,
        body: None,
        ok: &[(200, "a page of events")],
        handler: || get(api::inbound),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/inbound/{id}",
        role: Role::Viewer,
        summary: "One received event",
        params: &[path("id", "the event's id or a unique prefix")],
        body: None,
        ok: &[(200, "the event")],
        handler: || get(api::inbound_event),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/workflows",
        role: Role::Viewer,
        summary: "The workspace's workflows (workflows/*.yaml) and the problems of those left out",
        params: &[],
        body: None,
        ok: &[(200, "workflows and problems")],
        handler: || get(api::workflows),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/deliveries",
        role: Role::Viewer,
        summary: "Workflow deliveries (Slack, webhook, email, PagerDuty notes), newest first",
        params: &[
            query(
                "session",
                Ty::Str,
                "only this session's (its id or a unique prefix)",
            ),
            LIMIT,
            OFFSET,
        ],
        body: None,
        ok: &[(200, "a page of deliveries")],
        handler: || get(api::deliveries),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/tokens",
        role: Role::Admin,
        summary: "The workspace's tokens (never their secrets)",
        params: &[],
        body: None,
        ok: &[(200, "the tokens")],
        handler: || get(api::tokens),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/tokens",
        role: Role::Admin,
        summary: "Create a token; its secret is in this answer only",
        params: &[],
        body: Some(token_body),
        ok: &[(201, "the token and its secret")],
        handler: || post(api::create_token),
    },
    Endpoint {
        method: Method::Delete,
        path: "/api/v1/tokens/{id}",
        role: Role::Admin,
        summary: "Revoke a token",
        params: &[path("id", "the token's id")],
        body: None,
        ok: &[(200, "the revoked token")],
        handler: || delete(api::revoke_token),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/secrets",
        role: Role::Admin,
        summary: "The workspace's secrets: names and times, never values",
        params: &[],
        body: None,
        ok: &[(200, "the secrets' names")],
        handler: || get(secrets::list),
    },
    Endpoint {
        method: Method::Put,
        path: "/api/v1/secrets/{name}",
        role: Role::Admin,
        summary: "Store a secret, encrypted (replacing one of that name); it is never read back",
        params: &[path(
            "name",
            "the secret's name; SLXs refer to it as secret:NAME",
        )],
        body: Some(secret_body),
        ok: &[(200, "the secret's name and times")],
        handler: || put(secrets::set),
    },
    Endpoint {
        method: Method::Delete,
        path: "/api/v1/secrets/{name}",
        role: Role::Admin,
        summary: "Delete a secret",
        params: &[path("name", "the secret's name")],
        body: None,
        ok: &[(200, "the deleted secret's name and times")],
        handler: || delete(secrets::delete),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/studio/{kind}",
        role: Role::Viewer,
        summary: "The Studio: a kind's files in the workspace folder, with how many problems each has",
        params: &[STUDIO_KIND],
        body: None,
        ok: &[(200, "the files")],
        handler: || get(studio::list),
    },
    Endpoint {
        method: Method::Get,
        path: "/api/v1/studio/{kind}/{name}",
        role: Role::Viewer,
        summary: "One Studio file's text and its problems (each with its line and field)",
        params: &[STUDIO_KIND, STUDIO_NAME],
        body: None,
        ok: &[(200, "the text and its problems")],
        handler: || get(studio::read),
    },
    Endpoint {
        method: Method::Put,
        path: "/api/v1/studio/{kind}/{name}",
        role: Role::Admin,
        summary: "Save a Studio file when its validator finds no problem (else 422 with every problem, and nothing written)",
        params: &[STUDIO_KIND, STUDIO_NAME],
        body: Some(studio_text_body),
        ok: &[(200, "the saved file, and whether it is new")],
        handler: || put(studio::save),
    },
    Endpoint {
        method: Method::Delete,
        path: "/api/v1/studio/{kind}/{name}",
        role: Role::Admin,
        summary: "Delete a Studio file",
        params: &[STUDIO_KIND, STUDIO_NAME],
        body: None,
        ok: &[(200, "the deleted file")],
        handler: || delete(studio::delete),
    },
    Endpoint {
        method: Method::Post,
        path: "/api/v1/studio/{kind}/{name}/validate",
        role: Role::Viewer,
        summary: "Check a text as the Studio file it would be, without saving it: every problem with its line and field",
        params: &[STUDIO_KIND, STUDIO_NAME],
        body: Some(studio_text_body),
        ok: &[(200, "the problems (none: it can be saved)")],
        handler: || post(studio::check),
    },
];

fn schema(ty: Ty) -> Value {
    match ty {
        Ty::Str => json!({"type": "string"}),
        Ty::Int => json!({"type": "integer", "minimum": 0}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::OneOf(v) => json!({"type": "string", "enum": v}),
    }
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The OpenAPI 3.1 document of [`ENDPOINTS`] and the public endpoints.
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    let public = [
        ("/healthz", "Alive", "text/plain"),
        (
            "/readyz",
            "Ready: the store answers and the catalog is loaded",
            "text/plain",
        ),
        ("/metrics", "Prometheus metrics", "text/plain"),
        ("/api/v1/openapi.json", "This document", "application/json"),
    ];
    for (p, summary, ty) in public {
        paths.insert(
            p.into(),
            json!({"get": {"summary": summary, "security": [], "responses": {
                "200": {"description": summary, "content": {ty: {"schema": {}}}}
            }}}),
        );
    }
    for e in ENDPOINTS {
        let params: Vec<Value> = e
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": match p.at { In::Path => "path", In::Query => "query", In::Header => "header" },
                    "required": p.at == In::Path,
                    "description": p.about,
                    "schema": schema(p.ty),
                })
            })
            .collect();
        let mut op = json!({
            "summary": e.summary,
            "description": format!("Needs the {} role.", e.role),
            "x-sitrep-role": e.role.as_str(),
            "parameters": params,
            "responses": {
                "400": error_response("the request is malformed; the message says what to fix"),
                "401": error_response("no valid token"),
                "403": error_response("the token's role or workspace does not allow this"),
                "404": error_response("not found"),
                "422": error_response("the body is JSON of the wrong shape (the message names the field), or a Studio file has problems (code problems, with problems: [{file, line, field, message}])"),
                "default": error_response("another error (409 refused by a safety rule, 413 too large, 429 over the rate limit (with Retry-After), 503 store or task runtime unavailable): {code, message}"),
            },
        });
        // Every answer is JSON except the event stream.
        let ty = if e.path.ends_with("/events") {
            "text/event-stream"
        } else {
            "application/json"
        };
        for (status, what) in e.ok {
            op["responses"][status.to_string()] =
                json!({"description": what, "content": {ty: {"schema": {}}}});
        }
        if let Some(body) = e.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": body()}}});
        }
        paths
            .entry(e.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object")
            .insert(e.method.as_str().into(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "sitrep", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The sitrep API: issues, runs, the Map, investigations and approvals of the token's workspace."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "problems": {"type": "array", "items": {"type": "object", "required": ["file", "field", "message"], "properties": {
                    "file": {"type": "string"}, "line": {"type": "integer"}, "field": {"type": "string"}, "message": {"type": "string"}}}}}}},
        },
    })
}
