//! What goes wrong, for both protocols: retries and their waits, the errors that say what to
//! fix, and the API key kept out of every one of them.

use crate::harness::{CANARY, Reply, Stub, assert_error_hides_key, assert_no_key};
use axum::http::StatusCode;
use serde_json::{Value, json};
use sitrep_llm::{ChatRequest, Config, Error, Message, Provider, ProviderKind, connect};
use std::time::Duration;

const BOTH: [ProviderKind; 2] = [ProviderKind::OpenAi, ProviderKind::Anthropic];

/// Where each protocol's API lives under the stub's address.
fn base_path(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "/v1",
        ProviderKind::Anthropic => "",
    }
}

/// A valid answer saying "ok".
fn ok(kind: ProviderKind) -> Value {
    match kind {
        ProviderKind::OpenAi => json!({
            "id": "c", "object": "chat.completion", "model": "stub-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }),
        ProviderKind::Anthropic => json!({
            "id": "m", "type": "message", "role": "assistant", "model": "stub-model",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }),
    }
}

/// An error body in the protocol's shape.
fn error_body(kind: ProviderKind, kind_name: &str, message: &str) -> Value {
    match kind {
        ProviderKind::OpenAi => {
            json!({"error": {"message": message, "type": kind_name, "param": null, "code": kind_name}})
        }
        ProviderKind::Anthropic => {
            json!({"type": "error", "error": {"type": kind_name, "message": message}})
        }
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user("hi")],
        tools: vec![],
    }
}

async fn start(kind: ProviderKind, replies: Vec<Reply>) -> (Stub, Box<dyn Provider>) {
    start_with(kind, replies, |_| {}).await
}

async fn start_with(
    kind: ProviderKind,
    replies: Vec<Reply>,
    adjust: impl FnOnce(&mut Config),
) -> (Stub, Box<dyn Provider>) {
    let stub = Stub::start(replies).await;
    let mut config = stub.config(kind, base_path(kind));
    adjust(&mut config);
    let provider = connect(config).unwrap();
    (stub, provider)
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says_then_succeeds() {
    for kind in BOTH {
        let limited = Reply::status(
            StatusCode::TOO_MANY_REQUESTS,
            error_body(kind, "rate_limit_error", "slow down"),
        )
        .with_header("retry-after", "1");
        let (stub, provider) = start(kind, vec![limited, Reply::json(ok(kind))]).await;
        let r = provider.complete(&request()).await.unwrap();
        assert_eq!(r.content, "ok");
        assert_eq!(r.attempts, 2);
        let sent = stub.received();
        assert_eq!(sent.len(), 2, "{kind:?}");
        // The backoff alone would have waited 10ms.
        let waited = sent[1].at - sent[0].at;
        assert!(
            waited >= Duration::from_secs(1),
            "{kind:?} waited {waited:?}"
        );
        assert!(r.latency >= Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_refused_key_says_so_once_and_never_shows_it() {
    for kind in BOTH {
        // Servers quote the key they refused; the error must not.
        let said = format!("Incorrect API key provided: {CANARY}");
        let (stub, provider) = start(
            kind,
            vec![Reply::status(
                StatusCode::UNAUTHORIZED,
                error_body(kind, "authentication_error", &said),
            )],
        )
        .await;
        let e = provider.complete(&request()).await.unwrap_err();
        assert!(
            matches!(e, Error::Unauthorized { status: 401, .. }),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.contains("the API key was refused"), "{text}");
        assert!(text.contains("check api_key"), "{text}");
        assert!(text.contains("[REDACTED:api_key]"), "{text}");
        assert_error_hides_key(&e);
        assert_eq!(stub.received().len(), 1, "a 401 is not retried");
        assert_no_key(&format!("{:?}", provider.config()));
    }
}

#[tokio::test]
async fn a_500_is_retried_until_retries_run_out() {
    for kind in BOTH {
        let failing = || {
            Reply::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_body(kind, "api_error", "internal error"),
            )
        };
        let (stub, provider) = start(kind, vec![failing(), failing(), failing(), failing()]).await;
        let e = provider.complete(&request()).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::Exhausted {
                    status: 500,
                    attempts: 3,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("internal error"), "{e}");
        assert_error_hides_key(&e);
        let sent = stub.received();
        assert_eq!(sent.len(), 3);
        // Backoff doubles: 10ms, then 20ms.
        assert!(sent[2].at - sent[1].at >= Duration::from_millis(20));
    }
}

#[tokio::test]
async fn other_4xx_fail_at_once_with_what_to_fix() {
    for kind in BOTH {
        let model_missing = Reply::status(
            StatusCode::NOT_FOUND,
            error_body(
                kind,
                "not_found_error",
                "The model `stub-model` does not exist",
            ),
        );
        let no_such_path = Reply::text(StatusCode::NOT_FOUND, "404 page not found");
        let bad_request = Reply::status(
            StatusCode::BAD_REQUEST,
            error_body(kind, "invalid_request_error", "messages: field required"),
        );
        let (stub, provider) = start(kind, vec![model_missing, no_such_path, bad_request]).await;
        let e = provider.complete(&request()).await.unwrap_err();
        assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
        assert!(
            e.to_string().contains("model \"stub-model\" not found"),
            "{e}"
        );
        let e = provider.complete(&request()).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("check base_url"), "{e}");
        let e = provider.complete(&request()).await.unwrap_err();
        assert!(matches!(e, Error::Rejected { status: 400, .. }), "{e:?}");
        assert!(e.to_string().contains("messages: field required"), "{e}");
        assert_eq!(stub.received().len(), 3, "none retried");
    }
}

#[tokio::test]
async fn a_malformed_answer_names_what_is_missing() {
    for kind in BOTH {
        let missing = match kind {
            ProviderKind::OpenAi => json!({"id": "c", "object": "chat.completion", "choices": []}),
            ProviderKind::Anthropic => json!({"id": "m", "type": "message", "role": "assistant"}),
        };
        let mut bad_arguments = ok(kind);
        match kind {
            ProviderKind::OpenAi => {
                bad_arguments["choices"][0]["message"]["tool_calls"] = json!([
                    {"id": "c1", "type": "function", "function": {"name": "run_task", "arguments": "{\"task\": "}}
                ]);
            }
            ProviderKind::Anthropic => {
                bad_arguments["content"] = json!([{"type": "tool_use", "id": "t1", "input": {}}]);
            }
        }
        let not_json = Reply::text(StatusCode::OK, "<html>bad gateway</html>");
        let (_stub, provider) = start(
            kind,
            vec![Reply::json(missing), Reply::json(bad_arguments), not_json],
        )
        .await;
        let expected = match kind {
            ProviderKind::OpenAi => ["no choices[0]", "are not JSON", "not JSON"],
            ProviderKind::Anthropic => ["no content", "has no name", "not JSON"],
        };
        for what in expected {
            let e = provider.complete(&request()).await.unwrap_err();
            assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
            assert!(e.to_string().contains(what), "{kind:?}: {e} lacks {what:?}");
            assert!(e.to_string().starts_with("malformed response from http://"));
            assert_error_hides_key(&e);
        }
    }
}

#[tokio::test]
async fn a_silent_server_times_out_after_its_retries() {
    for kind in BOTH {
        let stall = || Reply::stall(Duration::from_secs(3));
        let (stub, provider) = start_with(kind, vec![stall(), stall()], |c| {
            c.timeout = Duration::from_millis(200);
            c.max_retries = 1;
        })
        .await;
        let e = provider.complete(&request()).await.unwrap_err();
        assert!(matches!(e, Error::Timeout { attempts: 2, .. }), "{e:?}");
        assert!(e.to_string().contains("within 200ms; raise timeout"), "{e}");
        assert_eq!(stub.received().len(), 2);
    }
}

#[tokio::test]
async fn a_wrong_address_says_check_base_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for kind in BOTH {
        let mut config = Config::new(kind, "m");
        config.base_url = Some(format!("http://{addr}"));
        config.api_key = Some(sitrep_llm::ApiKey::new(CANARY));
        config.max_retries = 1;
        config.retry_backoff = Duration::from_millis(1);
        let e = connect(config)
            .unwrap()
            .complete(&request())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Unreachable { attempts: 2, .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("could not reach http://{addr}/")),
            "{text}"
        );
        assert!(text.contains("check base_url"), "{text}");
        assert_error_hides_key(&e);
    }
}

/// Collects what the log subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_logs_never_carry_the_api_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    for kind in BOTH {
        let echo = format!("key {CANARY} is over its quota");
        let limited = Reply::status(
            StatusCode::TOO_MANY_REQUESTS,
            error_body(kind, "rate_limit_error", &echo),
        );
        let refused = Reply::status(
            StatusCode::FORBIDDEN,
            error_body(kind, "permission_error", &echo),
        );
        let (_stub, provider) = start(kind, vec![limited, Reply::json(ok(kind)), refused]).await;
        provider.complete(&request()).await.unwrap();
        let e = provider.complete(&request()).await.unwrap_err();
        assert!(
            matches!(e, Error::Unauthorized { status: 403, .. }),
            "{e:?}"
        );
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("[REDACTED:api_key]"), "{logs}");
    assert_no_key(&logs);
}
