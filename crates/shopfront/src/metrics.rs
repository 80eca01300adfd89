//! Prometheus text exposition, by hand: request counters by route and status,
//! a latency histogram by route, dependency error counters.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    dependency_errors: BTreeMap<String, u64>,
}

pub struct Metrics {
    inner: Mutex<Inner>,
    start_time: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let start_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Self {
            inner: Mutex::new(Inner::default()),
            start_time,
        }
    }

    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *i.requests.entry((route.to_string(), status)).or_default() += 1;
        let h = i.latency.entry(route.to_string()).or_default();
        for (n, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[n] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    pub fn dependency_error(&self, dependency: &str) {
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *i.dependency_errors
            .entry(dependency.to_string())
            .or_default() += 1;
    }

    pub fn render(&self) -> String {
        let i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP shopfront_http_requests_total HTTP requests served, by route and status code.\n");
        out.push_str("# TYPE shopfront_http_requests_total counter\n");
        for ((route, status), n) in &i.requests {
            let _ = writeln!(
                out,
                "shopfront_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP shopfront_http_request_duration_seconds HTTP request latency, by route.\n",
        );
        out.push_str("# TYPE shopfront_http_request_duration_seconds histogram\n");
        for (route, h) in &i.latency {
            for (n, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "shopfront_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                    h.counts[n]
                );
            }
            let _ = writeln!(
                out,
                "shopfront_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "shopfront_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "shopfront_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP shopfront_dependency_errors_total Failed calls to a dependency (postgres, redis, disk).\n");
        out.push_str("# TYPE shopfront_dependency_errors_total counter\n");
        for dep in ["postgres", "redis", "disk"] {
            let n = i.dependency_errors.get(dep).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "shopfront_dependency_errors_total{{dependency=\"{dep}\"}} {n}"
            );
        }
        out.push_str("# HELP shopfront_start_time_seconds Start time of the process since unix epoch in seconds.\n");
        out.push_str("# TYPE shopfront_start_time_seconds gauge\n");
        let _ = writeln!(out, "shopfront_start_time_seconds {}", self.start_time);
        out.push_str(
            "# HELP shopfront_build_info Build information.\n# TYPE shopfront_build_info gauge\n",
        );
        let _ = writeln!(
            out,
            "shopfront_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_histogram() {
        let m = super::Metrics::new();
        m.observe("/checkout", 200, 0.03);
        m.observe("/checkout", 500, 3.0);
        let t = m.render();
        assert!(t.contains("shopfront_http_requests_total{route=\"/checkout\",status=\"500\"} 1"));
        assert!(t.contains(
            "shopfront_http_request_duration_seconds_bucket{route=\"/checkout\",le=\"0.05\"} 1"
        ));
        assert!(t.contains(
            "shopfront_http_request_duration_seconds_bucket{route=\"/checkout\",le=\"+Inf\"} 2"
        ));
        assert!(t.contains("shopfront_http_request_duration_seconds_count{route=\"/checkout\"} 2"));
    }
}
