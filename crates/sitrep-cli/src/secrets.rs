//! `sitrep secret`: the workspace's secrets vault. Values go in, never come out.

use crate::out::{col, outln, print_json, table, when};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use sitrep_engine::Sitrep;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SecretCmd {
    /// Store a secret, encrypted. The value is read from stdin (never from the command line,
    /// which shell history and `ps` keep), or from --from-file or --from-env.
    Set {
        /// Its name; SLXs refer to it as `secret:NAME`.
        name: String,
        /// Read the value from this file (one trailing newline is dropped).
        #[arg(long, value_name = "PATH", conflicts_with = "from_env")]
        from_file: Option<PathBuf>,
        /// Read the value from this environment variable.
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
    },
    /// The workspace's secrets: names and times, never values.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a secret.
    Delete { name: String },
    /// Re-encrypt every secret of the workspace under a new key, in one transaction, then
    /// point sitrep at that key (docs/secrets.md).
    Rekey {
        /// The new key (32 bytes, base64 or hex); created with a random key when absent.
        #[arg(long, value_name = "PATH")]
        new_key_file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// Drops one line ending, which `echo` and editors add and nobody means.
fn chomp(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

async fn read_value(from_file: Option<PathBuf>, from_env: Option<String>) -> Result<String> {
    if let Some(var) = from_env {
        return std::env::var(&var)
            .with_context(|| format!("environment variable {var} is not set (or not UTF-8)"));
    }
    if let Some(path) = from_file {
        let text = tokio::fs::read_to_string(&path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(chomp(text));
    }
    if std::io::stdin().is_terminal() {
        eprintln!("type the value, then Ctrl-D (it shows as you type: pipe it in to avoid that)");
    }
    let text = tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    })
    .await?
    .context("cannot read the value from stdin")?;
    if text.is_empty() {
        bail!("no value on stdin: pipe it in, or use --from-file or --from-env");
    }
    Ok(chomp(text))
}

pub async fn secret(sitrep: &Sitrep, c: SecretCmd) -> Result<ExitCode> {
    match c {
        SecretCmd::Set {
            name,
            from_file,
            from_env,
        } => {
            let value = read_value(from_file, from_env).await?;
            let s = sitrep.set_secret(&name, &value).await?;
            outln!("set secret {} (workspace {})", s.name, sitrep.workspace())?;
        }
        SecretCmd::List { json } => {
            let list = sitrep.secrets().await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!("no secrets: store one with `sitrep secret set NAME < file`")?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| vec![s.name.clone(), when(s.created_at), when(s.updated_at)])
                    .collect();
                let cols = [col("NAME"), col("CREATED (UTC)"), col("UPDATED (UTC)")];
                crate::out::write_out(format_args!("{}", table(&cols, &rows)))?;
            }
        }
        SecretCmd::Delete { name } => {
            let s = sitrep.delete_secret(&name).await?;
            outln!("deleted secret {}", s.name)?;
        }
        SecretCmd::Rekey { new_key_file, json } => {
            let key = sitrep_engine::vault::key_file(&new_key_file).await?;
            let r = sitrep.rekey_secrets(&key).await?;
            if json {
                print_json(&r)?;
            } else {
                outln!(
                    "re-encrypted {} secret(s) under key {} ({} already were)",
                    r.rekeyed,
                    r.key_id,
                    r.unchanged
                )?;
                eprintln!(
                    "now make {} the vault key: move it to {} (or set vault.key_file to it, or {} to its contents), then restart `sitrep serve`",
                    new_key_file.display(),
                    sitrep.settings().vault.key_file(sitrep.home()).display(),
                    sitrep_engine::vault::KEY_ENV
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
