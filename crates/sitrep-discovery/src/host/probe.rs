//! Asking listeners whether they speak HTTP, and which health path to watch.
//!
//! The conventional health paths come first, and a path that exists stays chosen whatever it
//! answers: a 503 from `/health` is a finding for the SLX to report, not a reason to watch
//! `/` instead. Only "not found" (404, 405, 501) moves on to the next path.

use super::Inventory;
use sitrep_core::map::STATUS;
use std::time::Duration;

/// The paths tried, in order.
pub const HEALTH_PATHS: &[&str] = &["/health", "/healthz", "/"];

const TIMEOUT: Duration = Duration::from_secs(2);

/// What one GET of a path got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Connected but no response in time (a hung or slow service).
    Timeout,
    /// Refused, reset, or not HTTP.
    Failed,
}

/// What probing a base URL concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Something answered HTTP.
    pub http: bool,
    /// The path to watch (when `http`).
    pub path: &'static str,
    /// What that path answered, when it did.
    pub status: Option<u16>,
}

/// Chooses the health path from the answers to [`HEALTH_PATHS`], in order (pure). A path
/// that answered anything but "not found", or did not answer in time while another path
/// proved the server speaks HTTP, is the one; with only "not found"s, `/`; with no answer at
/// all (down), the first conventional path.
pub fn choose(answers: &[Answer]) -> Verdict {
    let http = answers.iter().any(|a| matches!(a, Answer::Status(_)));
    for (path, a) in HEALTH_PATHS.iter().zip(answers) {
        match a {
            Answer::Status(404 | 405 | 501) => continue,
            Answer::Status(code) => {
                return Verdict {
                    http,
                    path,
                    status: Some(*code),
                };
            }
            Answer::Timeout if http => {
                return Verdict {
                    http,
                    path,
                    status: None,
                };
            }
            Answer::Timeout | Answer::Failed => continue,
        }
    }
    let last = HEALTH_PATHS.len() - 1;
    Verdict {
        http,
        path: if http {
            HEALTH_PATHS[last]
        } else {
            HEALTH_PATHS[0]
        },
        status: match answers.get(last) {
            Some(Answer::Status(c)) if http => Some(*c),
            _ => None,
        },
    }
}

async fn ask(client: &reqwest::Client, url: String) -> Answer {
    match client.get(url).timeout(TIMEOUT).send().await {
        Ok(r) => Answer::Status(r.status().as_u16()),
        Err(e) if e.is_timeout() => Answer::Timeout,
        Err(_) => Answer::Failed,
    }
}

async fn answers(client: &reqwest::Client, base: &str) -> Vec<Answer> {
    let mut out = vec![];
    for path in HEALTH_PATHS {
        let a = ask(client, format!("{base}{path}")).await;
        // Refused at the first path: nothing listens (or not HTTP); do not knock again.
        let stop = out.is_empty() && a == Answer::Failed;
        out.push(a);
        if stop {
            break;
        }
    }
    out
}

fn is_down(r: &sitrep_core::map::Resource) -> bool {
    r.properties
        .get(STATUS)
        .and_then(|s| s.get("health"))
        .and_then(|h| h.as_str())
        == Some("down")
}

/// Probes the listening `service`s and `http-service`s (the latter are known to speak HTTP:
/// only their path is chosen here) and nginx's TLS listeners. A service known to speak HTTP
/// that cannot be asked now keeps the first conventional path.
pub async fn probe_http(client: &reqwest::Client, insecure: &reqwest::Client, inv: &mut Inventory) {
    let mut set = tokio::task::JoinSet::new();
    for (i, r) in inv.resources.iter().enumerate() {
        let (Some(host), Some(port)) = (
            r.prop_str("host").map(str::to_string),
            r.properties.get("port").and_then(|p| p.as_u64()),
        ) else {
            continue;
        };
        let (scheme, port, client) = match r.kind.as_str() {
            "service" | "http-service" => ("http", port, client.clone()),
            "nginx" => match r.properties.get("tls_port").and_then(|p| p.as_u64()) {
                Some(tls) => ("https", tls, insecure.clone()),
                None => continue,
            },
            _ => continue,
        };
        let base = format!("{scheme}://{host}:{port}");
        let down = is_down(r);
        set.spawn(async move {
            let got = if down {
                vec![]
            } else {
                answers(&client, &base).await
            };
            (i, base, choose(&got))
        });
    }
    while let Some(Ok((i, base, v))) = set.join_next().await {
        let r = &mut inv.resources[i];
        let url = format!("{base}{}", v.path);
        match r.kind.as_str() {
            "nginx" => {
                r.properties.insert("tls_url".into(), url.into());
            }
            "service" if !v.http => {}
            _ => {
                if r.kind == "service" {
                    r.kind = "http-service".into();
                }
                r.properties.insert("url".into(), base.into());
                r.properties.insert("health_url".into(), url.into());
                if let (Some(code), Some(st)) = (
                    v.status,
                    r.properties.get_mut(STATUS).and_then(|s| s.as_object_mut()),
                ) {
                    st.insert("http_status".into(), code.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Answer::*;

    #[test]
    fn an_error_on_the_health_path_is_a_finding_not_a_reason_to_move() {
        // Issue 16: /health answered 503 at discovery time and the SLX watched `/` (404).
        let v = choose(&[Status(503), Status(404), Status(404)]);
        assert_eq!((v.http, v.path, v.status), (true, "/health", Some(503)));
        assert_eq!(
            choose(&[Status(200), Status(404), Status(404)]).path,
            "/health"
        );
        assert_eq!(
            choose(&[Status(500), Status(200), Status(200)]).path,
            "/health"
        );
        // A slow /health is still the health path once the server proved it speaks HTTP.
        assert_eq!(choose(&[Timeout, Status(404), Status(404)]).path, "/health");
    }

    #[test]
    fn missing_paths_move_on() {
        assert_eq!(
            choose(&[Status(404), Status(200), Status(200)]).path,
            "/healthz"
        );
        assert_eq!(choose(&[Status(404), Status(404), Status(200)]).path, "/");
        let v = choose(&[Status(404), Status(405), Status(404)]);
        assert_eq!((v.http, v.path), (true, "/"));
    }

    #[test]
    fn silence_is_not_http() {
        assert!(!choose(&[Failed]).http);
        assert!(!choose(&[Timeout, Timeout, Timeout]).http);
        // Known to speak HTTP (nginx proxies to it) but down: the first conventional path.
        assert_eq!(choose(&[]).path, "/health");
    }
}
