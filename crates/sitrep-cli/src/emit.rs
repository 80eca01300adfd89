//! `sitrep emit`: the result protocol for bash authors, so nobody writes JSON by hand.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::process::ExitCode;

#[derive(Args)]
pub struct EmitArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// An issue: `sitrep emit issue --severity 2 --title "Disk / is 97% full" --next-steps "..."`
    Issue {
        /// 1 critical, 2 major, 3 minor, 4 info (or the word).
        #[arg(long, short)]
        severity: String,
        #[arg(long, short)]
        title: String,
        #[arg(long, default_value = "")]
        expected: String,
        #[arg(long, default_value = "")]
        actual: String,
        #[arg(long, default_value = "")]
        details: String,
        #[arg(long, default_value = "")]
        next_steps: String,
        #[arg(long, default_value = "")]
        reproduce_hint: String,
        /// The resource the issue is about, if not the run's.
        #[arg(long)]
        resource: Option<String>,
        /// For an issue raised from events in a time window (log lines, kernel messages,
        /// restarts): when the latest event happened, RFC 3339. It then resolves once that is
        /// older than the check's quiet period.
        #[arg(long, value_name = "RFC3339")]
        last_event_at: Option<String>,
        /// Structured facts as a JSON object (the application, pid, path the issue is about),
        /// e.g. '{"app": "batch"}': investigations read culprits and remediation parameters
        /// from them.
        #[arg(long)]
        data: Option<String>,
    },
    /// A compact fact: `sitrep emit insight "pg: 96/100 connections used" --data '{"used":96}'`
    Insight {
        text: String,
        /// A JSON object of typed values.
        #[arg(long)]
        data: Option<String>,
    },
    /// A metric sample: `sitrep emit metric disk_used_pct 97 --label mount=/`
    Metric {
        name: String,
        value: f64,
        #[arg(long = "label", value_name = "K=V")]
        labels: Vec<String>,
    },
    /// Free text shown with the run; `-` reads standard input.
    Report { text: String },
    /// The task could not measure because a precondition another task checks did not hold
    /// (the service does not answer at all): the run proves nothing and resolves nothing.
    /// `sitrep emit inconclusive "no response from redis 127.0.0.1:6379: connection refused"`
    Inconclusive { reason: String },
}

pub fn run(args: EmitArgs) -> Result<ExitCode> {
    let path = std::env::var_os("SITREP_RESULTS")
        .context("SITREP_RESULTS is not set: `sitrep emit` works inside a task run by sitrep")?;
    let line = match args.what {
        What::Issue {
            severity,
            title,
            expected,
            actual,
            details,
            next_steps,
            reproduce_hint,
            resource,
            last_event_at,
            data,
        } => {
            let sev: Value = match severity.parse::<u8>() {
                Ok(n) if (1..=4).contains(&n) => json!(n),
                Ok(_) => bail!("--severity must be 1 (critical) to 4 (info)"),
                Err(_) => json!(severity),
            };
            let mut o = Map::new();
            o.insert("type".into(), json!("issue"));
            o.insert("severity".into(), sev);
            o.insert("title".into(), json!(title));
            for (k, v) in [
                ("expected", expected),
                ("actual", actual),
                ("details", details),
                ("next_steps", next_steps),
                ("reproduce_hint", reproduce_hint),
            ] {
                if !v.is_empty() {
                    o.insert(k.into(), json!(v));
                }
            }
            if let Some(r) = resource {
                o.insert("resource".into(), json!(r));
            }
            if let Some(at) = last_event_at {
                if sitrep_core::Timestamp::parse_rfc3339(&at).is_none() {
                    bail!("--last-event-at {at:?} must be RFC 3339, e.g. 2026-11-21T08:44:11Z");
                }
                o.insert("last_event_at".into(), json!(at));
            }
            if let Some(d) = data {
                let d: Value = serde_json::from_str(&d)
                    .context("--data must be a JSON object, e.g. '{\"app\": \"batch\"}'")?;
                if !d.is_object() {
                    bail!("--data must be a JSON object, e.g. '{{\"app\": \"batch\"}}'");
                }
                o.insert("data".into(), d);
            }
            Value::Object(o)
        }
        What::Insight { text, data } => {
            let data: Value = match data {
                Some(d) => serde_json::from_str(&d)
                    .context("--data must be JSON, e.g. '{\"used\": 96}'")?,
                None => Value::Null,
            };
            json!({"type": "insight", "text": text, "data": data})
        }
        What::Metric {
            name,
            value,
            labels,
        } => {
            let mut l = Map::new();
            for kv in labels {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--label {kv:?} must be KEY=VALUE"))?;
                l.insert(k.into(), json!(v));
            }
            json!({"type": "metric", "name": name, "value": value, "labels": l})
        }
        What::Report { text } => {
            let text = if text == "-" {
                let mut s = String::new();
                std::io::stdin().take(1024 * 1024).read_to_string(&mut s)?;
                s
            } else {
                text
            };
            json!({"type": "report", "text": text})
        }
        What::Inconclusive { reason } => {
            if reason.trim().is_empty() {
                bail!("say why the task could not measure");
            }
            json!({"type": "inconclusive", "reason": reason})
        }
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.to_string_lossy()))?;
    // One write per line keeps concurrent emitters from interleaving.
    f.write_all(format!("{line}\n").as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
