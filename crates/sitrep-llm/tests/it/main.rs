//! The providers against local stub servers that speak each API's documented shapes: one
//! binary, one shared harness (`harness.rs`).

mod anthropic;
mod failures;
mod harness;
mod openai;
