//! MCP over stdio (`sitrep mcp`): one JSON-RPC message per line on stdin, one answer per line
//! on stdout, logs on stderr only. Requests are handled concurrently (a long investigation
//! does not hold up a ping); at end of input the answers still due are written and the
//! investigations started without `wait` finish, then it returns.
//!
//! stdin and stdout are used as files (`tokio::fs::File` over duplicates of their descriptors)
//! rather than through tokio's `io-std` feature, which would rebuild tokio and everything above it.

use super::{INVALID_REQUEST, McpServer, PARSE_ERROR, error};
use crate::MAX_BODY_BYTES;
use serde_json::Value;
use sitrep_core::access::Role;
use sitrep_engine::access::Principal;
use sitrep_engine::{Sitrep, Workspaces};
use std::os::fd::AsFd;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::task::JoinSet;

/// The local user, as at the CLI: every tool of the workspace (none approves anything).
pub fn local_principal(sitrep: &Sitrep) -> Principal {
    Principal {
        workspace: sitrep.workspace().to_string(),
        token_id: "local".into(),
        name: "local user (stdio)".into(),
        role: Role::Admin,
    }
}

/// Serves the process's stdin and stdout as the local user until stdin ends.
pub async fn serve_stdio(sitrep: Sitrep) -> std::io::Result<()> {
    let who = local_principal(&sitrep);
    let input = std::io::stdin().as_fd().try_clone_to_owned()?;
    let output = std::io::stdout().as_fd().try_clone_to_owned()?;
    serve(
        McpServer::new(Workspaces::single(sitrep)),
        who,
        tokio::fs::File::from_std(input.into()),
        tokio::fs::File::from_std(output.into()),
    )
    .await
}

/// Serves `input` and `output` as `who` until `input` ends.
pub async fn serve(
    mcp: McpServer,
    who: Principal,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut lines = BufReader::new(input).lines();
    let mut pending: JoinSet<Option<Value>> = JoinSet::new();
    tracing::info!(workspace = %who.workspace, "mcp on stdio");
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line? else { break };
                if line.trim().is_empty() {
                    continue;
                }
                if line.len() > MAX_BODY_BYTES {
                    write(&mut output, &error(Value::Null, INVALID_REQUEST, "the message is over 1 MiB")).await?;
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(msg) => {
                        let (mcp, who) = (mcp.clone(), who.clone());
                        pending.spawn(async move { mcp.handle(&who, msg).await });
                    }
                    Err(e) => {
                        write(&mut output, &error(Value::Null, PARSE_ERROR, format!("not JSON: {e}"))).await?;
                    }
                }
            }
            Some(done) = pending.join_next(), if !pending.is_empty() => {
                if let Some(answer) = done.map_err(std::io::Error::other)? {
                    write(&mut output, &answer).await?;
                }
            }
        }
    }
    while let Some(done) = pending.join_next().await {
        if let Some(answer) = done.map_err(std::io::Error::other)? {
            write(&mut output, &answer).await?;
        }
    }
    mcp.finish().await;
    tracing::info!("mcp input ended");
    Ok(())
}

async fn write(out: &mut (impl AsyncWrite + Unpin), msg: &Value) -> std::io::Result<()> {
    // Compact JSON has no newline in it: one message per line.
    let mut line = msg.to_string();
    line.push('\n');
    out.write_all(line.as_bytes()).await?;
    out.flush().await
}
