//! `sitrep runs`: what ran, when, and how it ended.

use crate::out::{col, outln, print_json, short, table, text, when};
use anyhow::Result;
use clap::{Args, Subcommand};
use sitrep_engine::Sitrep;
use std::process::ExitCode;

#[derive(Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    cmd: Option<RunsCmd>,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum RunsCmd {
    /// One run, whole: its status, error, report and captured output.
    Show {
        /// The run's id (a unique prefix will do).
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn runs(sitrep: &Sitrep, a: RunsArgs) -> Result<ExitCode> {
    if let Some(RunsCmd::Show { id, json }) = a.cmd {
        let r = sitrep.run_record(&id).await?;
        if json {
            print_json(&r)?;
        } else {
            outln!("run {} of {} on {}", r.id, r.task, r.resource)?;
            outln!(
                "{} at {}{}",
                r.status,
                when(r.started_at),
                r.duration_ms()
                    .map_or(String::new(), |ms| format!(" ({ms} ms)"))
            )?;
            for (label, v) in [("error", &r.error), ("could not measure", &r.reason)] {
                if let Some(v) = v {
                    outln!("{label}: {v}")?;
                }
            }
            for (label, v) in [
                ("report", &r.report),
                ("stdout", &r.stdout),
                ("stderr", &r.stderr),
            ] {
                if !v.trim().is_empty() {
                    outln!("--- {label}\n{}", v.trim_end())?;
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let list = sitrep.runs(a.limit).await?;
    if a.json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        outln!("no runs yet")?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                short(&r.id).to_string(),
                when(r.started_at),
                r.status.to_string(),
                r.duration_ms.map_or(String::new(), |ms| ms.to_string()),
                r.resource.clone(),
                r.task.clone(),
                r.error
                    .clone()
                    .or_else(|| r.reason.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    crate::out::write_out(format_args!(
        "{}",
        table(
            &[
                col("ID"),
                col("STARTED (UTC)"),
                col("STATUS"),
                col("MS"),
                col("RESOURCE"),
                col("TASK"),
                text("ERROR", 80)
            ],
            &rows
        )
    ))?;
    Ok(ExitCode::SUCCESS)
}
