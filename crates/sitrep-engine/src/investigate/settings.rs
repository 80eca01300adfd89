//! `assistants:` and `investigation:` in sitrep.yaml.

use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Whether an assistant may propose changes. A proposal always waits for a human approval;
/// a read-only assistant never makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    ReadOnly,
    #[default]
    ReadWrite,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantSettings {
    pub name: String,
    /// `offline` (the built-in deterministic reasoner) or `llm` (a model proposes, through
    /// tools, what the offline reasoner would; see `model`).
    #[serde(default = "default_reasoner")]
    pub reasoner: String,
    /// The model of an `llm` assistant (`docs/llm.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSettings>,
    /// Below this confidence the assistant says what it would check next instead of
    /// naming a cause.
    #[serde(default = "default_threshold")]
    pub confidence_threshold: f64,
    #[serde(default)]
    pub access: Access,
    /// SLX names it may run tasks of (`*` wildcards); empty means every SLX.
    #[serde(default)]
    pub slxs: Vec<String>,
    /// Bundle tags it may use; empty means every bundle.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn default_reasoner() -> String {
    "offline".into()
}
fn default_threshold() -> f64 {
    0.6
}

impl AssistantSettings {
    /// The assistant used when sitrep.yaml names none.
    pub fn builtin() -> AssistantSettings {
        AssistantSettings {
            name: "default".into(),
            reasoner: default_reasoner(),
            model: None,
            confidence_threshold: default_threshold(),
            access: Access::ReadWrite,
            slxs: vec![],
            tags: vec![],
        }
    }
}

/// The model an `llm` assistant asks, and what one session may spend on it. The provider keys
/// are sitrep-llm's (`docs/llm.md`); `api_key` is a reference, never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// `openai` (Chat Completions, and every server speaking it) or `anthropic`.
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub model: String,
    /// `secret:NAME`: a workspace secret (the settings' `secrets:` entry, else the vault's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// How long one attempt may take.
    #[serde(default = "default_model_timeout", with = "crate::duration_text")]
    pub timeout: Duration,
    /// Attempts after the first on a 429, a 5xx, a timeout or a failed connection.
    #[serde(default = "default_model_retries")]
    pub max_retries: u32,
    /// Model calls one session may make; then the offline reasoner finishes it.
    #[serde(default = "default_max_calls")]
    pub max_calls: u32,
    /// Tokens (input and output) one session may use; then the offline reasoner finishes it.
    #[serde(default = "default_token_budget")]
    pub token_budget: u64,
    /// The model's prices per million tokens (`input_per_million`, `output_per_million`, in
    /// any one currency): each call's cost is estimated from them and audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<sitrep_llm::Pricing>,
    /// What one session may spend on the model, in the prices' currency; then the offline
    /// reasoner finishes it. Needs `prices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_budget: Option<f64>,
}

fn default_model_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_model_retries() -> u32 {
    2
}
fn default_max_calls() -> u32 {
    12
}
fn default_token_budget() -> u64 {
    200_000
}

impl ModelSettings {
    /// The provider's config, with the key already resolved from its reference.
    pub fn provider_config(
        &self,
        api_key: Option<sitrep_llm::ApiKey>,
    ) -> Result<sitrep_llm::Config, (String, String)> {
        let provider = match self.provider.as_str() {
            "openai" => sitrep_llm::ProviderKind::OpenAi,
            "anthropic" => sitrep_llm::ProviderKind::Anthropic,
            other => {
                return Err((
                    "provider".into(),
                    format!("unknown provider {other:?} (available: openai, anthropic)"),
                ));
            }
        };
        let mut c = sitrep_llm::Config::new(provider, self.model.clone());
        c.base_url = self.base_url.clone();
        c.api_key = api_key;
        c.temperature = self.temperature;
        c.max_tokens = self.max_tokens;
        c.timeout = self.timeout;
        c.max_retries = self.max_retries;
        c.pricing = self.prices;
        c.validate().map_err(|e| {
            let text = match e {
                sitrep_llm::Error::Config { message } => message,
                other => other.to_string(),
            };
            // sitrep-llm's messages start with the key they are about.
            let key = ["base_url", "temperature", "max_tokens", "timeout"]
                .into_iter()
                .find(|k| text.starts_with(k))
                .unwrap_or("model");
            (key.to_string(), text)
        })?;
        Ok(c)
    }

