//! `shopfront loadgen`: steady, bounded background traffic (one request every
//! `--interval-ms`, alternating checkout and catalog) so that request-rate,
//! error-rate and latency signals exist. Talks plain HTTP/1.1 to a loopback
//! address only.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn run(target: &str, interval: Duration) -> Result<(), String> {
    let hostport = target
        .strip_prefix("http://")
        .ok_or("loadgen: --target must be an http:// URL")?;
    let hostport = hostport.trim_end_matches('/');
    let addr: SocketAddr = hostport
        .parse()
        .map_err(|_| format!("loadgen: target must be http://IP:PORT, got {target}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("loadgen: refusing non-loopback target {addr}"));
    }
    println!("loadgen: sending one request every {interval:?} to {addr}");
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut ok, mut failed, mut n) = (0u64, 0u64, 0u64);
    let mut last_report = Instant::now();
    let shutdown = crate::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        n += 1;
        let item = (n / 2) % 5 + 1;
        let body = format!("{{\"item_id\":{item},\"quantity\":1}}");
        let req = if n % 2 == 0 {
            format!(
                "POST /checkout HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: shopfront-loadgen\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        } else {
            format!(
                "GET /catalog HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: shopfront-loadgen\r\nConnection: close\r\n\r\n"
            )
        };
        // Fire and forget in a task so a slow backend does not slow the rate down.
        let h = tokio::spawn(async move { request(addr, req).await });
        match tokio::time::timeout(Duration::from_millis(50), h).await {
            Ok(Ok(Ok(s))) if s < 500 => ok += 1,
            Ok(_) => failed += 1,
            Err(_) => {} // still running, not counted
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            println!("loadgen: last minute: {ok} fast ok, {failed} failed");
            ok = 0;
            failed = 0;
            last_report = Instant::now();
        }
    }
    Ok(())
}

async fn request(addr: SocketAddr, req: String) -> Result<u16, String> {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        let head = String::from_utf8_lossy(&buf[..buf.len().min(32)]).to_string();
        head.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad response {head:?}"))
    };
    tokio::time::timeout(Duration::from_secs(15), fut)
        .await
        .map_err(|_| "timeout".to_string())?
}
