//! Stub model servers on 127.0.0.1:0. A stub answers each request with the next reply of its
//! script (what the tests write in each provider's documented shapes) and records every
//! request it received, so a test can check what was sent and when.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sitrep_llm::{Config, ProviderKind};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The API key every test uses: no error, log or Debug output may contain it.
pub const CANARY: &str = "sk-canary-7d2b91f0e4a5c3";

/// One scripted reply.
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: StubBody,
}

pub enum StubBody {
    Json(serde_json::Value),
    Text(String),
    /// A `text/event-stream` sent in these pieces, a few milliseconds apart, and then, when
    /// `stall` is set, nothing more for that long before the stream closes.
    Stream {
        pieces: Vec<Vec<u8>>,
        stall: Option<Duration>,
    },
    /// Nothing until this long has passed, then a 200 with an empty JSON object.
    Stall(Duration),
}

impl Reply {
    pub fn json(body: serde_json::Value) -> Reply {
        Reply::status(StatusCode::OK, body)
    }

    pub fn status(status: StatusCode, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: StubBody::Json(body),
        }
    }

    pub fn text(status: StatusCode, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: StubBody::Text(body.to_string()),
        }
    }

    /// An event stream of `text` cut into pieces at every `step` bytes (cutting through
    /// lines, JSON and multi-byte characters alike).
    pub fn stream(text: &str, step: usize) -> Reply {
        let pieces = text.as_bytes().chunks(step).map(<[u8]>::to_vec).collect();
        Reply {
            status: StatusCode::OK,
            headers: vec![],
            body: StubBody::Stream {
                pieces,
                stall: None,
            },
        }
    }

    pub fn stall(wait: Duration) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: vec![],
            body: StubBody::Stall(wait),
        }
    }

    /// A stream that stops sending (without closing) after its pieces, for `wait`.
    pub fn stalling(mut self, wait: Duration) -> Reply {
        if let StubBody::Stream { stall, .. } = &mut self.body {
            *stall = Some(wait);
        }
        self
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// A request a stub received.
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    pub at: Instant,
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct Stub {
    pub base_url: String,
    script: Script,
}

impl Stub {
    pub async fn start(replies: Vec<Reply>) -> Stub {
        let script = Script::default();
        script.replies.lock().unwrap().extend(replies);
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Stub {
            base_url: format!("http://{addr}"),
            script,
        }
    }

    /// The requests received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        std::mem::take(&mut *self.script.received.lock().unwrap())
    }

    /// A config for this stub: the canary key, short timeouts and backoff.
    pub fn config(&self, provider: ProviderKind, base_path: &str) -> Config {
        let mut config = Config::new(provider, "stub-model");
        config.base_url = Some(format!("{}{base_path}", self.base_url));
        config.api_key = Some(sitrep_llm::ApiKey::new(CANARY));
        config.timeout = Duration::from_secs(5);
        config.retry_backoff = Duration::from_millis(10);
        config
    }
}

async fn answer(
    axum::extract::State(script): axum::extract::State<Script>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    script.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        at: Instant::now(),
    });
    let Some(reply) = script.replies.lock().unwrap().pop_front() else {
        return (StatusCode::IM_A_TEAPOT, "the stub's script is exhausted").into_response();
    };
    let mut response = match reply.body {
        StubBody::Json(v) => (reply.status, axum::Json(v)).into_response(),
        StubBody::Text(t) => (reply.status, t).into_response(),
        StubBody::Stall(wait) => {
            tokio::time::sleep(wait).await;
            (reply.status, axum::Json(serde_json::json!({}))).into_response()
        }
        StubBody::Stream { pieces, stall } => {
            let rest = (pieces.into_iter(), stall);
            let pieces = futures_util::stream::unfold(rest, |(mut rest, stall)| async move {
                let Some(piece) = rest.next() else {
                    tokio::time::sleep(stall?).await;
                    return None;
                };
                tokio::time::sleep(Duration::from_millis(2)).await;
                Some((Ok::<_, std::convert::Infallible>(piece), (rest, stall)))
            });
            let mut r = Response::new(Body::from_stream(pieces));
            *r.status_mut() = reply.status;
            r.headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            r
        }
    };
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Fails when the canary appears in `text`.
pub fn assert_no_key(text: &str) {
    assert!(!text.contains(CANARY), "the API key leaked: {text}");
    assert!(
        !text.contains(&CANARY[3..]),
        "part of the API key leaked: {text}"
    );
}

/// Fails when the canary appears in the error's message or Debug output.
pub fn assert_error_hides_key(e: &sitrep_llm::Error) {
    assert_no_key(&format!("{e} {e:?}"));
}

/// Collects the text deltas a stream sent.
pub fn drain(mut rx: tokio::sync::mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut out = vec![];
    while let Ok(piece) = rx.try_recv() {
        out.push(piece);
    }
    out
}