    /// The vault or settings secret `api_key` names.
    pub fn api_key_secret(&self) -> Result<Option<&str>, String> {
        let Some(r) = &self.api_key else {
            return Ok(None);
        };
        let name = r.strip_prefix("secret:").ok_or_else(|| {
            "must be a reference `secret:NAME` (store the key with `sitrep secret set NAME`), never the key itself".to_string()
        })?;
        sitrep_core::secret::check_name(name)?;
        Ok(Some(name))
    }

    fn check(&self) -> Result<(), (String, String)> {
        self.api_key_secret()
            .map_err(|why| ("api_key".to_string(), why))?;
        // A stand-in key: the real one is resolved when a session starts.
        let key = self
            .api_key
            .as_ref()
            .map(|_| sitrep_llm::ApiKey::new("resolved-later"));
        self.provider_config(key)?;
        if self.max_calls == 0 {
            return Err(("max_calls".into(), "must be at least 1".into()));
        }
        if self.token_budget == 0 {
            return Err(("token_budget".into(), "must be at least 1".into()));
        }
        if let Some(p) = &self.prices
            && !(p.input_per_million >= 0.0 && p.output_per_million >= 0.0)
        {
            return Err(("prices".into(), "prices cannot be negative".into()));
        }
        match (self.cost_budget, &self.prices) {
            (Some(b), _) if !(b > 0.0) => {
                Err(("cost_budget".into(), "must be more than 0".into()))
            }
            (Some(_), None) => Err((
                "cost_budget".into(),
                "needs the model's prices (prices: {input_per_million: N, output_per_million: N}) to estimate what a call costs".into(),
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InvestigationSettings {
    /// Wall-clock budget of one investigation.
    #[serde(with = "crate::duration_text")]
    pub time_budget: Duration,
    /// Task runs one investigation may start.
    pub task_budget: usize,
    /// Task runs in flight at once within one investigation.
    pub parallel: usize,
    /// How deep along the Map an investigation follows strong evidence.
    pub max_depth: usize,
    /// The assistant used when a request names none.
    pub default_assistant: String,
    /// How long a granted approval stays usable.
    #[serde(with = "crate::duration_text")]
    pub approval_ttl: Duration,
    /// Remediations one session may execute.
    pub mutations_per_session: usize,
    /// After a remediation ran on a resource, the same remediation on the same resource waits
    /// this long.
    #[serde(with = "crate::duration_text")]
    pub remediation_cooldown: Duration,
}

impl Default for InvestigationSettings {
    fn default() -> Self {
        InvestigationSettings {
            time_budget: Duration::from_secs(120),
            task_budget: 40,
            parallel: 4,
            max_depth: 4,
            default_assistant: "default".into(),
            approval_ttl: Duration::from_secs(30 * 60),
            mutations_per_session: 1,
            remediation_cooldown: Duration::from_secs(10 * 60),
        }
    }
}

/// The assistants of a workspace: the configured ones, or the built-in default.
pub fn assistants(s: &Settings) -> Vec<AssistantSettings> {
    if s.assistants.is_empty() {
        vec![AssistantSettings::builtin()]
    } else {
        s.assistants.clone()
    }
}

/// Checks `assistants:` and `investigation:`; returns the offending key and why.
pub fn validate_settings(s: &Settings) -> Result<(), (String, String)> {
    let mut names = std::collections::BTreeSet::new();
    for (i, a) in s.assistants.iter().enumerate() {
        let key = |k: &str| format!("assistants[{i}].{k}");
        if a.name.is_empty() || !names.insert(a.name.as_str()) {
            return Err((key("name"), format!("{:?} is empty or used twice", a.name)));
        }
        match (a.reasoner.as_str(), &a.model) {
            ("offline", None) => {}
            ("offline", Some(_)) => {
                return Err((
                    key("model"),
                    "is set but the reasoner is offline: set `reasoner: llm` or remove it".into(),
                ));
            }
            ("llm", None) => {
                return Err((
                    key("model"),
                    "an llm assistant needs a model (provider and model at least)".into(),
                ));
            }
            ("llm", Some(m)) => m
                .check()
                .map_err(|(k, why)| (key(&format!("model.{k}")), why))?,
            (other, _) => {
                return Err((
                    key("reasoner"),
                    format!("unknown reasoner {other:?} (available: offline, llm)"),
                ));
            }
        }
        if !(a.confidence_threshold > 0.0 && a.confidence_threshold <= 1.0) {
            return Err((
                key("confidence_threshold"),
                format!("must be in (0, 1], got {}", a.confidence_threshold),
            ));
        }
    }
    let inv = &s.investigation;
    if inv.task_budget == 0 {
        return Err((
            "investigation.task_budget".into(),
            "must be at least 1".into(),
        ));
    }
    if inv.parallel == 0 || inv.parallel > 64 {
        return Err((
            "investigation.parallel".into(),
            format!("must be 1 to 64, got {}", inv.parallel),
        ));
    }
    if inv.max_depth == 0 || inv.max_depth > 10 {
        return Err((
            "investigation.max_depth".into(),
            format!("must be 1 to 10, got {}", inv.max_depth),
        ));
    }
    if inv.time_budget < Duration::from_secs(1) {
        return Err((
            "investigation.time_budget".into(),
            "must be at least 1s".into(),
        ));
    }
    if !assistants(s)
        .iter()
        .any(|a| a.name == inv.default_assistant)
    {
        return Err((
            "investigation.default_assistant".into(),
            format!("no assistant is named {:?}", inv.default_assistant),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::settings::{Settings, SettingsError};
    use std::path::Path;

    fn load(yaml: &str) -> Result<Settings, SettingsError> {
        let path = Path::new("sitrep.yaml");
        let s = Settings::parse(yaml, path)?;
        s.validate(path)?;
        Ok(s)
    }

    /// The key the error names, and its message.
    fn invalid(yaml: &str) -> (String, String) {
        match load(yaml) {
            Err(SettingsError::Invalid { key, message, .. }) => (key, message),
            other => panic!("expected an invalid setting, got {other:?}"),
        }
    }

    const LLM: &str = "investigation:\n  default_assistant: ai\nassistants:\n  - name: ai\n    reasoner: llm\n    model:\n      provider: openai\n      model: m\n";

    #[test]
    fn an_llm_assistant_reads_its_model_and_offline_stays_the_default() {
        let s = load(&format!(
            "{LLM}      api_key: secret:llm-key\n      temperature: 0.2\n      timeout: 30s\n      max_calls: 3\n"
        ))
        .unwrap();
        let m = s.assistants[0].model.as_ref().unwrap();
        assert_eq!(m.api_key_secret(), Ok(Some("llm-key")));
        assert_eq!((m.max_calls, m.token_budget), (3, 200_000));
        assert_eq!(m.timeout, std::time::Duration::from_secs(30));
        let offline = load("").unwrap();
        let a = super::assistants(&offline);
        assert_eq!(
            (a[0].reasoner.as_str(), a[0].model.is_none()),
            ("offline", true)
        );
    }

    #[test]
    fn a_bad_model_setting_is_named() {
        let key = |extra: &str| invalid(&format!("{LLM}{extra}")).0;
        assert_eq!(
            key("      api_key: sk-live-123\n"),
            "assistants[0].model.api_key"
        );
        assert_eq!(
            key("      temperature: 3\n"),
            "assistants[0].model.temperature"
        );
        assert_eq!(
            key("      base_url: ftp://x\n"),
            "assistants[0].model.base_url"
        );
        assert_eq!(key("      max_calls: 0\n"), "assistants[0].model.max_calls");
        let (k, why) = invalid(&LLM.replace("provider: openai", "provider: gemini"));
        assert_eq!(k, "assistants[0].model.provider");
        assert!(why.contains("openai, anthropic"), "{why}");
        let (k, why) = invalid("assistants:\n  - name: ai\n    reasoner: gpt\n");
        assert_eq!(k, "assistants[0].reasoner");
        assert!(why.contains("offline, llm"), "{why}");
        assert_eq!(
            invalid("assistants:\n  - name: ai\n    reasoner: llm\n").0,
            "assistants[0].model"
        );
        assert_eq!(
            invalid(&LLM.replace("reasoner: llm", "reasoner: offline")).0,
            "assistants[0].model"
        );
        // Unknown keys are refused when the file is read.
        assert!(matches!(
            load(&format!("{LLM}      tools: all\n")),
            Err(SettingsError::Parse { .. })
        ));
    }
}
