//! The runner's anomalous-SLI hook with real task processes and a real SQLite store (real
//! clock: a paused clock would fire the run timeouts while the process runs).

use sitrep_bundles::{Catalog, CollectionSource};
use sitrep_core::RunStatus;
use sitrep_runner::{RunRequest, Runner, RunnerConfig, SystemClock};
use sitrep_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

#[tokio::test]
async fn a_level_shift_in_a_health_metric_raises_one_anomalous_sli_insight_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let col = dir.path().join("col");
    std::fs::create_dir_all(col.join("bundles/b")).unwrap();
    std::fs::write(col.join("collection.yaml"), "name: t\n").unwrap();
    std::fs::write(
        col.join("bundles/b/bundle.yaml"),
        "name: b\nparams:\n  - name: VALUE_FILE\n    required: true\ntasks:\n  - name: latency\n    kind: health\n    type: bash\n    script: m.sh\n",
    )
    .unwrap();
    std::fs::write(
        col.join("bundles/b/m.sh"),
        "printf '{\"type\":\"metric\",\"name\":\"latency_ms\",\"value\":%s}\\n' \"$(cat \"$VALUE_FILE\")\" >> \"$SITREP_RESULTS\"\n",
    )
    .unwrap();
    let source = CollectionSource {
        name: "t".into(),
        path: Some(col),
        git: None,
        rev: None,
        kind: Default::default(),
    };
    let catalog = Arc::new(Catalog::load(&[source], &dir.path().join("cache")).unwrap());
    let url = format!("sqlite://{}", dir.path().join("sitrep.db").display());
    let store: Arc<dyn Store> = Arc::new(sitrep_store::SqlStore::connect(&url).await.unwrap());
    let new_runner = || {
        Runner::new(
            RunnerConfig::new("w", dir.path().join("runtime")),
            catalog.clone(),
            store.clone(),
            Arc::new(SystemClock),
        )
        .unwrap()
        .with_sli_watch(Some(sitrep_runner::SliWatchConfig {
            detector: sitrep_analytics::anomaly::DetectorConfig {
                warmup: 30,
                rest: 0,
                ..Default::default()
            },
            ..Default::default()
        }))
    };
    let mut runner = new_runner();
    let value_file = dir.path().join("value");
    let mut raised = Vec::new();
    for i in 0..90 {
        if i == 45 {
            // `sitrep serve` restarts: a fresh watch must not need another 30-sample warm-up
            // (which would swallow the shift at 60); it replays the stored history instead.
            runner = new_runner();
        }
        // steady around 100 ms with a little jitter, then 250 ms from run 60 on
        let v = if i < 60 { 100.0 } else { 250.0 } + [0.0, 2.0, -1.0, 1.5, -2.0][i % 5];
        std::fs::write(&value_file, format!("{v}")).unwrap();
        let out = runner
            .run(RunRequest {
                task: sitrep_core::TaskRef::new("t", "b", "latency"),
                resource: "shop-api".into(),
                slx: Some("shop-api-latency".into()),
                config: BTreeMap::from([(
                    "VALUE_FILE".to_string(),
                    value_file.display().to_string(),
                )]),
                secrets: BTreeMap::new(),
                approval: None,
            })
            .await
            .unwrap();
        assert_eq!(out.run.status, RunStatus::Succeeded, "{:?}", out.run);
        assert_eq!(out.results.metrics.len(), 1, "{:?}", out.run);
        for ins in out.results.insights {
            raised.push((i, ins));
        }
    }
    // one insight for the whole shift, within a couple of runs of its start (the detector
    // averages its errors over a few samples)
    let at: Vec<usize> = raised.iter().map(|(i, _)| *i).collect();
    assert!(at.len() == 1 && (60..63).contains(&at[0]), "{raised:?}");
    let (text, data) = &raised[0].1;
    assert!(
        text.starts_with("anomalous SLI: latency_ms on shop-api = 25"),
        "{text}"
    );
    assert_eq!(data["kind"], "anomalous_sli");
    assert_eq!(data["baseline_median"], 100.0);
}
