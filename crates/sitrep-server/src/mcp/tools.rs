//! The MCP tools: each maps its arguments onto the engine call the API makes for the same
//! thing and returns the engine's view. Each declares the least role that may call it,
//! checked against the caller. There is no tool that approves or denies a remediation.

use super::{INVALID_PARAMS, McpServer};
use crate::api::{Started, start_follow_up, start_investigation};
use crate::error::ApiError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sitrep_core::access::Role;
use sitrep_engine::access::Principal;
use sitrep_engine::investigate::{Ask, FollowUpRequest, InvestigateRequest};
use sitrep_engine::views::{Page, PageQuery};
use sitrep_engine::{IssueQuery, MapQuery, RunTaskRequest, Sitrep};
use std::collections::BTreeMap;

pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The least role that may call it.
    pub role: Role,
    /// It changes nothing (it reads sitrep's records only).
    pub read_only: bool,
    /// It reaches the systems sitrep watches (runs tasks against them).
    pub open_world: bool,
    pub schema: fn() -> Value,
}

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "list_issues",
        title: "List issues",
        description: "Issues sitrep's checks raised, most current and most severe first: open ones \
            (status open, the default) or all, optionally of one resource.",
        role: Role::Viewer,
        read_only: true,
        open_world: false,
        schema: || {
            object(
                json!({
                    "status": {"type": "string", "enum": ["open", "all"], "description": "open (default) or all (resolved and suppressed too)"},
                    "resource": {"type": "string", "description": "only this resource's issues"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": Page::<()>::MAX_LIMIT, "description": "at most this many (default 50)"},
                }),
                &[],
            )
        },
    },
    Tool {
        name: "start_investigation",
        title: "Start an investigation",
        description: "Investigates a question in plain words, or an open issue by id: hypotheses, \
            diagnostic tasks that test them, evidence, a root cause with a confidence and a proposed \
            remediation (which only a person can approve, in sitrep). Returns the session id at once, \
            or the finished session when wait is true (it takes up to the investigation time budget).",
        role: Role::Operator,
        read_only: false,
        open_world: true,
        schema: || {
            object(
                json!({
                    "question": {"type": "string", "description": "what to investigate, e.g. \"checkout is slow\""},
                    "issue": {"type": "string", "description": "an open issue's id (or unique prefix), instead of a question"},
                    "assistant": {"type": "string", "description": "the assistant (default: the workspace's default)"},
                    "wait": {"type": "boolean", "description": "answer with the finished session (default false: the id at once)"},
                }),
                &[],
            )
        },
    },
    Tool {
        name: "ask_follow_up",
        title: "Ask a follow-up question",
        description: "Continues a finished investigation (by id or unique prefix) with a follow-up \
            question, e.g. \"and the database?\": the same session forms hypotheses on what the \
            question names, tests them, follows the dependency map again and concludes again. \
            Returns the id at once, or the session concluded again when wait is true.",
        role: Role::Operator,
        read_only: false,
        open_world: true,
        schema: || {
            object(
                json!({
                    "id": {"type": "string", "description": "the session id or a unique prefix"},
                    "question": {"type": "string", "description": "the follow-up question"},
                    "wait": {"type": "boolean", "description": "answer with the session concluded again (default false: the id at once)"},
                }),
                &["id", "question"],
            )
        },
    },
    Tool {
        name: "get_session",
        title: "Get an investigation session",
        description: "One investigation by id (or unique id prefix): its status, trigger, hypotheses, \
            evidence, conclusion (root cause, confidence, evidence chain) and remediation proposals.",
        role: Role::Viewer,
        read_only: true,
        open_world: false,
        schema: || {
            object(
                json!({"id": {"type": "string", "description": "the session id or a unique prefix"}}),
                &["id"],
            )
        },
    },
    Tool {
        name: "search_knowledge",
        title: "Search knowledge",
        description: "The workspace's knowledge notes (runbooks, post-mortems, architecture, ownership) \
            that best match a query, best first, each with its best-matching section.",
        role: Role::Viewer,
        read_only: true,
        open_world: false,
        schema: || {
            object(
                json!({
                    "query": {"type": "string", "description": "what you are looking for"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50, "description": "at most this many notes (default 5)"},
                }),
                &["query"],
            )
        },
    },
    Tool {
        name: "run_diagnostic_task",
        title: "Run a diagnostic task",
        description: "Runs one health or diagnostic task now (collection/bundle/task or bundle/task) \
            against a resource and records it: status, issues raised, insights, metrics. Remediation \
            tasks are refused: they run only from a proposal a person approved in sitrep.",
        role: Role::Operator,
        read_only: false,
        open_world: true,
        schema: || {
            object(
                json!({
                    "task": {"type": "string", "description": "e.g. core/http/check"},
                    "resource": {"type": "string", "description": "the resource it looks at (default: from the task's URL, DSN or host)"},
                    "config": {"type": "object", "additionalProperties": {"type": "string"}, "description": "task parameters, NAME: value"},
                }),
                &["task"],
            )
        },
    },
    Tool {
        name: "map_around",
        title: "The Map around a resource",
        description: "A resource and its neighbours on sitrep's Map (what it depends on, runs on, is \
            part of, and what depends on it), by name; a loose name works (\"the orders db\").",
        role: Role::Viewer,
        read_only: true,
        open_world: false,
        schema: || {
            object(
                json!({"resource": {"type": "string", "description": "a resource's name"}}),
                &["resource"],
            )
        },
    },
];

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

