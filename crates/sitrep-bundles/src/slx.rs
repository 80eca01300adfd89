//! Which tasks an SLX runs: one rule for the scheduler and for running an SLX by hand.

use crate::catalog::Catalog;
use sitrep_core::time::parse_duration;
use sitrep_core::{Slx, TaskKind, TaskRef, TaskType};
use std::time::Duration;

/// One health task of an SLX and how often it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlxTask {
    pub task: TaskRef,
    pub interval: Duration,
}

/// Why an SLX's entry was left out; the rest of the SLX still runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlxTaskProblem {
    #[error("SLX {slx}: bundle {bundle:?} must be written COLLECTION/BUNDLE")]
    BadBundleName { slx: String, bundle: String },
    #[error("SLX {slx}: bundle {bundle} is not loaded (see the collections in sitrep.yaml)")]
    UnknownBundle { slx: String, bundle: String },
    #[error("SLX {slx}: bundle {bundle} has no task {task:?}")]
    UnknownTask {
        slx: String,
        bundle: String,
        task: String,
    },
    #[error(
        "SLX {slx}: {task} is a {kind} task; an SLX schedules health tasks only (diagnostics run in investigations, remediations only after an approval)"
    )]
    NotHealth {
        slx: String,
        task: String,
        kind: TaskKind,
    },
    #[error(
        "SLX {slx}: {task} is a {ty} task and the {ty} runtime is not installed; it is scheduled once `sitrep runtimes install {ty}` has installed it (see docs/runwhen.md)"
    )]
    NoRuntime {
        slx: String,
        task: String,
        ty: TaskType,
    },
    #[error("SLX {slx}: task {task}: interval {interval:?}: {message}")]
    BadInterval {
        slx: String,
        task: String,
        interval: String,
        message: String,
    },
}

/// The SLX's health tasks with their intervals: the tasks it lists, or every health task of
/// its bundle when it lists none. Entries that cannot run are returned as problems, never
/// silently dropped; a stale SLX runs nothing. Robot tasks are among them only when
/// `robot_runtime` (the runtime they run in is installed, or will be on their first run).
pub fn slx_health_tasks(
    catalog: &Catalog,
    slx: &Slx,
    robot_runtime: bool,
) -> (Vec<SlxTask>, Vec<SlxTaskProblem>) {
    let mut problems = vec![];
    if slx.stale {
        return (vec![], problems);
    }
    let Some((collection, bundle_name)) = slx.bundle.split_once('/') else {
        problems.push(SlxTaskProblem::BadBundleName {
            slx: slx.name.clone(),
            bundle: slx.bundle.clone(),
        });
        return (vec![], problems);
    };
    let Some(bundle) = catalog
        .collections
        .iter()
        .find(|c| c.name == collection)
        .and_then(|c| c.bundle(bundle_name))
    else {
        problems.push(SlxTaskProblem::UnknownBundle {
            slx: slx.name.clone(),
            bundle: slx.bundle.clone(),
        });
        return (vec![], problems);
    };
    let chosen: Vec<(&str, Option<&str>)> = if slx.tasks.is_empty() {
        bundle
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Health)
            .map(|t| (t.name.as_str(), None))
            .collect()
    } else {
        slx.tasks
            .iter()
            .map(|t| (t.task.as_str(), t.interval.as_deref()))
            .collect()
    };
    let mut out = vec![];
    for (name, interval) in chosen {
        let Some(task) = bundle.task(name) else {
            problems.push(SlxTaskProblem::UnknownTask {
                slx: slx.name.clone(),
                bundle: slx.bundle.clone(),
                task: name.into(),
            });
            continue;
        };
        let task_ref = TaskRef::new(collection, bundle_name, name);
        if task.kind != TaskKind::Health {
            problems.push(SlxTaskProblem::NotHealth {
                slx: slx.name.clone(),
                task: task_ref.to_string(),
                kind: task.kind,
            });
            continue;
        }
        if !robot_runtime && matches!(task.spec, crate::model::TaskSpec::Robot(_)) {
            problems.push(SlxTaskProblem::NoRuntime {
                slx: slx.name.clone(),
                task: task_ref.to_string(),
                ty: task.ty,
            });
            continue;
        }
        let interval = match interval.map(parse_duration).transpose() {
            Ok(i) => i
                .or(task.interval)
                .unwrap_or(crate::model::DEFAULT_INTERVAL),
            Err(message) => {
                problems.push(SlxTaskProblem::BadInterval {
                    slx: slx.name.clone(),
                    task: task_ref.to_string(),
                    interval: interval.unwrap_or_default().into(),
                    message,
                });
                continue;
            }
        };
        out.push(SlxTask {
            task: task_ref,
            interval,
        });
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bundle, Collection, RobotSpec, Task, TaskSpec};

    fn task(name: &str, spec: TaskSpec, ty: TaskType) -> Task {
        Task {
            name: name.into(),
            description: String::new(),
            kind: TaskKind::Health,
            ty,
            interval: None,
            timeout: crate::model::DEFAULT_TIMEOUT,
            tags: vec![],
            risk: None,
            rollback: None,
            params: vec![],
            spec,
        }
    }

    #[test]
    fn robot_health_tasks_are_skipped_with_a_reason_and_the_rest_is_scheduled() {
        let robot = TaskSpec::Robot(RobotSpec {
            file: "sli.robot".into(),
            test: None,
            line: 1,
            timeout: None,
        });
        let script = TaskSpec::Script {
            interpreter: crate::model::Interpreter::Bash,
            path: "check.sh".into(),
        };
        let catalog = Catalog {
            collections: vec![Collection {
                name: "rw".into(),
                description: String::new(),
                version: String::new(),
                root: "/x".into(),
                bundles: vec![Bundle {
                    name: "b".into(),
                    description: String::new(),
                    resource_type: String::new(),
                    tags: vec![],
                    params: vec![],
                    secrets: vec![],
                    tasks: vec![
                        task("sli", robot, TaskType::Robot),
                        task("check", script, TaskType::Bash),
                    ],
                    hypotheses: vec![],
                    generation_rules: vec![],
                    dir: "/x/b".into(),
                }],
            }],
            quarantined: vec![],
        };
        let slx = Slx {
            workspace: "w".into(),
            name: "s".into(),
            resource: "r".into(),
            bundle: "rw/b".into(),
            description: String::new(),
            tasks: vec![],
            config: Default::default(),
            secrets: Default::default(),
            stale: false,
            generated: None,
        };
        let (all, problems) = slx_health_tasks(&catalog, &slx, true);
        assert_eq!(all.len(), 2, "{problems:?}");
        let (tasks, problems) = slx_health_tasks(&catalog, &slx, false);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].task.to_string(), "rw/b/check");
        assert_eq!(
            problems,
            [SlxTaskProblem::NoRuntime {
                slx: "s".into(),
                task: "rw/b/sli".into(),
                ty: TaskType::Robot,
            }]
        );
        assert!(
            problems[0]
                .to_string()
                .contains("sitrep runtimes install robot")
        );
    }
}
