//! shopfront: the sitrep sandbox's demo service.
//!
//! ```text
//! shopfront [serve] --config FILE     the HTTP API (see serve.rs)
//! shopfront batch --config FILE       the background worker (see batch.rs)
//! shopfront loadgen --target URL [--interval-ms N]
//! ```
//! The config file may also be given with `SHOPFRONT_CONFIG`.

mod batch;
mod config;
mod loadgen;
mod logging;
mod metrics;
mod resp;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::config::RawConfig;
use crate::logging::Logger;

const USAGE: &str = "usage: shopfront [serve|batch] [--config FILE]\n       shopfront loadgen --target http://IP:PORT [--interval-ms N]";

pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.first().map(String::as_str) {
        Some(c @ ("serve" | "batch" | "loadgen")) => (c.to_string(), &args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => ("serve".to_string(), &args[..]),
    };
    let mut config = std::env::var("SHOPFRONT_CONFIG").ok().map(PathBuf::from);
    let mut target = None;
    let mut interval_ms = 500u64;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => config = it.next().map(PathBuf::from),
            "--target" => target = it.next().cloned(),
            "--interval-ms" => {
                interval_ms = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(interval_ms)
            }
            other => {
                eprintln!("shopfront: unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(64);
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shopfront: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cmd == "loadgen" {
        let Some(target) = target else {
            eprintln!("{USAGE}");
            return ExitCode::from(64);
        };
        return match rt.block_on(loadgen::run(
            &target,
            Duration::from_millis(interval_ms.max(10)),
        )) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let path = config.unwrap_or_else(|| PathBuf::from("shopfront.conf"));
    let service: &'static str = if cmd == "batch" { "batch" } else { "shopfront" };
    let keys = if cmd == "batch" {
        batch::KEYS
    } else {
        serve::KEYS
    };
    // Parse; on a bad config, still try to log the reason to the configured
    // log file so that it shows up where operators look.
    let loaded = RawConfig::load(&path, keys).and_then(|raw| {
        if cmd == "batch" {
            batch::BatchConfig::from_raw(&raw).map(Cfg::Batch)
        } else {
            serve::ServeConfig::from_raw(&raw).map(Cfg::Serve)
        }
    });
    let cfg = match loaded {
        Ok(c) => c,
        Err(e) => {
            let log = Logger::open(service, guess_log_file(&path).as_deref());
            log.error(
                "invalid configuration, exiting",
                json!({"config": path.display().to_string(), "error": e.0}),
            );
            eprintln!("{service}: invalid configuration: {e}");
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    let result = match cfg {
        Cfg::Serve(c) => {
            let log = Arc::new(Logger::open(service, c.log_file.as_deref()));
            let l2 = log.clone();
            rt.block_on(serve::run(c, log))
                .inspect_err(|e| l2.error("fatal", json!({"error": e})))
        }
        Cfg::Batch(c) => {
            let log = Arc::new(Logger::open(service, c.log_file.as_deref()));
            let l2 = log.clone();
            rt.block_on(batch::run(c, log))
                .inspect_err(|e| l2.error("fatal", json!({"error": e})))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{service}: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Cfg {
    Serve(serve::ServeConfig),
    Batch(batch::BatchConfig),
}

fn guess_log_file(path: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "log_file").then(|| PathBuf::from(v.trim().trim_matches('"')))
    })
}
