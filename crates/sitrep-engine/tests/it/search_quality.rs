//! Knowledge search quality: 38 notes (runbooks and post-mortems for the kinds of services the
//! sandbox runs, an architecture and an ownership note, and distractors about other systems)
//! in `tests/data/knowledge/`, and questions phrased the way an on-call engineer types them.
//! The right note must rank first for at least 90 % of them. Run with `--nocapture` to see
//! the figure and the misses.

use sitrep_engine::{OpenOptions, Sitrep};
use std::path::Path;

/// (question, the note that answers it).
const QUERIES: &[(&str, &str)] = &[
    (
        "app logs say sorry, too many clients already",
        "runbook-postgres-connections",
    ),
    (
        "postgres out of connection slots, what do I do",
        "runbook-postgres-connections",
    ),
    (
        "checkout is throwing 500s and the db says too many clients, seen this before?",
        "postmortem-2024-03-checkout-pool",
    ),
    (
        "did the batch job ever leak connections and take checkout down",
        "postmortem-2024-03-checkout-pool",
    ),
    (
        "queries hanging waiting on a lock",
        "runbook-postgres-locks",
    ),
    (
        "who is blocking everyone in postgres",
        "runbook-postgres-locks",
    ),
    (
        "replica is behind the primary, reads are stale",
        "runbook-postgres-replication-lag",
    ),
    (
        "standby replay lag keeps growing",
        "runbook-postgres-replication-lag",
    ),
    (
        "could not connect to server: connection refused on the db",
        "runbook-postgres-down",
    ),
    (
        "postgres crashed and won't come back",
        "runbook-postgres-down",
    ),
    (
        "tables keep growing, autovacuum can't keep up",
        "runbook-postgres-vacuum",
    ),
    (
        "warning about transaction id wraparound",
        "runbook-postgres-vacuum",
    ),
    (
        "one query got really slow after the bulk load",
        "runbook-postgres-slow-queries",
    ),
    (
        "redis OOM command not allowed when used memory > maxmemory",
        "runbook-redis-maxmemory",
    ),
    (
        "cache hit ratio dropped, lots of evicted keys",
        "runbook-redis-maxmemory",
    ),
    (
        "users can't log in, session writes rejected by redis",
        "postmortem-2024-08-session-cache-full",
    ),
    (
        "every redis command times out but the server is up",
        "runbook-redis-blocked-clients",
    ),
    (
        "someone left a CLIENT PAUSE on the cache?",
        "runbook-redis-blocked-clients",
    ),
    (
        "app can't reach the cache, connection refused to redis",
        "runbook-redis-down",
    ),
    ("site shows 502 bad gateway", "runbook-nginx-502"),
    (
        "nginx: connect() failed (111: Connection refused) while connecting to upstream",
        "runbook-nginx-502",
    ),
    (
        "everything went 502 right after the proxy config rollout",
        "postmortem-2025-01-bad-upstream",
    ),
    (
        "gateway timeout from nginx on slow pages",
        "runbook-nginx-504",
    ),
    (
        "upstream timed out (110) in the error log",
        "runbook-nginx-504",
    ),
    ("cert expires in two days", "runbook-tls-certificate"),
    (
        "browsers complain about an expired ssl certificate",
        "runbook-tls-certificate",
    ),
    (
        "nginx -t fails with emerg, reload did nothing",
        "runbook-nginx-reload-failed",
    ),
    (
        "shopfront keeps restarting every few seconds",
        "runbook-app-crashloop",
    ),
    (
        "service in a crash loop after deploy, exits right after start",
        "runbook-app-crashloop",
    ),
    (
        "checkout broken right after the config change: database does not exist",
        "postmortem-2025-04-config-typo",
    ),
    (
        "p99 latency way up but cpu is idle, calls to downstream time out",
        "runbook-app-slow-dependency",
    ),
    (
        "app memory keeps climbing until it gets oom killed",
        "runbook-app-memory-leak",
    ),
    (
        "No space left on device on the box",
        "runbook-host-disk-full",
    ),
    (
        "checkout fails: cannot write receipt, disk full",
        "postmortem-2024-11-spool-full",
    ),
    (
        "load average through the roof, host is sluggish",
        "runbook-host-cpu",
    ),
    (
        "dmesg says Out of memory: Killed process",
        "runbook-host-oom-killer",
    ),
    (
        "accept failed: too many open files",
        "runbook-host-file-descriptors",
    ),
    (
        "prometheus target down, metrics missing for a job",
        "runbook-exporter-down",
    ),
    (
        "alerts are firing but nobody got paged",
        "runbook-alertmanager",
    ),
    (
        "prometheus tsdb compaction failed and its disk is filling",
        "runbook-prometheus-storage",
    ),
    (
        "how does a request get from the browser to the database",
        "architecture-shop",
    ),
    (
        "who owns the postgres servers, who do I page",
        "ownership-database",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_note_ranks_first_for_at_least_90_percent_of_on_call_questions() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = OpenOptions::new(dir.path());
    opts.sitrep_exe = None;
    let sitrep = Sitrep::open(opts).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/knowledge");
    let added = sitrep.knowledge_add(&data).await.unwrap();
    assert!(added.len() >= 30, "{} notes", added.len());
    let mut right = 0;
    let mut misses = vec![];
    for (q, want) in QUERIES {
        let hits = sitrep.knowledge_search(q, 3).await.unwrap();
        let got: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        if got.first() == Some(want) {
            right += 1;
        } else {
            misses.push(format!("{q:?}: wanted {want}, got {got:?}"));
        }
    }
    let accuracy = right as f64 / QUERIES.len() as f64;
    println!(
        "knowledge search top-1 accuracy: {right}/{} = {accuracy:.3} over {} notes",
        QUERIES.len(),
        added.len()
    );
    for m in &misses {
        println!("  miss: {m}");
    }
    assert!(
        accuracy >= 0.9,
        "top-1 accuracy {accuracy:.3} < 0.9:\n{}",
        misses.join("\n")
    );
}
