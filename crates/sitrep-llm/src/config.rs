//! How to reach a model: which protocol, where, which model, with which key, and how patiently.
//! `docs/llm.md` describes every key.

use crate::{Error, Result, Usage};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The OpenAI Chat Completions API, as OpenAI, Azure OpenAI (its `/openai/v1` API),
    /// Ollama, vLLM, llama.cpp's server and LiteLLM serve it.
    OpenAi,
    /// The Anthropic Messages API.
    Anthropic,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }
}

/// A secret value: never printed. `Debug` shows `***`; read it with [`ApiKey::expose`].
/// Surrounding whitespace (the newline a key file ends with) is not sent.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(value: impl Into<String>) -> ApiKey {
        ApiKey(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Prices per million tokens, in any one currency; they make [`crate::ChatResponse::cost`].
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Pricing {
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_million
            + usage.output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// One provider's settings. The engine resolves `api_key: secret:NAME` before it builds this:
/// here the key is the value itself.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub provider: ProviderKind,
    /// Defaults to the provider's public API (`https://api.openai.com/v1`,
    /// `https://api.anthropic.com`).
    #[serde(default)]
    pub base_url: Option<String>,
    pub model: String,
    /// None for servers that need no key (a local Ollama, say).
    #[serde(default)]
    pub api_key: Option<ApiKey>,
    #[serde(default)]
    pub temperature: Option<f32>,
    /// The longest answer, in tokens. Anthropic requires one: 4096 when unset.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// The model's context window in tokens, for whoever budgets prompts.
    #[serde(default)]
    pub context_window: Option<u32>,
    /// How long one attempt may take (for a stream: the wait for each piece of it).
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Attempts after the first on a 429, a 5xx, a timeout or a failed connection.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// The wait before the first retry, doubled for each next one, when the server does not
    /// say how long to wait (`Retry-After`).
    #[serde(default = "default_retry_backoff", deserialize_with = "duration")]
    pub retry_backoff: Duration,
    #[serde(default)]
    pub pricing: Option<Pricing>,
}

/// Anthropic's API requires `max_tokens`.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

fn default_timeout() -> Duration {
    Duration::from_secs(120)
}

fn default_max_retries() -> u32 {
    2
}

fn default_retry_backoff() -> Duration {
    Duration::from_secs(1)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    sitrep_core::time::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl Config {
    /// A config with the defaults for everything but the protocol and the model.
    pub fn new(provider: ProviderKind, model: impl Into<String>) -> Config {
        Config {
            provider,
            base_url: None,
            model: model.into(),
            api_key: None,
            temperature: None,
            max_tokens: None,
            context_window: None,
            timeout: default_timeout(),
            max_retries: default_max_retries(),
            retry_backoff: default_retry_backoff(),
            pricing: None,
        }
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.provider.default_base_url())
            .trim_end_matches('/')
    }

    /// Refuses settings no request could succeed with, saying which key to fix.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::Config { message });
        let url = self.base_url();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return invalid(format!(
                "base_url {url:?} is not an http:// or https:// URL"
            ));
        }
        if self.model.trim().is_empty() {
            return invalid("model is empty: name the model to use".into());
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return invalid(format!("temperature {t} is outside 0 to 2"));
        }
        if self.max_tokens == Some(0) {
            return invalid("max_tokens is 0: leave it out or allow at least 1".into());
        }
        if self.timeout.is_zero() {
            return invalid("timeout is 0: allow the model some time (e.g. 60s)".into());
        }
        if let Some(key) = &self.api_key
            && key.expose().trim().is_empty()
        {
            return invalid("api_key is empty: leave it out or give the key".into());
        }
        Ok(())
    }

    pub fn estimate_cost(&self, usage: &Usage) -> Option<f64> {
        self.pricing.map(|p| p.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-canary-4f1e9c";

    #[test]
    fn reads_every_key_and_never_prints_the_api_key() {
        let yaml = format!(
            "provider: anthropic\nbase_url: http://127.0.0.1:9/\nmodel: claude-x\napi_key: {KEY}\n\
             temperature: 0.2\nmax_tokens: 900\ncontext_window: 200000\ntimeout: 30s\n\
             max_retries: 4\nretry_backoff: 250ms\n\
             pricing: {{input_per_million: 3.0, output_per_million: 15.0}}\n"
        );
        let c: Config = yaml_serde::from_str(&yaml).unwrap();
        assert_eq!(c.provider, ProviderKind::Anthropic);
        assert_eq!(c.base_url(), "http://127.0.0.1:9");
        assert_eq!(c.api_key.as_ref().unwrap().expose(), KEY);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.retry_backoff, Duration::from_millis(250));
        assert_eq!(c.max_retries, 4);
        c.validate().unwrap();
        let cost = c.estimate_cost(&Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
        });
        assert_eq!(cost, Some(4.5));
        let printed = format!("{c:?} {c:#?}");
        assert!(!printed.contains(KEY), "{printed}");
        assert!(printed.contains("***"));
    }

    #[test]
    fn defaults_and_refusals() {
        let c: Config = yaml_serde::from_str("provider: openai\nmodel: m\n").unwrap();
        assert_eq!(c.base_url(), "https://api.openai.com/v1");
        assert_eq!(c.max_retries, 2);
        assert_eq!(c.estimate_cost(&Usage::default()), None);
        let unknown = yaml_serde::from_str::<Config>("provider: openai\nmodel: m\nkey: x\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
        let mut bad = c.clone();
        bad.base_url = Some("api.openai.com".into());
        assert!(bad.validate().unwrap_err().to_string().contains("base_url"));
        let mut bad = c;
        bad.temperature = Some(3.0);
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("temperature")
        );
    }
}
