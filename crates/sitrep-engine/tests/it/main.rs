//! The engine's integration tests: one binary, one shared harness (`harness.rs`), real task
//! processes and a real SQLite store in a temporary home.

mod approvals;
mod harness;
mod investigations;
mod llm;
mod model_stub;
mod runs;
mod search_quality;
mod studio;
mod vault;
