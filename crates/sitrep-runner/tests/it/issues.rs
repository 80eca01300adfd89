//! One problem, one issue: a task raising the same issue on the same resource from an SLX and
//! by hand updates one issue, whose scope is the resource; the SLX stays on the run.

use super::Home;
use sitrep_core::{RunStatus, TaskRef};
use sitrep_runner::RunRequest;
use sitrep_store::{IssueFilter, Store};
use std::collections::BTreeMap;

const BUNDLE: &str = "name: svc
tasks:
  - name: check
    kind: health
    type: bash
    script: check.sh
";

const CHECK: &str = r#"printf '%s\n' '{"type":"issue","severity":2,"title":"fake-svc answers 503"}' >> "$SITREP_RESULTS"
"#;

#[tokio::test]
async fn the_same_problem_from_an_slx_and_by_hand_is_one_issue_scoped_by_the_resource() {
    let home = Home::new(&[("svc", BUNDLE, &[("check.sh", CHECK)])]).await;
    let runner = home.runner(home.config());
    let request = |slx: Option<&str>| RunRequest {
        task: TaskRef::new("t", "svc", "check"),
        resource: "fake-svc".into(),
        slx: slx.map(String::from),
        config: BTreeMap::new(),
        secrets: BTreeMap::new(),
        approval: None,
    };
    let by_slx = runner.run(request(Some("fake-svc-http"))).await.unwrap();
    let by_hand = runner.run(request(None)).await.unwrap();
    for out in [&by_slx, &by_hand] {
        assert_eq!(out.run.status, RunStatus::Succeeded, "{:?}", out.run.error);
        assert_eq!(out.run.scope, "fake-svc");
    }
    assert_eq!(by_slx.run.slx.as_deref(), Some("fake-svc-http"));
    let open = home
        .store
        .list_issues("w", &IssueFilter::default())
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!((open[0].scope.as_str(), open[0].count), ("fake-svc", 2));
}
