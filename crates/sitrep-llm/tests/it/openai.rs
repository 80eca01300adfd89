//! The OpenAI Chat Completions API: what is sent, and what is made of the answers.

use crate::harness::{CANARY, Reply, Stub, assert_error_hides_key, drain};
use serde_json::{Value, json};
use sitrep_llm::{
    ChatRequest, Error, FinishReason, Message, Pricing, ProviderKind, ToolCall, ToolDefinition,
    Usage, connect,
};
use std::time::Duration;

fn completion(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "stub-model-0613",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    })
}

fn tools() -> Vec<ToolDefinition> {
    vec![ToolDefinition {
        name: "run_task".into(),
        description: "run a diagnostic task".into(),
        parameters: json!({"type": "object", "properties": {"task": {"type": "string"}}}),
    }]
}

/// An assistant message calling two tools at once.
fn two_calls() -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "run_task", "arguments": "{\"task\":\"disk-usage\"}"}},
        {"id": "call_b", "type": "function", "function": {"name": "list_issues", "arguments": ""}},
    ]})
}

fn expected_calls() -> Vec<ToolCall> {
    vec![
        ToolCall {
            id: "call_a".into(),
            name: "run_task".into(),
            arguments: json!({"task": "disk-usage"}),
        },
        ToolCall {
            id: "call_b".into(),
            name: "list_issues".into(),
            arguments: json!({}),
        },
    ]
}

#[tokio::test]
async fn a_plain_answer() {
    let answer = json!({"role": "assistant", "content": "The disk is full."});
    let stub = Stub::start(vec![Reply::json(completion(answer, "stop"))]).await;
    let mut config = stub.config(ProviderKind::OpenAi, "/v1/");
    // A key read from a file ends with a newline, which is not sent.
    config.api_key = Some(sitrep_llm::ApiKey::new(format!("{CANARY}\n")));
    config.temperature = Some(0.25);
    config.max_tokens = Some(200);
    config.pricing = Some(Pricing {
        input_per_million: 1.0,
        output_per_million: 2.0,
    });
    let provider = connect(config).unwrap();
    let request = ChatRequest {
        messages: vec![Message::system("You are an SRE."), Message::user("Why?")],
        tools: vec![],
    };
    let r = provider.complete(&request).await.unwrap();
    assert_eq!(r.content, "The disk is full.");
    assert_eq!(r.model, "stub-model-0613");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert!(r.tool_calls.is_empty());
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 12,
            output_tokens: 5
        }
    );
    assert_eq!(r.cost, Some((12.0 + 5.0 * 2.0) / 1e6));
    assert_eq!(r.attempts, 1);
    assert!(r.latency > Duration::ZERO);

    let sent = stub.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].headers["authorization"], format!("Bearer {CANARY}"));
    assert_eq!(
        sent[0].body,
        json!({
            "model": "stub-model",
            "messages": [
                {"role": "system", "content": "You are an SRE."},
                {"role": "user", "content": "Why?"},
            ],
            "temperature": 0.25,
            "max_tokens": 200,
        })
    );
}

#[tokio::test]
async fn a_tool_call_round_trip() {
    let stub = Stub::start(vec![
        Reply::json(completion(two_calls(), "tool_calls")),
        Reply::json(completion(
            json!({"role": "assistant", "content": "/var is full."}),
            "stop",
        )),
    ])
    .await;
    let provider = connect(stub.config(ProviderKind::OpenAi, "/v1")).unwrap();
    let mut request = ChatRequest {
        messages: vec![Message::user("Why is the disk alert firing?")],
        tools: tools(),
    };
    let first = provider.complete(&request).await.unwrap();
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    assert_eq!(first.tool_calls, expected_calls());
    assert_eq!(first.content, "");

    request.messages.push(first.message());
    request
        .messages
        .push(Message::tool_result("call_a", "/var 100% used"));
    request.messages.push(Message::Tool {
        tool_call_id: "call_b".into(),
        content: "error: the store is down".into(),
        is_error: true,
    });
    let second = provider.complete(&request).await.unwrap();
    assert_eq!(second.content, "/var is full.");

    let sent = stub.received();
    assert_eq!(
        sent[0].body["tools"],
        json!([{"type": "function", "function": {
            "name": "run_task",
            "description": "run a diagnostic task",
            "parameters": {"type": "object", "properties": {"task": {"type": "string"}}},
        }}])
    );
    assert_eq!(
        sent[1].body["messages"],
        json!([
            {"role": "user", "content": "Why is the disk alert firing?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "run_task", "arguments": "{\"task\":\"disk-usage\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "list_issues", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "/var 100% used"},
            {"role": "tool", "tool_call_id": "call_b", "content": "error: the store is down"},
        ])
    );
}

/// `data:` lines of chunks, then `data: [DONE]`.
fn event_stream(chunks: &[Value]) -> String {
    let mut out: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    out.push_str("data: [DONE]\n\n");
    out
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
           "model": "stub-model-0613",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn streamed_answer() -> String {
    let call = |index: u64, id: Option<&str>, name: Option<&str>, arguments: &str| {
        let mut c = json!({"index": index, "function": {"arguments": arguments}});
        if let (Some(id), Some(name)) = (id, name) {
            c["id"] = json!(id);
            c["type"] = json!("function");
            c["function"]["name"] = json!(name);
        }
        chunk(json!({"tool_calls": [c]}), None)
    };
    event_stream(&[
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "Checking the disk "}), None),
        chunk(json!({"content": "— ünïcødé ✓"}), None),
        call(0, Some("call_a"), Some("run_task"), ""),
        call(0, None, None, "{\"task\":"),
        call(0, None, None, "\"disk-usage\"}"),
        call(1, Some("call_b"), Some("list_issues"), ""),
        chunk(json!({}), Some("tool_calls")),
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
               "model": "stub-model-0613", "choices": [],
               "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}),
    ])
}

