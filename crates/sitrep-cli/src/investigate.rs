//! `investigate`, `sessions`, `approvals`, `approve`, `deny`.

use crate::basics::terminal_user;
use crate::out::{col, outln, print_json, short, table, text, when, write_out};
use anyhow::{Context, Result};
use clap::Args;
use sitrep_core::approval::{ApprovalRecord, ApprovalStatus};
use sitrep_core::investigation::{HypothesisStatus, Session, Strength, Verdict};
use sitrep_engine::events::Event;
use sitrep_engine::investigate::{Ask, FollowUpRequest, InvestigateRequest};
use sitrep_engine::{ApprovalQuery, Sitrep};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["question", "alert", "issue"])))]
pub struct InvestigateArgs {
    /// The question, in plain words: "why is checkout failing?"
    question: Option<String>,
    /// An alert payload to investigate: Alertmanager webhook v4 or PagerDuty webhook v3 JSON
    /// (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    alert: Option<PathBuf>,
    /// An open issue to investigate (its id or a unique prefix).
    #[arg(long, value_name = "ID")]
    issue: Option<String>,
    /// Ask the question about a finished session (its id or a unique prefix): the same
    /// session continues with what the question names, and concludes again.
    #[arg(long, value_name = "SESSION", requires = "question", conflicts_with_all = ["alert", "issue", "assistant"])]
    follow_up: Option<String>,
    /// The assistant (from sitrep.yaml) to investigate with.
    #[arg(long)]
    assistant: Option<String>,
    /// Wall-clock budget, e.g. 60s or 5m.
    #[arg(long, value_name = "DURATION")]
    time_budget: Option<String>,
    /// Task runs the investigation may start.
    #[arg(long, value_name = "N")]
    task_budget: Option<usize>,
    /// Print the session as JSON (progress still goes to stderr).
    #[arg(long)]
    json: bool,
}

pub async fn investigate(sitrep: &Sitrep, a: InvestigateArgs) -> Result<ExitCode> {
    let ask = match (a.question, a.alert, a.issue) {
        (Some(q), _, _) => Ask::Question(q),
        (_, Some(path), _) => {
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .context("reading the alert from standard input")?;
                s
            } else {
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?
            };
            Ask::Alert(text)
        }
        (_, _, Some(id)) => Ask::Issue(id),
        _ => unreachable!("clap requires one"),
    };
    let time_budget = a
        .time_budget
        .as_deref()
        .map(sitrep_core::time::parse_duration)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--time-budget: {e}"))?;
    // Live progress on stderr, from the engine's events.
    let mut events = sitrep.subscribe();
    let progress = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::Session { summary, .. }) => eprintln!("  {summary}"),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("  ({n} progress lines skipped)")
                }
                Err(_) => break,
            }
        }
    });
    let session = match (a.follow_up, ask) {
        (Some(session), Ask::Question(text)) => {
            sitrep
                .follow_up(FollowUpRequest {
                    session,
                    text,
                    by: terminal_user().as_str().to_string(),
                    time_budget,
                    task_budget: a.task_budget,
                })
                .await
        }
        (_, ask) => {
            sitrep
                .investigate(InvestigateRequest {
                    ask,
                    assistant: a.assistant,
                    time_budget,
                    task_budget: a.task_budget,
                    session_id: None,
                })
                .await
        }
    };
    // Let the last progress lines print before the report.
    tokio::task::yield_now().await;
    progress.abort();
    let session = session?;
    let proposals = proposals_of(sitrep, &session).await?;
    if a.json {
        print_json(&serde_json::json!({"session": session, "proposals": proposals}))?;
    } else {
        write_out(format_args!("\n{}", render_session(&session, &proposals)))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn proposals_of(sitrep: &Sitrep, s: &Session) -> Result<Vec<ApprovalRecord>> {
    let mut out = vec![];
    for id in &s.proposals {
        out.push(sitrep.approval(id).await?);
    }
    Ok(out)
}

fn mark(s: HypothesisStatus) -> &'static str {
    match s {
        HypothesisStatus::Confirmed => "confirmed",
        HypothesisStatus::Pruned => "pruned",
        HypothesisStatus::Active => "open",
    }
}

