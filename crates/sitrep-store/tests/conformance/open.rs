//! Opening databases: a damaged SQLite file, a refused, silent or wrongly addressed PostgreSQL,
//! and eight concurrent first starts of each backend.

use super::*;
use sitrep_store::{OpenOptions, StoreError};
use std::time::{Duration, Instant};

/// Every message of an error's chain, outermost first.
fn chain(e: &StoreError) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        out.push(c.to_string());
        cur = c.source();
    }
    out
}

/// The chain printed the way the CLI prints it, checked to say nothing twice.
fn printed_once(e: &StoreError) -> String {
    let parts = chain(e);
    for (i, p) in parts.iter().enumerate() {
        for q in &parts[i + 1..] {
            assert!(!p.contains(q.as_str()), "{q:?} printed twice in {parts:?}");
        }
    }
    parts.join(": ")
}

async fn open_err(url: &str, timeout: Duration) -> (String, Duration) {
    let t = Instant::now();
    let e = SqlStore::connect_with(
        url,
        &OpenOptions {
            connect_timeout: timeout,
        },
    )
    .await
    .expect_err("the open must fail");
    (printed_once(&e), t.elapsed())
}

/// A sitrep.db with data in it, closed (so its WAL is checkpointed into the file).
async fn used_sqlite(dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    let path = dir.path().join("sitrep.db");
    let url = format!("sqlite://{}", path.display());
    let s = SqlStore::connect(&url).await.unwrap();
    exec(&s, "w", "x", "r1", 1, RunStatus::Succeeded, issues(&["t"])).await;
    s.close().await;
    (url, path)
}

#[tokio::test]
async fn a_truncated_sqlite_file_fails_at_once_naming_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = used_sqlite(&dir).await;
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(100).unwrap();
    let (e, took) = open_err(&url, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(1), "took {took:?}: {e}");
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(
        e.contains("not a SQLite database") && e.contains("truncated"),
        "{e}"
    );
    assert!(e.contains("move it aside") && e.contains("backup"), "{e}");
    assert!(!e.contains("pool timed out"), "{e}");
}

#[tokio::test]
async fn a_text_file_where_the_database_should_be_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sitrep.db");
    std::fs::write(&path, "database_url: postgres://oops\n").unwrap();
    let url = format!("sqlite://{}", path.display());
    let (e, took) = open_err(&url, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(1), "took {took:?}: {e}");
    assert!(
        e.contains("is not a SQLite database (a text file of 30 bytes)"),
        "{e}"
    );
}

#[tokio::test]
async fn a_damaged_page_inside_a_sqlite_file_is_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = used_sqlite(&dir).await;
    // keep the header, overwrite the schema page's content with garbage
    let mut bytes = std::fs::read(&path).unwrap();
    for b in bytes.iter_mut().skip(100).take(4000) {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (e, took) = open_err(&url, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(1), "took {took:?}: {e}");
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(
        e.contains("not a SQLite database") && e.contains("move it aside"),
        "{e}"
    );
}

#[tokio::test]
async fn a_refused_postgres_connection_says_refused_at_once() {
    let (e, took) = open_err(
        "postgres://u:secretpw@127.0.0.1:1/db",
        Duration::from_secs(5),
    )
    .await;
    assert!(took < Duration::from_secs(1), "took {took:?}: {e}");
    assert!(e.contains("connection refused by 127.0.0.1:1"), "{e}");
    assert!(e.contains("check that PostgreSQL is running"), "{e}");
    assert!(
        !e.contains("pool timed out") && !e.contains("secretpw"),
        "{e}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_with_the_address() {
    // accepts the TCP connection (the kernel's backlog) but never speaks
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (e, took) = open_err(
        &format!("postgres://u@127.0.0.1:{port}/db?sslmode=disable"),
        Duration::from_millis(500),
    )
    .await;
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "took {took:?}: {e}"
    );
    assert!(
        e.contains(&format!("no answer from 127.0.0.1:{port} within 0.5 s")),
        "{e}"
    );
    drop(listener);
}

#[tokio::test]
async fn a_wrong_password_and_a_missing_database_are_named() {
    let admin = pg_admin_url();
    let wrong = match admin.split_once("://").and_then(|(_, r)| r.split_once('@')) {
        Some((creds, _)) => {
            let user = creds.split(':').next().unwrap();
            admin.replacen(creds, &format!("{user}:not-the-password"), 1)
        }
        None => panic!("the admin URL has no credentials: {admin}"),
    };
    let (e, _) = open_err(&wrong, Duration::from_secs(5)).await;
    assert!(e.contains("authentication failed for user"), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
    let missing = with_database(&admin, "sitrep_no_such_db");
    let (e, _) = open_err(&missing, Duration::from_secs(5)).await;
    assert!(
        e.contains("the database \"sitrep_no_such_db\" does not exist"),
        "{e}"
    );
}

async fn eight_at_once(url: &str) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = url.to_string();
        set.spawn(async move { SqlStore::connect(&url).await.map(|s| s.backend()) });
    }
    let mut failures = vec![];
    while let Some(r) = set.join_next().await {
        if let Err(e) = r.unwrap() {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // and the schema is whole: a run round-trips
    let s = SqlStore::connect(url).await.unwrap();
    exec(&s, "w", "x", "r1", 1, RunStatus::Succeeded, issues(&["t"])).await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_first_opens_of_a_fresh_sqlite_file_all_succeed() {
    let fresh = Fresh::sqlite();
    eight_at_once(&fresh.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_first_opens_of_a_fresh_postgres_database_all_succeed() {
    let fresh = Fresh::postgres().await;
    eight_at_once(&fresh.url).await;
    fresh.open().await.finish().await;
}

#[tokio::test]
async fn unsupported_urls_say_what_to_use() {
    let e = SqlStore::connect("mysql://x")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("sqlite://") && e.contains("postgres://"), "{e}");
}
