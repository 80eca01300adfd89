//! `sitrep`: argument parsing and output. Everything it does lives in the library crates.

mod analyze;
mod app;
mod commands;
mod config;
mod discover;
mod emit;
mod output;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (for `run`: the task ran; it may have raised issues)
  1  error: bad input, configuration or database (the message says what to do)
  2  usage error (unknown flag or command)
  3  `run`: the task itself failed or timed out (see its stderr and error)
  4  `bundles validate`: problems found (each printed as FILE:LINE: FIELD: MESSAGE)

Environment:
  SITREP_HOME          state directory (default ~/.sitrep)
  SITREP_DATABASE_URL  sqlite://PATH (default $SITREP_HOME/sitrep.db) or postgres://...
  SITREP_LOG           log filter, e.g. info or sitrep_runner=debug (logs go to stderr)";

#[derive(Parser)]
#[command(name = "sitrep", version, about = "An AI SRE that runs diagnostic tasks, turns results into issues, and investigates", after_help = EXIT_CODES)]
struct Cli {
    /// State directory: configuration, database, caches.
    #[arg(long, env = "SITREP_HOME", global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Database URL (overrides sitrep.yaml).
    #[arg(
        long,
        env = "SITREP_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create SITREP_HOME with a default sitrep.yaml, the database, and an SLX watching this host.
    Init,
    /// List the tasks of every collection.
    Tasks(commands::TasksArgs),
    /// Run one task now: `sitrep run postgres/idle-in-transaction --resource pg-main --set PG_DSN=...`
    Run(commands::RunArgs),
    /// List issues (open ones unless --all).
    Issues(commands::IssuesArgs),
    /// Run the scheduler: every SLX's health tasks at their interval, until Ctrl-C.
    Serve(commands::ServeArgs),
    /// Report a result from inside a task (writes to $SITREP_RESULTS).
    Emit(emit::EmitArgs),
    /// Find resources and their dependencies, and generate SLXs from the bundles' rules.
    Discover(discover::DiscoverArgs),
    /// List, show or run SLXs.
    #[command(subcommand)]
    Slx(discover::SlxCmd),
    /// The dependency map discovery built: `--json`, `--dot`, `--around NAME [--paths]`.
    Map(discover::MapArgs),
    /// Work with CodeBundles.
    #[command(subcommand)]
    Bundles(commands::BundlesCmd),
    /// Analytics on your own data: anomalies, root-cause ranking, log templates.
    #[command(subcommand)]
    Analyze(analyze::AnalyzeCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `emit` runs inside tasks, hundreds of times a second: no runtime, no logging set-up.
    if let Command::Emit(args) = cli.command {
        return report(emit::run(args));
    }
    if let Command::Analyze(cmd) = cli.command {
        return report(analyze::run(cmd).map(|_| ExitCode::SUCCESS));
    }
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SITREP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(Err(e.into())),
    };
    let home = cli.home.unwrap_or_else(config::default_home);
    let db = cli.database_url;
    report(rt.block_on(async move {
        match cli.command {
            Command::Init => commands::init(&home, db.as_deref()).await,
            Command::Tasks(a) => commands::tasks(&home, a).await,
            Command::Run(a) => commands::run(&home, db.as_deref(), a).await,
            Command::Issues(a) => commands::issues(&home, db.as_deref(), a).await,
            Command::Serve(a) => commands::serve(&home, db.as_deref(), a).await,
            Command::Bundles(c) => commands::bundles(c).await,
            Command::Discover(a) => discover::discover(&home, db.as_deref(), a).await,
            Command::Slx(c) => discover::slx(&home, db.as_deref(), c).await,
            Command::Map(a) => discover::map(&home, db.as_deref(), a).await,
            Command::Emit(_) | Command::Analyze(_) => unreachable!("handled above"),
        }
    }))
}

fn report(r: anyhow::Result<ExitCode>) -> ExitCode {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
