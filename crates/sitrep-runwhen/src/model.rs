//! A RunWhen codebundle read into sitrep's terms: tasks with a kind, a type and a risk,
//! parameters and secrets, generation rules and template names.

use crate::generation::GenerationRules;
use crate::imports::ImportedVariable;
use serde::Serialize;
pub use sitrep_bundles::RobotSpec;
use sitrep_core::{Risk, TaskKind, TaskType};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The risk a RunWhen `access:read-write` task gets: RunWhen declares none, and sitrep cannot
/// tell a restart from a deletion, so it assumes the worse.
pub const DEFAULT_REMEDIATION_RISK: Risk = Risk::High;

/// The name of the health task a bundle's `sli.robot` becomes.
pub const SLI_TASK: &str = "sli";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunwhenBundle {
    /// The bundle's folder name (`k8s-restart-resource`).
    pub name: String,
    /// `Documentation` of runbook.robot (of sli.robot when the runbook has none).
    pub description: String,
    /// `Metadata` of runbook.robot: `Author`, `Display Name`, `Supports`.
    pub metadata: BTreeMap<String, String>,
    /// Parameters of runbook.robot and sli.robot (the runbook's first).
    pub params: Vec<ImportedVariable>,
    pub secrets: Vec<ImportedVariable>,
    /// Values RunWhen's platform supplies (`Import Platform Variable`).
    pub platform_variables: Vec<ImportedVariable>,
    pub tasks: Vec<RobotTask>,
    pub generation_rules: Vec<GenerationRules>,
    /// File names under `.runwhen/templates/`, sorted (rendered later).
    pub templates: Vec<String>,
    pub dir: PathBuf,
}

impl RunwhenBundle {
    pub fn task(&self, name: &str) -> Option<&RobotTask> {
        self.tasks.iter().find(|t| t.name == name)
    }
    pub fn param(&self, name: &str) -> Option<&ImportedVariable> {
        self.params.iter().find(|p| p.name == name)
    }
    pub fn secret(&self, name: &str) -> Option<&ImportedVariable> {
        self.secrets.iter().find(|s| s.name == name)
    }
}

/// A sitrep task backed by Robot Framework (`TaskType::Robot`), shaped like
/// `sitrep_bundles::Task` so that the catalog can take it as one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobotTask {
    /// A stable slug of the Robot task name (`restart-resource-with-labels-labels-in-context`).
    pub name: String,
    pub description: String,
    pub kind: TaskKind,
    #[serde(rename = "type")]
    pub ty: TaskType,
    /// Health tasks only.
    pub interval: Option<Duration>,
    pub timeout: Duration,
    /// The suite's `Test Tags` and the task's `[Tags]`.
    pub tags: Vec<String>,
    /// Remediations only: [`DEFAULT_REMEDIATION_RISK`].
    pub risk: Option<Risk>,
    /// RunWhen declares none; `None`, with a note saying so.
    pub rollback: Option<String>,
    /// Parameters and secrets of the file the task is in.
    pub params: Vec<String>,
    pub secrets: Vec<String>,
    /// What sitrep assumed in reading it (a defaulted risk, an undeclared rollback).
    pub notes: Vec<String>,
    pub robot: RobotSpec,
}
