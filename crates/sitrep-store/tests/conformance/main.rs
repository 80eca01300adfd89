//! The storage conformance suite: every test runs against SQLite and against a real PostgreSQL.
//!
//! PostgreSQL comes from `SITREP_TEST_PG_URL`, or the sandbox's `SANDBOX_PG_ADMIN_DSN`
//! (`sandbox/up`, then `. sandbox/env`); each test gets a fresh database it drops afterwards.
//!
//! `runs.rs`: run owners and recovery, the scheduler's last runs, scopes and their migration.
//! `slx_map.rs`: SLXs and the map, round trips.
//! `lifetimes.rs`: inconclusive runs, event issues' quiet period, current-issue ranking.
//! `engine.rs`: approvals, sessions and audit, issue data, knowledge notes, API tokens.
//! `deliveries.rs`: workflow deliveries, stored with their event, due, retried.
//! `secrets.rs`: the secrets vault's records, per workspace, and their re-keying.
//! `open.rs`: opening damaged, refused, unreachable and concurrently created databases.

mod deliveries;
mod engine;
mod lifetimes;
mod open;
mod runs;
mod secrets;
mod slx_map;

use sitrep_core::issue::IssueChange;
use sitrep_core::{
    IssueDraft, IssueEventKind, IssueStatus, RunStatus, Severity, Slx, SlxTask, TaskKind, TaskRun,
    Timestamp,
};
use sitrep_store::{IssueFilter, RunResults, SeriesKey, SqlStore, Store};
use std::collections::BTreeMap;

pub struct Db {
    pub store: SqlStore,
    /// The database's URL, for a test that looks under the store.
    pub url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, empty database and how to reach it; nothing created in it yet.
pub struct Fresh {
    pub url: String,
    cleanup: Option<(String, String)>,
    dir: Option<tempfile::TempDir>,
}

impl Fresh {
    pub fn sqlite() -> Fresh {
        let dir = tempfile::tempdir().unwrap();
        Fresh {
            url: format!("sqlite://{}", dir.path().join("sitrep.db").display()),
            cleanup: None,
            dir: Some(dir),
        }
    }

    pub async fn postgres() -> Fresh {
        let admin = pg_admin_url();
        let name = format!("sitrep_t_{}", uuid::Uuid::new_v4().simple());
        admin_exec(&admin, &format!("CREATE DATABASE {name}")).await;
        Fresh {
            url: with_database(&admin, &name),
            cleanup: Some((admin, name)),
            dir: None,
        }
    }

