//! MCP's streamable HTTP transport at `/mcp`, behind the API's bearer tokens.
//!
//! A POST carries one JSON-RPC message (or a batch) and is answered with `application/json`
//! (the spec lets a server answer JSON instead of an event stream); one holding only
//! notifications or responses gets 202 with no body, and one that is not JSON-RPC gets 400. sitrep sends nothing on its own, so GET
//! (a server-initiated stream) is 405. `initialize` issues an `Mcp-Session-Id`, which later
//! requests may send: an unknown (or ended, or another token's) one is 404, DELETE ends it.
//! Browsers' requests from non-loopback origins are refused (403), against DNS rebinding.

use super::{McpServer, PARSE_ERROR, PROTOCOL_VERSIONS, error, has_request};
use crate::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sitrep_engine::Sitrep;
use sitrep_engine::access::Principal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// Sessions kept at once; past it, the least recently used is forgotten (its client gets
/// 404 and initializes again, as the spec has it).
pub const MAX_SESSIONS: usize = 1024;

/// The MCP endpoint's state: the server and its sessions (session id → token id, last use).
pub struct Mcp {
    pub server: McpServer,
    sessions: Mutex<HashMap<String, (String, Instant)>>,
}

impl Mcp {
    pub fn new(workspaces: sitrep_engine::Workspaces) -> Mcp {
        Mcp {
            server: McpServer::new(workspaces),
            sessions: Mutex::default(),
        }
    }

    fn open_session(&self, token_id: &str) -> String {
        let id = Sitrep::new_session_id();
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() >= MAX_SESSIONS
            && let Some(oldest) = s.iter().min_by_key(|(_, v)| v.1).map(|(k, _)| k.clone())
        {
            s.remove(&oldest);
        }
        s.insert(id.clone(), (token_id.to_string(), Instant::now()));
        id
    }

    /// Whether `id` is a live session of `token_id` (and marks it used).
    fn touch(&self, id: &str, token_id: &str) -> bool {
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match s.get_mut(id) {
            Some((t, used)) if t == token_id => {
                *used = Instant::now();
                true
            }
            _ => false,
        }
    }

    fn end_session(&self, id: &str) {
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        s.remove(id);
    }
}

fn rpc_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(error(Value::Null, code, message))).into_response()
}

/// A browser's Origin, when there is one, must be a loopback address: a page elsewhere must
/// not reach a local sitrep through DNS rebinding.
fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The checks every method of `/mcp` shares: origin, protocol version, session. A refusal is
/// its status and message.
fn check(
    mcp: &Mcp,
    headers: &HeaderMap,
    who: &Principal,
) -> Result<Option<String>, (StatusCode, String)> {
    if !origin_allowed(headers) {
        return Err((
            StatusCode::FORBIDDEN,
            "requests from this Origin are refused: /mcp answers loopback origins only".into(),
        ));
    }
    if let Some(v) = headers.get(VERSION_HEADER)
        && !v.to_str().is_ok_and(|v| PROTOCOL_VERSIONS.contains(&v))
    {
        return Err((
            StatusCode::BAD_REQUEST,
            format!(
                "unsupported MCP-Protocol-Version: sitrep speaks {}",
                PROTOCOL_VERSIONS.join(", ")
            ),
        ));
    }
    match headers.get(SESSION_HEADER).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(id)) if mcp.touch(id, &who.token_id) => Ok(Some(id.to_string())),
        Some(_) => Err((
            StatusCode::NOT_FOUND,
            "no such MCP session (it ended or was forgotten): initialize again".into(),
        )),
    }
}

pub async fn post(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = match check(&s.mcp, &headers, &who) {
        Ok(session) => session,
        Err((status, message)) => return rpc_error(status, super::INVALID_REQUEST, &message),
    };
    let msg: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                PARSE_ERROR,
                &format!("the body is not JSON: {e}"),
            );
        }
    };
    let is_initialize = msg.get("method").and_then(Value::as_str) == Some("initialize");
    let is_request = has_request(&msg);
    let Some(answer) = s.mcp.server.handle(&who, msg).await else {
        return StatusCode::ACCEPTED.into_response();
    };
    // Notifications that could not be taken, or a message that is no request at all.
    if !is_request || answer.get("id") == Some(&Value::Null) {
        return (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response();
    }
    let mut res = axum::Json(&answer).into_response();
    if is_initialize && session.is_none() && answer.get("result").is_some() {
        let id = s.mcp.open_session(&who.token_id);
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(SESSION_HEADER, v);
        }
    }
    res
}

/// sitrep starts no stream of its own.
pub async fn get() -> Response {
    let mut res = rpc_error(
        StatusCode::METHOD_NOT_ALLOWED,
        super::INVALID_REQUEST,
        "sitrep sends no server-initiated messages: POST JSON-RPC to /mcp",
    );
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    res
}

/// Ends the session named by `Mcp-Session-Id`.
pub async fn delete(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    let id = match check(&s.mcp, &headers, &who) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                super::INVALID_REQUEST,
                "DELETE /mcp ends the session named by the Mcp-Session-Id header",
            );
        }
        Err((status, message)) => return rpc_error(status, super::INVALID_REQUEST, &message),
    };
    s.mcp.end_session(&id);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(o: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        h
    }

    #[test]
    fn only_loopback_origins_pass() {
        assert!(origin_allowed(&HeaderMap::new()));
        for ok in [
            "http://localhost:6274",
            "http://127.0.0.1",
            "https://[::1]:8080",
        ] {
            assert!(origin_allowed(&with_origin(ok)), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://127.0.0.1.evil.example",
            "null",
            "http://10.0.0.1:7700",
        ] {
            assert!(!origin_allowed(&with_origin(bad)), "{bad}");
        }
    }
}
