//! Runs tasks. Every run gets a private temp dir, its own cgroup where cgroup v2 allows and
//! its own process group always (killed whole at the timeout, at an interruption, and, through
//! a parent-death signal and [`Runner::recover`], when sitrep dies), capped stdout/stderr, an
//! allow-listed environment, and has every captured byte redacted of its secrets before
//! anything is stored or returned.

mod capture;
pub mod clock;
mod error;
mod exec;
mod lifecycle;
mod limits;
mod prepare;
mod recover;
mod robot;
mod rows;
mod rundir;
mod runner;
pub mod scheduler;
mod script_task;
pub mod secrets;
pub mod sli_watch;
mod tls;
pub mod tree;

pub use clock::{SystemClock, TokioClock};
pub use error::RunError;
pub use limits::Limits;
pub use recover::Recovery;
pub use robot::runtime::ROBOT;
pub use robot::{RobotRuntime, RuntimeError, RuntimeStatus};
pub use runner::{RunOutput, RunRequest, Runner, RunnerConfig, Shutdown};
pub use sli_watch::{SliWatch, SliWatchConfig};
pub use tree::cgroup::Isolation;
