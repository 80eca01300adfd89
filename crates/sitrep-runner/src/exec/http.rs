//! http tasks: one request, checked against the expectations; an unmet expectation is an issue
//! (the endpoint is the thing being diagnosed), not a failed run.

use super::Outcome;
use crate::tls;
use sitrep_bundles::HttpSpec;
use sitrep_core::time::parse_duration;
use sitrep_core::{IssueDraft, RunStatus, Severity};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Response bodies are read up to this size.
const MAX_BODY: usize = 1024 * 1024;

/// The HTTP clients, built on first use (a TLS client set-up costs milliseconds, and most
/// processes never make a request).
#[derive(Default)]
pub struct HttpClients {
    strict: std::sync::OnceLock<reqwest::Client>,
    insecure: std::sync::OnceLock<reqwest::Client>,
}

impl HttpClients {
    fn build(insecure: bool) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .tls_info(true)
            .danger_accept_invalid_certs(insecure)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("sitrep/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises")
    }

    /// A client for plain API calls (Prometheus).
    pub fn api(&self) -> &reqwest::Client {
        self.strict.get_or_init(|| Self::build(false))
    }

    fn for_spec(&self, insecure: bool) -> &reqwest::Client {
        if insecure {
            self.insecure.get_or_init(|| Self::build(true))
        } else {
            self.api()
        }
    }
}

/// A spec with `${NAME}` already filled.
pub struct HttpRun<'a> {
    pub clients: &'a HttpClients,
    pub spec: HttpSpec,
    pub timeout: Duration,
    pub now_secs: i64,
}

pub async fn run(r: HttpRun<'_>) -> Outcome {
    let spec = &r.spec;
    let severity = Severity::new(spec.severity).unwrap_or(Severity::MAJOR);
    let target = display_target(&spec.url);
    let client = r.clients.for_spec(spec.insecure);
    let method = match reqwest::Method::from_bytes(spec.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => return Outcome::failed(format!("invalid HTTP method {:?}", spec.method)),
    };
    let mut req = client.request(method, &spec.url).timeout(r.timeout);
    for (k, v) in &spec.headers {
        req = req.header(k, v);
    }
    if let Some(b) = &spec.body {
        req = req.body(b.clone());
    }
    let mut out = Outcome {
        status: Some(RunStatus::Succeeded),
        exit_code: Some(0),
        ..Default::default()
    };
    let started = Instant::now();
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let mut d = IssueDraft::new(severity, format!("{target} is unreachable"));
            d.expected = "the endpoint answers".into();
            d.actual = error_chain(&e);
            d.next_steps = format!(
                "Check that the service behind {target} is running and listening, and that DNS and the network path to it work."
            );
            d.reproduce_hint = format!("curl -sv -o /dev/null '{}'", spec.url);
            out.results.issues.push(d);
            out.report = format!("{} {} → error: {}", spec.method, spec.url, error_chain(&e));
            return out;
        }
    };
    let status = resp.status();
    let cert_expiry = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .and_then(tls::not_after);
    let mut body = Vec::new();
    let mut resp = resp;
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..room.min(chunk.len())]);
        if room == 0 {
            break;
        }
    }
    let latency = started.elapsed();
    let body = String::from_utf8_lossy(&body);
    let metric = |name: &str, v: f64| (name.to_string(), v, BTreeMap::new());
    out.results
        .metrics
        .push(metric("http_status", f64::from(status.as_u16())));
    out.results
        .metrics
        .push(metric("http_latency_ms", latency.as_secs_f64() * 1000.0));

    let status_ok = match &spec.expect.status {
        Some(list) => list.contains(status.as_u16()),
        None => status.is_success() || status.is_redirection(),
    };
    if !status_ok {
        let mut d = IssueDraft::new(
            severity,
            format!("{target} returns an unexpected HTTP status"),
        );
        d.expected = spec
            .expect
            .status
            .as_ref()
            .map_or("a 2xx or 3xx status".into(), |s| {
                format!("status {}", s.describe())
            });
        d.actual = format!("status {status}");
        d.details = format!(
            "first bytes of the body:\n{}",
            body.chars().take(500).collect::<String>()
        );
        d.next_steps = format!(
            "Look at the logs of the service behind {target} (and of any proxy in front of it) for errors at this time."
        );
        d.reproduce_hint = format!("curl -si '{}'", spec.url);
        out.results.issues.push(d);
    }
    if let Some(needle) = &spec.expect.body_contains {
        if !body.contains(needle.as_str()) {
            let mut d = IssueDraft::new(
                severity,
                format!("{target} response lacks the expected content"),
            );
            d.expected = format!("the body contains {needle:?}");
            d.actual = format!("{} bytes without it", body.len());
            d.next_steps =
                "Check whether the service answers with an error page or a different version."
                    .into();
            out.results.issues.push(d);
        }
    }
    if let Some(max) = spec
        .expect
        .max_latency
        .as_deref()
        .and_then(|m| parse_duration(m).ok())
    {
        if latency > max {
            let mut d = IssueDraft::new(severity, format!("{target} is slow"));
            d.expected = format!("a response within {max:?}");
            d.actual = format!("{} ms", latency.as_millis());
            d.next_steps = "Check the service's own latency metrics and its dependencies (database, cache) for saturation.".into();
            out.results.issues.push(d);
        }
    }
    if let Some(expiry) = cert_expiry {
        let days = (expiry - r.now_secs) as f64 / 86_400.0;
        out.results
            .metrics
            .push(metric("tls_cert_days_left", (days * 10.0).round() / 10.0));
        if let Some(min) = spec.expect.cert_min_days {
            if days < min as f64 {
                let sev = if days <= 0.0 {
                    Severity::CRITICAL
                } else {
                    severity
                };
                let title = if days <= 0.0 {
                    format!("TLS certificate of {target} has expired")
                } else {
                    format!("TLS certificate of {target} expires soon")
                };
                let mut d = IssueDraft::new(sev, title);
                d.expected = format!("at least {min} days of validity");
                d.actual = format!(
                    "{days:.1} days left (expires {})",
                    sitrep_core::Timestamp(expiry * 1000)
                );
                d.next_steps =
                    "Renew the certificate and reload the server that presents it.".into();
                d.reproduce_hint = format!(
                    "echo | openssl s_client -connect {} 2>/dev/null | openssl x509 -noout -enddate",
                    host_port(&spec.url)
                );
                out.results.issues.push(d);
            }
        }
    }
    out.report = format!(
        "{} {} → {} in {} ms",
        spec.method,
        spec.url,
        status,
        latency.as_millis()
    );
    out
}

/// `https://host:port/path` without query string or credentials, for titles.
fn display_target(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    match no_query.find("://") {
        Some(s) => {
            let rest = &no_query[s + 3..];
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            format!("{}://{}", &no_query[..s], rest)
        }
        None => no_query.to_string(),
    }
}

fn host_port(url: &str) -> String {
    let t = display_target(url);
    let rest = t.split("://").nth(1).unwrap_or(&t);
    let hp = rest.split('/').next().unwrap_or(rest);
    if hp.contains(':') {
        hp.to_string()
    } else {
        format!("{hp}:443")
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_hide_credentials_and_queries() {
        assert_eq!(
            display_target("https://u:p@api.example.com:8443/health?token=abc"),
            "https://api.example.com:8443/health"
        );
        assert_eq!(host_port("https://example.com/x"), "example.com:443");
    }
}