/// The readable report of a session.
pub fn render_session(s: &Session, proposals: &[ApprovalRecord]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Session {} ({} assistant, {}): {}",
        short(&s.id),
        s.assistant,
        s.status,
        s.trigger.text()
    );
    for f in &s.follow_ups {
        let _ = writeln!(o, "Follow-up ({}): {}", when(f.at), f.text);
    }
    if !s.focus.is_empty() {
        let _ = writeln!(o, "Focus: {}", s.focus.join(", "));
    }
    let _ = writeln!(o, "\nHypotheses:");
    fn walk(o: &mut String, s: &Session, parent: Option<&str>, indent: usize) {
        for h in s
            .hypotheses
            .iter()
            .filter(|h| h.parent.as_deref() == parent)
        {
            let _ = writeln!(
                o,
                "{:indent$}{} {} [{}] {} ({})",
                "",
                h.id,
                match h.status {
                    HypothesisStatus::Confirmed => "✓",
                    HypothesisStatus::Pruned => "✗",
                    HypothesisStatus::Active => "?",
                },
                mark(h.status),
                h.statement,
                h.resource,
            );
            for e in s.evidence_for(&h.id) {
                let _ = writeln!(
                    o,
                    "{:w$}{:<13} {}: {}",
                    "",
                    e.strength.to_string(),
                    e.task,
                    e.summary,
                    w = indent + 6
                );
            }
            walk(o, s, Some(&h.id), indent + 4);
        }
    }
    walk(&mut o, s, None, 2);
    if s.hypotheses.is_empty() {
        let _ = writeln!(
            o,
            "  (none: no open issue, declared failure mode or health check applied)"
        );
    }
    if let Some(c) = &s.conclusion {
        let _ = writeln!(o, "\n{}", c.summary);
        if let Some(rc) = &c.root_cause
            && let Some(culprit) = &rc.culprit
        {
            let _ = writeln!(o, "  culprit: {culprit}");
        }
        if c.verdict != Verdict::NothingFound {
            let reasons: Vec<String> = c
                .reasons
                .iter()
                .map(|r| format!("{:+.2} {}", r.delta, r.why))
                .collect();
            let _ = writeln!(
                o,
                "  confidence {:.2} (threshold {:.2}): {}",
                c.confidence,
                c.threshold,
                reasons.join("; ")
            );
        }
        if !c.chain.is_empty() {
            let chain: Vec<&str> = c.chain.iter().map(|l| l.resource.as_str()).collect();
            let _ = writeln!(o, "  evidence chain: {}", chain.join(" → "));
        }
        for (title, list) in [
            ("alternatives", &c.alternatives),
            ("unknowns", &c.unknowns),
            ("check next", &c.next_checks),
        ] {
            if !list.is_empty() {
                let _ = writeln!(o, "  {title}:");
                for x in list {
                    let _ = writeln!(o, "    - {x}");
                }
            }
        }
    }
    o.push_str(&crate::studio::render_studio(s));
    for p in proposals {
        let params: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            o,
            "\nProposed remediation {}: {} on {} ({} risk){}",
            short(&p.id),
            p.task,
            p.resource,
            p.risk,
            if params.is_empty() {
                String::new()
            } else {
                format!(" with {}", params.join(" "))
            }
        );
        let _ = writeln!(o, "  rollback: {}", p.rollback);
        let _ = writeln!(
            o,
            "  status: {} (expires {} UTC)",
            p.status,
            when(p.expires_at)
        );
        if p.status == ApprovalStatus::Pending {
            let confirm = if p.needs_confirmation() {
                format!(" --confirm {}", p.resource)
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "  approve: sitrep approve {}{confirm}    deny: sitrep deny {} --reason \"...\"",
                short(&p.id),
                short(&p.id)
            );
        }
    }
    let strong = s
        .evidence
        .iter()
        .filter(|e| e.strength == Strength::Strong)
        .count();
    let _ = writeln!(
        o,
        "\n{} task run(s) of {}, {} piece(s) of evidence ({strong} strong), {:.1} s{}",
        s.budget.task_runs,
        s.budget.task_runs_max,
        s.evidence.len(),
        s.budget.elapsed_ms as f64 / 1000.0,
        s.budget
            .exhausted
            .as_deref()
            .map(|b| format!("; {b}"))
            .unwrap_or_default()
    );
    o
}

