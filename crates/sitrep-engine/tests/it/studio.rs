//! The Workspace Studio in investigations, on the harness's web → db system: a post-mortem
//! proposes a cause that task evidence then confirms (and the note is cited) or prunes (and it
//! is not); rules suppress and re-prioritise what sessions and listings read; commands run
//! their steps and their question, and refuse bad arguments.

use crate::harness::Home;
use sitrep_core::investigation::{AuditKind, HypothesisStatus, Source, Strength, Verdict};
use sitrep_core::knowledge::NoteKind;
use sitrep_engine::IssueQuery;
use sitrep_engine::investigate::{Ask, InvestigateRequest};
use std::path::Path;

pub fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A post-mortem about the database behind checkout, a distracting one about a cache the Map
/// does not have, a runbook about the database for other symptoms, and who owns the database.
fn write_notes(home: &Home) {
    let k = home.dir.path().join("knowledge");
    write(
        &k.join("postmortems/2025-11-checkout.md"),
        "---\ntype: post-mortem\nservices: [web, db]\nsymptoms: [checkout failing, too many clients]\nroot_cause:\n  resource: database\n  statement: a batch job held every database connection\n---\n# Checkout down for 40 minutes\n\n## What happened\nCheckout returned 503 because the database refused new connections.\n",
    );
    write(
        &k.join("postmortems/2025-06-cache.md"),
        "---\ntype: post-mortem\nservices: [cache]\nsymptoms: [cache evictions, slow product pages]\nroot_cause:\n  resource: cache\n  statement: the cache ran out of memory and evicted hot keys\n---\n# Product pages slow\n",
    );
    write(
        &k.join("runbooks/db-replication.md"),
        "---\ntype: runbook\nservices: [db]\nsymptoms: [replication lag, stale reads]\n---\n# Replication lag\nCheck the replica's replay position.\n",
    );
    write(
        &k.join("ownership/db.md"),
        "---\ntype: ownership\nservices: [db]\nowner: team-data\n---\nThe data team owns the database; page #data-oncall.\n",
    );
}

