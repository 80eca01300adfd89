//! The Anthropic Messages API (`POST {base_url}/v1/messages`, `anthropic-version: 2023-06-01`).

use crate::config::DEFAULT_MAX_TOKENS;
use crate::http::{Answer, Assembler, PartialCall, Transport};
use crate::sse;
use crate::{
    ChatRequest, ChatResponse, Config, Error, FinishReason, Message, Provider, Result, TextDeltas,
    Usage,
};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const VERSION: &str = "2023-06-01";

pub struct Anthropic {
    http: Transport,
    url: String,
}

impl Anthropic {
    pub fn new(config: Config) -> Result<Anthropic> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(VERSION),
        );
        if let Some(key) = &config.api_key {
            let mut value =
                HeaderValue::from_str(key.expose().trim()).map_err(|_| Error::Config {
                    message: "api_key has characters an HTTP header cannot carry".into(),
                })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("x-api-key"), value);
        }
        let url = format!("{}/v1/messages", config.base_url());
        Ok(Anthropic {
            http: Transport::new(config, headers)?,
            url,
        })
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let config = self.http.config();
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter_map(|m| match m {
                Message::System { content } => Some(content.as_str()),
                _ => None,
            })
            .collect();
        let mut body = json!({
            "model": config.model,
            "max_tokens": config.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": turns(&request.messages),
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "description": t.description,
                        "input_schema": t.parameters,
                    })
                })
                .collect();
        }
        if let Some(t) = config.temperature {
            body["temperature"] = json!(t);
        }
        if stream {
            body["stream"] = json!(true);
        }
        body
    }

    fn parse(&self, v: Value) -> Result<Answer> {
        let url = &self.url;
        if let Some(message) = reported(&v) {
            return Err(Error::Reported {
                url: url.clone(),
                message: self.http.quote(&message),
            });
        }
        let blocks = v
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| self.http.malformed(url, "no content array in the answer"))?;
        let (mut content, mut calls) = (String::new(), vec![]);
        for b in blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("text") => {
                    content.push_str(b.get("text").and_then(Value::as_str).unwrap_or(""))
                }
                Some("tool_use") => {
                    let call = PartialCall {
                        id: text(b.get("id")),
                        name: text(b.get("name")),
                        arguments: b.get("input").map(Value::to_string).unwrap_or_default(),
                    };
                    calls.push(call.build(&self.http, url, calls.len())?);
                }
                _ => {}
            }
        }
        let usage = v
            .get("usage")
            .ok_or_else(|| self.http.malformed(url, "no usage in the answer"))?;
        Ok(Answer {
            model: model(v.get("model"), self.http.config()),
            content,
            tool_calls: calls,
            finish_reason: finish_reason(v.get("stop_reason")),
            usage: Usage {
                input_tokens: input_tokens(usage),
                output_tokens: count(usage, "output_tokens"),
            },
        })
    }
}

#[async_trait]
impl Provider for Anthropic {
    fn config(&self) -> &Config {
        self.http.config()
    }

    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let body = self.body(request, false);
        self.http
            .complete(&self.url, &body, |v| self.parse(v))
            .await
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        deltas: Option<&TextDeltas>,
    ) -> Result<ChatResponse> {
        let body = self.body(request, true);
        let assembler = Events {
            provider: self,
            model: String::new(),
            blocks: BTreeMap::new(),
            stop: None,
            usage: Usage::default(),
        };
        self.http
            .stream(&self.url, &body, assembler, |v| self.parse(v), deltas)
            .await
    }
}

