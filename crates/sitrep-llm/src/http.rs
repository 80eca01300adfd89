//! The HTTP side every provider shares: one client, POSTs with retries and backoff, timeouts,
//! errors that say what to fix (redacted of the API key), and the loop that reads a stream of
//! server-sent events into an answer.

use crate::sse;
use crate::{ChatResponse, Config, Error, FinishReason, Result, TextDeltas, ToolCall, Usage};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sitrep_core::redact::Redactor;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// The longest wait between two attempts, whatever a server asks for.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// How much of an error body an error message quotes.
const MAX_QUOTED: usize = 400;

/// What a provider made of an answer, before the call's own measures are added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub model: String,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
}

/// Reads a provider's stream events into an [`Answer`].
pub(crate) trait Assembler {
    /// Takes one event; returns true when the stream says it is complete.
    fn event(&mut self, event: sse::Event, deltas: Option<&TextDeltas>) -> Result<bool>;
    /// The answer once the stream ended; `complete` tells whether it said it was complete.
    fn finish(self, complete: bool) -> Result<Answer>;
}

pub(crate) struct Transport {
    client: reqwest::Client,
    config: Config,
    headers: HeaderMap,
    redactor: Redactor,
}

/// A successful response whose body is still to read.
struct Sent {
    response: reqwest::Response,
    attempts: u32,
    started: Instant,
    attempt_started: Instant,
}

impl Transport {
    /// `headers` go with every request (the provider's authentication among them).
    pub fn new(config: Config, headers: HeaderMap) -> Result<Transport> {
        config.validate()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| Error::Config {
                message: format!("could not set up an HTTP client: {e}"),
            })?;
        let redactor = match &config.api_key {
            // What is sent (see `ApiKey`), so what a server may quote back.
            Some(key) => Redactor::new([("api_key", key.expose().trim())]),
            None => Redactor::default(),
        };
        Ok(Transport {
            client,
            config,
            headers,
            redactor,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// At most [`MAX_QUOTED`] bytes of `text`, redacted (before it is cut, so that no part
    /// of a key is left).
    pub fn quote(&self, text: &str) -> String {
        quote(&self.redact(text))
    }

    pub fn malformed(&self, url: &str, what: impl Into<String>) -> Error {
        Error::Malformed {
            url: url.to_string(),
            what: self.redact(&what.into()),
        }
    }

    /// POSTs `body` and parses the JSON answer with `parse`.
    pub async fn complete(
        &self,
        url: &str,
        body: &serde_json::Value,
        parse: impl FnOnce(serde_json::Value) -> Result<Answer>,
    ) -> Result<ChatResponse> {
        let sent = self.post(url, body).await?;
        let deadline = (sent.attempt_started + self.config.timeout).into();
        let (attempts, started) = (sent.attempts, sent.started);
        let text = match tokio::time::timeout_at(deadline, sent.response.text()).await {
            Err(_) => return Err(self.timeout(url, attempts)),
            Ok(Err(e)) => return Err(self.unreachable(url, &e, attempts)),
            Ok(Ok(text)) => text,
        };
        let answer = parse(self.json(url, &text)?)?;
        Ok(self.response(answer, attempts, started))
    }

    /// POSTs `body` asking for a stream and reads it with `assembler`. A server that answers
    /// with plain JSON instead is read with `parse`.
    pub async fn stream(
        &self,
        url: &str,
        body: &serde_json::Value,
        mut assembler: impl Assembler,
        parse: impl FnOnce(serde_json::Value) -> Result<Answer>,
        deltas: Option<&TextDeltas>,
    ) -> Result<ChatResponse> {
        let mut sent = self.post(url, body).await?;
        let is_json = sent
            .response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut parser = sse::Parser::default();
        let mut raw = Vec::new();
        let mut complete = false;
        while !complete {
            let chunk = tokio::time::timeout(self.config.timeout, sent.response.chunk()).await;
            let bytes = match chunk {
                Err(_) => return Err(self.timeout(url, sent.attempts)),
                Ok(Err(e)) => return Err(self.unreachable(url, &e, sent.attempts)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(bytes))) => bytes,
            };
            if is_json {
                raw.extend_from_slice(&bytes);
                continue;
            }
            for event in parser.push(&bytes) {
                complete = assembler.event(event, deltas)? || complete;
            }
        }
        if is_json {
            let answer = parse(self.json(url, &String::from_utf8_lossy(&raw))?)?;
            return Ok(self.response(answer, sent.attempts, sent.started));
        }
        if !complete && let Some(event) = parser.finish() {
            complete = assembler.event(event, deltas)?;
        }
        let answer = assembler.finish(complete)?;
        Ok(self.response(answer, sent.attempts, sent.started))
    }

    fn json(&self, url: &str, body: &str) -> Result<serde_json::Value> {
        serde_json::from_str(body).map_err(|e| {
            let what = format!("the body is not JSON ({e}): {}", self.quote(body));
            self.malformed(url, what)
        })
    }

    fn response(&self, answer: Answer, attempts: u32, started: Instant) -> ChatResponse {
        let latency = started.elapsed();
        debug!(
            model = %answer.model,
            input_tokens = answer.usage.input_tokens,
            output_tokens = answer.usage.output_tokens,
            latency_ms = latency.as_millis() as u64,
            attempts,
            "model answered"
        );
        ChatResponse {
            cost: self.config.estimate_cost(&answer.usage),
            model: answer.model,
            content: answer.content,
            tool_calls: answer.tool_calls,
            finish_reason: answer.finish_reason,
            usage: answer.usage,
            latency,
            attempts,
        }
    }

    /// POSTs until a 2xx, retrying what may pass: a 429, a 5xx, a timeout, a failed
    /// connection. Any other status fails at once.
    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<Sent> {
        let started = Instant::now();
        let max_attempts = self.config.max_retries.saturating_add(1);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let attempt_started = Instant::now();
            debug!(
                provider = self.config.provider.name(),
                model = %self.config.model,
                url,
                attempts,
                "calling the model"
            );
            let request = self
                .client
                .post(url)
                .headers(self.headers.clone())
                .json(body)
                .send();
            let (failure, server_wait) =
                match tokio::time::timeout(self.config.timeout, request).await {
                    Err(_) => (self.timeout(url, attempts), None),
                    Ok(Err(e)) => (self.unreachable(url, &e, attempts), None),
                    Ok(Ok(response)) if response.status().is_success() => {
                        return Ok(Sent {
                            response,
                            attempts,
                            started,
                            attempt_started,
                        });
                    }
                    Ok(Ok(response)) => {
                        let status = response.status();
                        let wait = retry_after(response.headers());
                        let message = self.error_message(status, response).await;
                        if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) {
                            return Err(self.refused(url, status, message));
                        }
                        let failure = Error::Exhausted {
                            url: url.to_string(),
                            status: status.as_u16(),
                            attempts,
                            message,
                        };
                        (failure, wait)
                    }
                };
            if attempts >= max_attempts {
                return Err(failure);
            }
            let backoff = self
                .config
                .retry_backoff
                .checked_mul(2u32.saturating_pow(attempts - 1))
                .unwrap_or(MAX_RETRY_WAIT);
            let wait = server_wait.unwrap_or(backoff).min(MAX_RETRY_WAIT);
            warn!(
                url,
                attempts,
                wait_ms = wait.as_millis() as u64,
                error = %failure,
                "the model call failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The error a status that retrying cannot fix stands for.
    fn refused(&self, url: &str, status: StatusCode, message: String) -> Error {
        let url = url.to_string();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Unauthorized {
                url,
                status: status.as_u16(),
                message,
            },
            StatusCode::NOT_FOUND => {
                let model = &self.config.model;
                let lower = message.to_lowercase();
                if lower.contains(&model.to_lowercase()) || lower.contains("model") {
                    Error::ModelNotFound {
                        model: model.clone(),
                        url,
                        message,
                    }
                } else {
                    Error::NotFound { url, message }
                }
            }
            _ => Error::Rejected {
                url,
                status: status.as_u16(),
                message,
            },
        }
    }

    /// What an error response says: the `error.message` both APIs send (or the shapes some
    /// compatible servers use), else the body itself, shortened and redacted.
    async fn error_message(&self, status: StatusCode, response: reqwest::Response) -> String {
        let body = tokio::time::timeout(self.config.timeout, response.text())
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        let said = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                [
                    v.pointer("/error/message"),
                    v.get("error"),
                    v.get("message"),
                    v.get("detail"),
                ]
                .into_iter()
                .flatten()
                .find_map(|m| m.as_str().map(str::to_string))
            })
            .unwrap_or(body);
        let said = said.trim();
        if said.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no details")
                .to_string()
        } else {
            self.quote(said)
        }
    }

    fn timeout(&self, url: &str, attempts: u32) -> Error {
        Error::Timeout {
            url: url.to_string(),
            timeout: self.config.timeout,
            attempts,
        }
    }

    fn unreachable(&self, url: &str, e: &reqwest::Error, attempts: u32) -> Error {
        if e.is_timeout() {
            return self.timeout(url, attempts);
        }
        // reqwest's own text names the URL, which the error names already; its causes say why.
        let mut reason = vec![];
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            reason.push(cause.to_string());
            source = cause.source();
        }
        if reason.is_empty() {
            reason.push(e.to_string());
        }
        Error::Unreachable {
            url: url.to_string(),
            reason: self.redact(&reason.join(": ")),
            attempts,
        }
    }
}

