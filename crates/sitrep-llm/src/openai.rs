//! The OpenAI Chat Completions API (`POST {base_url}/chat/completions`), as OpenAI, Azure
//! OpenAI's `/openai/v1` API, Ollama, vLLM, llama.cpp's server and LiteLLM serve it.

use crate::http::{Answer, Assembler, PartialCall, Transport};
use crate::sse;
use crate::{
    ChatRequest, ChatResponse, Config, Error, FinishReason, Message, Provider, Result, TextDeltas,
    Usage,
};
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub struct OpenAi {
    http: Transport,
    url: String,
}

impl OpenAi {
    pub fn new(config: Config) -> Result<OpenAi> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose().trim()))
                .map_err(|_| Error::Config {
                    message: "api_key has characters an HTTP header cannot carry".into(),
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let url = format!("{}/chat/completions", config.base_url());
        Ok(OpenAi {
            http: Transport::new(config, headers)?,
            url,
        })
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let config = self.http.config();
        let mut body = json!({
            "model": config.model,
            "messages": request.messages.iter().map(message).collect::<Vec<_>>(),
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters,
                    }})
                })
                .collect();
        }
        if let Some(t) = config.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = config.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
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
        let choice = v
            .pointer("/choices/0")
            .ok_or_else(|| self.http.malformed(url, "no choices[0] in the answer"))?;
        let message = choice.get("message").ok_or_else(|| {
            self.http
                .malformed(url, "no choices[0].message in the answer")
        })?;
        let mut calls = vec![];
        for (i, c) in array(message.get("tool_calls")).iter().enumerate() {
            let call = PartialCall {
                id: text(c.get("id")),
                name: text(c.pointer("/function/name")),
                arguments: arguments(c.pointer("/function/arguments")),
            };
            calls.push(call.build(&self.http, url, i)?);
        }
        Ok(Answer {
            model: model(&v, self.http.config()),
            content: text(message.get("content")),
            finish_reason: finish_reason(choice.get("finish_reason"), !calls.is_empty()),
            tool_calls: calls,
            usage: usage(v.get("usage")),
        })
    }
}

#[async_trait]
impl Provider for OpenAi {
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
        let assembler = Chunks {
            provider: self,
            model: String::new(),
            content: String::new(),
            calls: BTreeMap::new(),
            finish: None,
            usage: Usage::default(),
        };
        self.http
            .stream(&self.url, &body, assembler, |v| self.parse(v), deltas)
            .await
    }
}

/// A message as the API takes it.
fn message(m: &Message) -> Value {
    match m {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            // The API wants no content (null) rather than an empty one beside tool calls.
            let content = Some(content).filter(|c| !c.is_empty());
            let mut v = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                v["tool_calls"] = tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function", "function": {
                            "name": c.name, "arguments": c.arguments.to_string(),
                        }})
                    })
                    .collect();
            }
            v
        }
        Message::Tool {
            tool_call_id,
            content,
            ..
        } => json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}),
    }
}

/// The chunks of a streamed answer (`data: {...}` with `choices[0].delta`, then a chunk with
/// `usage` and no choices, then `data: [DONE]`).
struct Chunks<'a> {
    provider: &'a OpenAi,
    model: String,
    content: String,
    /// By the index the deltas give.
    calls: BTreeMap<usize, PartialCall>,
    finish: Option<Value>,
    usage: Usage,
}

