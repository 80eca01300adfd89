//! `sitrep runtimes`: the managed runtimes of this home (the robot runtime RunWhen codebundles
//! run in; docs/runwhen.md).

use crate::out::{col, outln, print_json, table};
use anyhow::Result;
use clap::Subcommand;
use sitrep_engine::Sitrep;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RuntimesCmd {
    /// The runtimes sitrep manages and whether each is installed and current.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Install a runtime now (else it is installed on its first task's run): `install robot`.
    /// Does nothing when it is current.
    Install {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn runtimes(sitrep: &Sitrep, c: RuntimesCmd) -> Result<ExitCode> {
    match c {
        RuntimesCmd::List { json } => {
            let list = sitrep.runtimes();
            if json {
                print_json(&list)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|r| {
                        let packages: Vec<String> = r
                            .packages
                            .iter()
                            .map(|(n, v)| format!("{n}=={v}"))
                            .collect();
                        vec![
                            r.name.clone(),
                            r.state.clone(),
                            r.dir.clone(),
                            packages.join(" "),
                        ]
                    })
                    .collect();
                crate::out::write_out(format_args!(
                    "{}",
                    table(
                        &[col("NAME"), col("STATE"), col("FOLDER"), col("PACKAGES")],
                        &rows
                    )
                ))?;
            }
        }
        RuntimesCmd::Install { name, json } => {
            let status = sitrep
                .install_runtime(&name, |step| eprintln!("{step}"))
                .await?;
            if json {
                print_json(&status)?;
            } else {
                outln!("{} runtime {} in {}", status.name, status.state, status.dir)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
