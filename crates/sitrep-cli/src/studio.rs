//! `knowledge`, `rules`, `command`: the Workspace Studio's files and notes.

use crate::investigate::render_session;
use crate::out::{col, outln, print_json, table, text, write_out};
use anyhow::Result;
use clap::{Args, Subcommand};
use sitrep_engine::Sitrep;
use sitrep_engine::investigate::InvestigateRequest;
use sitrep_engine::views::ProblemView;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KnowledgeCmd {
    /// Add (or replace) a note, or every *.md under a folder.
    Add {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Search the notes (BM25 over their sections; services and symptoms count most).
    Search {
        query: Vec<String>,
        #[arg(long, default_value_t = 5)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// List the notes (the workspace folder's knowledge/ and those added).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one note (its id or a unique prefix).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a note added by hand (a folder note goes when its file does).
    Rm { id: String },
}

pub async fn knowledge(sitrep: &Sitrep, c: KnowledgeCmd) -> Result<ExitCode> {
    match c {
        KnowledgeCmd::Add { path, json } => {
            let added = sitrep.knowledge_add(&path).await?;
            if json {
                print_json(&added)?;
            } else {
                for n in &added {
                    outln!("added {} ({}): {}", n.id, n.kind, n.title)?;
                }
            }
        }
        KnowledgeCmd::Search { query, limit, json } => {
            let hits = sitrep.knowledge_search(&query.join(" "), limit).await?;
            if json {
                print_json(&hits)?;
            } else if hits.is_empty() {
                outln!("no note matches")?;
            } else {
                for h in &hits {
                    let section = if h.section.is_empty() {
                        String::new()
                    } else {
                        format!(" › {}", h.section)
                    };
                    outln!(
                        "{:.2}  {} ({}): {}{section}",
                        h.score,
                        h.id,
                        h.kind,
                        h.title
                    )?;
                    if !h.snippet.is_empty() {
                        outln!("      {}", h.snippet)?;
                    }
                }
            }
        }
        KnowledgeCmd::List { json } => {
            let list = sitrep.knowledge_list().await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!(
                    "no notes: write markdown files under {}/knowledge, or add some",
                    sitrep.workspace_dir().display()
                )?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|n| {
                        vec![
                            n.id.clone(),
                            n.kind.to_string(),
                            n.origin.to_string(),
                            n.services.join(","),
                            n.title.clone(),
                        ]
                    })
                    .collect();
                write_out(format_args!(
                    "{}",
                    table(
                        &[
                            col("ID"),
                            col("TYPE"),
                            col("FROM"),
                            text("SERVICES", 30),
                            text("TITLE", 70)
                        ],
                        &rows
                    )
                ))?;
            }
        }
        KnowledgeCmd::Show { id, json } => {
            let n = sitrep.knowledge_note(&id).await?;
            if json {
                print_json(&n)?;
            } else {
                outln!("{} ({}, from {})", n.title, n.kind, n.path)?;
                for (k, v) in [
                    ("services", &n.services),
                    ("symptoms", &n.symptoms),
                    ("tags", &n.tags),
                ] {
                    if !v.is_empty() {
                        outln!("{k}: {}", v.join(", "))?;
                    }
                }
                if let Some(rc) = &n.root_cause {
                    outln!("root cause on {}: {}", rc.resource, rc.statement)?;
                }
                if let Some(o) = &n.owner {
                    outln!("owner: {o}")?;
                }
                outln!("\n{}", n.body.trim_end())?;
            }
        }
        KnowledgeCmd::Rm { id } => {
            let n = sitrep.knowledge_remove(&id).await?;
            outln!("removed {}: {}", n.id, n.title)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum RulesCmd {
    /// List the rules of the workspace folder's rules/.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one rule.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Check the rules (or the files at PATH); prints FILE:LINE: FIELD: MESSAGE for each problem.
    Validate {
        path: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show which open issues a rule would change, and how.
    Test {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn print_problems(problems: &[ProblemView], json: bool, what: &str) -> Result<ExitCode> {
    if json {
        print_json(&problems)?;
    } else if problems.is_empty() {
        outln!("{what}: no problems")?;
    } else {
        for p in problems {
            outln!("{p}")?;
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}

pub async fn rules(sitrep: &Sitrep, c: RulesCmd) -> Result<ExitCode> {
    match c {
        RulesCmd::List { json } => {
            let list = sitrep.rules().await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!(
                    "no rules: write them as {}/rules/NAME.yaml",
                    sitrep.workspace_dir().display()
                )?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|r| {
                        let e = &r.spec.effect;
                        let mut effects = vec![];
                        if e.suppress {
                            effects.push("suppress".to_string());
                        }
                        if let Some(s) = e.severity {
                            effects.push(format!("severity {s}"));
                        }
                        if e.known {
                            effects.push("known".into());
                        }
                        if e.context.is_some() {
                            effects.push("context".into());
                        }
                        let state = match (&r.spec.until, r.in_force) {
                            (_, false) => "expired".to_string(),
                            (Some(u), true) => format!("until {u}"),
                            (None, true) => "in force".into(),
                        };
                        vec![
                            r.name.clone(),
                            effects.join(", "),
                            state,
                            r.spec.description.clone(),
                        ]
                    })
                    .collect();
                write_out(format_args!(
                    "{}",
                    table(
                        &[
                            col("NAME"),
                            col("EFFECT"),
                            col("STATE"),
                            text("DESCRIPTION", 70)
                        ],
                        &rows
                    )
                ))?;
            }
        }
        RulesCmd::Show { name, json } => {
            let r = sitrep.rule(&name).await?;
            if json {
                print_json(&r)?;
            } else {
                outln!(
                    "{} ({}{})",
                    r.name,
                    r.file,
                    if r.in_force { "" } else { ", expired" }
                )?;
                let yaml = yaml_serde::to_string(&r.spec)?;
                outln!("{}", yaml.trim_end())?;
            }
        }
        RulesCmd::Validate { path, json } => {
            let problems = sitrep.validate_rules(path.as_deref()).await?;
            return print_problems(&problems, json, "rules");
        }
        RulesCmd::Test { name, json } => {
            let t = sitrep.rule_test(&name).await?;
            if json {
                print_json(&t)?;
            } else {
                if !t.in_force {
                    outln!(
                        "(rule {} is past its date and applies to nothing now)",
                        t.rule
                    )?;
                }
                if t.changes.is_empty() {
                    outln!("rule {} changes no open issue", t.rule)?;
                } else {
                    let rows: Vec<Vec<String>> = t
                        .changes
                        .iter()
                        .map(|c| {
                            vec![
                                crate::out::short(&c.issue).to_string(),
                                c.resource.clone(),
                                c.title.clone(),
                                c.effects.join("; "),
                            ]
                        })
                        .collect();
                    write_out(format_args!(
                        "{}",
                        table(
                            &[
                                col("ISSUE"),
                                col("RESOURCE"),
                                text("TITLE", 60),
                                text("CHANGE", 60)
                            ],
                            &rows
                        )
                    ))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum CommandCmd {
    /// List the commands of the workspace folder's commands/.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one command.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Check the commands (or the files at PATH); prints FILE:LINE: FIELD: MESSAGE.
    Validate {
        path: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run a command: its tasks, then its investigation. Arguments are NAME=VALUE (or values
    /// in the order of its parameters).
    Run(RunCommandArgs),
}

#[derive(Args)]
pub struct RunCommandArgs {
    name: String,
    args: Vec<String>,
    /// Wall-clock budget of the investigation, e.g. 60s or 5m.
    #[arg(long, value_name = "DURATION")]
    time_budget: Option<String>,
    /// Task runs the investigation may start.
    #[arg(long, value_name = "N")]
    task_budget: Option<usize>,
    #[arg(long)]
    json: bool,
}

pub async fn command(sitrep: &Sitrep, c: CommandCmd) -> Result<ExitCode> {
    match c {
        CommandCmd::List { json } => {
            let list = sitrep.commands().await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!(
                    "no commands: write them as {}/commands/NAME.yaml",
                    sitrep.workspace_dir().display()
                )?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|c| {
                        let params: Vec<String> =
                            c.spec.params.iter().map(|p| p.name.clone()).collect();
                        vec![
                            c.spec.name.clone(),
                            params.join(" "),
                            c.spec.steps.len().to_string(),
                            c.spec.description.clone(),
                        ]
                    })
                    .collect();
                write_out(format_args!(
                    "{}",
                    table(
                        &[
                            col("NAME"),
                            col("PARAMS"),
                            col("STEPS"),
                            text("DESCRIPTION", 70)
                        ],
                        &rows
                    )
                ))?;
            }
        }
        CommandCmd::Show { name, json } => {
            let c = sitrep.command(&name).await?;
            if json {
                print_json(&c)?;
            } else {
                outln!("{} ({})", c.spec.name, c.file)?;
                outln!("{}", yaml_serde::to_string(&c.spec)?.trim_end())?;
            }
        }
        CommandCmd::Validate { path, json } => {
            let problems = sitrep.validate_commands(path.as_deref()).await?;
            return print_problems(&problems, json, "commands");
        }
        CommandCmd::Run(a) => {
            let time_budget = a
                .time_budget
                .as_deref()
                .map(sitrep_core::time::parse_duration)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--time-budget: {e}"))?;
            let base = InvestigateRequest {
                ask: sitrep_engine::investigate::Ask::Question(String::new()),
                assistant: None,
                time_budget,
                task_budget: a.task_budget,
                session_id: None,
            };
            let run = sitrep.run_command(&a.name, &a.args, &base).await?;
            if a.json {
                print_json(&run)?;
            } else {
                for s in &run.steps {
                    outln!(
                        "ran {} on {}: {}, {} issue(s)",
                        s.task,
                        s.resource,
                        s.run.run.status,
                        s.run.issues.len()
                    )?;
                }
                let proposals = crate::investigate::proposals_of(sitrep, &run.session).await?;
                write_out(format_args!(
                    "\n{}",
                    render_session(&run.session, &proposals)
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the studio adds to a session's report: the notes retrieved, the rules applied, the
/// notes cited and the owner.
pub fn render_studio(s: &sitrep_core::investigation::Session) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    if !s.knowledge.is_empty() {
        let _ = writeln!(o, "\nKnowledge:");
        for n in &s.knowledge {
            let on = if n.resources.is_empty() {
                String::new()
            } else {
                format!(" about {}", n.resources.join(", "))
            };
            let _ = writeln!(o, "  {} ({}){on}: {}", n.note, n.kind, n.title);
        }
    }
    if !s.rules.is_empty() {
        let _ = writeln!(o, "\nRules applied:");
        for r in &s.rules {
            let _ = writeln!(
                o,
                "  {} on \"{}\" ({}): {}",
                r.rule,
                r.title,
                r.resource,
                r.effects.join("; ")
            );
        }
    }
    if let Some(c) = &s.conclusion {
        if let Some(owner) = &c.owner {
            let _ = writeln!(o, "\nOwner: {owner}");
        }
        if !c.citations.is_empty() {
            let _ = writeln!(o, "\nCited:");
            for x in &c.citations {
                let _ = writeln!(o, "  {} ({}): {} ({})", x.note, x.kind, x.title, x.why);
            }
        }
    }
    o
}
