//! The Anthropic Messages API: what is sent, and what is made of the answers.

use crate::harness::{CANARY, Reply, Stub, assert_error_hides_key, drain};
use serde_json::{Value, json};
use sitrep_llm::{
    ChatRequest, Error, FinishReason, Message, ProviderKind, ToolCall, ToolDefinition, Usage,
    connect,
};

fn message(content: Value, stop: &str) -> Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "stub-model-20250101",
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 3},
    })
}

fn tools() -> Vec<ToolDefinition> {
    vec![ToolDefinition {
        name: "run_task".into(),
        description: "run a diagnostic task".into(),
        parameters: json!({"type": "object", "properties": {"task": {"type": "string"}}}),
    }]
}

fn two_calls() -> Value {
    json!([
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_a", "name": "run_task", "input": {"task": "disk-usage"}},
        {"type": "tool_use", "id": "toolu_b", "name": "list_issues", "input": {}},
    ])
}

fn expected_calls() -> Vec<ToolCall> {
    vec![
        ToolCall {
            id: "toolu_a".into(),
            name: "run_task".into(),
            arguments: json!({"task": "disk-usage"}),
        },
        ToolCall {
            id: "toolu_b".into(),
            name: "list_issues".into(),
            arguments: json!({}),
        },
    ]
}

#[tokio::test]
async fn a_plain_answer() {
    let text = json!([{"type": "text", "text": "The disk is full."}]);
    let stub = Stub::start(vec![Reply::json(message(text, "end_turn"))]).await;
    let mut config = stub.config(ProviderKind::Anthropic, "");
    config.api_key = Some(sitrep_llm::ApiKey::new(format!(" {CANARY}\r\n")));
    config.temperature = Some(0.5);
    let provider = connect(config).unwrap();
    let request = ChatRequest {
        messages: vec![
            Message::system("You are an SRE."),
            Message::system("Be brief."),
            Message::user("Why?"),
        ],
        tools: vec![],
    };
    let r = provider.complete(&request).await.unwrap();
    assert_eq!(r.content, "The disk is full.");
    assert_eq!(r.model, "stub-model-20250101");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 23,
            output_tokens: 7
        }
    );
    assert_eq!(r.cost, None);
    assert_eq!(r.attempts, 1);

    let sent = stub.received();
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].headers["x-api-key"], CANARY);
    assert_eq!(sent[0].headers["anthropic-version"], "2023-06-01");
    assert!(sent[0].headers.get("authorization").is_none());
    assert_eq!(
        sent[0].body,
        json!({
            "model": "stub-model",
            "max_tokens": 4096,
            "system": "You are an SRE.\n\nBe brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Why?"}]}],
            "temperature": 0.5,
        })
    );
}

#[tokio::test]
async fn a_tool_call_round_trip() {
    let done = json!([{"type": "text", "text": "/var is full."}]);
    let stub = Stub::start(vec![
        Reply::json(message(two_calls(), "tool_use")),
        Reply::json(message(done, "end_turn")),
    ])
    .await;
    let provider = connect(stub.config(ProviderKind::Anthropic, "")).unwrap();
    let mut request = ChatRequest {
        messages: vec![Message::user("Why is the disk alert firing?")],
        tools: tools(),
    };
    let first = provider.complete(&request).await.unwrap();
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    assert_eq!(first.content, "Let me look.");
    assert_eq!(first.tool_calls, expected_calls());

    request.messages.push(first.message());
    request
        .messages
        .push(Message::tool_result("toolu_a", "/var 100% used"));
    request.messages.push(Message::Tool {
        tool_call_id: "toolu_b".into(),
        content: "the store is down".into(),
        is_error: true,
    });
    let second = provider.complete(&request).await.unwrap();
    assert_eq!(second.content, "/var is full.");

    let sent = stub.received();
    assert_eq!(
        sent[0].body["tools"],
        json!([{
            "name": "run_task",
            "description": "run a diagnostic task",
            "input_schema": {"type": "object", "properties": {"task": {"type": "string"}}},
        }])
    );
    // Both results go back in one user turn.
    assert_eq!(
        sent[1].body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Why is the disk alert firing?"}]},
            {"role": "assistant", "content": two_calls()},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "/var 100% used"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "the store is down", "is_error": true},
            ]},
        ])
    );
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn block_delta(index: u64, delta: Value) -> String {
    event(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

fn streamed_answer(end: bool) -> String {
    let text = |t: &str| json!({"type": "text_delta", "text": t});
    let json_part = |j: &str| json!({"type": "input_json_delta", "partial_json": j});
    let start = |index: u64, block: Value| {
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": block}),
        )
    };
    let stop = |index: u64| {
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        )
    };
    let mut out = [
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "content": [],
                "model": "stub-model-20250101", "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 20, "output_tokens": 1, "cache_read_input_tokens": 3},
            }}),
        ),
        start(0, json!({"type": "text", "text": ""})),
        event("ping", json!({"type": "ping"})),
        block_delta(0, text("Let me ")),
        block_delta(0, text("look.")),
        stop(0),
        start(
            1,
            json!({"type": "tool_use", "id": "toolu_a", "name": "run_task", "input": {}}),
        ),
        block_delta(1, json_part("")),
        block_delta(1, json_part("{\"task\": \"disk")),
        block_delta(1, json_part("-usage\"}")),
        stop(1),
        start(
            2,
            json!({"type": "tool_use", "id": "toolu_b", "name": "list_issues", "input": {}}),
        ),
        stop(2),
        event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"output_tokens": 7}}),
        ),
    ]
    .concat();
    if end {
        out.push_str(&event("message_stop", json!({"type": "message_stop"})));
    }
    out
}

#[tokio::test]
async fn streaming_assembles_the_same_answer() {
    let stub = Stub::start(vec![
        Reply::stream(&streamed_answer(true), 9),
        Reply::json(message(two_calls(), "tool_use")),
    ])
    .await;
    let provider = connect(stub.config(ProviderKind::Anthropic, "")).unwrap();
    let request = ChatRequest {
        messages: vec![Message::user("Why?")],
        tools: tools(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let streamed = provider.stream(&request, Some(&tx)).await.unwrap();
    assert_eq!(drain(rx), ["Let me ", "look."]);
    assert_eq!(streamed.tool_calls, expected_calls());
    assert_eq!(streamed.finish_reason, FinishReason::ToolCalls);
    let mut whole = provider.complete(&request).await.unwrap();
    whole.latency = streamed.latency;
    assert_eq!(streamed, whole);
    assert_eq!(stub.received()[0].body["stream"], json!(true));
}

#[tokio::test]
async fn a_stream_cut_short_or_reporting_an_error_fails_clearly() {
    let overloaded = event(
        "error",
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    let stub = Stub::start(vec![
        Reply::stream(&streamed_answer(false), 64),
        Reply::stream(&overloaded, 64),
    ])
    .await;
    let provider = connect(stub.config(ProviderKind::Anthropic, "")).unwrap();
    let request = ChatRequest {
        messages: vec![Message::user("Why?")],
        tools: vec![],
    };
    let e = provider.stream(&request, None).await.unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert!(e.to_string().contains("before message_stop"), "{e}");
    let e = provider.stream(&request, None).await.unwrap_err();
    assert!(matches!(e, Error::Reported { .. }), "{e:?}");
    assert!(e.to_string().contains("Overloaded"), "{e}");
    assert_error_hides_key(&e);
}