/// How long the server asks to wait: `retry-after-ms` (OpenAI) or `Retry-After` in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    read("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| read("retry-after").map(Duration::from_secs_f64))
}

/// At most [`MAX_QUOTED`] bytes of `text`, cut at a character boundary.
fn quote(text: &str) -> String {
    if text.len() <= MAX_QUOTED {
        return text.to_string();
    }
    let mut end = MAX_QUOTED;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A tool call as it arrives in pieces.
#[derive(Debug, Default)]
pub(crate) struct PartialCall {
    pub id: String,
    pub name: String,
    /// JSON text.
    pub arguments: String,
}

impl PartialCall {
    /// The call, its arguments parsed (`{}` when empty). `position` names a call that has
    /// no id of its own (some compatible servers send none).
    pub fn build(self, http: &Transport, url: &str, position: usize) -> Result<ToolCall> {
        if self.name.is_empty() {
            return Err(http.malformed(url, format!("tool call {position} has no name")));
        }
        let arguments = if self.arguments.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&self.arguments).map_err(|e| {
                let what = format!(
                    "the arguments of the call to tool {:?} are not JSON ({e}): {}",
                    self.name,
                    http.quote(&self.arguments)
                );
                http.malformed(url, what)
            })?
        };
        let id = if self.id.is_empty() {
            format!("call_{position}")
        } else {
            self.id
        };
        Ok(ToolCall {
            id,
            name: self.name,
            arguments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        h.remove("retry-after-ms");
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn quotes_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_QUOTED);
        let q = quote(&long);
        assert!(q.len() <= MAX_QUOTED + '…'.len_utf8());
        assert!(q.ends_with('…'));
    }
}