#[derive(Args)]
pub struct SessionsArgs {
    /// Show this session (an id or a unique prefix).
    id: Option<String>,
    /// With an id: print its audit trail as JSON lines.
    #[arg(long, requires = "id")]
    audit: bool,
    /// How many sessions to list.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

pub async fn sessions(sitrep: &Sitrep, a: SessionsArgs) -> Result<ExitCode> {
    match a.id {
        Some(id) if a.audit => {
            for e in sitrep.session_audit(&id).await? {
                outln!("{}", serde_json::to_string(&e)?)?;
            }
        }
        Some(id) => {
            let s = sitrep.session(&id).await?;
            let proposals = proposals_of(sitrep, &s).await?;
            if a.json {
                print_json(&serde_json::json!({"session": s, "proposals": proposals}))?;
            } else {
                write_out(format_args!("{}", render_session(&s, &proposals)))?;
            }
        }
        None => {
            let list = sitrep.sessions(a.limit).await?;
            if a.json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!("no investigations yet (`sitrep investigate \"why is ... failing?\"`)")?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        let c = s.conclusion.as_ref();
                        vec![
                            short(&s.id).to_string(),
                            when(s.started_at),
                            s.status.to_string(),
                            c.map_or(String::new(), |c| format!("{:.2}", c.confidence)),
                            s.trigger.text(),
                            c.and_then(|c| c.root_cause.as_ref())
                                .map_or(String::new(), |r| r.resource.clone()),
                        ]
                    })
                    .collect();
                write_out(format_args!(
                    "{}",
                    table(
                        &[
                            col("ID"),
                            col("STARTED (UTC)"),
                            col("STATUS"),
                            col("CONFIDENCE"),
                            text("ASKED", 60),
                            col("ROOT CAUSE ON")
                        ],
                        &rows
                    )
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ApprovalsArgs {
    /// Every approval, not only pending ones.
    #[arg(long)]
    all: bool,
    #[arg(long)]
    json: bool,
}

pub async fn approvals(sitrep: &Sitrep, a: ApprovalsArgs) -> Result<ExitCode> {
    let list: Vec<ApprovalRecord> = sitrep
        .approvals(&ApprovalQuery {
            status: None,
            session_id: None,
            limit: Some(200),
        })
        .await?
        .into_iter()
        .filter(|r| a.all || r.status == ApprovalStatus::Pending)
        .collect();
    if a.json {
        print_json(&list)?;
    } else if list.is_empty() {
        outln!("no {}approvals", if a.all { "" } else { "pending " })?;
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|r| {
                vec![
                    short(&r.id).to_string(),
                    r.status.to_string(),
                    r.risk.to_string(),
                    r.task.clone(),
                    r.resource.clone(),
                    r.requested_by.clone(),
                    when(r.expires_at),
                ]
            })
            .collect();
        write_out(format_args!(
            "{}",
            table(
                &[
                    col("ID"),
                    col("STATUS"),
                    col("RISK"),
                    col("TASK"),
                    col("RESOURCE"),
                    col("REQUESTED BY"),
                    col("EXPIRES (UTC)")
                ],
                &rows
            )
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ApproveArgs {
    /// The approval's id (or a unique prefix).
    id: String,
    /// For high and critical risk: type the resource's name to confirm.
    #[arg(long, value_name = "RESOURCE")]
    confirm: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn approve(sitrep: &Sitrep, a: ApproveArgs) -> Result<ExitCode> {
    let v = sitrep.approve(&a.id, &terminal_user(), a.confirm).await?;
    if a.json {
        print_json(&v)?;
    } else {
        outln!(
            "approved {}: ran {} on {}",
            short(&v.approval.id),
            v.approval.task,
            v.approval.resource
        )?;
        crate::basics::print_run(&v.run)?;
        if let Some(ver) = &v.verification {
            outln!(
                "verification: {}",
                if ver.resolved {
                    "the cause's checks now run clean"
                } else {
                    "the cause's checks still report it"
                }
            )?;
            for c in &ver.checks {
                outln!("  {} {}: {}", c.strength, c.task, c.summary)?;
            }
        }
    }
    Ok(if v.run.failed() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args)]
pub struct DenyArgs {
    /// The approval's id (or a unique prefix).
    id: String,
    /// Why (kept with the record and in the session's audit).
    #[arg(long)]
    reason: String,
    #[arg(long)]
    json: bool,
}

pub async fn deny(sitrep: &Sitrep, a: DenyArgs) -> Result<ExitCode> {
    let r = sitrep.deny(&a.id, &terminal_user(), &a.reason).await?;
    if a.json {
        print_json(&r)?;
    } else {
        outln!(
            "denied {}: {} on {} will not run",
            short(&r.id),
            r.task,
            r.resource
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
