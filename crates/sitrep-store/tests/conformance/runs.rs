//! Run owners (what recovery after a crash relies on), the scheduler's last runs, and issue
//! scopes: the resource, however the task ran.

use super::*;
use sitrep_core::fingerprint::issue_fingerprint;

pub async fn runs_have_owners_and_only_running_ones_are_interrupted(s: &SqlStore) {
    let task = "core/host/disk";
    s.start_run(&run("w", "h", task, "a", 100), "host:boot:1:1")
        .await
        .unwrap();
    s.start_run(&run("w", "h", task, "b", 200), "host:boot:2:2")
        .await
        .unwrap();
    s.start_run(&run("other", "h", task, "c", 300), "host:boot:1:1")
        .await
        .unwrap();
    exec(s, "w", "h", "done", 400, RunStatus::Succeeded, issues(&[])).await;

    let running = s.running_runs("w").await.unwrap();
    let owners: Vec<_> = running
        .iter()
        .map(|r| (r.id.as_str(), r.owner.as_deref()))
        .collect();
    assert_eq!(
        owners,
        vec![("a", Some("host:boot:1:1")), ("b", Some("host:boot:2:2"))]
    );
    assert_eq!(
        (running[0].started_at, running[0].task.as_str()),
        (Timestamp(100), task)
    );

    let ids = ["a", "done", "c"].map(String::from);
    let marked = s
        .interrupt_runs("w", &ids, Timestamp(500), "its sitrep process is gone")
        .await
        .unwrap();
    assert_eq!(marked, 1, "done has finished and c is another workspace's");
    let a = s.get_run("w", "a").await.unwrap().unwrap();
    assert_eq!(
        (a.status, a.finished_at, a.error.as_deref()),
        (
            RunStatus::Interrupted,
            Some(Timestamp(500)),
            Some("its sitrep process is gone")
        )
    );
    let status = |ws: &'static str, id: &'static str| async move {
        s.get_run(ws, id).await.unwrap().unwrap().status
    };
    assert_eq!(status("w", "b").await, RunStatus::Running);
    assert_eq!(status("w", "done").await, RunStatus::Succeeded);
    assert_eq!(status("other", "c").await, RunStatus::Running);
    assert_eq!(
        s.mark_interrupted(Timestamp(600)).await.unwrap(),
        0,
        "runs with an owner are left to the runner's recovery"
    );
    assert_eq!(s.running_runs("w").await.unwrap().len(), 1);
}

pub async fn runs_without_an_owner_are_legacy_and_marked_at_startup(db: &Db) {
    let s = &db.store;
    s.start_run(&run("w", "h", "core/host/disk", "legacy", 100), OWNER)
        .await
        .unwrap();
    s.start_run(&run("w", "h", "core/host/disk", "owned", 100), OWNER)
        .await
        .unwrap();
    // as a sitrep before schema version 3 recorded it
    db.raw("UPDATE task_runs SET owner = NULL WHERE id = 'legacy'")
        .await;
    assert_eq!(s.mark_interrupted(Timestamp(300)).await.unwrap(), 1);
    let legacy = s.get_run("w", "legacy").await.unwrap().unwrap();
    assert_eq!(legacy.status, RunStatus::Interrupted);
    assert_eq!(legacy.finished_at, Some(Timestamp(300)));
    assert!(legacy.error.unwrap().contains("stopped"));
    let running = s.running_runs("w").await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].owner.as_deref(), Some(OWNER));
}

pub async fn last_runs_are_per_slx_and_task(s: &SqlStore) {
    let task = "core/pg/idle";
    for (id, at, slx) in [
        ("s1", 1000, Some("pg-slx")),
        ("s2", 2000, Some("pg-slx")),
        ("hand", 3000, None),
        ("o1", 1500, Some("pg-other")),
    ] {
        let mut r = run("w", "pg-main", task, id, at);
        r.slx = slx.map(String::from);
        s.start_run(&r, OWNER).await.unwrap();
        s.finish_run(&finished(r, RunStatus::Succeeded, at + 5), &issues(&[]))
            .await
            .unwrap();
    }
    assert_eq!(
        s.last_run_starts("w").await.unwrap(),
        vec![
            ("pg-other".to_string(), task.to_string(), Timestamp(1500)),
            ("pg-slx".to_string(), task.to_string(), Timestamp(2000)),
        ],
        "keyed by SLX; a run by hand on the same resource is not the SLX's"
    );
}

