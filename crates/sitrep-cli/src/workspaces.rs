//! `sitrep workspace`: the workspaces of this home (one server serves them all).

use crate::out::{col, outln, print_json, table};
use anyhow::Result;
use clap::Subcommand;
use sitrep_engine::Sitrep;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum WorkspaceCmd {
    /// The workspaces of this home: sitrep.yaml's, then those under workspaces/.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a workspace: its folder (rules/, commands/, knowledge/, workflows/) and an SLX
    /// for this host. Work in it with --workspace NAME (or SITREP_WORKSPACE); a running
    /// server serves it from its next start.
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn workspace(sitrep: &Sitrep, c: WorkspaceCmd) -> Result<ExitCode> {
    match c {
        WorkspaceCmd::List { json } => {
            let list = sitrep.workspaces()?;
            if json {
                print_json(&list)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|w| {
                        let name = if w.name == sitrep.workspace() {
                            format!("{} *", w.name)
                        } else {
                            w.name.clone()
                        };
                        vec![name, w.dir.clone()]
                    })
                    .collect();
                crate::out::write_out(format_args!(
                    "{}",
                    table(&[col("NAME"), col("FOLDER")], &rows)
                ))?;
            }
        }
        WorkspaceCmd::Create { name, json } => {
            let w = sitrep.create_workspace(&name).await?;
            if json {
                print_json(&w)?;
            } else {
                outln!("workspace {} in {}", w.name, w.dir)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
