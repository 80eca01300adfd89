//! Slack's Web API: `chat.postMessage` with a bot token
//! (<https://api.slack.com/methods/chat.postMessage>). A session's first message starts a
//! thread; its later messages carry that message's `ts` as `thread_ts`. Slack answers HTTP 200
//! with `{"ok": true, "ts": ...}` or `{"ok": false, "error": "channel_not_found"}`; an `ok:
//! false` is a failed delivery with Slack's error text.

use crate::deliver::Failure;
use serde::Deserialize;
use serde_json::Value;

/// Slack's own base URL, when a target names none.
pub(crate) const API_URL: &str = "https://slack.com/api";

/// Errors worth another attempt (Slack's side or a rate limit); any other `ok: false` is a
/// refusal retrying cannot fix (a bad token, an unknown channel, a bot not in it).
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// The part of `chat.postMessage`'s answer sitrep reads.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Posts `message` (a `text` fallback and `blocks`) to `channel`, in the thread of
/// `thread_ts` when given; answers the posted message's `ts`.
pub(crate) async fn post_message(
    client: &reqwest::Client,
    api_url: &str,
    token: &str,
    channel: &str,
    thread_ts: Option<&str>,
    mut message: Value,
) -> Result<String, Failure> {
    message["channel"] = Value::String(channel.to_string());
    if let Some(ts) = thread_ts {
        message["thread_ts"] = Value::String(ts.to_string());
    }
    let url = format!("{}/chat.postMessage", api_url.trim_end_matches('/'));
    let res = client
        .post(&url)
        .bearer_auth(token)
        .header("content-type", "application/json; charset=utf-8")
        .json(&message)
        .send()
        .await
        .map_err(|e| {
            Failure::Retry(format!("cannot reach Slack's Web API: {}", e.without_url()))
        })?;
    let status = res.status();
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(Failure::Retry(format!("Slack answered {status}")));
    }
    if !status.is_success() {
        return Err(Failure::GiveUp(format!("Slack answered {status}")));
    }
    let answer: Answer = res
        .json()
        .await
        .map_err(|e| Failure::Retry(format!("Slack's answer is not chat.postMessage's: {e}")))?;
    match answer {
        Answer {
            ok: true,
            ts: Some(ts),
            ..
        } => Ok(ts),
        Answer { ok: true, .. } => Err(Failure::Retry(
            "Slack answered ok without the message's ts".into(),
        )),
        Answer { error, .. } => {
            let error: String = error
                .unwrap_or_else(|| "no error given".into())
                .chars()
                .take(200)
                .collect();
            let message = format!("Slack refused the message: {error}");
            if TRANSIENT.contains(&error.as_str()) {
                Err(Failure::Retry(message))
            } else {
                Err(Failure::GiveUp(message))
            }
        }
    }
}
