//! `sitrep`: argument parsing and output. Everything it does is a call to `sitrep-engine`.

mod analyze;
mod apply;
mod basics;
mod emit;
mod investigate;
mod mapping;
mod out;
mod runs;
mod runtimes;
mod secrets;
mod studio;
mod tokens;
mod workflows;
mod workspaces;

use clap::{Parser, Subcommand, ValueEnum};
use sitrep_engine::{OpenOptions, Overrides, Sitrep};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0    success (for `run`: the task ran; it may have raised issues)
  1    error: bad input, configuration or database (the message says what to do)
  2    usage error (unknown flag or command)
  3    `run`, `slx run`: a task failed or timed out (see its error and output)
  4    `bundles validate`, `rules validate`, `command validate`, `apply`: problems found (each
       printed as FILE:LINE: FIELD: MESSAGE)
  130  interrupted (Ctrl-C); runs in flight were stopped and recorded (143: SIGTERM)
  141  the reader of the output went away (a closed pipe)

Environment (docs/configuration.md describes every key of sitrep.yaml):
  SITREP_HOME          state directory (default ~/.sitrep)
  SITREP_DATABASE_URL  sqlite://PATH (default $SITREP_HOME/sitrep.db) or postgres://...
  SITREP_WORKSPACE     the workspace (default: sitrep.yaml's, else `default`)
  SITREP_VAULT_KEY     the secrets vault's key (default: the file $SITREP_HOME/vault.key)
  SITREP_LOG           log filter, e.g. info or sitrep_runner=debug (logs go to stderr)
  SITREP_PYTHON        the python3 the robot runtime's venv is made with (default python3)
  NO_COLOR             no colour in logs (like --color never)";

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
    /// Workspace (overrides sitrep.yaml).
    #[arg(long, env = "SITREP_WORKSPACE", global = true, value_name = "NAME")]
    workspace: Option<String>,
    /// Colour in logs: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Create SITREP_HOME with a default sitrep.yaml, the database, and an SLX watching this host.
    Init,
    /// List the tasks of every collection.
    Tasks(basics::TasksArgs),
    /// Run one task now: `sitrep run postgres/idle-in-transaction --set PG_DSN=...`
    Run(basics::RunArgs),
    /// List issues (open ones unless --all), most current and severe first.
    Issues(basics::IssuesArgs),
    /// Recent runs and how they ended (`runs show ID` for one whole, with its output).
    Runs(runs::RunsArgs),
    /// Run the scheduler: every SLX's health tasks at their interval, until Ctrl-C or SIGTERM.
    Serve(basics::ServeArgs),
    /// Report a result from inside a task (writes to $SITREP_RESULTS).
    Emit(emit::EmitArgs),
    /// Find resources and their dependencies, and generate SLXs from the bundles' rules.
    Discover(mapping::DiscoverArgs),
    /// List, show, edit or run SLXs.
    #[command(subcommand)]
    Slx(mapping::SlxCmd),
    /// The dependency map discovery built: `--json`, `--dot`, `--around NAME [--paths]`.
    Map(mapping::MapArgs),
    /// Investigate a question, an alert or an issue: hypotheses, evidence, root cause, a fix.
    Investigate(investigate::InvestigateArgs),
    /// List investigations, show one, or export its audit trail (JSON lines).
    Sessions(investigate::SessionsArgs),
    /// List remediation approvals (pending ones unless --all).
    Approvals(investigate::ApprovalsArgs),
    /// Approve a proposed remediation: it runs now, then its cause's checks run again.
    Approve(investigate::ApproveArgs),
    /// Deny a proposed remediation; nothing runs.
    Deny(investigate::DenyArgs),
    /// Knowledge notes: add, search, list, show, rm.
    #[command(subcommand)]
    Knowledge(studio::KnowledgeCmd),
    /// Rules that change how issues are read: list, show, validate, test.
    #[command(subcommand)]
    Rules(studio::RulesCmd),
    /// Named investigation procedures: list, show, validate, run NAME k=v.
    #[command(subcommand, name = "command")]
    Procedures(studio::CommandCmd),
    /// Workflows (what alerts and new issues lead to, and where answers are delivered):
    /// list, validate, deliveries.
    #[command(subcommand)]
    Workflows(workflows::WorkflowsCmd),
    /// Serve MCP (Model Context Protocol) on stdin/stdout for an AI client: issues,
    /// investigations, sessions, knowledge, diagnostic tasks, the Map. Approvals are not offered.
    Mcp,
    /// API tokens for the server: create, list, revoke.
    #[command(subcommand)]
    Token(tokens::TokenCmd),
    /// Workspaces of this home (each with its own SLXs, issues, sessions, secrets, tokens):
    /// list, create.
    #[command(subcommand)]
    Workspace(workspaces::WorkspaceCmd),
    /// Apply a workspace folder (sitrep.yaml, slxs/, rules/, commands/, workflows/,
    /// knowledge/) to the workspace: `apply -f DIR [--dry-run] [--prune]`. All or nothing.
    Apply(apply::ApplyArgs),
    /// Write the workspace out in the layout `apply` reads (secrets never): `export -o DIR`.
    Export(apply::ExportArgs),
    /// Workspace secrets, stored encrypted: set (from stdin), list, delete, rekey.
    #[command(subcommand)]
    Secret(secrets::SecretCmd),
    /// Managed runtimes (the Python venv RunWhen codebundles run in): list, install robot.
    #[command(subcommand)]
    Runtimes(runtimes::RuntimesCmd),
    /// Work with CodeBundles.
    #[command(subcommand)]
    Bundles(basics::BundlesCmd),
    /// Analytics on your own data: anomalies, root-cause ranking, log templates.
    #[command(subcommand)]
    Analyze(analyze::AnalyzeCmd),
}

