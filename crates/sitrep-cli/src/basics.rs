//! `init`, `tasks`, `run`, `issues`, `serve`, `mcp`, `bundles validate`.

use crate::out::{col, outln, print_json, short, table, text, when};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sitrep_engine::views::RunView;
use sitrep_engine::{Actor, IssueQuery, OpenOptions, RunTaskRequest, Sitrep};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn init(opts: OpenOptions) -> Result<ExitCode> {
    let (_, view) = Sitrep::init(opts).await?;
    if let Some(c) = &view.wrote_config {
        outln!("wrote {c}")?;
    }
    if let Some(s) = &view.created_slx {
        outln!("created SLX {s} (core/linux-host: this machine's disk, memory, load, OOM kills)")?;
    }
    outln!(
        "sitrep is ready in {}. Next: `sitrep discover` maps what runs here and generates its checks; `sitrep serve` runs them in the background; `sitrep issues` shows what they found.",
        view.home
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct TasksArgs {
    /// Only tasks whose collection/bundle/task contains this text.
    filter: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn tasks(sitrep: &Sitrep, a: TasksArgs) -> Result<ExitCode> {
    let tasks = sitrep.tasks(a.filter.as_deref()).await?;
    if a.json {
        print_json(&tasks)?;
    } else if tasks.is_empty() {
        match &a.filter {
            Some(f) => eprintln!("no task matches {f:?} (`sitrep tasks` lists them all)"),
            None => eprintln!("no tasks"),
        }
    } else {
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|t| {
                vec![
                    t.task.clone(),
                    t.kind.to_string(),
                    t.ty.to_string(),
                    t.description.clone(),
                ]
            })
            .collect();
        crate::out::write_out(format_args!(
            "{}",
            table(
                &[
                    col("TASK"),
                    col("KIND"),
                    col("TYPE"),
                    text("DESCRIPTION", 90)
                ],
                &rows
            )
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct RunArgs {
    /// BUNDLE/TASK (collection core) or COLLECTION/BUNDLE/TASK.
    task: String,
    /// The resource the task looks at (names the issues it raises). Default: the resource its
    /// URL, DSN or host points at, or this host for host tasks.
    #[arg(long, short)]
    resource: Option<String>,
    /// Run it as this SLX's task: with the SLX's resource, config and secrets (--set and
    /// --secret add to them or override them). The task must be of the SLX's bundle.
    #[arg(long, value_name = "NAME", conflicts_with = "resource")]
    slx: Option<String>,
    /// A config value: --set PG_DSN=postgres://...
    #[arg(long = "set", value_name = "K=V")]
    set: Vec<String>,
    /// A secret, read from a file (never from the command line): --secret PGPASSWORD=@/run/pw
    #[arg(long = "secret", value_name = "K=@FILE")]
    secret: Vec<String>,
    /// Needed to run a remediation task: you, at this terminal, approve it (recorded).
    #[arg(long)]
    approve: bool,
    #[arg(long)]
    json: bool,
}

fn parse_kv(kv: &str, flag: &str) -> Result<(String, String)> {
    let (k, v) = kv
        .split_once('=')
        .with_context(|| format!("{flag} {kv:?} must be NAME=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

pub fn terminal_user() -> Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Actor::user(&format!("{user}@terminal"))
}

pub async fn run(sitrep: &Sitrep, a: RunArgs) -> Result<ExitCode> {
    let config = a
        .set
        .iter()
        .map(|kv| parse_kv(kv, "--set"))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let mut secrets = BTreeMap::new();
    for kv in &a.secret {
        let (k, v) = parse_kv(kv, "--secret")?;
        let Some(path) = v.strip_prefix('@') else {
            bail!(
                "--secret {k}=... must name a file (--secret {k}=@/path): values on the command line leak into shell history and `ps`"
            );
        };
        let value = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read secret file {path}"))?;
        secrets.insert(k, value.trim_end_matches(['\n', '\r']).to_string());
    }
    let req = RunTaskRequest {
        task: a.task,
        resource: a.resource,
        slx: a.slx,
        config,
        secrets,
        approve_as: a.approve.then(terminal_user),
    };
    // A stop signal interrupts the run (its process tree is killed and the run recorded
    // `interrupted`); sitrep exits once that is recorded.
    let run = sitrep.run_task(req);
    tokio::pin!(run);
    let mut stopped = None;
    let v = loop {
        tokio::select! {
            v = &mut run => break v,
            sig = stop_signal(), if stopped.is_none() => {
                sitrep.interrupt(&format!("sitrep received {}", sig.name()));
                stopped = Some(sig);
            }
        }
    };
    let v = v.map_err(|e| {
        let hint = match &e {
            e if e.needs_approval() => " (at the terminal: add --approve)",
            sitrep_engine::EngineError::NeedsResource(_) => " (give it with --resource NAME)",
            _ => "",
        };
        anyhow::anyhow!("{e}{hint}")
    })?;
    let code = if let Some(sig) = stopped {
        sig.exit_code()
    } else if v.failed() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    };
    if a.json {
        print_json(&v)?;
    } else {
        print_run(&v)?;
    }
    Ok(code)
}

/// How many lines of a task's output the text view shows.
const OUTPUT_TAIL: usize = 20;

fn tail(s: &str, n: usize) -> (usize, Vec<&str>) {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    let skip = lines.len().saturating_sub(n);
    (skip, lines[skip..].to_vec())
}

pub fn print_run(v: &RunView) -> Result<()> {
    let r = &v.run;
    outln!(
        "{} {} on {}: {} in {} ms",
        short(&r.id),
        r.task,
        r.resource,
        r.status,
        r.duration_ms().unwrap_or(0)
    )?;
    if let Some(why) = &r.reason {
        outln!("could not measure: {why}")?;
    }
    if let Some(e) = &r.error {
        outln!("error: {e}")?;
    }
    for id in &v.resolved {
        outln!("resolved issue {}", short(id))?;
    }
    for d in &v.issues {
        let change = v
            .changes
            .iter()
            .find(|c| c.title.as_deref() == Some(d.title.as_str()))
            .map_or("raised".to_string(), |c| c.kind.to_string());
        outln!(
            "[sev {} {}] {} ({change})",
            d.severity,
            d.severity.label(),
            d.title
        )?;
        for (k, val) in [
            ("expected", &d.expected),
            ("actual", &d.actual),
            ("next steps", &d.next_steps),
        ] {
            if !val.is_empty() {
                outln!("    {k}: {val}")?;
            }
        }
    }
    for i in &v.insights {
        outln!("insight: {}", i.text)?;
    }
    if !v.report.is_empty() {
        outln!("\n{}", v.report.trim_end())?;
    }
    let mut streams = vec![("output", &r.stdout)];
    if v.failed() {
        streams.push(("stderr", &r.stderr));
    }
    for (name, s) in streams {
        if s.trim().is_empty() {
            continue;
        }
        let (skipped, lines) = tail(s, OUTPUT_TAIL);
        let what = if skipped > 0 {
            format!(
                "{name} (last {} of {} lines; --json has it all)",
                lines.len(),
                lines.len() + skipped
            )
        } else {
            name.to_string()
        };
        outln!("--- {what} ---")?;
        for l in lines {
            outln!("{l}")?;
        }
    }
    if let Some(id) = &v.approval {
        outln!("ran under approval {}", short(id))?;
    }
    Ok(())
}

#[derive(Args)]
pub struct IssuesArgs {
    /// Include resolved issues.
    #[arg(long)]
    all: bool,
    /// Only the issues of this resource.
    #[arg(long, alias = "scope")]
    resource: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn issues(sitrep: &Sitrep, a: IssuesArgs) -> Result<ExitCode> {
    let list = sitrep
        .issues(&IssueQuery {
            all: a.all,
            resource: a.resource,
            limit: None,
        })
        .await?;
    if a.json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        outln!("no {}issues", if a.all { "" } else { "open " })?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = sitrep_core::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    );
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            let seen = match sitrep_core::currency::age_note(i, now) {
                Some(note) => format!("{} ({note})", when(i.last_seen)),
                None => when(i.last_seen),
            };
            vec![
                short(&i.id).to_string(),
                format!("{} {}", i.severity, i.severity.label()),
                i.status.to_string(),
                i.resource.clone(),
                i.mark()
                    .map_or_else(|| i.title.clone(), |m| format!("{} [{m}]", i.title)),
                i.count.to_string(),
                seen,
            ]
        })
        .collect();
    crate::out::write_out(format_args!(
        "{}",
        table(
            &[
                col("ID"),
                col("SEVERITY"),
                col("STATUS"),
                col("RESOURCE"),
                text("TITLE", 100),
                col("COUNT"),
                col("LAST SEEN (UTC)")
            ],
            &rows
        )
    ))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ServeArgs {
    /// Run every SLX's health tasks once, print the open issues, and exit.
    #[arg(long)]
    once: bool,
    /// Serve the HTTP API on HOST:PORT, or `off` [default: serve.listen in sitrep.yaml, 127.0.0.1:7700]
    #[arg(long, env = "SITREP_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
}

/// A stop signal the CLI acts on.
#[derive(Debug, Clone, Copy)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }
    /// The shell's exit status for a process ended by this signal (128 + its number).
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        })
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn stop_signal() -> StopSignal {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => StopSignal::Interrupt,
        _ = term => StopSignal::Terminate,
    }
}

/// MCP on stdio until stdin ends: stdout carries the protocol only, logs go to stderr.
pub async fn mcp(sitrep: Sitrep) -> Result<ExitCode> {
    sitrep_server::mcp::stdio::serve_stdio(sitrep)
        .await
        .context("mcp on stdio")?;
    Ok(ExitCode::SUCCESS)
}

pub async fn serve(sitrep: &Sitrep, a: ServeArgs) -> Result<ExitCode> {
    if a.once {
        let pass = sitrep.run_once().await?;
        outln!(
            "ran {} health tasks{}",
            pass.tasks,
            if pass.failed > 0 {
                format!(
                    " ({} failed: see `sitrep issues` and the runs' errors)",
                    pass.failed
                )
            } else {
                String::new()
            }
        )?;
        return issues(
            sitrep,
            IssuesArgs {
                all: false,
                resource: None,
                json: false,
            },
        )
        .await;
    }
    tracing::info!(home = %sitrep.home().display(), workspace = sitrep.workspace(), "serving; Ctrl-C or SIGTERM stops");
    sitrep_server::run(sitrep.clone(), async {
        stop_signal().await;
    })
    .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum BundlesCmd {
    /// Check a collection or bundle folder; prints every problem as FILE:LINE: FIELD: MESSAGE.
    Validate {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub async fn bundles(c: BundlesCmd) -> Result<ExitCode> {
    match c {
        BundlesCmd::Validate { path, json } => {
            let problems = sitrep_engine::validate_bundles(&path).await?;
            if json {
                print_json(&problems)?;
            } else if problems.is_empty() {
                outln!("{}: valid", path.display())?;
            } else {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!("{} problem(s)", problems.len());
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(4)
            })
        }
    }
}
