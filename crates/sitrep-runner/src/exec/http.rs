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

/// What an http task measures, from the expectations it declares. A task that declares only
/// `max_latency` and/or `cert_min_days` measures those and depends on a response (and, for the
/// certificate, on HTTPS); every other task checks availability: a response with the expected
/// status (and body). A task that cannot take any of its measurements is inconclusive.
struct Checks {
    availability: bool,
    max_latency: Option<Duration>,
    cert_min_days: Option<i64>,
    body_contains: Option<String>,
}

impl Checks {
    fn of(spec: &HttpSpec) -> Result<Checks, String> {
        let e = &spec.expect;
        let max_latency = match e.max_latency.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(l) => Some(parse_duration(l).map_err(|err| format!("max_latency {l:?}: {err}"))?),
        };
        let body_contains = e.body_contains.clone().filter(|b| !b.is_empty());
        let availability = e.status.is_some()
            || body_contains.is_some()
            || (max_latency.is_none() && e.cert_min_days.is_none());
        Ok(Checks {
            availability,
            max_latency,
            cert_min_days: e.cert_min_days,
            body_contains,
        })
    }
}

pub async fn run(r: HttpRun<'_>) -> Outcome {
    let spec = &r.spec;
    let severity = Severity::new(spec.severity).unwrap_or(Severity::MAJOR);
    let target = display_target(&spec.url);
    let checks = match Checks::of(spec) {
        Ok(c) => c,
        Err(e) => return Outcome::failed(e),
    };
    let https = spec
        .url
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("https://");
    if !https
        && checks.cert_min_days.is_some()
        && !checks.availability
        && checks.max_latency.is_none()
    {
        return Outcome::inconclusive(format!(
            "{target} is not an https URL: it serves no certificate to check"
        ));
    }
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
            let failure = Failure::of(&e, r.timeout, &spec.url);
            if !checks.availability {
                return Outcome::inconclusive(format!(
                    "no response from {target} ({}); whether it is up is for its availability check to say",
                    failure.actual
                ));
            }
            out.report = format!(
                "{} {} → no response: {}",
                spec.method, spec.url, failure.actual
            );
            out.results
                .issues
                .push(failure.issue(severity, &target, &spec.url));
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
    let answered = format!("HTTP {status} in {}", ms(latency));

    if checks.availability {
        let status_ok = match &spec.expect.status {
            Some(list) => list.contains(status.as_u16()),
            None => status.is_success() || status.is_redirection(),
        };
        if !status_ok {
            let mut d = IssueDraft::new(
                severity,
                format!("{target} returns HTTP {}", status.as_u16()),
            );
            d.expected = spec
                .expect
                .status
                .as_ref()
                .map_or("a 2xx or 3xx status".into(), |s| {
                    format!("status {}", s.describe())
                });
            d.actual = answered.clone();
            d.details = format!(
                "first bytes of the body:\n{}",
                body.chars().take(500).collect::<String>()
            );
            d.next_steps = if status.is_server_error() {
                format!(
                    "The service behind {target} answers but fails: look at its logs (and those of any proxy in front of it) for errors at this time, and at the dependencies it needs to serve this path."
                )
            } else {
                format!(
                    "The server answers {target} with a client error: check that the path, method and headers are what it serves (a changed route, authentication, a proxy rule)."
                )
            };
            d.reproduce_hint = format!("curl -si '{}'", spec.url);
            out.results.issues.push(d);
        } else if let Some(needle) = &checks.body_contains {
            // Only a good status makes the body meaningful; a bad one is already the issue.
            if !body.contains(needle.as_str()) {
                let mut d = IssueDraft::new(
                    severity,
                    format!("{target} response lacks the expected content"),
                );
                d.expected = format!("the body contains {needle:?}");
                d.actual = format!("{answered}, {} bytes without it", body.len());
                d.next_steps =
                    "Check whether the service answers with an error page or a different version."
                        .into();
                d.reproduce_hint = format!("curl -si '{}'", spec.url);
                out.results.issues.push(d);
            }
        }
    }
    if let Some(max) = checks.max_latency.filter(|max| latency > *max) {
        let mut d = IssueDraft::new(severity, format!("{target} responds slowly"));
        d.expected = format!("a response within {}", ms(max));
        d.actual = answered.clone();
        d.next_steps = "It answers, but slowly: check the service's own latency metrics and its dependencies (database, cache) for saturation; a request trace shows whether DNS, connect, TLS or the server's time is slow.".into();
        d.reproduce_hint = format!(
            "curl -so /dev/null -w 'connect %{{time_connect}}s, first byte %{{time_starttransfer}}s, total %{{time_total}}s\\n' '{}'",
            spec.url
        );
        out.results.issues.push(d);
    }
    if let Some(expiry) = cert_expiry {
        let days = (expiry - r.now_secs) as f64 / 86_400.0;
        out.results
            .metrics
            .push(metric("tls_cert_days_left", (days * 10.0).round() / 10.0));
        if let Some(min) = checks.cert_min_days.filter(|min| days < *min as f64) {
            out.results
                .issues
                .push(cert_issue(severity, &target, &spec.url, days, min, expiry));
        }
    }
    out.report = format!("{} {} → {answered}", spec.method, spec.url);
    if checks.cert_min_days.is_some() && cert_expiry.is_none() {
        out.report.push_str("\nno certificate: not an https URL");
    }
    out
}

