//! LLM providers behind one thin trait, over plain HTTP: the OpenAI-compatible Chat Completions
//! API (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp's server, LiteLLM) and the Anthropic
//! Messages API. Tool calling and streaming for both, retries with backoff, errors that say
//! what to fix. I/O only: what to ask a model and what to make of its answer is the engine's.
//!
//! ```no_run
//! # async fn demo() -> sitrep_llm::Result<()> {
//! use sitrep_llm::{ChatRequest, Config, Message, ProviderKind};
//! let provider = sitrep_llm::connect(Config::new(ProviderKind::OpenAi, "gpt-4o-mini"))?;
//! let answer = provider
//!     .complete(&ChatRequest {
//!         messages: vec![Message::user("Why is the checkout slow?")],
//!         tools: vec![],
//!     })
//!     .await?;
//! println!("{} ({} tokens)", answer.content, answer.usage.total());
//! # Ok(())
//! # }
//! ```

mod anthropic;
mod config;
mod error;
mod http;
mod openai;
mod sse;
mod types;

pub use anthropic::Anthropic;
pub use config::{ApiKey, Config, Pricing, ProviderKind};
pub use error::{Error, Result};
pub use openai::OpenAi;
pub use types::{
    ChatRequest, ChatResponse, FinishReason, Message, ToolCall, ToolDefinition, Usage,
};

use async_trait::async_trait;

/// Where [`Provider::stream`] sends the answer's text as it arrives, piece by piece.
pub type TextDeltas = tokio::sync::mpsc::UnboundedSender<String>;

/// A model behind an API.
#[async_trait]
pub trait Provider: Send + Sync {
    fn config(&self) -> &Config;

    /// Asks and waits for the whole answer.
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse>;

    /// Asks for a stream, sends the text to `deltas` as it arrives, and returns the same
    /// answer [`Provider::complete`] would.
    async fn stream(
        &self,
        request: &ChatRequest,
        deltas: Option<&TextDeltas>,
    ) -> Result<ChatResponse>;
}

/// The provider `config` describes, after checking it.
pub fn connect(config: Config) -> Result<Box<dyn Provider>> {
    Ok(match config.provider {
        ProviderKind::OpenAi => Box::new(OpenAi::new(config)?),
        ProviderKind::Anthropic => Box::new(Anthropic::new(config)?),
    })
}
