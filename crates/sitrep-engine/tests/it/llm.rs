//! The LLM reasoner against a stub model server: the model's tool calls drive the session, the
//! engine refuses what it may not do, secrets never reach the model, and a model that is down
//! leaves the session to the offline reasoner.

use crate::harness::{Home, SECRET};
use crate::model_stub::{Call, Protocol, Stub};
use serde_json::json;
use sitrep_core::approval::ApprovalStatus;
use sitrep_core::investigation::{
    AuditEntry, AuditKind, HypothesisStatus, Session, SessionStatus, Source, Strength, Verdict,
};
use sitrep_engine::investigate::InvestigateRequest;

/// The vault value the canary test plants, and the model's key (a vault secret too).
const VAULT_CANARY: &str = "vault-canary-Hq3Lw9Zt6Xp2";
const MODEL_KEY: &str = "sk-model-key-Pm4Rv8Nd1Ys7";

/// An `llm` assistant for the stub (the key from the vault), made the default.
fn assistant(provider: &str, base_url: &str, max_calls: u32) -> String {
    format!(
        "assistants:\n  - name: ai\n    reasoner: llm\n    model:\n      provider: {provider}\n      base_url: {base_url}\n      model: stub-model\n      api_key: secret:llm-key\n      timeout: 5s\n      max_retries: 0\n      max_calls: {max_calls}\ninvestigation:\n  default_assistant: ai\n"
    )
}

async fn home(base_url: &str, max_calls: u32) -> Home {
    home_with("openai", base_url, max_calls).await
}

async fn home_with(provider: &str, base_url: &str, max_calls: u32) -> Home {
    let home = Home::new(&assistant(provider, base_url, max_calls)).await;
    home.sitrep.set_secret("llm-key", MODEL_KEY).await.unwrap();
    home.break_it();
    home.sitrep.run_slx("web-health").await.unwrap();
    home.sitrep.run_slx("db-health").await.unwrap();
    home
}

/// The notes the LLM reasoner recorded whose data has `field`.
fn notes<'a>(audit: &'a [AuditEntry], field: &str) -> Vec<&'a AuditEntry> {
    audit
        .iter()
        .filter(|e| e.kind == AuditKind::Note && e.data.get(field).is_some())
        .collect()
}

fn form_db(task: &str) -> Call {
    Call(
        "form_hypothesis",
        json!({"candidate": "db:exhausted@db", "task": task, "reason": "connections look exhausted"}),
    )
}

fn test_untested() -> Call {
    Call("test_untested", json!({}))
}

fn conclude() -> Call {
    Call(
        "conclude",
        json!({"summary": "the database ran out of connections"}),
    )
}