fn knowledge_of(s: &sitrep_core::investigation::Session) -> Vec<&str> {
    s.knowledge.iter().map(|n| n.note.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_mortem_proposes_a_cause_that_evidence_confirms_and_the_conclusion_cites_it() {
    let home = Home::new("").await;
    write_notes(&home);
    home.break_it();
    home.sitrep.run_slx("web-health").await.unwrap();
    home.sitrep.run_slx("db-health").await.unwrap();
    let s = home
        .sitrep
        .investigate(InvestigateRequest::question(
            "why is checkout on web failing?",
        ))
        .await
        .unwrap();
    // Retrieved: what names the resources in play; not the cache post-mortem.
    let retrieved = knowledge_of(&s);
    assert!(
        retrieved.contains(&"postmortems/2025-11-checkout"),
        "{retrieved:?}"
    );
    assert!(retrieved.contains(&"ownership/db"), "{retrieved:?}");
    assert!(
        !retrieved.contains(&"postmortems/2025-06-cache"),
        "{retrieved:?}"
    );
    // The post-mortem's cause became a hypothesis, tested by the database's checks.
    let h = s
        .hypotheses
        .iter()
        .find(|h| matches!(&h.source, Source::Knowledge { note } if note == "postmortems/2025-11-checkout"))
        .expect("a hypothesis from the post-mortem");
    assert_eq!(h.resource, "db");
    assert!(
        h.tests.iter().any(|t| t.task == "t/db/connections"),
        "{:?}",
        h.tests
    );
    assert_eq!(h.status, HypothesisStatus::Confirmed);
    let ev: Vec<_> = s.evidence_for(&h.id).collect();
    assert!(
        ev.iter()
            .any(|e| e.strength == Strength::Strong && !e.run_id.is_empty()),
        "{ev:?}"
    );
    // The conclusion cites it and the owner, and nothing that does not match.
    let c = s.conclusion.as_ref().unwrap();
    assert_eq!(c.verdict, Verdict::RootCause);
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "db");
    let cited: Vec<&str> = c.citations.iter().map(|x| x.note.as_str()).collect();
    assert!(cited.contains(&"postmortems/2025-11-checkout"), "{cited:?}");
    assert!(!cited.contains(&"runbooks/db-replication"), "{cited:?}");
    assert!(!cited.contains(&"postmortems/2025-06-cache"), "{cited:?}");
    assert_eq!(c.owner.as_deref(), Some("team-data"));
    let pm = c
        .citations
        .iter()
        .find(|x| x.kind == NoteKind::PostMortem)
        .unwrap();
    assert!(pm.why.contains("confirmed by task evidence"), "{}", pm.why);
    // The audit has the retrieval, and replays it.
    let audit = home.sitrep.session_audit(&s.id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.kind == AuditKind::KnowledgeRetrieved)
    );
    let r = sitrep_core::investigation::replay(&audit).unwrap().session;
    assert_eq!(r.knowledge, s.knowledge);
    assert_eq!(r.conclusion.as_ref().unwrap().citations, c.citations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_mortem_whose_cause_the_evidence_refutes_is_pruned_and_not_cited() {
    let home = Home::new("").await;
    write_notes(&home);
    // Only the web tier is broken this time: the database's checks run clean.
    let db_fault = home.dir.path().join("db-fault");
    let store = home.store().await;
    let mut db = sitrep_store::Store::get_slx(&store, "default", "db-health")
        .await
        .unwrap()
        .unwrap();
    db.config
        .insert("FAULT".into(), db_fault.display().to_string());
    sitrep_store::Store::put_slx(&store, &db, sitrep_core::Timestamp(2))
        .await
        .unwrap();
    store.close().await;
    home.break_it();
    home.sitrep.run_slx("web-health").await.unwrap();
    let s = home
        .sitrep
        .investigate(InvestigateRequest::question(
            "why is checkout on web failing?",
        ))
        .await
        .unwrap();
    let h = s
        .hypotheses
        .iter()
        .find(|h| matches!(&h.source, Source::Knowledge { .. }))
        .expect("the post-mortem still proposes its cause");
    assert_eq!(h.status, HypothesisStatus::Pruned, "{s:#?}");
    assert!(
        s.evidence_for(&h.id)
            .all(|e| matches!(e.strength, Strength::None | Strength::Contradicting))
    );
    let c = s.conclusion.as_ref().unwrap();
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "web");
    assert!(
        c.citations.iter().all(|x| x.kind != NoteKind::PostMortem),
        "{:?}",
        c.citations
    );
    assert_eq!(c.owner, None, "the database's owner does not own web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressing_rule_keeps_an_issue_out_of_listings_and_hypotheses_and_is_audited() {
    let home = Home::new("").await;
    write(
        &home.dir.path().join("rules/web-503-noise.yaml"),
        "description: the web tier's 503 check is noisy during deploys\nmatch:\n  resource: web\n  title: \"returns 5\\\\d\\\\d\"\neffect:\n  suppress: true\n",
    );
    home.break_it();
    home.sitrep.run_slx("web-health").await.unwrap();
    home.sitrep.run_slx("db-health").await.unwrap();
    let open = home.sitrep.issues(&IssueQuery::default()).await.unwrap();
    assert!(open.iter().all(|i| i.resource != "web"), "{open:?}");
    assert!(open.iter().any(|i| i.resource == "db"));
    let all = home
        .sitrep
        .issues(&IssueQuery {
            all: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let web = all
        .iter()
        .find(|i| i.resource == "web")
        .expect("shown with all");
    assert_eq!(web.ruling.suppressed_by.as_deref(), Some("web-503-noise"));
    assert!(web.mark().unwrap().contains("suppressed by web-503-noise"));

    let s = home
        .sitrep
        .investigate(InvestigateRequest::question(
            "why is checkout on web failing?",
        ))
        .await
        .unwrap();
    assert!(
        !s.hypotheses
            .iter()
            .any(|h| matches!(&h.source, Source::Issue { issue_id } if *issue_id == web.id)),
        "no hypothesis from the suppressed issue"
    );
    // Its raise in a test run is not evidence either.
    assert!(
        s.evidence
            .iter()
            .all(|e| !(e.resource == "web" && e.strength == Strength::Strong)),
        "{:?}",
        s.evidence
    );
    assert!(
        s.rules
            .iter()
            .any(|r| r.rule == "web-503-noise" && r.effects == ["suppressed"])
    );
    let audit = home.sitrep.session_audit(&s.id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.kind == AuditKind::RuleApplied && e.data["rule"] == "web-503-noise")
    );
    assert_eq!(s.conclusion.unwrap().root_cause.unwrap().resource, "db");
    // Nothing was deleted: the issue is still open in the store.
    let stored = sitrep_store::Store::get_issue(&home.store().await, "default", &web.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, sitrep_core::IssueStatus::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_raises_severity_changes_the_order_hypotheses_are_tested_in() {
    let ask = || InvestigateRequest::question("why is checkout on web failing?");
    let first_tested = |s: &sitrep_core::investigation::Session| s.hypotheses[0].resource.clone();

    let plain = Home::new("").await;
    plain.break_it();
    plain.sitrep.run_slx("web-health").await.unwrap();
    plain.sitrep.run_slx("db-health").await.unwrap();
    let before = plain.sitrep.investigate(ask()).await.unwrap();
    assert_eq!(
        first_tested(&before),
        "db",
        "the critical database issue leads without rules"
    );

    let ruled = Home::new("").await;
    write(
        &ruled.dir.path().join("rules/checkout-is-critical.yaml"),
        "match:\n  resource: web\n  severity: [2, 3]\neffect:\n  severity: 1\n  context: checkout is revenue; page at once\n",
    );
    ruled.break_it();
    ruled.sitrep.run_slx("web-health").await.unwrap();
    ruled.sitrep.run_slx("db-health").await.unwrap();
    let listed = ruled.sitrep.issues(&IssueQuery::default()).await.unwrap();
    let web = listed.iter().find(|i| i.resource == "web").unwrap();
    assert_eq!(web.severity.get(), 1);
    assert_eq!(web.ruling.severity.as_ref().unwrap().from.get(), 2);
    let after = ruled.sitrep.investigate(ask()).await.unwrap();
    assert_eq!(
        first_tested(&after),
        "web",
        "the raised issue is tested first"
    );
    let web_h = &after.hypotheses[0];
    let before_web = before
        .hypotheses
        .iter()
        .find(|h| h.resource == "web" && matches!(h.source, Source::Issue { .. }))
        .unwrap();
    assert!(
        web_h.prior > before_web.prior,
        "{} vs {}",
        web_h.prior,
        before_web.prior
    );
    let applied = after
        .rules
        .iter()
        .find(|r| r.rule == "checkout-is-critical")
        .unwrap();
    assert!(
        applied.effects.contains(&"severity 2 → 1".to_string()),
        "{:?}",
        applied.effects
    );
    assert!(
        applied
            .effects
            .iter()
            .any(|e| e.contains("checkout is revenue"))
    );
}

const COMMAND: &str = "description: check the database behind checkout
params:
  - name: db
    type: resource
    description: the database to look at
  - name: holder
    default: batch
steps:
  - task: db/connections
    resource: \"{db}\"
question: why is checkout failing on {db}, is {holder} holding connections?
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_runs_its_steps_then_its_question_and_refuses_bad_arguments() {
    let home = Home::new("").await;
    write(&home.dir.path().join("commands/db-check.yaml"), COMMAND);
    home.break_it();
    let base = InvestigateRequest::question("unused");
    let run = home
        .sitrep
        .run_command("db-check", &["db=database".to_string()], &base)
        .await
        .unwrap();
    assert_eq!(
        run.args["db"], "db",
        "a kind word resolves to the one database"
    );
    assert_eq!(run.args["holder"], "batch");
    assert_eq!(run.steps.len(), 1);
    assert_eq!(
        (run.steps[0].task.as_str(), run.steps[0].slx.as_str()),
        ("t/db/connections", "db-health")
    );
    assert_eq!(
        run.steps[0].run.issues.len(),
        1,
        "the step raised the database issue"
    );
    let s = &run.session;
    assert_eq!(
        s.trigger.text(),
        "why is checkout failing on db, is batch holding connections?"
    );
    assert_eq!(
        s.conclusion
            .as_ref()
            .unwrap()
            .root_cause
            .as_ref()
            .unwrap()
            .resource,
        "db"
    );
    let audit = home.sitrep.session_audit(&s.id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.kind == AuditKind::TaskRun && e.data["command"] == "db-check")
    );

    // The same as an investigation's question.
    let s = home
        .sitrep
        .investigate(InvestigateRequest {
            ask: Ask::Question("/db-check db".into()),
            assistant: None,
            time_budget: None,
            task_budget: None,
            session_id: None,
        })
        .await
        .unwrap();
    assert!(
        s.trigger
            .text()
            .starts_with("why is checkout failing on db")
    );

    for (args, says) in [
        (vec![], "db=... is required (the database to look at)"),
        (vec!["db=nowhere"], "no such resource on the Map"),
        (vec!["db=db", "hodler=x"], "no parameter \"hodler\""),
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let e = home
            .sitrep
            .run_command("db-check", &args, &base)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(says) && e.contains("it takes db=... (resource, required), holder=batch"),
            "{e}"
        );
    }
    let runs_before = sitrep_store::Store::recent_runs(&home.store().await, "default", 100)
        .await
        .unwrap()
        .len();
    assert!(
        home.sitrep
            .run_command("db-check", &["db=nowhere".into()], &base)
            .await
            .is_err()
    );
    let runs_after = sitrep_store::Store::recent_runs(&home.store().await, "default", 100)
        .await
        .unwrap()
        .len();
    assert_eq!(runs_before, runs_after, "nothing ran for bad arguments");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_and_command_files_are_checked_with_file_line_and_field() {
    let home = Home::new("").await;
    let d = home.dir.path();
    write(
        &d.join("rules/bad.yaml"),
        "match:\n  resource: web\n  title: \"(unclosed\"\neffect:\n  severity: 9\n",
    );
    write(
        &d.join("rules/typo.yaml"),
        "match:\n  resource: web\neffect:\n  supress: true\n",
    );
    let problems: Vec<String> = home
        .sitrep
        .validate_rules(None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let at = |file: &str, line: usize, field: &str| {
        problems
            .iter()
            .any(|p| p.contains(&format!("{file}:{line}: {field}: ")))
    };
    assert!(at("bad.yaml", 3, "match.title"), "{problems:#?}");
    assert!(at("bad.yaml", 5, "effect.severity"), "{problems:#?}");
    assert!(at("typo.yaml", 4, "effect.supress"), "{problems:#?}");
    assert!(
        home.sitrep.rules().await.unwrap().is_empty(),
        "invalid rules apply nowhere"
    );

    write(
        &d.join("commands/bad.yaml"),
        "params:\n  - name: db\nsteps:\n  - task: db/nope\n  - task: db/end-sessions\n  - task: db/connections\n    set:\n      FAULT: \"{dbb}\"\nquestion: why {db}\nassistant: nobody\n",
    );
    let problems: Vec<String> = home
        .sitrep
        .validate_commands(None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let at = |line: usize, field: &str, says: &str| {
        problems
            .iter()
            .any(|p| p.contains(&format!("bad.yaml:{line}: {field}: ")) && p.contains(says))
    };
    assert!(at(4, "steps[0].task", "no task"), "{problems:#?}");
    assert!(at(5, "steps[1].task", "a remediation"), "{problems:#?}");
    assert!(
        at(
            8,
            "steps[2].set.FAULT",
            "{dbb} is not one of the command's params"
        ),
        "{problems:#?}"
    );
    assert!(at(10, "assistant", "no assistant"), "{problems:#?}");
    assert!(home.sitrep.commands().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_issue_is_marked_and_tested_after_the_unexplained_one_until_its_date() {
    let home = Home::new("").await;
    write(
        &home.dir.path().join("rules/db-maintenance.yaml"),
        "description: connection limits are lowered during the migration\nmatch:\n  resource: db\neffect:\n  known: true\nuntil: 2999-01-01\n",
    );
    write(
        &home.dir.path().join("rules/expired.yaml"),
        "match:\n  resource: web\neffect:\n  suppress: true\nuntil: 2000-01-01\n",
    );
    home.break_it();
    home.sitrep.run_slx("web-health").await.unwrap();
    home.sitrep.run_slx("db-health").await.unwrap();
    let listed = home.sitrep.issues(&IssueQuery::default()).await.unwrap();
    let db = listed.iter().find(|i| i.resource == "db").unwrap();
    assert!(
        db.mark()
            .unwrap()
            .starts_with("known until 2999-01-01 (db-maintenance)"),
        "{:?}",
        db.mark()
    );
    assert!(
        listed.iter().any(|i| i.resource == "web"),
        "a rule past its date suppresses nothing"
    );
    let s = home
        .sitrep
        .investigate(InvestigateRequest::question(
            "why is checkout on web failing?",
        ))
        .await
        .unwrap();
    assert_eq!(
        s.hypotheses[0].resource, "web",
        "the known database issue no longer leads"
    );
    assert!(s.rules.iter().all(|r| r.rule != "expired"));
    assert!(
        s.rules
            .iter()
            .any(|r| r.rule == "db-maintenance" && r.effects[0].starts_with("known until"))
    );
}

/// An Alertmanager payload of one firing alert with these labels.
fn alert(group: &str, labels: serde_json::Value) -> String {
    serde_json::json!({
        "version": "4", "groupKey": group, "status": "firing", "receiver": "sitrep",
        "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "checkout fails"},
                    "startsAt": "2026-12-02T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}],
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_workflow_runs_its_command_with_args_from_the_alerts_labels() {
    use sitrep_core::intake::{InboundStatus, Source as From};
    let home = Home::new("").await;
    write(&home.dir.path().join("commands/db-check.yaml"), COMMAND);
    write(
        &home.dir.path().join("workflows/db.yaml"),
        "on: {alert: {labels: {team: shop}}}\ninvestigate: {command: db-check, args: ['db=${resource}']}\ndeliver: [{webhook: {url: 'http://127.0.0.1:9/hook'}}]\n",
    );
    home.break_it();
    home.sitrep
        .receive(
            From::Alertmanager,
            &alert(
                "g1",
                serde_json::json!({"alertname": "DbErrors", "team": "shop", "resource": "db"}),
            ),
        )
        .await
        .unwrap();
    // Its labels lack what the args need: the event fails, saying so; nothing starts.
    home.sitrep
        .receive(
            From::Alertmanager,
            &alert(
                "g2",
                serde_json::json!({"alertname": "DbErrors", "team": "shop"}),
            ),
        )
        .await
        .unwrap();
    home.sitrep.process_inbound().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let events = loop {
        let events = home.sitrep.inbound(10).await.unwrap();
        if events
            .iter()
            .all(|e| e.status != InboundStatus::Investigating)
        {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "{events:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let by_key = |k: &str| events.iter().find(|e| e.dedup_key == k).unwrap();
    let failed = by_key("g2");
    assert_eq!(failed.status, InboundStatus::Failed, "{failed:#?}");
    let note = failed.note.as_deref().unwrap();
    assert!(
        note.contains("no resource") && note.contains("alertname"),
        "{note}"
    );
    assert!(failed.session_id.is_none());

    let ran = by_key("g1");
    assert_eq!(ran.status, InboundStatus::Investigated, "{ran:#?}");
    let s = home
        .sitrep
        .session(ran.session_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        s.trigger.text(),
        "why is checkout failing on db, is batch holding connections?"
    );
    let audit = home.sitrep.session_audit(&s.id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.kind == AuditKind::TaskRun && e.data["command"] == "db-check"),
        "the command's step ran: {audit:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_workflow_runs_its_command_with_args_from_the_issue() {
    let home = Home::new("").await;
    write(&home.dir.path().join("commands/db-check.yaml"), COMMAND);
    write(
        &home.dir.path().join("workflows/issues.yaml"),
        "on: {issue: {severity_at_most: 4}}\ninvestigate: {command: db-check, args: ['db=${resource}']}\ndeliver: [{webhook: {url: 'http://127.0.0.1:9/hook'}}]\n",
    );
    let me = home.sitrep.clone();
    let worker = tokio::spawn(async move { me.workflow_worker(std::future::pending()).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    home.break_it();
    home.sitrep.run_slx("db-health").await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let s = loop {
        let done = home
            .sitrep
            .sessions(10)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.status != sitrep_core::investigation::SessionStatus::Running);
        if let Some(s) = done {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "no session");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    worker.abort();
    assert_eq!(
        s.trigger.text(),
        "why is checkout failing on db, is batch holding connections?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_slo_workflow_investigates_once_when_checks_fall_below_its_objective() {
    let home = Home::new("").await;
    write(
        &home.dir.path().join("workflows/web-slo.yaml"),
        "on: {slo: {objective: 90, window: 1h, min_checks: 2, slxs: [web-health]}}\ndeliver: [{webhook: {url: 'http://127.0.0.1:9/hook'}}]\n",
    );
    let me = home.sitrep.clone();
    let worker = tokio::spawn(async move { me.workflow_worker(std::future::pending()).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // A healthy check, then failing ones: the first bad one makes it 1 good of 2, below 90%.
    home.sitrep.run_slx("web-health").await.unwrap();
    home.break_it();
    for _ in 0..4 {
        home.sitrep.run_slx("web-health").await.unwrap();
        // The database's checks are not watched by the workflow.
        home.sitrep.run_slx("db-health").await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let s = loop {
        let all = home.sitrep.sessions(10).await.unwrap();
        if let Some(s) = all
            .iter()
            .find(|s| s.status != sitrep_core::investigation::SessionStatus::Running)
        {
            break s.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no session: {all:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // More bad checks while it stays violated start nothing more.
    home.sitrep.run_slx("web-health").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    worker.abort();
    let text = s.trigger.text();
    assert!(
        text.starts_with("web is breaking the SLO of web-health: 1 of 2 checks good over the last 1h (50.0%, objective 90%)"),
        "{text}"
    );
    assert_eq!(home.sitrep.sessions(10).await.unwrap().len(), 1);
    let planned = home.sitrep.deliveries(None, 10).await.unwrap();
    assert_eq!(planned.len(), 1, "{planned:#?}");
    assert_eq!(planned[0].session_id, s.id);
}
