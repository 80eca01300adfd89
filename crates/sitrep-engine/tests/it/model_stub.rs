//! A stub model server on 127.0.0.1:0 speaking the OpenAI Chat Completions protocol or the
//! Anthropic Messages API: it answers each request with the next scripted tool calls and keeps
//! every request body it received, so a test can check what was sent. Plain HTTP/1.1 over
//! tokio, one request per connection.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scripted tool call: its name and arguments.
pub struct Call(pub &'static str, pub Value);

pub struct Stub {
    pub base_url: String,
    received: Arc<Mutex<Vec<String>>>,
}

/// A Chat Completions answer calling `calls`.
fn completion(n: usize, calls: Vec<Call>) -> Value {
    let calls: Vec<Value> = calls
        .into_iter()
        .enumerate()
        .map(|(i, Call(name, args))| {
            json!({"id": format!("call_{n}_{i}"), "type": "function",
                   "function": {"name": name, "arguments": args.to_string()}})
        })
        .collect();
    json!({
        "id": format!("chatcmpl-{n}"), "object": "chat.completion", "created": 1, "model": "stub-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls},
                     "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    })
}

/// An Anthropic Messages answer calling `calls` (`tool_use` content blocks).
fn message(n: usize, calls: Vec<Call>) -> Value {
    let blocks: Vec<Value> = calls
        .into_iter()
        .enumerate()
        .map(|(i, Call(name, args))| {
            json!({"type": "tool_use", "id": format!("toolu_{n}_{i}"), "name": name, "input": args})
        })
        .collect();
    json!({
        "id": format!("msg_{n}"), "type": "message", "role": "assistant", "model": "stub-model",
        "content": blocks, "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 100, "output_tokens": 20},
    })
}

/// Which provider protocol the stub speaks.
#[derive(Clone, Copy)]
pub enum Protocol {
    OpenAi,
    Anthropic,
}

impl Stub {
    /// Answers the n-th request with the n-th answer of `script`, then with HTTP 418.
    pub async fn start(script: Vec<Vec<Call>>) -> Stub {
        Stub::speaking(Protocol::OpenAi, script).await
    }

    /// [`Stub::start`] in `protocol`. The base URL is what an assistant's `base_url` takes
    /// (the OpenAI one ends in `/v1`; the Anthropic provider adds `/v1/messages` itself).
    pub async fn speaking(protocol: Protocol, script: Vec<Vec<Call>>) -> Stub {
        let answers: Vec<Value> = script
            .into_iter()
            .enumerate()
            .map(|(n, calls)| match protocol {
                Protocol::OpenAi => completion(n, calls),
                Protocol::Anthropic => message(n, calls),
            })
            .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base_url = match protocol {
            Protocol::OpenAi => format!("http://{addr}/v1"),
            Protocol::Anthropic => format!("http://{addr}"),
        };
        let received = Arc::new(Mutex::new(vec![]));
        let seen = received.clone();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            while let Ok((mut conn, _)) = listener.accept().await {
                let Some(body) = read_request(&mut conn).await else {
                    continue;
                };
                seen.lock().unwrap().push(body);
                let (status, reply) = match answers.next() {
                    Some(a) => ("200 OK", a.to_string()),
                    None => ("418 I'm a teapot", "the stub's script is exhausted".into()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    reply.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
        });
        Stub { base_url, received }
    }

    /// The request bodies received so far, in order.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    /// The user prompt of the n-th request.
    pub fn prompt(&self, n: usize) -> String {
        let body: Value = serde_json::from_str(&self.received()[n]).unwrap();
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| m["content"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// The body of one request (headers read up to their end, then `content-length` bytes).
async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = vec![];
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned())
}