    pub async fn open(self) -> Db {
        Db {
            store: SqlStore::connect(&self.url).await.unwrap(),
            url: self.url,
            cleanup: self.cleanup,
            _dir: self.dir,
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("SITREP_TEST_PG_URL").or_else(|_| std::env::var("SANDBOX_PG_ADMIN_DSN")).expect(
        "the conformance suite needs PostgreSQL: run `sandbox/up && . sandbox/env` (or set SITREP_TEST_PG_URL to a superuser URL)",
    )
}

impl Db {
    async fn sqlite() -> Db {
        Fresh::sqlite().open().await
    }

    async fn postgres() -> Db {
        Fresh::postgres().await.open().await
    }

    /// Runs one statement under the store, on its own connection.
    pub async fn raw(&self, sql: &str) {
        admin_exec(&self.url, sql).await;
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.cleanup {
            admin_exec(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

pub async fn admin_exec(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
}

pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").unwrap() + 3;
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |p| p + scheme_end);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The owner the cases record their runs under.
pub const OWNER: &str = "test-host:boot:1:1";

pub fn run(ws: &str, scope: &str, task: &str, id: &str, at: i64) -> TaskRun {
    TaskRun::started(
        id.into(),
        ws.into(),
        task.into(),
        TaskKind::Health,
        scope.into(),
        Timestamp(at),
    )
}

pub fn finished(mut r: TaskRun, status: RunStatus, at: i64) -> TaskRun {
    r.status = status;
    r.exit_code = Some(if status == RunStatus::Succeeded { 0 } else { 1 });
    r.finished_at = Some(Timestamp(at));
    r.stdout = "out".into();
    r
}

pub fn issues(titles: &[&str]) -> RunResults {
    RunResults {
        issues: titles
            .iter()
            .map(|t| IssueDraft::new(Severity::MAJOR, *t))
            .collect(),
        ..Default::default()
    }
}

pub async fn exec(
    s: &SqlStore,
    ws: &str,
    scope: &str,
    id: &str,
    at: i64,
    status: RunStatus,
    res: RunResults,
) -> Vec<IssueChange> {
    let r = run(ws, scope, "core/pg/idle", id, at);
    s.start_run(&r, OWNER).await.unwrap();
    s.finish_run(&finished(r, status, at + 5), &res)
        .await
        .unwrap()
}

async fn issue_lifecycle(s: &SqlStore) {
    let r = run("w", "pg-main", "core/pg/idle", "r1", 1000);
    s.start_run(&r, OWNER).await.unwrap();
    assert_eq!(
        s.get_run("w", "r1").await.unwrap().unwrap().status,
        RunStatus::Running
    );
    let c = s
        .finish_run(
            &finished(r, RunStatus::Succeeded, 1005),
            &issues(&["Application batch holds 12 idle sessions"]),
        )
        .await
        .unwrap();
    assert!(matches!(c.as_slice(), [IssueChange::Open(_)]));
    let run1 = s.get_run("w", "r1").await.unwrap().unwrap();
    assert_eq!(
        (
            run1.status,
            run1.exit_code,
            run1.finished_at,
            run1.stdout.as_str()
        ),
        (RunStatus::Succeeded, Some(0), Some(Timestamp(1005)), "out")
    );

    exec(
        s,
        "w",
        "pg-main",
        "r2",
        2000,
        RunStatus::Succeeded,
        issues(&["Application batch holds 15 idle sessions"]),
    )
    .await;
    let open = s.list_issues("w", &IssueFilter::default()).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].count, 2);
    assert_eq!(open[0].title, "Application batch holds 15 idle sessions");
    assert_eq!(
        (open[0].first_seen, open[0].last_seen),
        (Timestamp(1005), Timestamp(2005))
    );

    // A failed run resolves nothing.
    exec(
        s,
        "w",
        "pg-main",
        "r3",
        3000,
        RunStatus::Failed,
        issues(&[]),
    )
    .await;
    assert_eq!(
        s.list_issues("w", &IssueFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );

    exec(
        s,
        "w",
        "pg-main",
        "r4",
        4000,
        RunStatus::Succeeded,
        issues(&[]),
    )
    .await;
    assert!(
        s.list_issues("w", &IssueFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
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
    assert_eq!(all[0].status, IssueStatus::Resolved);
    assert_eq!(all[0].resolved_at, Some(Timestamp(4005)));

    exec(
        s,
        "w",
        "pg-main",
        "r5",
        5000,
        RunStatus::Succeeded,
        issues(&["Application batch holds 3 idle sessions"]),
    )
    .await;
    let id = &all[0].id;
    let kinds: Vec<_> = s
        .issue_events("w", id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            IssueEventKind::Opened,
            IssueEventKind::Repeated,
            IssueEventKind::Resolved,
            IssueEventKind::Reopened
        ]
    );
    let reopened = s.get_issue("w", id).await.unwrap().unwrap();
    assert_eq!(
        (reopened.status, reopened.count, reopened.resolved_at),
        (IssueStatus::Open, 3, None)
    );
    // Unique id prefixes resolve, like short git hashes.
    assert_eq!(s.get_issue("w", &id[..8]).await.unwrap().unwrap().id, *id);
}

async fn workspaces_are_isolated(s: &SqlStore) {
    exec(
        s,
        "a",
        "pg",
        "ra",
        1000,
        RunStatus::Succeeded,
        issues(&["Disk / full"]),
    )
    .await;
    exec(
        s,
        "b",
        "pg",
        "rb",
        1000,
        RunStatus::Succeeded,
        issues(&["Disk / full"]),
    )
    .await;
    let a = s
        .list_issues(
            "a",
            &IssueFilter {
                include_resolved: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = s
        .list_issues(
            "b",
            &IssueFilter {
                include_resolved: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a[0].id, b[0].id);
    assert_ne!(a[0].fingerprint, b[0].fingerprint);
    assert!(s.get_issue("b", &a[0].id).await.unwrap().is_none());
    assert!(s.get_run("b", "ra").await.unwrap().is_none());
    assert!(s.issue_events("b", &a[0].id).await.unwrap().is_empty());
    assert_eq!(s.recent_runs("a", 10).await.unwrap().len(), 1);
    // Resolving in one workspace leaves the other alone.
    exec(s, "a", "pg", "ra2", 2000, RunStatus::Succeeded, issues(&[])).await;
    assert!(
        s.list_issues("a", &IssueFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.list_issues("b", &IssueFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn insights_and_metrics(s: &SqlStore) {
    let mut res = RunResults::default();
    res.insights.push((
        "pg: 50/100 connections".into(),
        serde_json::json!({"used": 50}),
    ));
    res.metrics.push((
        "used".into(),
        50.0,
        BTreeMap::from([("db".to_string(), "shop".to_string())]),
    ));
    exec(s, "w", "pg", "m1", 1000, RunStatus::Succeeded, res).await;
    let mut res = RunResults::default();
    res.insights.push((
        "pg: 96/100 connections".into(),
        serde_json::json!({"used": 96}),
    ));
    res.insights.push((
        "pg: 80 idle in transaction from batch".into(),
        serde_json::Value::Null,
    ));
    res.metrics.push(("used".into(), 96.5, BTreeMap::new()));
    exec(s, "w", "pg", "m2", 2000, RunStatus::Succeeded, res).await;

    let current = s.current_insights("w").await.unwrap();
    let texts: Vec<_> = current.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "pg: 96/100 connections",
            "pg: 80 idle in transaction from batch"
        ]
    );
    assert_eq!(current[0].data["used"], 96);
    assert!(s.current_insights("other").await.unwrap().is_empty());

    let series = s
        .metric_series("w", "pg", "used", Timestamp(0))
        .await
        .unwrap();
    assert_eq!(
        series.iter().map(|m| m.value).collect::<Vec<_>>(),
        vec![50.0, 96.5]
    );
    assert_eq!(series[0].labels["db"], "shop");
    assert_eq!(
        s.metric_series("w", "pg", "used", Timestamp(1500))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn recent_series_values(s: &SqlStore) {
    let shop = BTreeMap::from([("db".to_string(), "shop".to_string())]);
    let other = BTreeMap::from([("db".to_string(), "other".to_string())]);
    for i in 0..6 {
        let mut res = RunResults::default();
        res.metrics.push(("used".into(), i as f64, shop.clone()));
        res.metrics
            .push(("used".into(), 100.0 + i as f64, other.clone()));
        // run 3 failed: its partial output is not part of the SLI
        let status = if i == 3 {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        exec(s, "w", "pg", &format!("r{i}"), 1000 + i, status, res).await;
    }
    let key = |labels| SeriesKey {
        scope: "pg",
        task: "core/pg/idle",
        name: "used",
        labels,
    };
    let got = s.recent_series_values("w", &key(&shop), 3).await.unwrap();
    assert_eq!(got, vec![2.0, 4.0, 5.0], "latest 3 succeeded, oldest first");
    let got = s
        .recent_series_values("w", &key(&other), 100)
        .await
        .unwrap();
    assert_eq!(got, vec![100.0, 101.0, 102.0, 104.0, 105.0]);
    assert!(
        s.recent_series_values("other", &key(&shop), 3)
            .await
            .unwrap()
            .is_empty()
    );
    let none = BTreeMap::new();
    assert!(
        s.recent_series_values("w", &key(&none), 3)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn reopening_is_idempotent(s: &SqlStore) {
    // Reconnecting to a migrated database applies nothing and loses nothing.
    exec(s, "w", "x", "r1", 1, RunStatus::Succeeded, issues(&["t"])).await;
    assert_eq!(
        s.list_issues("w", &IssueFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            use super::*;
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let db = Db::$backend().await;
                        super::$name(&db.store).await;
                        db.finish().await;
                    }
                };
                ($module:ident :: $name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let db = Db::$backend().await;
                        super::$module::$name(&db.store).await;
                        db.finish().await;
                    }
                };
            }
            /// A case that also reaches under the store (`Db::raw`).
            macro_rules! db_case {
                ($module:ident :: $name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let db = Db::$backend().await;
                        super::$module::$name(&db).await;
                        db.finish().await;
                    }
                };
            }
            case!(issue_lifecycle);
            case!(workspaces_are_isolated);
            case!(runs::runs_have_owners_and_only_running_ones_are_interrupted);
            case!(runs::last_runs_are_per_slx_and_task);
            case!(runs::issues_are_scoped_by_resource_and_found_by_slx_name);
            db_case!(runs::runs_without_an_owner_are_legacy_and_marked_at_startup);
            case!(insights_and_metrics);
            case!(recent_series_values);
            case!(slx_map::slxs_round_trip);
            case!(reopening_is_idempotent);
            case!(slx_map::map_round_trip);
            case!(lifetimes::inconclusive_runs_keep_their_reason_and_resolve_nothing);
            case!(lifetimes::event_issues_resolve_after_the_quiet_period);
            case!(lifetimes::the_current_issue_ranks_before_an_older_more_severe_one);
            case!(engine::approvals_round_trip);
            case!(engine::sessions_and_audit);
            case!(engine::concurrent_audit_lines_are_numbered_apart);
            case!(engine::issue_data_round_trips);
            case!(engine::knowledge_notes_are_kept_per_workspace);
            case!(engine::tokens_are_found_by_hash_and_revoked_per_workspace);
            case!(engine::inbound_events_are_kept_found_by_key_and_per_workspace);
            case!(deliveries::deliveries_are_stored_with_their_event_and_found_when_due);
            case!(secrets::secrets_round_trip_and_are_replaced_by_name);
            case!(secrets::workspaces_never_see_each_others_secrets);
            case!(secrets::a_rekey_is_all_or_nothing);
        }
    };
}

conformance!(sqlite);
conformance!(postgres);

/// Migration 3 on a database at version 2, on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_3_makes_the_resource_the_scope() {
    runs::migration_3_makes_the_resource_the_scope(Fresh::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_3_makes_the_resource_the_scope() {
    runs::migration_3_makes_the_resource_the_scope(Fresh::postgres().await).await;
}

#[tokio::test]
async fn sqlite_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let s = SqlStore::connect(&url).await.unwrap();
    exec(&s, "w", "x", "r1", 1, RunStatus::Succeeded, issues(&["t"])).await;
    s.close().await;
    let s = SqlStore::connect(&url).await.unwrap();
    assert_eq!(
        s.list_issues("w", &IssueFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}