/// The conversation as alternating turns of content blocks: tool results travel in a user
/// turn, and consecutive messages of one role join into one turn. System messages go apart.
fn turns(messages: &[Message]) -> Vec<Value> {
    let mut turns: Vec<(&str, Vec<Value>)> = vec![];
    for m in messages {
        let (role, blocks) = match m {
            Message::System { .. } => continue,
            Message::User { content } => ("user", vec![json!({"type": "text", "text": content})]),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = vec![];
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                blocks.extend(tool_calls.iter().map(|c| {
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
                }));
                ("assistant", blocks)
            }
            Message::Tool {
                tool_call_id,
                content,
                is_error,
            } => {
                let mut block =
                    json!({"type": "tool_result", "tool_use_id": tool_call_id, "content": content});
                if *is_error {
                    block["is_error"] = json!(true);
                }
                ("user", vec![block])
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

/// One content block of a streamed answer.
enum Block {
    Text(String),
    /// A tool call, and the input its `content_block_start` carried (used when no
    /// `input_json_delta` follows).
    Tool {
        call: PartialCall,
        initial: Value,
    },
    /// Thinking and other kinds this crate does not read.
    Other,
}

/// The events of a streamed answer: `message_start`, per block `content_block_start`,
/// `content_block_delta`s and `content_block_stop`, then `message_delta` and `message_stop`.
struct Events<'a> {
    provider: &'a Anthropic,
    model: String,
    /// By the index the events give.
    blocks: BTreeMap<u64, Block>,
    stop: Option<Value>,
    usage: Usage,
}

impl Assembler for Events<'_> {
    fn event(&mut self, event: sse::Event, deltas: Option<&TextDeltas>) -> Result<bool> {
        let (http, url) = (&self.provider.http, &self.provider.url);
        let v: Value = serde_json::from_str(&event.data).map_err(|e| {
            let what = format!(
                "a stream event is not JSON ({e}): {}",
                http.quote(&event.data)
            );
            http.malformed(url, what)
        })?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event.name.as_deref())
            .unwrap_or_default();
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let m = v.get("message").unwrap_or(&Value::Null);
                self.model = model(m.get("model"), http.config());
                if let Some(u) = m.get("usage") {
                    self.usage = Usage {
                        input_tokens: input_tokens(u),
                        output_tokens: count(u, "output_tokens"),
                    };
                }
            }
            "content_block_start" => {
                let b = v.get("content_block").unwrap_or(&Value::Null);
                let block = match b.get("type").and_then(Value::as_str) {
                    Some("text") => Block::Text(text(b.get("text"))),
                    Some("tool_use") => Block::Tool {
                        call: PartialCall {
                            id: text(b.get("id")),
                            name: text(b.get("name")),
                            arguments: String::new(),
                        },
                        initial: b.get("input").cloned().unwrap_or(Value::Null),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let d = v.get("delta").unwrap_or(&Value::Null);
                match (
                    d.get("type").and_then(Value::as_str),
                    self.blocks.get_mut(&index),
                ) {
                    (Some("text_delta"), Some(Block::Text(t))) => {
                        let piece = text(d.get("text"));
                        t.push_str(&piece);
                        if let Some(deltas) = deltas
                            && !piece.is_empty()
                        {
                            let _ = deltas.send(piece);
                        }
                    }
                    (Some("input_json_delta"), Some(Block::Tool { call, .. })) => {
                        call.arguments.push_str(&text(d.get("partial_json")));
                    }
                    (Some(delta @ ("text_delta" | "input_json_delta")), _) => {
                        let what = format!(
                            "a {delta} at index {index} follows no matching content_block_start"
                        );
                        return Err(http.malformed(url, what));
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(stop) = v.pointer("/delta/stop_reason").filter(|s| !s.is_null()) {
                    self.stop = Some(stop.clone());
                }
                if let Some(u) = v.get("usage") {
                    if u.get("input_tokens").is_some() {
                        self.usage.input_tokens = input_tokens(u);
                    }
                    self.usage.output_tokens = count(u, "output_tokens");
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let message = reported(&v).unwrap_or_else(|| v.to_string());
                return Err(Error::Reported {
                    url: url.clone(),
                    message: http.quote(&message),
                });
            }
            // `ping`, `content_block_stop`, and whatever a later API version adds.
            _ => {}
        }
        Ok(false)
    }

    fn finish(self, complete: bool) -> Result<Answer> {
        let (http, url) = (&self.provider.http, &self.provider.url);
        if !complete {
            return Err(http.malformed(url, "the stream ended before message_stop"));
        }
        let (mut content, mut calls) = (String::new(), vec![]);
        for block in self.blocks.into_values() {
            match block {
                Block::Text(t) => content.push_str(&t),
                Block::Tool { mut call, initial } => {
                    if call.arguments.is_empty()
                        && initial.as_object().is_some_and(|o| !o.is_empty())
                    {
                        call.arguments = initial.to_string();
                    }
                    calls.push(call.build(http, url, calls.len())?);
                }
                Block::Other => {}
            }
        }
        Ok(Answer {
            model: if self.model.is_empty() {
                http.config().model.clone()
            } else {
                self.model
            },
            content,
            tool_calls: calls,
            finish_reason: finish_reason(self.stop.as_ref()),
            usage: self.usage,
        })
    }
}

/// The message of an `{"type": "error", "error": {...}}` body or event.
fn reported(v: &Value) -> Option<String> {
    if v.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let e = v.get("error").unwrap_or(&Value::Null);
    Some(
        e.get("message")
            .and_then(Value::as_str)
            .map_or_else(|| e.to_string(), str::to_string),
    )
}

fn model(v: Option<&Value>, config: &Config) -> String {
    v.and_then(Value::as_str)
        .map_or_else(|| config.model.clone(), str::to_string)
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

fn count(usage: &Value, name: &str) -> u64 {
    usage.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// Input tokens, counting those written to and read from the prompt cache too.
fn input_tokens(usage: &Value) -> u64 {
    count(usage, "input_tokens")
        + count(usage, "cache_creation_input_tokens")
        + count(usage, "cache_read_input_tokens")
}

fn finish_reason(v: Option<&Value>) -> FinishReason {
    match v.and_then(Value::as_str) {
        Some("end_turn" | "stop_sequence") | None => FinishReason::Stop,
        Some("max_tokens") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
    }
}