fn color_on(choice: Color, stream: &impl IsTerminal) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && stream.is_terminal()
        }
    }
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
        .with_ansi(color_on(cli.color, &std::io::stderr()))
        .with_target(false)
        .init();

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(Err(e.into())),
    };
    let mut opts = OpenOptions::new(
        cli.home
            .unwrap_or_else(sitrep_engine::settings::default_home),
    );
    opts.overrides = Overrides {
        database_url: cli.database_url,
        workspace: cli.workspace,
        listen: match &cli.command {
            Command::Serve(a) => a.listen.clone(),
            _ => None,
        },
    };
    let code = report(rt.block_on(async move {
        if let Command::Init = cli.command {
            return basics::init(opts).await;
        }
        if let Command::Bundles(c) = cli.command {
            return basics::bundles(c).await;
        }
        let sitrep = match &cli.command {
            // `serve` on a fresh home sets it up first.
            Command::Serve(_) => Sitrep::init(opts).await?.0,
            _ => Sitrep::open(opts)?,
        };
        let result = match cli.command {
            Command::Tasks(a) => basics::tasks(&sitrep, a).await,
            Command::Run(a) => basics::run(&sitrep, a).await,
            Command::Issues(a) => basics::issues(&sitrep, a).await,
            Command::Runs(a) => runs::runs(&sitrep, a).await,
            Command::Serve(a) => basics::serve(&sitrep, a).await,
            Command::Discover(a) => mapping::discover(&sitrep, a).await,
            Command::Slx(c) => mapping::slx(&sitrep, c).await,
            Command::Map(a) => mapping::map(&sitrep, a).await,
            Command::Investigate(a) => investigate::investigate(&sitrep, a).await,
            Command::Sessions(a) => investigate::sessions(&sitrep, a).await,
            Command::Approvals(a) => investigate::approvals(&sitrep, a).await,
            Command::Approve(a) => investigate::approve(&sitrep, a).await,
            Command::Deny(a) => investigate::deny(&sitrep, a).await,
            Command::Knowledge(c) => studio::knowledge(&sitrep, c).await,
            Command::Rules(c) => studio::rules(&sitrep, c).await,
            Command::Workflows(c) => workflows::workflows(&sitrep, c).await,
            Command::Procedures(c) => studio::command(&sitrep, c).await,
            Command::Token(c) => tokens::token(&sitrep, c).await,
            Command::Workspace(c) => workspaces::workspace(&sitrep, c).await,
            Command::Mcp => basics::mcp(sitrep.clone()).await,
            Command::Secret(c) => secrets::secret(&sitrep, c).await,
            Command::Apply(a) => apply::apply(&sitrep, a).await,
            Command::Export(a) => apply::export(&sitrep, a).await,
            Command::Runtimes(c) => runtimes::runtimes(&sitrep, c).await,
            Command::Init | Command::Bundles(_) | Command::Emit(_) | Command::Analyze(_) => {
                unreachable!("handled above")
            }
        };
        sitrep.close().await;
        result
    }));
    // Runs interrupted by Ctrl-C were recorded; their processes were killed with them.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

/// Prints an error once (each cause of its chain once), or ends quietly on a closed pipe.
fn report(r: anyhow::Result<ExitCode>) -> ExitCode {
    match r {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::from(141);
            }
            let mut msg = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if !msg.contains(&text) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&text);
                }
            }
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}