#[tokio::test]
async fn streaming_assembles_the_same_answer() {
    let mut whole = two_calls();
    whole["content"] = json!("Checking the disk — ünïcødé ✓");
    let stub = Stub::start(vec![
        Reply::stream(&streamed_answer(), 7),
        Reply::stream(&streamed_answer(), 100),
        Reply::json(completion(whole, "tool_calls")),
    ])
    .await;
    let provider = connect(stub.config(ProviderKind::OpenAi, "/v1")).unwrap();
    let request = ChatRequest {
        messages: vec![Message::user("Why?")],
        tools: tools(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let streamed = provider.stream(&request, Some(&tx)).await.unwrap();
    let pieces = drain(rx);
    assert_eq!(pieces, ["Checking the disk ", "— ünïcødé ✓"]);
    assert_eq!(streamed.content, pieces.concat());
    assert_eq!(streamed.tool_calls, expected_calls());
    assert_eq!(streamed.finish_reason, FinishReason::ToolCalls);
    assert_eq!(streamed.usage.total(), 17);

    let coarse = provider.stream(&request, None).await.unwrap();
    let mut whole = provider.complete(&request).await.unwrap();
    whole.latency = streamed.latency;
    assert_eq!(streamed, whole);
    assert_eq!(coarse.content, whole.content);
    assert_eq!(coarse.tool_calls, whole.tool_calls);

    let sent = stub.received();
    assert_eq!(sent[0].body["stream"], json!(true));
    assert_eq!(
        sent[0].body["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(sent[2].body.get("stream"), None);
}

#[tokio::test]
async fn a_server_that_ignores_stream_true_is_read_as_json() {
    let answer = json!({"role": "assistant", "content": "plain"});
    let stub = Stub::start(vec![Reply::json(completion(answer, "stop"))]).await;
    let provider = connect(stub.config(ProviderKind::OpenAi, "/v1")).unwrap();
    let request = ChatRequest {
        messages: vec![Message::user("hi")],
        tools: vec![],
    };
    let r = provider.stream(&request, None).await.unwrap();
    assert_eq!(r.content, "plain");
}

#[tokio::test]
async fn a_stream_cut_short_stalled_or_reporting_an_error_fails_clearly() {
    let text = chunk(json!({"content": "Checking"}), None);
    let cut_short = format!("data: {text}\n\n");
    let error = "data: {\"error\": {\"message\": \"the model crashed\", \"code\": 500}}\n\n";
    let stub = Stub::start(vec![
        Reply::stream(&cut_short, 64),
        Reply::stream(error, 64),
        Reply::stream(&cut_short, 64).stalling(Duration::from_secs(3)),
    ])
    .await;
    let mut config = stub.config(ProviderKind::OpenAi, "/v1");
    config.timeout = Duration::from_millis(300);
    let provider = connect(config).unwrap();
    let request = ChatRequest {
        messages: vec![Message::user("Why?")],
        tools: vec![],
    };
    let e = provider.stream(&request, None).await.unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert!(e.to_string().contains("before data: [DONE]"), "{e}");
    let e = provider.stream(&request, None).await.unwrap_err();
    assert!(matches!(e, Error::Reported { .. }), "{e:?}");
    assert!(e.to_string().contains("the model crashed"), "{e}");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let e = provider.stream(&request, Some(&tx)).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert_eq!(
        drain(rx),
        ["Checking"],
        "what arrived before the stall was passed on"
    );
    assert_error_hides_key(&e);
    assert_eq!(
        stub.received().len(),
        3,
        "a stream that started is not retried"
    );
}