impl Assembler for Chunks<'_> {
    fn event(&mut self, event: sse::Event, deltas: Option<&TextDeltas>) -> Result<bool> {
        let (http, url) = (&self.provider.http, &self.provider.url);
        if event.data.trim() == "[DONE]" {
            return Ok(true);
        }
        let v: Value = serde_json::from_str(&event.data).map_err(|e| {
            let what = format!(
                "a stream chunk is not JSON ({e}): {}",
                http.quote(&event.data)
            );
            http.malformed(url, what)
        })?;
        if let Some(message) = reported(&v) {
            return Err(Error::Reported {
                url: url.clone(),
                message: http.quote(&message),
            });
        }
        if let Some(m) = v.get("model").and_then(Value::as_str) {
            self.model = m.to_string();
        }
        if v.get("usage").is_some_and(|u| !u.is_null()) {
            self.usage = usage(v.get("usage"));
        }
        let Some(choice) = v.pointer("/choices/0") else {
            return Ok(false);
        };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
            && !text.is_empty()
        {
            self.content.push_str(text);
            if let Some(d) = deltas {
                let _ = d.send(text.to_string());
            }
        }
        for (position, c) in array(choice.pointer("/delta/tool_calls"))
            .iter()
            .enumerate()
        {
            let index = c
                .get("index")
                .and_then(Value::as_u64)
                .map_or(position, |i| i as usize);
            let call = self.calls.entry(index).or_default();
            let id = text(c.get("id"));
            if !id.is_empty() {
                call.id = id;
            }
            let name = text(c.pointer("/function/name"));
            if call.name.is_empty() {
                call.name = name;
            } else if name != call.name {
                call.name.push_str(&name);
            }
            call.arguments
                .push_str(&arguments(c.pointer("/function/arguments")));
        }
        if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
            self.finish = Some(reason.clone());
        }
        Ok(false)
    }

    fn finish(self, complete: bool) -> Result<Answer> {
        let (http, url) = (&self.provider.http, &self.provider.url);
        if !complete && self.finish.is_none() {
            return Err(http.malformed(url, "the stream ended before data: [DONE]"));
        }
        let mut calls = vec![];
        for (index, call) in self.calls {
            calls.push(call.build(http, url, index)?);
        }
        Ok(Answer {
            model: if self.model.is_empty() {
                http.config().model.clone()
            } else {
                self.model
            },
            content: self.content,
            finish_reason: finish_reason(self.finish.as_ref(), !calls.is_empty()),
            tool_calls: calls,
            usage: self.usage,
        })
    }
}

/// The message of an `{"error": ...}` body some servers send with a 200 or inside a stream.
fn reported(v: &Value) -> Option<String> {
    let e = v.get("error").filter(|e| !e.is_null())?;
    Some(
        e.get("message")
            .and_then(Value::as_str)
            .map_or_else(|| e.to_string(), str::to_string),
    )
}

fn model(v: &Value, config: &Config) -> String {
    v.get("model")
        .and_then(Value::as_str)
        .map_or_else(|| config.model.clone(), str::to_string)
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Arguments are JSON text; a few compatible servers send the object itself.
fn arguments(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Usage as `prompt_tokens` and `completion_tokens`; nothing counted when a server sends none.
fn usage(v: Option<&Value>) -> Usage {
    let count = |name: &str| v.and_then(|u| u.get(name)).and_then(Value::as_u64);
    Usage {
        input_tokens: count("prompt_tokens").unwrap_or(0),
        output_tokens: count("completion_tokens").unwrap_or(0),
    }
}

/// Some compatible servers say `stop` for an answer that calls tools: tool calls win.
fn finish_reason(v: Option<&Value>, called_tools: bool) -> FinishReason {
    match v.and_then(Value::as_str) {
        Some("stop") | None if called_tools => FinishReason::ToolCalls,
        Some("stop") | None => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        let r = |s: Value, tools| finish_reason(Some(&s), tools);
        assert_eq!(r(json!("stop"), false), FinishReason::Stop);
        assert_eq!(r(json!("stop"), true), FinishReason::ToolCalls);
        assert_eq!(r(json!(null), true), FinishReason::ToolCalls);
        assert_eq!(r(json!("length"), true), FinishReason::Length);
        assert_eq!(
            r(json!("content_filter"), false),
            FinishReason::ContentFilter
        );
        assert_eq!(r(json!("eos"), false), FinishReason::Other("eos".into()));
    }
}