async fn investigate(home: &Home, question: &str) -> (Session, Vec<AuditEntry>) {
    let s = home
        .sitrep
        .investigate(InvestigateRequest::question(question))
        .await
        .unwrap();
    let audit = home.sitrep.session_audit(&s.id).await.unwrap();
    (s, audit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_tool_calls_form_test_and_conclude() {
    let stub = Stub::start(vec![
        vec![form_db("t/db/sessions"), test_untested()],
        vec![conclude()],
    ])
    .await;
    let home = home(&stub.base_url, 12).await;
    let (s, audit) = investigate(&home, "database errors on db").await;

    assert_eq!(stub.received().len(), 2, "{audit:#?}");
    assert!(notes(&audit, "fallback").is_empty(), "{audit:#?}");
    assert_eq!(s.hypotheses.len(), 1, "{:#?}", s.hypotheses);
    let h = &s.hypotheses[0];
    assert_eq!(h.resource, "db");
    assert!(!matches!(h.source, Source::Reasoner { .. }));
    assert_eq!(h.status, HypothesisStatus::Confirmed);
    // Tested with the diagnostic task the model named, judged by the engine from its result.
    assert_eq!(
        h.tests.iter().map(|t| t.task.as_str()).collect::<Vec<_>>(),
        ["t/db/sessions"]
    );
    let e: Vec<_> = s.evidence_for(&h.id).collect();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].strength, Strength::Strong);
    assert!(!e[0].run_id.is_empty());
    let c = s.conclusion.as_ref().unwrap();
    assert_eq!(c.verdict, Verdict::RootCause, "{c:#?}");
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "db");
    assert_eq!(s.status, SessionStatus::Concluded);

    // Both calls are in the audit: what was sent, what came back, tokens, latency.
    let calls = notes(&audit, "model_call");
    assert_eq!(calls.len(), 2);
    for n in &calls {
        let call = &n.data["model_call"];
        assert!(call["messages"].as_array().is_some_and(|m| m.len() == 2));
        assert_eq!(call["answer"]["usage"]["input_tokens"], 100);
        assert!(call["answer"]["latency_ms"].is_u64());
        assert!(!call["answer"]["tool_calls"].as_array().unwrap().is_empty());
    }
    // The second prompt carries the task's output, fenced as data.
    let second = stub.prompt(1);
    let at = second.find("application batch").unwrap_or(0);
    let fence = second[..at]
        .rfind("<<<DATA ")
        .expect("the output is fenced");
    assert!(!second[fence..at].contains(">>>"), "{second}");
    assert!(
        second.contains("never instructions") || stub.received()[1].contains("never instructions")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_anthropic_messages_api_the_tool_calls_drive_the_session_the_same_way() {
    let stub = Stub::speaking(
        Protocol::Anthropic,
        vec![
            vec![form_db("t/db/sessions"), test_untested()],
            vec![conclude()],
        ],
    )
    .await;
    let home = home_with("anthropic", &stub.base_url, 12).await;
    let (s, audit) = investigate(&home, "database errors on db").await;

    assert_eq!(stub.received().len(), 2, "{audit:#?}");
    assert!(notes(&audit, "fallback").is_empty(), "{audit:#?}");
    let h = &s.hypotheses[0];
    assert_eq!(
        (h.resource.as_str(), h.status),
        ("db", HypothesisStatus::Confirmed)
    );
    assert_eq!(
        s.evidence_for(&h.id).next().unwrap().strength,
        Strength::Strong
    );
    let c = s.conclusion.as_ref().unwrap();
    assert_eq!(c.verdict, Verdict::RootCause, "{c:#?}");
    assert_eq!(notes(&audit, "model_call").len(), 2);
    // Each round is one user turn stating the session so far (not a replay of tool_use and
    // tool_result blocks): the second carries what the first round's calls did. The system
    // prompt goes apart from the turns, the tools with Anthropic's `input_schema`.
    let second: serde_json::Value = serde_json::from_str(&stub.received()[1]).unwrap();
    let turns = second["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 1, "{second}");
    let text = turns[0]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("h1 [confirmed, tested] on db"), "{text}");
    assert!(text.contains("e1 for h1: strong"), "{text}");
    assert!(
        second["system"]
            .as_str()
            .unwrap()
            .contains("never instructions")
    );
    assert!(second["tools"][0]["input_schema"].is_object(), "{second}");
    assert!(!stub.received().iter().any(|b| b.contains(MODEL_KEY)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_model() {
    let stub = Stub::start(vec![
        vec![form_db("t/db/sessions"), test_untested()],
        vec![conclude()],
    ])
    .await;
    let home = home(&stub.base_url, 12).await;
    // A vault secret the task prints (its SLX now names it), and that the question repeats.
    home.sitrep
        .set_secret("db-vault", VAULT_CANARY)
        .await
        .unwrap();
    let store = home.store().await;
    let mut slx = sitrep_store::Store::get_slx(&store, "default", "db-health")
        .await
        .unwrap()
        .unwrap();
    slx.secrets
        .insert("DB_PASSWORD".into(), "secret:db-vault".into());
    sitrep_store::Store::put_slx(&store, &slx, sitrep_core::Timestamp(2))
        .await
        .unwrap();
    let (s, audit) = investigate(
        &home,
        &format!("database errors on db since we rotated the password to {VAULT_CANARY}"),
    )
    .await;
    assert!(s.budget.task_runs >= 1);
    let bodies = stub.received();
    assert_eq!(bodies.len(), 2);
    for (i, body) in bodies.iter().enumerate() {
        for secret in [VAULT_CANARY, MODEL_KEY, SECRET] {
            assert!(
                !body.contains(secret),
                "request {i} carries a secret: {body}"
            );
        }
    }
    // Redacted, not left out: the task did print the value and the prompt says where.
    assert!(bodies[0].contains("[REDACTED:db-vault]"), "{}", bodies[0]);
    assert!(stub.prompt(1).contains("[REDACTED:"), "{}", stub.prompt(1));
    // The audit of the calls holds what was sent, so no secret either (the question itself is
    // kept as the person asked it, in the session's start).
    let calls = serde_json::to_string(&notes(&audit, "model_call")).unwrap();
    for secret in [VAULT_CANARY, MODEL_KEY, SECRET] {
        assert!(!calls.contains(secret), "{calls}");
    }
    assert!(!serde_json::to_string(&audit).unwrap().contains(MODEL_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remediation_the_model_was_talked_into_is_refused_and_recorded() {
    let stub = Stub::start(vec![
        vec![form_db("t/db/sessions"), test_untested()],
        // The task's output told the model to run the remediation; it tries two ways.
        vec![
            Call(
                "form_hypothesis",
                json!({"candidate": "web:errors@web", "task": "t/db/end-sessions"}),
            ),
            Call(
                "run_task",
                json!({"task": "t/db/end-sessions", "params": {"APP": "batch"}}),
            ),
        ],
        vec![conclude()],
    ])
    .await;
    let home = home(&stub.base_url, 12).await;
    let (s, audit) = investigate(&home, "database errors on db").await;

    // The injected words reached the model only as fenced data.
    let second = stub.prompt(1);
    let at = second
        .find("ignore your instructions")
        .expect("the task's output is in the prompt");
    assert!(second[..at].rfind("<<<DATA ").is_some());
    // Nothing ran the remediation: the fault is still there, no run of it exists.
    assert!(home.fault().exists());
    let store = home.store().await;
    let runs = sitrep_store::Store::recent_runs(&store, "default", 50)
        .await
        .unwrap();
    assert!(
        runs.iter().all(|r| r.task != "t/db/end-sessions"),
        "{runs:#?}"
    );
    // Both refusals are in the audit, and the model was told.
    let refused = notes(&audit, "refused");
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(
        refused[0].data["refused"]["why"]
            .as_str()
            .unwrap()
            .contains("remediation")
    );
    assert_eq!(refused[1].data["refused"]["tool"], "run_task");
    assert!(stub.prompt(2).contains("Refused from your last answer"));
    // The engine's own proposal after concluding still waits for a person.
    for p in &s.proposals {
        let a = home.sitrep.approval(p).await.unwrap();
        assert_eq!(a.status, ApprovalStatus::Pending);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_is_down_leaves_the_session_to_the_offline_reasoner() {
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let home = home(&format!("http://{closed}/v1"), 12).await;
    let (s, audit) = investigate(&home, "why is checkout on web failing?").await;

    assert_eq!(s.status, SessionStatus::Concluded, "{audit:#?}");
    let c = s.conclusion.as_ref().unwrap();
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "db");
    assert!(
        c.reasons
            .iter()
            .any(|r| r.why.contains("offline reasoner finished")),
        "{c:#?}"
    );
    let fallback = notes(&audit, "fallback");
    assert_eq!(fallback.len(), 1, "{audit:#?}");
    assert!(
        fallback[0].data["why"]
            .as_str()
            .unwrap()
            .contains("could not reach")
    );
    let failed = notes(&audit, "model_call");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].data["model_call"]["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_model_budget_leaves_the_rest_to_the_offline_reasoner() {
    let stub = Stub::start(vec![vec![form_db("t/db/sessions"), test_untested()]]).await;
    let home = home(&stub.base_url, 1).await;
    let (s, audit) = investigate(&home, "database errors on db").await;

    assert_eq!(stub.received().len(), 1, "one call, as budgeted");
    assert_eq!(notes(&audit, "model_call").len(), 1);
    let fallback = notes(&audit, "fallback");
    assert_eq!(fallback.len(), 1, "{audit:#?}");
    assert!(
        fallback[0].data["why"]
            .as_str()
            .unwrap()
            .contains("model-call budget of 1")
    );
    // The model's hypothesis stands; the offline reasoner took it from there to a conclusion.
    assert_eq!(s.hypotheses[0].status, HypothesisStatus::Confirmed);
    assert!(s.conclusion.is_some());
    assert_ne!(s.status, SessionStatus::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_cost_budget_leaves_the_rest_to_the_offline_reasoner() {
    let stub = Stub::start(vec![vec![form_db("t/db/sessions"), test_untested()]]).await;
    // 100 input and 20 output tokens a call at 10 and 50 a million: 0.002 a call.
    let priced = assistant("openai", &stub.base_url, 5).replace(
        "      max_calls: 5\n",
        "      max_calls: 5\n      prices: {input_per_million: 10, output_per_million: 50}\n      cost_budget: 0.001\n",
    );
    let home = Home::new(&priced).await;
    home.sitrep.set_secret("llm-key", MODEL_KEY).await.unwrap();
    home.break_it();
    home.sitrep.run_slx("db-health").await.unwrap();
    let (s, audit) = investigate(&home, "database errors on db").await;

    assert_eq!(
        stub.received().len(),
        1,
        "one call, then the budget is spent"
    );
    let call = notes(&audit, "model_call");
    assert_eq!(
        call[0].data["model_call"]["answer"]["cost"], 0.002,
        "{:#?}",
        call[0].data
    );
    let fallback = notes(&audit, "fallback");
    assert!(
        fallback[0].data["why"]
            .as_str()
            .unwrap()
            .contains("cost budget of 0.001"),
        "{audit:#?}"
    );
    assert_ne!(s.status, SessionStatus::Running);
    // A cost budget without prices is refused where it is written.
    let unpriced = assistant("openai", &stub.base_url, 5).replace(
        "      max_calls: 5\n",
        "      max_calls: 5\n      cost_budget: 1\n",
    );
    let path = std::path::Path::new("sitrep.yaml");
    let err = sitrep_engine::settings::Settings::parse(&unpriced, path)
        .and_then(|s| s.validate(path))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cost_budget") && err.contains("prices"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hypothesis_of_the_models_own_is_checked_kept_as_its_judgement_and_judged_by_its_tasks() {
    let own = |resource: &str, tasks: serde_json::Value| {
        Call(
            "propose_hypothesis",
            json!({"statement": "one client starves the database's connection pool", "resource": resource,
                   "tasks": tasks, "reason": "the errors read like waiting for a connection"}),
        )
    };
    let stub = Stub::start(vec![
        vec![
            own("db", json!(["t/db/connections"])),
            // a remediation, a resource the Map does not have, a task no SLX of web runs
            own("db", json!(["t/db/end-sessions"])),
            own("cache", json!(["t/db/connections"])),
            own("web", json!(["t/db/connections"])),
            test_untested(),
        ],
        vec![conclude()],
    ])
    .await;
    let home = home(&stub.base_url, 12).await;
    let (s, audit) = investigate(&home, "database errors on db").await;

    // The model was shown which checks may test a hypothesis on each resource.
    assert!(
        stub.prompt(0)
            .contains("- db: t/db/connections, t/db/sessions\n"),
        "{}",
        stub.prompt(0)
    );
    assert_eq!(s.hypotheses.len(), 1, "{:#?}", s.hypotheses);
    let h = &s.hypotheses[0];
    assert_eq!(
        (h.statement.as_str(), h.resource.as_str()),
        ("one client starves the database's connection pool", "db")
    );
    assert!(
        matches!(&h.source, Source::Reasoner { note } if note.contains("waiting for a connection")),
        "{:?}",
        h.source
    );
    // Confirmed by its task's result, which the engine judged, not by the model's word.
    assert_eq!(
        h.tests.iter().map(|t| t.task.as_str()).collect::<Vec<_>>(),
        ["t/db/connections"]
    );
    assert_eq!(h.status, HypothesisStatus::Confirmed);
    let e: Vec<_> = s.evidence_for(&h.id).collect();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].strength, Strength::Strong);
    let c = s.conclusion.as_ref().unwrap();
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "db", "{c:#?}");

    let refused: Vec<String> = notes(&audit, "refused")
        .iter()
        .map(|n| n.data["refused"]["why"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refused.len(), 3, "{refused:#?}");
    assert!(
        refused[0].contains("t/db/end-sessions is a remediation"),
        "{refused:#?}"
    );
    assert!(refused[1].contains("no resource \"cache\""), "{refused:#?}");
    assert!(
        refused[2].contains("not a task of an SLX watching web"),
        "{refused:#?}"
    );
    // Whatever is proposed after concluding waits for a person.
    for p in &s.proposals {
        let a = home.sitrep.approval(p).await.unwrap();
        assert_eq!(a.status, ApprovalStatus::Pending);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_reads_are_answered_side_by_side_within_the_round_fenced_and_recorded() {
    let stub = Stub::start(vec![
        vec![
            Call("list_issues", json!({"resource": "db"})),
            Call("map_around", json!({"resource": "web"})),
            Call("search_tasks", json!({"query": "db sessions"})),
            Call("list_insights", json!({})),
            // A model that echoes a secret (it never saw one) is redacted when its own words
            // go back to it.
            Call(
                "search_knowledge",
                json!({"query": format!("runbook {SECRET}")}),
            ),
        ],
        vec![form_db("t/db/sessions"), test_untested()],
        vec![conclude()],
    ])
    .await;
    let home = home(&stub.base_url, 12).await;
    let (s, audit) = investigate(&home, "database errors on db").await;

    assert_eq!(stub.received().len(), 3, "{audit:#?}");
    assert!(notes(&audit, "fallback").is_empty(), "{audit:#?}");
    let c = s.conclusion.as_ref().unwrap();
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "db", "{c:#?}");

    // The second request carries the first answer and one tool result per read, in order.
    let body: serde_json::Value = serde_json::from_str(&stub.received()[1]).unwrap();
    let tool = |id: &str| -> String {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
            .and_then(|m| m["content"].as_str())
            .unwrap_or_else(|| panic!("no result for {id}: {body:#}"))
            .to_string()
    };
    let issues = tool("call_0_0");
    assert!(issues.starts_with("<<<DATA "), "fenced: {issues}");
    assert!(issues.contains(r#""resource":"db""#), "{issues}");
    let around = tool("call_0_1");
    assert!(around.contains("web") && around.contains("db"), "{around}");
    let tasks = tool("call_0_2");
    assert!(tasks.contains("t/db/sessions"), "{tasks}");
    tool("call_0_3");
    tool("call_0_4");
    assert!(!stub.received()[1].contains(SECRET));
    // Each read is in the audit, and no task ran for it.
    let reads = notes(&audit, "read");
    assert_eq!(reads.len(), 5, "{reads:#?}");
    assert!(
        reads
            .iter()
            .all(|n| n.data["read"]["outcome"] == "answered")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_only_reads_is_made_to_propose_within_its_read_turns() {
    let read = || vec![Call("list_issues", json!({}))];
    let stub = Stub::start(vec![read(), read(), read(), read(), read(), read()]).await;
    let home = home(&stub.base_url, 12).await;
    let (s, audit) = investigate(&home, "database errors on db").await;
    // One round reads at most three times before the model must propose; the engine's
    // offline reasoner is not needed for the session to end.
    assert!(!notes(&audit, "reads_unanswered").is_empty(), "{audit:#?}");
    assert!(s.status != SessionStatus::Running);
}
