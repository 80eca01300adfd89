//! `sitrep token`: API tokens of the workspace (the server's bearer tokens).

use crate::out::{col, outln, print_json, table, when};
use anyhow::Result;
use clap::Subcommand;
use sitrep_core::access::Role;
use sitrep_engine::Sitrep;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create a token; its secret is printed once and never stored.
    Create {
        /// Who or what it is for ("ci", "alice").
        name: String,
        /// viewer, operator (runs diagnostics and investigations), approver or admin.
        #[arg(long, default_value = "viewer")]
        role: Role,
        /// Expire after this long (e.g. 30d, 12h) [default: never]
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
        #[arg(long)]
        json: bool,
    },
    /// The workspace's tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it is refused from now on.
    Revoke { id: String },
}

pub async fn token(sitrep: &Sitrep, c: TokenCmd) -> Result<ExitCode> {
    match c {
        TokenCmd::Create {
            name,
            role,
            expires_in,
            json,
        } => {
            let t = sitrep.create_token(&name, role, expires_in).await?;
            if json {
                print_json(&t)?;
            } else {
                outln!("{}", t.secret)?;
                eprintln!(
                    "token {} ({} role, workspace {}): the secret above is shown only now",
                    t.token.id, t.token.role, t.token.workspace
                );
            }
        }
        TokenCmd::List { json } => {
            let list = sitrep.tokens().await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!("no tokens: create one with `sitrep token create NAME --role ROLE`")?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.name.clone(),
                            t.role.to_string(),
                            when(t.created_at),
                            t.expires_at.map(when).unwrap_or_else(|| "never".into()),
                            t.revoked_at.map(when).unwrap_or_default(),
                        ]
                    })
                    .collect();
                let cols = [
                    col("ID"),
                    col("NAME"),
                    col("ROLE"),
                    col("CREATED (UTC)"),
                    col("EXPIRES"),
                    col("REVOKED"),
                ];
                crate::out::write_out(format_args!("{}", table(&cols, &rows)))?;
            }
        }
        TokenCmd::Revoke { id } => {
            let t = sitrep.revoke_token(&id).await?;
            outln!("revoked {} ({})", t.id, t.name)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
