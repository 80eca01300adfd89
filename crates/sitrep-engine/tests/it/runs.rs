//! Runs by hand and by SLX through the engine: resources derived from targets, one issue per
//! problem, events, and the Map's queries.

use crate::harness::{Home, SECRET};
use sitrep_core::IssueEventKind;
use sitrep_engine::events::Event;
use sitrep_engine::{EngineError, IssueQuery, MapQuery, RunTaskRequest};
use std::collections::BTreeMap;

fn req(task: &str, resource: Option<&str>, config: &[(&str, &str)]) -> RunTaskRequest {
    RunTaskRequest {
        task: task.into(),
        resource: resource.map(str::to_string),
        slx: None,
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secrets: BTreeMap::new(),
        approve_as: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_run_names_its_resource_from_its_target_or_refuses() {
    let home = Home::new("").await;
    let fault = home.fault().display().to_string();
    // A task with no URL, DSN or host: refused, with what to do.
    let e = home
        .sitrep
        .run_task(req("t/db/connections", None, &[("FAULT", &fault)]))
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::NeedsResource(_)), "{e}");
    assert!(e.to_string().contains("name the resource"), "{e}");
    // A DSN nobody discovered names itself by host and port.
    let v = home
        .sitrep
        .run_task(req(
            "postgres/availability",
            None,
            &[
                ("PG_DSN", "postgres://monitor@127.0.0.1:1/x"),
                ("PG_CONNECT_TIMEOUT_S", "1"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(v.run.resource, "postgres://127.0.0.1:1");
    // Host tasks look at this host.
    let v = home
        .sitrep
        .run_task(req("linux-host/inode-usage", None, &[]))
        .await
        .unwrap();
    assert_eq!(v.run.resource, "localhost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_publish_their_issue_changes() {
    let home = Home::new("").await;
    home.break_it();
    let mut events = home.sitrep.subscribe();
    home.sitrep.run_slx("web-health").await.unwrap();
    home.repair();
    home.sitrep.run_slx("web-health").await.unwrap();
    let mut seen = vec![];
    while let Ok(e) = events.try_recv() {
        match e {
            Event::RunFinished { task, .. } => seen.push(format!("run {task}")),
            Event::IssueChanged { change, .. } => seen.push(format!("issue {change}")),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            "run t/web/status",
            &format!("issue {}", IssueEventKind::Opened),
            "run t/web/status",
            &format!("issue {}", IssueEventKind::Resolved),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_answers_by_loose_names() {
    let home = Home::new("").await;
    let m = home
        .sitrep
        .map(&MapQuery {
            around: Some("DB".into()),
            include_stale: false,
        })
        .await
        .unwrap();
    let names: Vec<&str> = m.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["db", "web"]);
    let p = home.sitrep.map_paths("web", false).await.unwrap();
    assert_eq!(p.downstream, vec![vec!["db".to_string()]]);
    let e = home
        .sitrep
        .map(&MapQuery {
            around: Some("nothing-like-it".into()),
            include_stale: false,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::NotFound { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_list_and_filter() {
    let home = Home::new("").await;
    let all = home.sitrep.tasks(None).await.unwrap();
    assert!(all.iter().any(|t| t.task == "t/db/end-sessions"));
    let some = home.sitrep.tasks(Some("t/db/")).await.unwrap();
    assert_eq!(some.len(), 4);
    assert!(home.sitrep.tasks(Some("zzz")).await.unwrap().is_empty());
    let issues = home.sitrep.issues(&IssueQuery::default()).await.unwrap();
    assert!(issues.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_run_as_an_slx_s_task_takes_its_resource_config_and_secrets() {
    let home = Home::new("").await;
    home.break_it();
    let as_slx = |task: &str, slx: &str, resource: Option<&str>| RunTaskRequest {
        slx: Some(slx.into()),
        ..req(task, resource, &[])
    };
    // A diagnostic task of db-health's bundle: db's config (the fault file) and its secret.
    let v = home
        .sitrep
        .run_task(as_slx("t/db/sessions", "db-health", None))
        .await
        .unwrap();
    assert!(v.succeeded(), "{:?}", v.run);
    assert_eq!(v.run.resource, "db");
    assert_eq!(v.run.slx.as_deref(), Some("db-health"));
    assert_eq!(
        v.issues.len(),
        1,
        "the SLX's FAULT reached it: {:?}",
        v.issues
    );
    assert!(
        v.run.stdout.contains("connecting with [REDACTED"),
        "{}",
        v.run.stdout
    );
    assert!(!v.run.stdout.contains(SECRET));
    // Not of its bundle, or about another resource: refused, saying why.
    let e = home
        .sitrep
        .run_task(as_slx("t/web/status", "db-health", None))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a task of SLX db-health"), "{e}");
    let e = home
        .sitrep
        .run_task(as_slx("t/db/sessions", "db-health", Some("web")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is about db, not web"), "{e}");
    let e = home
        .sitrep
        .run_task(as_slx("t/db/sessions", "no-such-slx", None))
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::NotFound { .. }), "{e}");
}
