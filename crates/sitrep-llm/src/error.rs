//! Errors say what to fix. None of them carries the API key: the text a server sends back is
//! redacted of it before it becomes part of an error.

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid LLM settings: {message}")]
    Config { message: String },

    #[error(
        "could not reach {url}: {reason}; check base_url and that the server is running \
         ({attempts} attempt(s))"
    )]
    Unreachable {
        url: String,
        reason: String,
        attempts: u32,
    },

    #[error(
        "{url} did not answer within {}; raise timeout or check the server ({attempts} \
         attempt(s))",
        sitrep_core::time::format_duration(*timeout)
    )]
    Timeout {
        url: String,
        timeout: Duration,
        attempts: u32,
    },

    #[error(
        "the API key was refused by {url} (HTTP {status}): {message}; check api_key and that \
         it is a key for this provider"
    )]
    Unauthorized {
        url: String,
        status: u16,
        message: String,
    },

    #[error("model {model:?} not found at {url}: {message}; check model")]
    ModelNotFound {
        model: String,
        url: String,
        message: String,
    },

    #[error(
        "{url} does not exist (HTTP 404): {message}; check base_url (an OpenAI-compatible \
         server's usually ends in /v1, Anthropic's has none)"
    )]
    NotFound { url: String, message: String },

    #[error("{url} refused the request (HTTP {status}): {message}")]
    Rejected {
        url: String,
        status: u16,
        message: String,
    },

    #[error(
        "{url} still failed with HTTP {status} after {attempts} attempt(s): {message}; \
         try again later or raise max_retries"
    )]
    Exhausted {
        url: String,
        status: u16,
        attempts: u32,
        message: String,
    },

    #[error("malformed response from {url}: {what}")]
    Malformed { url: String, what: String },

    /// The server answered, with an error in place of the answer (in a stream, say).
    #[error("{url} answered with an error: {message}")]
    Reported { url: String, message: String },
}
