//! What goes to a model and what comes back, the same for every provider. Plain data: it
//! serialises as it is, so an audit can record exactly what was sent and received.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    /// Instructions. Anthropic takes them apart from the conversation: every system message
    /// is joined into its `system` field, in order.
    System {
        content: String,
    },
    User {
        content: String,
    },
    /// What the model said, and the tools it asked to call.
    Assistant {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        content: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, answering the call with the same id.
    Tool {
        tool_call_id: String,
        content: String,
        /// The tool failed and `content` says why. Anthropic receives the flag; the
        /// OpenAI-compatible API has no such field, so say so in `content` too.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

impl Message {
    pub fn system(content: impl Into<String>) -> Message {
        Message::System {
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Message {
        Message::User {
            content: content.into(),
        }
    }

    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Message {
        Message::Tool {
            tool_call_id: tool_call_id.into(),
            content: content.into(),
            is_error: false,
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// A JSON Schema of the arguments (an object schema).
    pub parameters: serde_json::Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id; the tool result must carry it back.
    pub id: String,
    pub name: String,
    /// The arguments, parsed (an object; `{}` when the model sent none).
    pub arguments: serde_json::Value,
}

/// One request: the conversation and the tools on offer. Model, temperature and token limit
/// come from the provider's [`Config`](crate::Config).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
}

/// Tokens a call used, as the provider counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (for Anthropic, including tokens written to or read from its cache).
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer (OpenAI `stop`, Anthropic `end_turn` or `stop_sequence`).
    Stop,
    /// It hit the token limit (`length`, `max_tokens`).
    Length,
    /// It wants tools called (`tool_calls`, `tool_use`).
    ToolCalls,
    /// The provider filtered or the model refused (`content_filter`, `refusal`).
    ContentFilter,
    /// Anything else, as the provider named it (serialised as that name alone).
    #[serde(untagged)]
    Other(String),
}

/// The model's answer, assembled the same whether it was streamed or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The model that answered, as the provider named it.
    pub model: String,
    /// The text of the answer (empty when it only called tools).
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// The estimated cost, in the currency of the configured prices, when prices are configured.
    pub cost: Option<f64>,
    /// From the first attempt's request to the last byte of the answer, retries included.
    #[serde(rename = "latency_ms", with = "millis")]
    pub latency: Duration,
    /// HTTP requests made (1 when the first one succeeded).
    pub attempts: u32,
}

impl ChatResponse {
    /// The answer as the assistant message to append to the conversation.
    pub fn message(&self) -> Message {
        Message::Assistant {
            content: self.content.clone(),
            tool_calls: self.tool_calls.clone(),
        }
    }
}

/// A duration as whole milliseconds (`latency_ms` reads better in an audit than a struct).
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_serialise_with_their_role() {
        let m = Message::Assistant {
            content: String::new(),
            tool_calls: vec![ToolCall {
                id: "c1".into(),
                name: "search".into(),
                arguments: serde_json::json!({"q": "db"}),
            }],
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"role": "assistant", "tool_calls": [{"id": "c1", "name": "search", "arguments": {"q": "db"}}]})
        );
        let back: Message = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        let tool = serde_json::to_value(Message::tool_result("c1", "ok")).unwrap();
        assert_eq!(
            tool,
            serde_json::json!({"role": "tool", "tool_call_id": "c1", "content": "ok"})
        );
    }

    #[test]
    fn a_response_records_its_latency_in_milliseconds() {
        let r = ChatResponse {
            model: "m".into(),
            content: "hi".into(),
            tool_calls: vec![],
            finish_reason: FinishReason::Other("eos".into()),
            usage: Usage::default(),
            cost: None,
            latency: Duration::from_millis(1500),
            attempts: 1,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["latency_ms"], 1500);
        assert_eq!(v["finish_reason"], "eos");
        assert_eq!(serde_json::from_value::<ChatResponse>(v).unwrap(), r);
    }
}
