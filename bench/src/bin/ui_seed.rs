//! Seeds a home for the web UI's load figures (`bench/ui-load`): a fresh home with a Map of
//! `--resources` resources (services in chains of five, each on one of ten hosts) and
//! `--issues` open issues on them, ten per check run, as checks would leave them.
//!
//!     cargo run --release -p sitrep-bench --bin ui_seed -- HOME [--issues 1000] [--resources 500]

use sitrep_bench::common::flag;
use sitrep_core::map::{Edge, EdgeKind, Resource, StoredEdge, StoredMap, StoredResource};
use sitrep_core::{IssueDraft, RunStatus, Severity, TaskKind, TaskRun, Timestamp};
use sitrep_engine::{OpenOptions, Sitrep};
use sitrep_store::{RunResults, SqlStore, Store};
use std::path::PathBuf;

const OWNER: &str = "ui-seed:boot:1:1";
/// What the seeded checks are about (ten per run, one issue each).
const WHAT: [&str; 10] = [
    "disk",
    "memory",
    "latency",
    "errors",
    "certificate",
    "replication",
    "connections",
    "queue",
    "cpu",
    "restarts",
];

fn resource(key: String, kind: &str, name: String, now: Timestamp) -> StoredResource {
    let mut r = Resource::new(key, kind, name);
    r.sources.push("declared".into());
    StoredResource {
        resource: r,
        stale: false,
        first_seen: now,
        last_seen: now,
    }
}

#[tokio::main]
async fn main() {
    let home: PathBuf = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .expect("usage: ui_seed HOME [--issues N] [--resources N]")
        .into();
    let issues = flag("--issues", 1000);
    let resources = flag("--resources", 500).max(10);
    std::fs::create_dir_all(&home).unwrap();
    let (sitrep, _) = Sitrep::init(OpenOptions::new(&home)).await.unwrap();
    let ws = sitrep.workspace().to_string();
    let now = Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let store = SqlStore::connect(&format!("sqlite://{}", home.join("sitrep.db").display()))
        .await
        .unwrap();

    let hosts = 10;
    let mut map = StoredMap::default();
    let mut names = vec![];
    for h in 0..hosts {
        map.resources.push(resource(
            format!("host:vm{h}"),
            "host",
            format!("vm{h}"),
            now,
        ));
    }
    for i in 0..resources - hosts {
        let name = format!("svc-{i:03}");
        let key = format!("service:{name}");
        map.resources
            .push(resource(key.clone(), "service", name.clone(), now));
        map.edges.push(StoredEdge {
            edge: Edge::new(
                key.clone(),
                format!("host:vm{}", i % hosts),
                EdgeKind::RunsOn,
            ),
            last_seen: now,
        });
        if i % 5 != 0 {
            map.edges.push(StoredEdge {
                edge: Edge::new(
                    key.clone(),
                    format!("service:svc-{:03}", i - 1),
                    EdgeKind::DependsOn,
                ),
                last_seen: now,
            });
        }
        names.push(name);
    }
    store.replace_map(&ws, &map).await.unwrap();

    let severities = [
        Severity::CRITICAL,
        Severity::MAJOR,
        Severity::MINOR,
        Severity::INFO,
    ];
    let mut opened = 0;
    for (k, start) in (0..issues).step_by(10).enumerate() {
        let scope = &names[k % names.len()];
        let run = TaskRun::started(
            format!("seed-{k:05}"),
            ws.clone(),
            format!("core/seed/check-{}", k % 7),
            TaskKind::Health,
            scope.clone(),
            now,
        );
        store.start_run(&run, OWNER).await.unwrap();
        let results = RunResults {
            issues: (start..(start + 10).min(issues))
                .map(|i| {
                    // Titles differ in words: numbers are masked in an issue's identity.
                    IssueDraft::new(
                        severities[i % severities.len()],
                        format!("{} check fails on {scope}", WHAT[i % WHAT.len()]),
                    )
                })
                .collect(),
            ..Default::default()
        };
        let done = TaskRun {
            status: RunStatus::Failed,
            exit_code: Some(1),
            finished_at: Some(now),
            ..run
        };
        opened += store.finish_run(&done, &results).await.unwrap().len();
    }
    println!(
        "seeded {}: {} resources, {} edges, {opened} open issues",
        home.display(),
        map.resources.len(),
        map.edges.len()
    );
}
