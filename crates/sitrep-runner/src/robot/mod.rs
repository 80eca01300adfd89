//! Robot Framework tasks of RunWhen codebundles (docs/runwhen.md): the managed runtime they
//! run in, and how the runner starts one.

pub mod runtime;
mod task;

pub use runtime::{RobotRuntime, RuntimeError, RuntimeStatus};
pub(crate) use task::ManagedRobot;
