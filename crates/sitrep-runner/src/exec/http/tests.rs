//! The http executor against real sockets on loopback: one failure, one issue, and the
//! failure told apart (refused, hanging, HTTP error, slow, not HTTPS).

use super::*;
use sitrep_bundles::HttpExpect;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[test]
fn titles_hide_credentials_and_queries() {
    assert_eq!(
        display_target("https://u:p@api.example.com:8443/health?token=abc"),
        "https://api.example.com:8443/health"
    );
    assert_eq!(host_port("https://example.com/x"), "example.com:443");
    assert_eq!(host_port("http://example.com/x"), "example.com:80");
}

/// A server answering every request with `response` after `delay`; `None` accepts and hangs.
async fn server(response: Option<&'static str>, delay: Duration) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", l.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut sock, _)) = l.accept().await else {
                return;
            };
            match response {
                None => held.push(sock),
                Some(r) => {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let _ = sock.read(&mut buf).await;
                        tokio::time::sleep(delay).await;
                        let _ = sock.write_all(r.as_bytes()).await;
                    });
                }
            }
        }
    });
    url
}

async fn refused_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", l.local_addr().unwrap());
    drop(l);
    url
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
const DOWN: &str =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown";

fn spec(url: &str, expect: HttpExpect) -> HttpSpec {
    HttpSpec {
        method: "GET".into(),
        url: url.into(),
        headers: BTreeMap::new(),
        body: None,
        insecure: true,
        expect,
        severity: 2,
    }
}

/// The three health tasks of the http-endpoint bundle.
fn status() -> HttpExpect {
    HttpExpect {
        body_contains: Some(String::new()),
        ..Default::default()
    }
}
fn latency(max: &str) -> HttpExpect {
    HttpExpect {
        max_latency: Some(max.into()),
        ..Default::default()
    }
}
fn cert() -> HttpExpect {
    HttpExpect {
        cert_min_days: Some(14),
        ..Default::default()
    }
}

async fn check(url: &str, expect: HttpExpect, timeout: Duration) -> Outcome {
    run(HttpRun {
        clients: &HttpClients::default(),
        spec: spec(url, expect),
        timeout,
        now_secs: 0,
    })
    .await
}

fn titles(o: &Outcome) -> Vec<String> {
    o.results.issues.iter().map(|i| i.title.clone()).collect()
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_refused_url_is_one_issue_and_the_other_checks_are_inconclusive() {
    let url = refused_url().await;
    let s = check(&url, status(), T).await;
    assert_eq!(titles(&s), [format!("{url} refuses connections")]);
    assert!(
        s.results.issues[0].actual.contains("connection refused"),
        "{:?}",
        s.results.issues
    );
    assert_eq!(s.inconclusive, None);
    for other in [latency("1s"), cert()] {
        let o = check(&url, other, T).await;
        assert!(o.results.issues.is_empty(), "{:?}", titles(&o));
        assert_eq!(o.status, Some(RunStatus::Succeeded));
        let why = o.inconclusive.expect("inconclusive");
        assert!(
            why.contains("no response") || why.contains("not an https URL"),
            "{why}"
        );
    }
}

#[tokio::test]
async fn an_http_error_is_one_issue_named_by_its_status() {
    let url = server(Some(DOWN), Duration::ZERO).await;
    let s = check(&url, status(), T).await;
    assert_eq!(titles(&s), [format!("{url} returns HTTP 503")]);
    assert!(
        s.results.issues[0]
            .actual
            .starts_with("HTTP 503 Service Unavailable in ")
    );
    // The server answered fast: latency measured it and found nothing wrong.
    let l = check(&url, latency("1s"), T).await;
    assert!(l.results.issues.is_empty() && l.inconclusive.is_none());
    // A body expectation on a failing status adds nothing.
    let b = check(
        &url,
        HttpExpect {
            body_contains: Some("ok".into()),
            ..Default::default()
        },
        T,
    )
    .await;
    assert_eq!(titles(&b).len(), 1, "{:?}", titles(&b));
    // tls-expiry on a plain http:// URL: nothing to measure, nothing raised.
    let c = check(&url, cert(), T).await;
    assert!(c.results.issues.is_empty());
    assert!(c.inconclusive.unwrap().contains("not an https URL"));
}

#[tokio::test]
async fn a_hanging_server_is_told_apart_from_a_refusing_one() {
    let url = server(None, Duration::ZERO).await;
    let s = check(&url, status(), Duration::from_millis(500)).await;
    assert_eq!(
        titles(&s),
        [format!("{url} accepts connections but does not respond")]
    );
    assert!(
        s.results.issues[0]
            .actual
            .contains("no response within 500 ms")
    );
    let l = check(&url, latency("100ms"), Duration::from_millis(500)).await;
    assert!(l.results.issues.is_empty() && l.inconclusive.is_some());
}

#[tokio::test]
async fn a_slow_answer_is_slow_not_down() {
    let url = server(Some(OK), Duration::from_millis(300)).await;
    let s = check(&url, status(), T).await;
    assert!(s.results.issues.is_empty(), "{:?}", titles(&s));
    let l = check(&url, latency("100ms"), T).await;
    assert_eq!(titles(&l), [format!("{url} responds slowly")]);
    let d = &l.results.issues[0];
    assert_eq!(d.expected, "a response within 100 ms");
    assert!(d.actual.starts_with("HTTP 200 OK in "), "{}", d.actual);
}

#[tokio::test]
async fn an_unparsable_latency_limit_fails_the_run() {
    let o = check("http://127.0.0.1:1/", latency("soon"), T).await;
    assert_eq!(o.status, Some(RunStatus::Failed));
}
