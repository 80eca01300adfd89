//! `workflows`: what alerts and new issues lead to, and where the answers went.

use crate::out::{col, outln, print_json, short, table, text, write_out};
use crate::studio::print_problems;
use anyhow::Result;
use clap::Subcommand;
use sitrep_engine::Sitrep;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum WorkflowsCmd {
    /// List the workspace folder's workflows (workflows/*.yaml).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check one workflow file, or the whole folder: every problem, by file, line and field.
    Validate {
        path: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What was delivered where (newest first), or is waiting to be.
    Deliveries {
        /// Only this session's (its id or a unique prefix).
        #[arg(long)]
        session: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn workflows(sitrep: &Sitrep, c: WorkflowsCmd) -> Result<ExitCode> {
    match c {
        WorkflowsCmd::List { json } => {
            let view = sitrep.workflows().await?;
            if json {
                print_json(&view)?;
                return Ok(ExitCode::SUCCESS);
            }
            if view.workflows.is_empty() {
                outln!(
                    "no workflows: write them as {}/workflows/NAME.yaml",
                    sitrep.workspace_dir().display()
                )?;
            } else {
                let rows: Vec<Vec<String>> = view
                    .workflows
                    .iter()
                    .map(|w| {
                        let on = w.spec.on.summary();
                        let to: Vec<&str> = w.spec.deliver.iter().map(|t| t.kind()).collect();
                        vec![
                            w.name.clone(),
                            on,
                            to.join(", "),
                            if w.spec.enabled { "yes" } else { "no" }.into(),
                            w.spec.description.clone(),
                        ]
                    })
                    .collect();
                write_out(format_args!(
                    "{}",
                    table(
                        &[
                            col("NAME"),
                            col("ON"),
                            col("DELIVER TO"),
                            col("ENABLED"),
                            text("DESCRIPTION", 60)
                        ],
                        &rows
                    )
                ))?;
            }
            for p in &view.problems {
                eprintln!("skipped: {p}");
            }
        }
        WorkflowsCmd::Validate { path, json } => {
            let view = sitrep.validate_workflows(path.as_deref()).await?;
            return print_problems(&view.problems, json, "workflows");
        }
        WorkflowsCmd::Deliveries {
            session,
            limit,
            json,
        } => {
            let list = sitrep.deliveries(session.as_deref(), limit).await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!("no deliveries")?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|d| {
                        vec![
                            short(&d.id).to_string(),
                            d.workflow.clone(),
                            d.target.kind().to_string(),
                            short(&d.session_id).to_string(),
                            d.status.to_string(),
                            d.attempts.to_string(),
                            d.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                write_out(format_args!(
                    "{}",
                    table(
                        &[
                            col("ID"),
                            col("WORKFLOW"),
                            col("TARGET"),
                            col("SESSION"),
                            col("STATUS"),
                            col("ATTEMPTS"),
                            text("ERROR", 60)
                        ],
                        &rows
                    )
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
