//! A hypothesis of the model's own: a statement in its words about a Map resource, tested by
//! read-only tasks of the SLXs that watch that resource. The engine checks every part, keeps
//! the statement as the model's (source `reasoner`, with the model's reason; no remedy, no
//! declared symptoms) and judges it by its tasks' results like any other hypothesis.

use super::arg;
use crate::investigate::context::{Candidate, Context};
use serde_json::Value;
use sitrep_core::investigation::{Remedy, Source, TestPlan};
use sitrep_core::protocol::cap;
use sitrep_core::{TaskKind, TaskRef};
use sitrep_llm::ToolCall;

/// The longest statement or reason of the model's that is kept.
const TEXT_CAP: usize = 300;
/// At most this many tasks test one hypothesis of the model's.
const MAX_TASKS: usize = 4;
/// Its prior before the resource's relevance: under what an open issue or a matching failure
/// mode suggests, so the model's judgement orders testing but never outweighs a finding.
const PRIOR: f64 = 0.3;

/// The candidate `propose_hypothesis` describes, or why the engine refuses it.
pub(super) fn own_hypothesis(ctx: &Context, call: &ToolCall) -> Result<Candidate, String> {
    let statement = arg(call, "statement").map(str::trim).unwrap_or_default();
    if statement.is_empty() {
        return Err("a statement is needed: what is wrong, in one sentence".into());
    }
    let named = arg(call, "resource").unwrap_or_default();
    let resource = ctx
        .resource(named)
        .map(|r| r.name.clone())
        .ok_or_else(|| format!("there is no resource {named:?} in the Map"))?;
    let tasks: Vec<&str> = call
        .arguments
        .get("tasks")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if tasks.is_empty() || tasks.len() > MAX_TASKS {
        return Err(format!(
            "name 1 to {MAX_TASKS} read-only tasks of the SLXs watching {resource} that would test it"
        ));
    }
    let mut tests: Vec<TestPlan> = vec![];
    for task in tasks {
        let plan = test_plan(ctx, &resource, task)?;
        if !tests.contains(&plan) {
            tests.push(plan);
        }
    }
    let checks: Vec<&str> = tests.iter().map(|t| t.task.as_str()).collect();
    Ok(Candidate {
        statement: cap(statement.to_string(), TEXT_CAP),
        category: format!("model/{}", slug(statement)),
        source: Source::Reasoner {
            note: cap(
                arg(call, "reason").unwrap_or_default().trim().to_string(),
                TEXT_CAP,
            ),
        },
        confirm_if: format!("{} raises a major issue on {resource}", checks.join(" or ")),
        refute_if: format!("{} run clean", checks.join(" and ")),
        tests,
        prior: PRIOR * ctx.relevance(&resource),
        remedy: Remedy::default(),
        signal: false,
        change: false,
        symptoms: vec![],
        resource,
    })
}

/// `task` as a task of the catalog that changes nothing, or why the model may not name it.
pub(super) fn read_only(ctx: &Context, task: &str) -> Result<TaskRef, String> {
    let r = TaskRef::parse(task).map_err(|_| format!("{task:?} is not a task"))?;
    let kind = ctx
        .catalog
        .resolve(&r)
        .map_err(|_| format!("there is no task {task:?}"))?
        .task
        .kind;
    if kind == TaskKind::Remediation {
        return Err(format!(
            "{task} is a remediation: the engine proposes one after concluding, and only a person's approval runs it"
        ));
    }
    Ok(r)
}

/// How `task` tests something on `resource`: through an SLX watching it whose bundle has the
/// task, which must not be a remediation.
fn test_plan(ctx: &Context, resource: &str, task: &str) -> Result<TestPlan, String> {
    let r = read_only(ctx, task)?;
    let bundle = format!("{}/{}", r.collection, r.bundle);
    let slxs = ctx.slxs_of(resource);
    slxs.iter()
        .find(|s| s.bundle == bundle)
        .and_then(|s| ctx.test(s, &r.task))
        .ok_or_else(|| {
            let watching: Vec<&str> = slxs.iter().map(|s| s.bundle.as_str()).collect();
            format!(
                "{task} is not a task of an SLX watching {resource} (its SLXs run the bundles: {})",
                if watching.is_empty() {
                    "none".to_string()
                } else {
                    watching.join(", ")
                }
            )
        })
}

/// A short category from the model's statement: its first words, lower case, joined by `-`.
fn slug(statement: &str) -> String {
    let words: Vec<String> = statement
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_lowercase)
        .collect();
    words.join("-").chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_category_is_the_statement_s_first_words() {
        assert_eq!(
            super::slug("The DB's pool is FULL: clients wait, then time out"),
            "the-db-s-pool-is-full"
        );
    }
}