fn cert_issue(
    severity: Severity,
    target: &str,
    url: &str,
    days: f64,
    min: i64,
    expiry: i64,
) -> IssueDraft {
    let expired = days <= 0.0;
    let (sev, title) = if expired {
        (
            Severity::CRITICAL,
            format!("TLS certificate of {target} has expired"),
        )
    } else {
        (
            severity,
            format!("TLS certificate of {target} expires soon"),
        )
    };
    let mut d = IssueDraft::new(sev, title);
    d.expected = format!("at least {min} days of validity");
    d.actual = format!(
        "{days:.1} days left (expires {})",
        sitrep_core::Timestamp(expiry * 1000)
    );
    d.next_steps = "Renew the certificate and reload the server that presents it.".into();
    d.reproduce_hint = format!(
        "echo | openssl s_client -connect {} 2>/dev/null | openssl x509 -noout -enddate",
        host_port(url)
    );
    d
}

/// `12 ms`, `2.35 s`.
fn ms(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Why a request got no response, told apart the way an operator would: nothing listening,
/// nothing answering, a name that does not resolve, TLS, a hang after connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    Refused,
    ConnectTimeout,
    NoResponse,
    Closed,
    Dns,
    CertInvalid,
    Tls,
    RedirectLoop,
    Unreachable,
}

struct Failure {
    kind: FailureKind,
    /// What happened, with the measured limit: `connection refused`, `no response within 10 s`.
    actual: String,
    /// The error chain, for details.
    chain: String,
}

