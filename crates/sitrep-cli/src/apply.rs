//! `sitrep apply -f DIR` and `sitrep export -o DIR`: workspace as code
//! (`docs/workspace-as-code.md`). The engine plans, checks and applies; this prints.

use crate::out::{outln, print_json};
use anyhow::Result;
use clap::Args;
use sitrep_engine::Sitrep;
use sitrep_engine::apply::{Action, ApplyOptions, ApplyView};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ApplyArgs {
    /// The workspace folder: sitrep.yaml, slxs/, rules/, commands/, workflows/, knowledge/.
    #[arg(short = 'f', long = "file", value_name = "DIR")]
    dir: PathBuf,
    /// Print what would change (with a diff of each changed item), change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Remove the workspace's SLXs, rules, commands, workflows and notes the folder does not
    /// have (without it they are kept).
    #[arg(long)]
    prune: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Where to write (default: ./sitrep-WORKSPACE).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Write into a non-empty folder, replacing its sitrep.yaml and item folders.
    #[arg(long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

pub async fn apply(sitrep: &Sitrep, a: ApplyArgs) -> Result<ExitCode> {
    let opts = ApplyOptions {
        dry_run: a.dry_run,
        prune: a.prune,
    };
    let v = sitrep.apply(&a.dir, opts).await?;
    if a.json {
        print_json(&v)?;
    } else {
        print_apply(&v)?;
    }
    // Like `rules validate`: problems found exit 4.
    Ok(if v.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}

fn print_apply(v: &ApplyView) -> Result<()> {
    if !v.problems.is_empty() {
        outln!(
            "{} problem(s) in {}; nothing was applied:",
            v.problems.len(),
            v.dir
        )?;
        for p in &v.problems {
            outln!("  {p}")?;
        }
        return Ok(());
    }
    for c in &v.plan.changes {
        outln!(
            "{:<9}  {:<9}  {}",
            c.action.as_str(),
            c.kind.as_str(),
            c.name
        )?;
    }
    for c in &v.plan.changes {
        if let Some(d) = &c.diff {
            outln!()?;
            crate::out::write_out(format_args!("{d}"))?;
        }
    }
    outln!()?;
    let counts = v.plan.counts();
    let n = |a: Action| counts.get(&a).copied().unwrap_or(0);
    let summary = format!(
        "{} added, {} changed, {} removed, {} kept, {} unchanged",
        n(Action::Add),
        n(Action::Change),
        n(Action::Remove),
        n(Action::Keep),
        n(Action::Unchanged)
    );
    let done = if v.dry_run {
        format!("dry run, nothing applied to workspace {}", v.workspace)
    } else if v.plan.is_noop() {
        format!("workspace {} already matches {}", v.workspace, v.dir)
    } else {
        format!("applied to workspace {}", v.workspace)
    };
    outln!("{summary} ({done})")?;
    if n(Action::Keep) > 0 && !v.prune {
        outln!("kept items are not in the folder; --prune removes them")?;
    }
    for note in &v.notes {
        outln!("note: {note}")?;
    }
    Ok(())
}

pub async fn export(sitrep: &Sitrep, a: ExportArgs) -> Result<ExitCode> {
    let dir = a
        .dir
        .unwrap_or_else(|| PathBuf::from(format!("sitrep-{}", sitrep.workspace())));
    let v = sitrep.export(&dir, a.force).await?;
    if a.json {
        print_json(&v)?;
    } else {
        for f in &v.written {
            outln!("wrote {f}")?;
        }
        outln!(
            "exported workspace {} to {} ({} files); `sitrep apply -f {}` applies it",
            v.workspace,
            v.dir,
            v.written.len(),
            v.dir
        )?;
        for note in &v.notes {
            outln!("note: {note}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
