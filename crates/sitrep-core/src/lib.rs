//! sitrep's domain: the types every other crate speaks, and the pure logic over them.
//!
//! Nothing here performs I/O, spawns tasks or reads the clock: time comes in as a
//! [`Timestamp`] argument, so every rule here is testable with plain values.

pub mod access;
pub mod approval;
pub mod clock;
pub mod currency;
pub mod delivery;
pub mod expr;
pub mod fingerprint;
pub mod intake;
pub mod investigation;
pub mod issue;
pub mod knowledge;
pub mod map;
pub mod map_query;
pub mod protocol;
pub mod redact;
pub mod rules;
pub mod schedule;
pub mod secret;
pub mod slx_plan;
pub mod table;
pub mod template;
pub mod time;
pub mod types;
pub mod webhook;
pub mod workflow;

pub use clock::Clock;
pub use time::Timestamp;
pub use types::*;