impl Failure {
    fn of(e: &reqwest::Error, timeout: Duration, url: &str) -> Failure {
        let chain = error_chain(e);
        let lower = chain.to_ascii_lowercase();
        let io_kind = io_error_kind(e);
        let hp = host_port(url);
        use std::io::ErrorKind as K;
        let (kind, actual) = if e.is_redirect() {
            (FailureKind::RedirectLoop, "too many redirects".to_string())
        } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
            (
                FailureKind::Dns,
                format!("the host name of {hp} does not resolve"),
            )
        } else if io_kind == Some(K::ConnectionRefused) {
            (
                FailureKind::Refused,
                format!("connection refused: nothing listens on {hp} (or a firewall rejects it)"),
            )
        } else if e.is_timeout() && e.is_connect() || io_kind == Some(K::TimedOut) {
            (
                FailureKind::ConnectTimeout,
                format!("no connection to {hp} within {}", ms(timeout)),
            )
        } else if e.is_timeout() {
            (
                FailureKind::NoResponse,
                format!("connected, but no response within {}", ms(timeout)),
            )
        } else if lower.contains("certificate") || lower.contains("unknownissuer") {
            (
                FailureKind::CertInvalid,
                "the server's certificate does not verify".to_string(),
            )
        } else if lower.contains("tls") || lower.contains("handshake") || lower.contains("ssl") {
            (FailureKind::Tls, "the TLS handshake failed".to_string())
        } else if matches!(
            io_kind,
            Some(K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe)
        ) || lower.contains("connection closed")
            || lower.contains("incomplete message")
        {
            (
                FailureKind::Closed,
                "the connection was closed before a response".to_string(),
            )
        } else {
            (FailureKind::Unreachable, format!("{hp} cannot be reached"))
        };
        Failure {
            kind,
            actual,
            chain,
        }
    }

    fn issue(&self, severity: Severity, target: &str, url: &str) -> IssueDraft {
        let (title, next_steps) = match self.kind {
            FailureKind::Refused => (
                format!("{target} refuses connections"),
                format!("The host answers but nothing accepts connections on {}: check whether the service is running (crashed, restarting, listening on another port or address).", host_port(url)),
            ),
            FailureKind::ConnectTimeout => (
                format!("{target} does not accept connections"),
                "Nothing answers at all: check that the host is up and that the network path (routes, firewalls, security groups) lets the connection through.".to_string(),
            ),
            FailureKind::NoResponse => (
                format!("{target} accepts connections but does not respond"),
                "The service accepts the connection and then hangs: look for a stalled worker pool, a dependency it waits on (database, cache, upstream) or a deadlock; its thread dump or logs show where it waits.".to_string(),
            ),
            FailureKind::Closed => (
                format!("{target} closes connections without responding"),
                "The service drops the connection before answering: look for crashes, restarts or a proxy/keep-alive mismatch in its logs.".to_string(),
            ),
            FailureKind::Dns => (
                format!("{target} host name does not resolve"),
                "Check the DNS record of the host and the resolver this machine uses (dig +short NAME).".to_string(),
            ),
            FailureKind::CertInvalid => (
                format!("TLS certificate of {target} does not verify"),
                "Clients that verify certificates cannot connect: check the chain the server sends (intermediates), the name it was issued for and its validity dates.".to_string(),
            ),
            FailureKind::Tls => (
                format!("{target} fails the TLS handshake"),
                "Check the server's TLS configuration (protocol versions, ciphers, certificate and key) and whether something other than TLS answers on that port.".to_string(),
            ),
            FailureKind::RedirectLoop => (
                format!("{target} redirects in a loop"),
                "Follow the redirects (curl -sIL) and fix the rule that sends the request back (often http/https or a trailing slash).".to_string(),
            ),
            FailureKind::Unreachable => (
                format!("{target} is unreachable"),
                format!("Check that the service behind {target} is running and listening, and that DNS and the network path to it work."),
            ),
        };
        let mut d = IssueDraft::new(severity, title);
        d.expected = "an HTTP response".into();
        d.actual = self.actual.clone();
        d.details = self.chain.clone();
        d.next_steps = next_steps;
        d.reproduce_hint = format!("curl -sv -o /dev/null '{url}'");
        d
    }
}

fn io_error_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = src {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        src = err.source();
    }
    None
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

/// `host:port` of a URL, with the scheme's default port.
fn host_port(url: &str) -> String {
    let t = display_target(url);
    let (scheme, rest) = t.split_once("://").unwrap_or(("https", &t));
    let hp = rest.split('/').next().unwrap_or(rest);
    if hp.contains(':') {
        hp.to_string()
    } else if scheme.eq_ignore_ascii_case("http") {
        format!("{hp}:80")
    } else {
        format!("{hp}:443")
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
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
mod tests;