/// The `tools/list` entries.
pub fn list() -> Vec<Value> {
    TOOLS
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "title": t.title,
                "description": format!("{} Needs the {} role.", t.description, t.role),
                "inputSchema": (t.schema)(),
                "annotations": {
                    "title": t.title,
                    "readOnlyHint": t.read_only,
                    "destructiveHint": false,
                    "idempotentHint": t.read_only,
                    "openWorldHint": t.open_world,
                },
            })
        })
        .collect()
}

/// `tools/call`: the tool's result, or a result with `isError` when the tool failed (an
/// unknown tool is a protocol error).
pub async fn call(
    mcp: &McpServer,
    who: &Principal,
    name: &str,
    args: Value,
) -> Result<Value, (i64, String)> {
    let Some(tool) = TOOLS.iter().find(|t| t.name == name) else {
        let names: Vec<_> = TOOLS.iter().map(|t| t.name).collect();
        return Err((
            INVALID_PARAMS,
            format!("no tool {name:?}: the tools are {}", names.join(", ")),
        ));
    };
    let outcome = match who.require(tool.role) {
        Err(e) => Err(ApiError::from(e)),
        Ok(()) => run(mcp, who, tool.name, args).await,
    };
    tracing::info!(tool = tool.name, token = %who.token_id, ok = outcome.is_ok(), "mcp tool call");
    Ok(match outcome {
        Ok(structured) => json!({
            "content": [{"type": "text", "text": structured.to_string()}],
            "structuredContent": structured,
            "isError": false,
        }),
        Err(e) => {
            let body = json!({"code": e.body.code, "message": e.body.message});
            json!({
                "content": [{"type": "text", "text": format!("{}: {}", e.body.code, e.body.message)}],
                "structuredContent": body,
                "isError": true,
            })
        }
    })
}

fn args<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::invalid(format!("arguments: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListIssues {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartInvestigation {
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    issue: Option<String>,
    #[serde(default)]
    assistant: Option<String>,
    #[serde(default)]
    wait: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AskFollowUp {
    id: String,
    question: String,
    #[serde(default)]
    wait: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetSession {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchKnowledge {
    query: String,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunDiagnosticTask {
    task: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapAround {
    resource: String,
}

fn view(v: impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e.to_string(),
        )
    })
}

/// A finished session, or the id of a running one (whose task the server keeps).
fn answer(mcp: &McpServer, started: Started) -> Result<Value, ApiError> {
    match started {
        Started::Finished(session) => view(*session),
        Started::Running { id, task } => {
            mcp.track(task);
            Ok(json!({
                "id": id,
                "status": "running",
                "next": "call get_session with this id to follow it",
            }))
        }
    }
}

async fn run(mcp: &McpServer, who: &Principal, name: &str, a: Value) -> Result<Value, ApiError> {
    let s: &Sitrep = mcp.sitrep(who);
    match name {
        "list_issues" => {
            let a: ListIssues = args(a)?;
            let all = match a.status.as_deref() {
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
                    resource: a.resource,
                    limit: None,
                })
                .await?;
            let page = PageQuery {
                limit: Some(a.limit.unwrap_or(50)),
                offset: None,
            };
            view(Page::of(list, page))
        }
        "start_investigation" => {
            let a: StartInvestigation = args(a)?;
            let ask = match (a.question, a.issue) {
                (Some(q), None) => Ask::Question(q),
                (None, Some(i)) => Ask::Issue(i),
                _ => return Err(ApiError::invalid("give exactly one of question or issue")),
            };
            let req = InvestigateRequest {
                ask,
                assistant: a.assistant,
                time_budget: None,
                task_budget: None,
                session_id: Some(Sitrep::new_session_id()),
            };
            answer(mcp, start_investigation(s, req, a.wait).await?)
        }
        "ask_follow_up" => {
            let a: AskFollowUp = args(a)?;
            let req = FollowUpRequest {
                session: a.id,
                text: a.question,
                by: crate::api::actor(who).as_str().to_string(),
                time_budget: None,
                task_budget: None,
            };
            answer(mcp, start_follow_up(s, req, a.wait).await?)
        }
        "get_session" => view(s.session(&args::<GetSession>(a)?.id).await?),
        "search_knowledge" => {
            let a: SearchKnowledge = args(a)?;
            let hits = s
                .knowledge_search(&a.query, a.limit.unwrap_or(5).clamp(1, 50))
                .await?;
            Ok(json!({ "hits": view(hits)? }))
        }
        "run_diagnostic_task" => {
            let a: RunDiagnosticTask = args(a)?;
            let run = s
                .run_task(RunTaskRequest {
                    task: a.task,
                    resource: a.resource,
                    slx: None,
                    config: a.config,
                    secrets: BTreeMap::new(),
                    approve_as: None,
                })
                .await;
            match run {
                Err(e) if e.needs_approval() => Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "needs_approval",
                    format!(
                        "{e}; it cannot run over MCP: start an investigation, whose proposal a person approves in sitrep"
                    ),
                )),
                r => view(r?),
            }
        }
        "map_around" => {
            let a: MapAround = args(a)?;
            view(
                s.map(&MapQuery {
                    around: Some(a.resource),
                    include_stale: false,
                })
                .await?,
            )
        }
        other => unreachable!("tool {other} is in TOOLS but has no call"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tool_decides_an_approval_and_each_schema_is_an_object() {
        for t in TOOLS {
            for word in ["approv", "deny", "grant", "remediat"] {
                assert!(!t.name.contains(word), "{}", t.name);
            }
            assert!(t.role <= Role::Operator, "{}", t.name);
            assert_eq!((t.schema)()["type"], "object", "{}", t.name);
        }
        assert_eq!(list().len(), TOOLS.len());
    }
}
