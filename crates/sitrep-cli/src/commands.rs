//! The subcommands that need the store or the runner.

use crate::app::{App, load_catalog};
use crate::config::{CONFIG_FILE, Config, TEMPLATE};
use crate::output::{print_json, table};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use sitrep_core::issue::IssueChange;
use sitrep_core::{Clock, RunStatus, Slx, TaskRef};
use sitrep_runner::scheduler::{Executor, Job, Scheduler};
use sitrep_runner::{RunRequest, Runner, SystemClock};
use sitrep_store::{IssueFilter, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub async fn init(home: &Path, db: Option<&str>) -> Result<ExitCode> {
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let cfg_path = home.join(CONFIG_FILE);
    if !cfg_path.exists() {
        std::fs::write(&cfg_path, TEMPLATE)
            .with_context(|| format!("cannot write {}", cfg_path.display()))?;
        println!("wrote {}", cfg_path.display());
    }
    let app = App::open(home, db).await?;
    let existing = app.store.list_slxs(app.workspace()).await?;
    if !existing.iter().any(|s| s.name == "localhost") {
        let slx = Slx {
            workspace: app.workspace().into(),
            name: "localhost".into(),
            resource: "localhost".into(),
            bundle: "core/linux-host".into(),
            description: "this machine: disk, inodes, memory, load, OOM kills, failed units".into(),
            tasks: vec![],
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            stale: false,
            generated: None,
        };
        app.store.put_slx(&slx, SystemClock.now()).await?;
        println!("created SLX localhost (core/linux-host)");
    }
    println!(
        "sitrep is ready in {}; `sitrep serve` starts the background checks",
        home.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct TasksArgs {
    /// Only tasks whose collection/bundle/task contains this text.
    filter: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn tasks(home: &Path, a: TasksArgs) -> Result<ExitCode> {
    let config = Config::load(home)?;
    let catalog = load_catalog(home, &config).await?;
    let tasks: Vec<_> = catalog
        .tasks()
        .filter(|t| {
            a.filter
                .as_ref()
                .is_none_or(|f| t.task_ref().to_string().contains(f.as_str()))
        })
        .collect();
    if a.json {
        let v: Vec<_> = tasks
            .iter()
            .map(|t| {
                json!({
                    "task": t.task_ref().to_string(), "kind": t.task.kind, "type": t.task.ty,
                    "description": t.task.description, "interval_s": t.task.interval.map(|d| d.as_secs()),
                    "timeout_s": t.task.timeout.as_secs(), "risk": t.task.risk, "rollback": t.task.rollback,
                    "params": t.bundle.params.iter().map(|p| &p.name).chain(t.task.params.iter()).collect::<Vec<_>>(),
                    "secrets": t.bundle.secrets.iter().map(|s| &s.name).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&v)?;
    } else {
        let rows = tasks
            .iter()
            .map(|t| {
                vec![
                    t.task_ref().to_string(),
                    t.task.kind.to_string(),
                    t.task.ty.to_string(),
                    t.task.description.clone(),
                ]
            })
            .collect();
        print!("{}", table(&["TASK", "KIND", "TYPE", "DESCRIPTION"], rows));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct RunArgs {
    /// BUNDLE/TASK (collection core) or COLLECTION/BUNDLE/TASK.
    task: String,
    /// The resource the task looks at (names the issues it raises).
    #[arg(long, short, default_value = "localhost")]
    resource: String,
    /// A config value: --set PG_DSN=postgres://...
    #[arg(long = "set", value_name = "K=V")]
    set: Vec<String>,
    /// A secret, read from a file (never from the command line): --secret PGPASSWORD=@/run/pw
    #[arg(long = "secret", value_name = "K=@FILE")]
    secret: Vec<String>,
    /// Needed to run a remediation task: you, at this terminal, are the human approving it.
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

pub async fn run(home: &Path, db: Option<&str>, a: RunArgs) -> Result<ExitCode> {
    let task = TaskRef::parse(&a.task).map_err(anyhow::Error::msg)?;
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
    let app = App::open(home, db).await?;
    let runner = app.runner()?;
    if a.approve {
        tracing::warn!(task = %task, user = %std::env::var("USER").unwrap_or_default(), "remediation approved at the terminal");
    }
    let (task_name, resource_name) = (task.to_string(), a.resource.clone());
    let out = runner
        .run(RunRequest {
            task,
            resource: a.resource,
            slx: None,
            config,
            secrets,
            // Interim until the engine's approvals module records this approval.
            approval: a.approve.then(|| sitrep_core::approval::ApprovalGrant {
                approval_id: "terminal".into(),
                task: task_name.clone(),
                resource: resource_name.clone(),
                approver: std::env::var("USER").unwrap_or_default(),
                expires_at: SystemClock.now().add(std::time::Duration::from_secs(60)),
            }),
        })
        .await?;
    let code = if out.run.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    };
    if a.json {
        let changes: Vec<_> = out
            .changes
            .iter()
            .map(|c| json!({"kind": c.event_kind(), "issue_id": c.issue_id()}))
            .collect();
        let resolved: Vec<_> = out
            .changes
            .iter()
            .filter_map(|c| matches!(c, IssueChange::Resolve { .. }).then(|| c.issue_id()))
            .collect();
        let insights: Vec<_> = out
            .results
            .insights
            .iter()
            .map(|(t, d)| json!({"text": t, "data": d}))
            .collect();
        let metrics: Vec<_> = out
            .results
            .metrics
            .iter()
            .map(|(n, v, l)| json!({"name": n, "value": v, "labels": l}))
            .collect();
        print_json(&json!({
            "run": out.run, "issues": out.results.issues, "insights": insights, "metrics": metrics,
            "report": out.run.report, "changes": changes, "resolved": resolved,
        }))?;
        return Ok(code);
    }
    let r = &out.run;
    println!(
        "{} {} on {}: {} in {} ms",
        r.id.get(..8).unwrap_or(&r.id),
        r.task,
        r.resource,
        r.status,
        r.duration_ms().unwrap_or(0)
    );
    if let Some(e) = &r.error {
        println!("error: {e}");
    }
    for c in &out.changes {
        if let IssueChange::Resolve { issue_id, .. } = c {
            println!("resolved issue {}", issue_id.get(..8).unwrap_or(issue_id));
        }
    }
    for (d, c) in out.results.issues.iter().zip(
        out.changes
            .iter()
            .filter(|c| !matches!(c, IssueChange::Resolve { .. }))
            .map(Some)
            .chain(std::iter::repeat(None)),
    ) {
        let what = c.map_or("raised".to_string(), |c| c.event_kind().to_string());
        println!(
            "[sev {} {}] {} ({what})",
            d.severity,
            d.severity.label(),
            d.title
        );
        for (k, v) in [
            ("expected", &d.expected),
            ("actual", &d.actual),
            ("next steps", &d.next_steps),
        ] {
            if !v.is_empty() {
                println!("    {k}: {v}");
            }
        }
    }
    for (t, _) in &out.results.insights {
        println!("insight: {t}");
    }
    if !r.report.is_empty() {
        println!("\n{}", r.report.trim_end());
    }
    if r.status != RunStatus::Succeeded && !r.stderr.is_empty() {
        eprintln!("--- stderr ---\n{}", r.stderr.trim_end());
    }
    Ok(code)
}

#[derive(Args)]
pub struct IssuesArgs {
    /// Include resolved issues.
    #[arg(long)]
    all: bool,
    /// Only the issues of this SLX or resource.
    #[arg(long)]
    scope: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn issues(home: &Path, db: Option<&str>, a: IssuesArgs) -> Result<ExitCode> {
    let app = App::open(home, db).await?;
    let list = app
        .store
        .list_issues(
            app.workspace(),
            &IssueFilter {
                include_resolved: a.all,
                scope: a.scope,
                limit: None,
            },
        )
        .await?;
    if a.json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!("no {}issues", if a.all { "" } else { "open " });
        return Ok(ExitCode::SUCCESS);
    }
    let rows = list
        .iter()
        .map(|i| {
            vec![
                i.id.get(..8).unwrap_or(&i.id).to_string(),
                format!("{} {}", i.severity, i.severity.label()),
                i.status.to_string(),
                i.resource.clone(),
                i.title.clone(),
                i.count.to_string(),
                i.last_seen.to_rfc3339()[..19].replace('T', " "),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "ID",
                "SEVERITY",
                "STATUS",
                "RESOURCE",
                "TITLE",
                "COUNT",
                "LAST SEEN (UTC)"
            ],
            rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ServeArgs {
    /// Run every SLX's health tasks once, print the open issues, and exit.
    #[arg(long)]
    once: bool,
}

pub async fn serve(home: &Path, db: Option<&str>, a: ServeArgs) -> Result<ExitCode> {
    if !home.join(CONFIG_FILE).exists() {
        init(home, db).await?;
    }
    let app = App::open(home, db).await?;
    let interrupted = app.store.mark_interrupted(SystemClock.now()).await?;
    if interrupted > 0 {
        tracing::warn!(
            runs = interrupted,
            "marked runs left running by a previous stop as interrupted"
        );
    }
    let runner = Arc::new(app.runner()?);
    let store: Arc<dyn Store> = app.store.clone();
    let scheduler = Scheduler::new(
        store,
        app.catalog.clone(),
        Arc::new(SystemClock),
        app.workspace(),
        executor(runner.clone(), app.config.secrets.clone()),
    );
    if a.once {
        let n = scheduler.run_once().await?;
        println!("ran {n} health tasks");
        return issues(
            home,
            db,
            IssuesArgs {
                all: false,
                scope: None,
                json: false,
            },
        )
        .await;
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    scheduler.run(rx).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a scheduled job: the SLX's tasks in order, with its config and resolved secrets.
fn executor(runner: Arc<Runner>, named: BTreeMap<String, String>) -> Executor {
    let named = Arc::new(named);
    Arc::new(move |job: Job| {
        let runner = runner.clone();
        let named = named.clone();
        Box::pin(async move {
            let secrets = match sitrep_runner::secrets::resolve_all(&job.slx.secrets, &named) {
                Ok(s) => s,
                Err((name, e)) => {
                    tracing::warn!(slx = %job.slx.name, secret = %name, error = %e, "cannot resolve secret; slx skipped");
                    return;
                }
            };
            for task in job.tasks {
                let req = RunRequest {
                    task: task.clone(),
                    resource: job.slx.resource.clone(),
                    slx: Some(job.slx.name.clone()),
                    config: job.slx.config.clone(),
                    secrets: secrets.clone(),
                    approval: None,
                };
                if let Err(e) = runner.run(req).await {
                    tracing::warn!(slx = %job.slx.name, task = %task, error = %e, "cannot run task");
                }
            }
        })
    })
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
            let p = path.clone();
            let problems =
                tokio::task::spawn_blocking(move || sitrep_bundles::validate_path(&p)).await??;
            if json {
                let v: Vec<_> = problems.iter().map(|p| json!({"file": p.file, "line": p.line, "field": p.field, "message": p.message})).collect();
                print_json(&v)?;
            } else if problems.is_empty() {
                println!("{}: valid", path.display());
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
