//! Runs tasks. Every run gets a private temp dir, its own process group (killed whole at the
//! timeout), capped stdout/stderr, an allow-listed environment, and has every captured byte
//! redacted of its secrets before anything is stored or returned.

mod capture;
pub mod clock;
mod error;
mod exec;
mod limits;
mod rows;
mod runner;
pub mod scheduler;
pub mod secrets;
pub mod sli_watch;
mod tls;

pub use clock::{SystemClock, TokioClock};
pub use error::RunError;
pub use limits::Limits;
pub use runner::{RunOutput, RunRequest, Runner, RunnerConfig};
pub use sli_watch::{SliWatch, SliWatchConfig};
