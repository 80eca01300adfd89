//! The MCP server (Model Context Protocol, revision 2025-06-18; 2025-03-26 accepted): the
//! investigation-level tools of [`tools`] for AI clients, over stdio (`sitrep mcp`, [`stdio`])
//! and streamable HTTP at `/mcp` ([`http`]).
//!
//! Hand-written rather than the `rmcp` crate: the surface sitrep needs is small (JSON-RPC 2.0,
//! `initialize`, `ping`, `tools/list`, `tools/call`), it is transport-agnostic here
//! ([`McpServer::handle`] takes one message and returns its answer), and rmcp with its macros
//! and transports would add minutes of compilation on a two-core machine for code this file
//! holds in a few hundred lines.
//!
//! Nothing here grants an approval: there is no such tool, and `run_diagnostic_task` runs
//! without one, so the runner refuses remediations.

pub mod http;
pub mod stdio;
pub mod tools;

use serde_json::{Value, json};
use sitrep_core::investigation::Session;
use sitrep_engine::access::Principal;
use sitrep_engine::{Sitrep, Workspaces};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// The revision answered when the client asks for one sitrep does not speak.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-06-18";
/// Every revision sitrep speaks (their differences do not touch the tools it offers).
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-06-18", "2025-03-26"];

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;

/// One MCP server over the served workspaces (each caller works in its token's); clones
/// share it.
#[derive(Clone)]
pub struct McpServer {
    workspaces: Workspaces,
    /// Investigations started without `wait`, still running.
    running: Arc<Mutex<Vec<JoinHandle<sitrep_engine::Result<Session>>>>>,
}

/// A JSON-RPC error answer to the request `id` (null when it could not be read).
pub fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

fn answer(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// Whether `msg` (one message or a batch) holds a request, which must be answered.
pub fn has_request(msg: &Value) -> bool {
    match msg {
        Value::Array(items) => items.iter().any(has_request),
        Value::Object(o) => o.contains_key("method") && o.contains_key("id"),
        _ => true,
    }
}

impl McpServer {
    pub fn new(workspaces: Workspaces) -> McpServer {
        McpServer {
            workspaces,
            running: Arc::default(),
        }
    }

    /// Answers one message or a batch (an array of messages, as 2025-03-26 allows) from
    /// `who`: a request gets its response, a notification or a response gets nothing.
    pub async fn handle(&self, who: &Principal, msg: Value) -> Option<Value> {
        match msg {
            Value::Array(items) if items.is_empty() => {
                Some(error(Value::Null, INVALID_REQUEST, "an empty batch"))
            }
            Value::Array(items) => {
                let mut out = vec![];
                for m in items {
                    out.extend(self.handle_one(who, m).await);
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
            m => self.handle_one(who, m).await,
        }
    }

    async fn handle_one(&self, who: &Principal, msg: Value) -> Option<Value> {
        let Value::Object(mut m) = msg else {
            return Some(error(
                Value::Null,
                INVALID_REQUEST,
                "a message is a JSON-RPC 2.0 object",
            ));
        };
        let id = m.remove("id");
        let bad_id = matches!(&id, Some(v) if !(v.is_string() || v.is_i64() || v.is_u64()));
        let reply_id = id.clone().filter(|_| !bad_id).unwrap_or(Value::Null);
        if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Some(error(reply_id, INVALID_REQUEST, "jsonrpc must be \"2.0\""));
        }
        let method = match m.remove("method") {
            Some(Value::String(s)) => s,
            Some(_) => return Some(error(reply_id, INVALID_REQUEST, "method must be a string")),
            // A response to a request of ours: sitrep sends none, so there is nothing to match.
            None if m.contains_key("result") || m.contains_key("error") => return None,
            None => return Some(error(reply_id, INVALID_REQUEST, "a message needs a method")),
        };
        if bad_id {
            return Some(error(
                Value::Null,
                INVALID_REQUEST,
                "id must be a string or an integer",
            ));
        }
        let params = match m.remove("params") {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(p @ Value::Object(_)) => p,
            Some(_) => {
                return id.map(|id| error(id, INVALID_PARAMS, "params must be an object"));
            }
        };
        // A notification (no id) is never answered, whatever it is.
        let id = id?;
        tracing::debug!(method = %method, "mcp request");
        Some(match self.request(who, &method, params).await {
            Ok(result) => answer(id, result),
            Err((code, message)) => error(id, code, message),
        })
    }

    async fn request(
        &self,
        who: &Principal,
        method: &str,
        params: Value,
    ) -> Result<Value, (i64, String)> {
        match method {
            "initialize" => initialize(&params),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({ "tools": tools::list() })),
            "tools/call" => {
                let name = params.get("name").and_then(Value::as_str).ok_or((
                    INVALID_PARAMS,
                    "tools/call needs the tool's name".to_string(),
                ))?;
                let args = params.get("arguments").cloned().unwrap_or(json!({}));
                tools::call(self, who, name, args).await
            }
            other => Err((
                METHOD_NOT_FOUND,
                format!(
                    "no method {other:?}: sitrep serves initialize, ping, tools/list and tools/call"
                ),
            )),
        }
    }

    /// The caller's workspace (the edge checked that it is served).
    pub(crate) fn sitrep(&self, who: &Principal) -> &Sitrep {
        self.workspaces
            .get(&who.workspace)
            .unwrap_or(self.workspaces.primary())
    }

    /// Keeps an investigation started without `wait` so [`McpServer::finish`] can wait for it.
    pub(crate) fn track(&self, task: JoinHandle<sitrep_engine::Result<Session>>) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|t| !t.is_finished());
        running.push(task);
    }

    /// Waits for the investigations started without `wait` (a client that goes away leaves
    /// none half-recorded).
    pub async fn finish(&self) {
        let tasks: Vec<_> =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            if let Ok(Err(e)) = t.await {
                tracing::warn!(error = %e, "an investigation started over mcp failed");
            }
        }
    }
}

/// The version this server answers with: the client's when sitrep speaks it, else the latest.
pub fn negotiate(asked: &str) -> &'static str {
    PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == asked)
        .copied()
        .unwrap_or(LATEST_PROTOCOL_VERSION)
}

fn initialize(params: &Value) -> Result<Value, (i64, String)> {
    let asked = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or((
            INVALID_PARAMS,
            "initialize needs protocolVersion".to_string(),
        ))?;
    Ok(json!({
        "protocolVersion": negotiate(asked),
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": "sitrep", "title": "sitrep", "version": env!("CARGO_PKG_VERSION") },
        "instructions": "sitrep watches infrastructure with diagnostic tasks and investigates. \
            List open issues, start an investigation (a question or an issue id), read its \
            session (hypotheses, evidence, conclusion, proposed remediation), search the \
            workspace's knowledge, run a diagnostic task, or look at the Map around a resource. \
            Remediations are only proposed here: a person approves them in sitrep, never over MCP.",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_version_is_echoed_and_an_unknown_one_gets_the_latest() {
        assert_eq!(negotiate("2025-03-26"), "2025-03-26");
        assert_eq!(negotiate("2025-06-18"), "2025-06-18");
        assert_eq!(negotiate("2099-01-01"), LATEST_PROTOCOL_VERSION);
    }

    #[test]
    fn only_requests_need_an_answer() {
        assert!(has_request(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        ));
        assert!(!has_request(
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        ));
        assert!(!has_request(&json!([
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 1, "result": {}}
        ])));
        assert!(has_request(&json!("junk")));
    }
}
