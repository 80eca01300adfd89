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
    /// `offline` (the built-in deterministic reasoner).
    #[serde(default = "default_reasoner")]
    pub reasoner: String,
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
            confidence_threshold: default_threshold(),
            access: Access::ReadWrite,
            slxs: vec![],
            tags: vec![],
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
        if a.reasoner != "offline" {
            return Err((
                key("reasoner"),
                format!("unknown reasoner {:?} (available: offline)", a.reasoner),
            ));
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
