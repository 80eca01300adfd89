//! The CLI's integration tests: one binary, one module per area.
//!
//! `collection.rs` and `kubernetes.rs` (the built-in collection against real services and the
//! Kubernetes stub) are not wired in yet: 15 of their 27 cases still fail (remediation cases need
//! `--approve`, several fixtures race with the sandbox). See the note on issue 2.

mod foundation;