pub async fn issues_are_scoped_by_resource_and_found_by_slx_name(s: &SqlStore) {
    let slx = Slx {
        workspace: "w".into(),
        name: "pg-slx".into(),
        resource: "pg-main".into(),
        bundle: "core/postgres".into(),
        description: String::new(),
        tasks: vec![],
        config: BTreeMap::new(),
        secrets: BTreeMap::new(),
        stale: false,
        generated: None,
    };
    s.put_slx(&slx, Timestamp(1)).await.unwrap();
    exec(
        s,
        "w",
        "pg-main",
        "r1",
        1000,
        RunStatus::Succeeded,
        issues(&["too many connections"]),
    )
    .await;
    let count = |scope: &str| {
        let filter = IssueFilter {
            scope: Some(scope.to_string()),
            ..Default::default()
        };
        async move { s.list_issues("w", &filter).await.unwrap().len() }
    };
    assert_eq!(count("pg-main").await, 1, "by resource");
    assert_eq!(
        count("pg-slx").await,
        1,
        "by the SLX watching that resource"
    );
    assert_eq!(count("redis").await, 0);
}

/// A database at schema version 2 with an issue raised through an SLX (scoped by the SLX's
/// name) and the same problem raised by hand (scoped by the resource): migration 3 leaves one
/// open issue, scoped by the resource, which the next run on that resource repeats.
pub async fn migration_3_makes_the_resource_the_scope(fresh: Fresh) {
    let (init, map) = if fresh.url.starts_with("sqlite:") {
        (
            include_str!("../../src/migrations/sqlite/0001_init.sql"),
            include_str!("../../src/migrations/sqlite/0002_map.sql"),
        )
    } else {
        (
            include_str!("../../src/migrations/postgres/0001_init.sql"),
            include_str!("../../src/migrations/postgres/0002_map.sql"),
        )
    };
    let url = if fresh.url.starts_with("sqlite:") {
        format!("{}?mode=rwc", fresh.url)
    } else {
        fresh.url.clone()
    };
    let title = "80 sessions idle in transaction";
    let (task, fp) = ("core/postgres/idle", issue_fingerprint);
    let mut sql: Vec<String> = format!("{init};{map}")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    sql.push("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)".into());
    sql.push("INSERT INTO schema_migrations VALUES (1, 'init', 0), (2, 'map', 0)".into());
    let issue = |id: &str, scope: &str, resource: &str, last_seen: i64| {
        format!(
            "INSERT INTO issues (id, workspace, fingerprint, scope, resource, task, severity, title, expected, actual, details, next_steps, reproduce_hint, status, count, first_seen, last_seen, resolved_at, last_run_id) \
             VALUES ('{id}', 'w', '{}', '{scope}', '{resource}', '{task}', 2, '{title}', '', '', '', '', '', 'open', 1, {last_seen}, {last_seen}, NULL, 'r-{id}')",
            fp("w", scope, task, title)
        )
    };
    sql.push(issue("by-slx", "pg-slx", "pg-main", 2000));
    sql.push(issue("by-hand", "pg-main", "pg-main", 1000));
    sql.push(issue("redis", "redis-slx", "redis", 1500));
    sql.push("INSERT INTO task_runs (id, workspace, scope, slx, resource, task, kind, status, started_at) VALUES ('old', 'w', 'pg-slx', 'pg-slx', 'pg-main', 'core/postgres/idle', 'health', 'succeeded', 2000)".into());
    for stmt in &sql {
        admin_exec(&url, stmt).await;
    }

    let db = fresh.open().await;
    let s = &db.store;
    let all = s
        .list_issues(
            "w",
            &IssueFilter {
                include_resolved: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let get = |id: &str| all.iter().find(|i| i.id == id).unwrap();
    let kept = get("by-slx");
    assert_eq!(
        (kept.scope.as_str(), kept.status),
        ("pg-main", IssueStatus::Open)
    );
    assert_eq!(kept.fingerprint, fp("w", "pg-main", task, title));
    let merged = get("by-hand");
    assert_eq!(merged.status, IssueStatus::Resolved, "the older duplicate");
    assert!(merged.resolved_at.is_some());
    assert_eq!(get("redis").scope, "redis");
    assert_eq!(
        s.get_run("w", "old").await.unwrap().unwrap().scope,
        "pg-main"
    );

    let r = run("w", "pg-main", task, "new", 3000);
    s.start_run(&r, OWNER).await.unwrap();
    let changes = s
        .finish_run(&finished(r, RunStatus::Succeeded, 3005), &issues(&[title]))
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].issue_id(), "by-slx");
    assert_eq!(changes[0].event_kind(), IssueEventKind::Repeated);
    db.finish().await;
}
