//! Redaction cost: building a run's redactor (one regex over every form of every secret) and
//! scanning captured output with it.
//!
//!     cargo run --release -p sitrep-bench --bin redaction
//!
//! Prints medians over repetitions.

use sitrep_core::redact::Redactor;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let secrets: Vec<(String, String)> = (0..16)
        .map(|i| {
            (
                format!("SECRET_{i}"),
                format!("s3cr3t-value-{i:02}-Zq9xK2pL7vB4"),
            )
        })
        .collect();
    // 1 MiB of log-like output: words, numbers, paths, some JSON and percent signs
    let line = "2024-05-01T10:00:00Z INFO request path=/api/v1/orders?id=42&q=a%20b status=200 took=12ms {\"user\":\"alice\",\"ok\":true}\n";
    let text: String = line.repeat((1 << 20) / line.len());
    let with_secret = format!(
        "{}{}{}",
        &text[..text.len() / 2],
        secrets[3].1,
        &text[text.len() / 2..]
    );
    println!("redaction: medians of 15 repetitions; 1 MiB of log-like text");
    println!(
        "{:<10} {:>14} {:>16} {:>18}",
        "secrets", "build µs", "scan MiB/s", "scan+1 match MiB/s"
    );
    for n in [1usize, 4, 16] {
        let pairs: Vec<(&str, &str)> = secrets[..n]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (mut build, mut scan, mut hit) = (vec![], vec![], vec![]);
        for _ in 0..15 {
            let t = Instant::now();
            let r = Redactor::new(pairs.iter().copied());
            build.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            let out = r.redact(&text);
            scan.push(1.0 / t.elapsed().as_secs_f64());
            assert_eq!(out.len(), text.len());
            let t = Instant::now();
            let out = r.redact(&with_secret);
            hit.push(1.0 / t.elapsed().as_secs_f64());
            assert!(n < 4 || out.contains("[REDACTED:SECRET_3]"));
        }
        println!(
            "{:<10} {:>14.0} {:>16.0} {:>18.0}",
            n,
            median(build),
            median(scan),
            median(hit)
        );
    }
}
