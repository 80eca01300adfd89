//! benchmark helpers
pub mod common;
