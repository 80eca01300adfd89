//! No remediation runs without an approval, through every entry point: a hand run, an SLX
//! run, the scheduler, an investigation; expired, denied, read-only and over-budget requests
//! run nothing.

use crate::harness::Home;
use sitrep_core::approval::ApprovalStatus;
use sitrep_core::{SlxTask, Timestamp};
use sitrep_engine::investigate::InvestigateRequest;
use sitrep_engine::{Actor, EngineError, RunTaskRequest};
use sitrep_store::Store;
use std::collections::BTreeMap;

fn fix_request(home: &Home, approve: Option<Actor>) -> RunTaskRequest {
    RunTaskRequest {
        task: "t/db/end-sessions".into(),
        resource: Some("db".into()),
        slx: None,
        config: BTreeMap::from([
            ("FAULT".to_string(), home.fault().display().to_string()),
            ("APP".to_string(), "batch".to_string()),
        ]),
        secrets: BTreeMap::new(),
        approve_as: approve,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_run_of_a_remediation_needs_an_approval_and_records_it() {
    let home = Home::new("").await;
    home.break_it();
    let e = home
        .sitrep
        .run_task(fix_request(&home, None))
        .await
        .unwrap_err();
    assert!(e.needs_approval(), "{e}");
    assert!(home.fault().exists(), "it ran without an approval");

    let v = home
        .sitrep
        .run_task(fix_request(&home, Some(Actor::user("ann@terminal"))))
        .await
        .unwrap();
    assert!(v.succeeded());
    assert!(!home.fault().exists());
    let a = home
        .sitrep
        .approval(v.approval.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(a.status, ApprovalStatus::Executed);
    assert_eq!(a.decided_by.as_deref(), Some("user:ann@terminal"));
    assert_eq!(a.run_id.as_deref(), Some(v.run.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slx_runs_and_the_scheduler_never_run_a_remediation() {
    let home = Home::new("").await;
    home.break_it();
    let store = home.store().await;
    let mut slx = store
        .list_slxs("default")
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "db-health")
        .unwrap();
    slx.tasks = vec![
        SlxTask {
            task: "end-sessions".into(),
            interval: None,
        },
        SlxTask {
            task: "connections".into(),
            interval: None,
        },
    ];
    slx.config.insert("APP".into(), "batch".into());
    store.put_slx(&slx, Timestamp(2)).await.unwrap();
    let v = home.sitrep.run_slx("db-health").await.unwrap();
    assert_eq!(v.runs.len(), 1, "only the health task ran");
    assert!(v.problems[0].contains("remediation"), "{:?}", v.problems);
    let pass = home.sitrep.run_once().await.unwrap();
    assert!(pass.tasks >= 2);
    assert!(home.fault().exists(), "a scheduled run ran the remediation");
    let runs = store.recent_runs("default", 100).await.unwrap();
    assert!(
        runs.iter()
            .all(|r| r.kind != sitrep_core::TaskKind::Remediation)
    );
}

async fn proposal(home: &Home) -> String {
    home.break_it();
    home.sitrep.run_slx("db-health").await.unwrap();
    let s = home
        .sitrep
        .investigate(InvestigateRequest::question("database errors on db"))
        .await
        .unwrap();
    assert_eq!(s.proposals.len(), 1, "{:#?}", s.conclusion);
    s.proposals[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_and_expired_proposals_run_nothing() {
    let home = Home::new("investigation: {approval_ttl: 1s}\n").await;
    let id = proposal(&home).await;
    let d = home
        .sitrep
        .deny(&id, &Actor::user("bob"), "not during the sale")
        .await
        .unwrap();
    assert_eq!(d.status, ApprovalStatus::Denied);
    assert!(
        home.sitrep
            .approve(&id, &Actor::user("ann"), None)
            .await
            .is_err()
    );
    assert!(home.fault().exists());

    let id = proposal(&home).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let e = home
        .sitrep
        .approve(&id, &Actor::user("ann"), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    assert!(home.fault().exists());
    assert_eq!(
        home.sitrep.approval(&id).await.unwrap().status,
        ApprovalStatus::Expired
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_assistant_never_proposes() {
    let home = Home::new(
        "assistants:\n  - {name: watcher, access: read-only}\ninvestigation: {default_assistant: watcher}\n",
    )
    .await;
    home.break_it();
    home.sitrep.run_slx("db-health").await.unwrap();
    let s = home
        .sitrep
        .investigate(InvestigateRequest::question("database errors on db"))
        .await
        .unwrap();
    assert!(s.conclusion.as_ref().unwrap().root_cause.is_some());
    assert!(s.proposals.is_empty());
    assert!(
        s.conclusion
            .as_ref()
            .unwrap()
            .unknowns
            .iter()
            .any(|u| u.contains("read-only")),
        "{:?}",
        s.conclusion
    );
    let all = home.sitrep.approvals(&Default::default()).await.unwrap();
    assert!(all.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_budget_and_the_cooldown_hold() {
    let home = Home::new("").await;
    let id = proposal(&home).await;
    home.sitrep
        .approve(&id, &Actor::user("ann"), None)
        .await
        .unwrap();
    // Same fix, same resource, within the cooldown: refused before anything runs.
    let id = proposal(&home).await;
    let e = home
        .sitrep
        .approve(&id, &Actor::user("ann"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::Refused(_)), "{e}");
    assert!(e.to_string().contains("remediation_cooldown"), "{e}");
    assert!(home.fault().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_risk_needs_the_resource_typed() {
    let home = Home::new("").await;
    home.break_it();
    // A proposal for the critical-risk remediation, as an investigation would store it.
    let id = proposal(&home).await;
    let mut r = home.sitrep.approval(&id).await.unwrap();
    r.task = "t/db/drop-everything".into();
    r.risk = sitrep_core::Risk::Critical;
    sitrep_store::ApprovalStore::put_approval(&home.store().await, &r)
        .await
        .unwrap();
    let e = home
        .sitrep
        .approve(&id, &Actor::user("ann"), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("confirm"), "{e}");
    assert!(home.fault().exists());
    let v = home
        .sitrep
        .approve(&id, &Actor::user("ann"), Some("db".into()))
        .await
        .unwrap();
    assert!(v.run.succeeded());
}
