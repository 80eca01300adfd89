//! Facts read from the five shared bundles' files.

use crate::harness::{BUNDLES, all, bundle, data_root, runbook_tests};
use sitrep_core::{Risk, TaskKind, TaskType};
use sitrep_runwhen::generation::{LevelOfDetail, MatchRule, OutputKind};
use sitrep_runwhen::{DEFAULT_REMEDIATION_RISK, SLI_TASK};
use std::path::PathBuf;

#[test]
fn the_shared_data_resolves_from_the_crate() {
    let root = data_root();
    for name in BUNDLES {
        let runbook = root.join("codebundles").join(name).join("runbook.robot");
        assert!(runbook.is_file(), "{} is missing", runbook.display());
    }
}

#[test]
fn all_five_bundles_load_without_problems() {
    let loaded = all();
    let names: Vec<&str> = loaded.iter().map(|l| l.bundle.name.as_str()).collect();
    assert_eq!(names, BUNDLES);
    for l in &loaded {
        assert!(l.is_valid(), "{}: {:#?}", l.bundle.name, l.problems);
        assert!(l.bundle.tasks.iter().all(|t| t.ty == TaskType::Robot));
    }
}

#[test]
fn curl_http_ok() {
    let b = bundle("curl-http-ok");
    assert!(
        b.description
            .starts_with("This taskset uses curl to validate")
    );
    assert_eq!(b.metadata["Display Name"], "cURL HTTP OK");
    assert_eq!(b.metadata["Author"], "stewartshea");
    let names: Vec<&str> = b.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["check-http-url-availability-and-timeliness", SLI_TASK]
    );
    let check = &b.tasks[0];
    assert_eq!(check.kind, TaskKind::Diagnostic);
    assert_eq!(
        check.description,
        "Use cURL to validate single or multiple http responses"
    );
    assert_eq!(check.robot.file, "runbook.robot");
    assert_eq!(
        check.robot.test.as_deref(),
        Some("Check HTTP URL Availability and Timeliness")
    );
    assert_eq!(check.robot.line, 16);
    assert!(check.tags.iter().any(|t| t == "access:read-only"));
    let params: Vec<&str> = b.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        params,
        [
            "URLS",
            "TARGET_LATENCY",
            "ACCEPTABLE_RESPONSE_CODES",
            "OWNER_DETAILS",
            "VERIFY_SSL"
        ]
    );
    let latency = b.param("TARGET_LATENCY").unwrap();
    assert_eq!(latency.default.as_deref(), Some("1.2"));
    assert_eq!(latency.ty, "string");
    assert_eq!(latency.pattern.as_deref(), Some(r"\w*"));
    assert_eq!(
        latency.description,
        "The maximum latency in seconds as a float value allowed for requests to have."
    );
    assert_eq!(
        b.param("URLS").unwrap().default.as_deref(),
        Some("https://www.runwhen.com")
    );
    assert_eq!(
        b.param("URLS").unwrap().example.as_deref(),
        Some("https://www.runwhen.com,https://api.runwhen.com")
    );
    assert_eq!(
        b.param("OWNER_DETAILS").unwrap().default.as_deref(),
        Some(r#"{"name": "my-ingress", "kind": "Ingress", "namespace": "default"}"#)
    );
    assert!(b.secrets.is_empty());
    // The SLI: the whole of sli.robot, on an interval, with the SLI's own parameters.
    let sli = b.task(SLI_TASK).unwrap();
    assert_eq!(sli.kind, TaskKind::Health);
    assert!(sli.interval.is_some());
    assert_eq!(
        (sli.robot.file.as_str(), sli.robot.test.as_ref()),
        ("sli.robot", None)
    );
    assert_eq!(
        sli.params,
        [
            "URLS",
            "TARGET_LATENCY",
            "ACCEPTABLE_RESPONSE_CODES",
            "VERIFY_SSL"
        ]
    );
    // Generation rules, in file-name order.
    let files: Vec<&str> = b.generation_rules.iter().map(|g| g.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "http-ok-tls-aks-public-loadbalancer-ext-dns-tls.yaml",
            "http-ok-tls.yaml",
            "http-ok.yaml"
        ]
    );
    let types: Vec<&str> = b
        .generation_rules
        .iter()
        .flat_map(|g| &g.rules)
        .flat_map(|r| &r.resource_types)
        .map(String::as_str)
        .collect();
    assert_eq!(types, ["service", "ingress", "ingress"]);
    let http_ok = &b.generation_rules[2].rules[0];
    assert!(matches!(&http_ok.match_rules[0], MatchRule::And { matches } if matches.len() == 1));
    match &http_ok.match_rules[1] {
        MatchRule::Not { predicate } => assert_eq!(
            **predicate,
            MatchRule::Exists {
                path: "spec/tls/hosts".into()
            }
        ),
        other => panic!("{other:?}"),
    }
    let slx = &http_ok.slxs[0];
    assert_eq!(slx.base_name, "http-ok");
    assert_eq!(slx.qualifiers, ["resource", "namespace", "cluster"]);
    assert_eq!(slx.level_of_detail, LevelOfDetail::Basic);
    let kinds: Vec<OutputKind> = slx.output_items.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            OutputKind::Slx,
            OutputKind::Sli,
            OutputKind::Slo,
            OutputKind::Runbook
        ]
    );
    assert_eq!(slx.output_items[3].template(slx), "http-ok-taskset.yaml");
    // Every template an output item names is one of the bundle's templates.
    assert_eq!(b.templates.len(), 12);
    for g in &b.generation_rules {
        for r in &g.rules {
            for s in &r.slxs {
                for o in &s.output_items {
                    assert!(b.templates.contains(&o.template(s)), "{}", o.template(s));
                }
            }
        }
    }
}

#[test]
fn dns_health() {
    let b = bundle("dns-health");
    assert!(b.description.starts_with(
        "This taskset performs comprehensive DNS health monitoring and validation tasks.\nIncludes DNS zone record validation,"
    ));
    assert_eq!(
        runbook_tests(&b),
        [
            "Check DNS Zone Records",
            "Detect Broken Record Resolution",
            "Test Forward Lookup Zones",
            "External Resolution Validation",
            "DNS Latency Check"
        ]
    );
    assert_eq!(b.tasks.len(), 6, "five runbook tasks and the SLI");
    assert!(b.tasks[..5].iter().all(|t| t.kind == TaskKind::Diagnostic));
    assert_eq!(
        b.tasks[0].tags,
        ["access:read-only", "dns", "zone-records", "data:config"]
    );
    let fqdns = b.param("TEST_FQDNS").unwrap();
    assert_eq!(fqdns.default.as_deref(), Some("google.com,example.com"));
    assert_eq!(
        fqdns.pattern.as_deref(),
        Some("^[a-zA-Z0-9.-]+(,[a-zA-Z0-9.-]+)*$")
    );
    // Written `default=""`: kept as written.
    assert_eq!(
        b.param("DNS_ZONES").unwrap().default.as_deref(),
        Some("\"\"")
    );
    assert_eq!(b.params.len(), 6);
    // The SLI's five tasks build on each other: one health task runs them all.
    let sli = b.task(SLI_TASK).unwrap();
    assert!(
        sli.description
            .starts_with("This SLI measures DNS health metrics")
    );
    assert_eq!(sli.robot.line, 22);
    assert_eq!(sli.params.len(), 5);
    assert!(
        !sli.params
            .contains(&"FORWARD_ZONE_TEST_SUBDOMAINS".to_string())
    );
    assert!(b.generation_rules.is_empty() && b.templates.is_empty());
}

#[test]
fn k8s_deployment_healthcheck() {
    let b = bundle("k8s-deployment-healthcheck");
    let tests = runbook_tests(&b);
    assert_eq!(tests.len(), 10);
    assert_eq!(
        tests[0],
        "Analyze Application Log Patterns for Deployment `${DEPLOYMENT_NAME}` in Namespace `${NAMESPACE}`"
    );
    assert_eq!(
        b.tasks[0].name,
        "analyze-application-log-patterns-for-deployment-deployment-name-in-namespace-namespace"
    );
    assert_eq!(b.tasks[0].robot.line, 225);
    let kubeconfig = b.secret("kubeconfig").unwrap();
    assert_eq!(
        kubeconfig.description,
        "The kubernetes kubeconfig yaml containing connection configuration used to connect to cluster(s)."
    );
    assert_eq!(b.secrets.len(), 1);
    assert!(b.tasks.iter().all(|t| t.secrets == ["kubeconfig"]));
    let binary = b.param("KUBERNETES_DISTRIBUTION_BINARY").unwrap();
    assert_eq!(binary.choices, ["kubectl", "oc"]);
    assert_eq!(binary.default.as_deref(), Some("kubectl"));
    let cats = b.param("LOG_PATTERN_CATEGORIES").unwrap();
    assert_eq!(
        cats.assigned_to.as_deref(),
        Some("${LOG_PATTERN_CATEGORIES_STR}")
    );
    assert_eq!(
        b.param("NAMESPACE").unwrap().default,
        None,
        "no default: required"
    );
    // The SLI adds its own parameters after the runbook's.
    assert!(b.param("MAX_LOG_LINES").is_some());
    let rule = &b.generation_rules[0].rules[0];
    assert_eq!(rule.resource_types, ["deployment"]);
    assert_eq!(rule.slxs[0].level_of_detail, LevelOfDetail::Detailed);
    assert_eq!(rule.slxs[0].base_name, "depl-health");
    assert_eq!(
        b.templates,
        [
            "k8s-deployment-health-sli.yaml",
            "k8s-deployment-health-slx.yaml",
            "k8s-deployment-health-taskset.yaml"
        ]
    );
}

#[test]
fn k8s_namespace_healthcheck() {
    let b = bundle("k8s-namespace-healthcheck");
    let tests = runbook_tests(&b);
    assert_eq!(tests.len(), 9);
    assert_eq!(
        tests[0],
        "Inspect Warning Events in Namespace `${NAMESPACE}`"
    );
    assert_eq!(b.tasks.last().unwrap().name, SLI_TASK);
    assert!(b.param("RW_LOOKBACK_WINDOW").is_some());
    assert!(b.param("EVENT_THRESHOLD").is_some(), "from sli.robot");
    let rule = &b.generation_rules[0].rules[0];
    assert_eq!(rule.resource_types, ["namespace"]);
    assert_eq!(rule.slxs[0].qualifiers, ["namespace", "cluster"]);
    assert!(matches!(
        &rule.match_rules[0],
        MatchRule::Pattern { pattern, properties, .. } if pattern == ".+" && properties == &["name"]
    ));
}

#[test]
fn k8s_restart_resource_has_one_remediation() {
    let loaded =
        sitrep_runwhen::load_bundle(&data_root().join("codebundles/k8s-restart-resource")).unwrap();
    assert!(loaded.is_valid(), "{:#?}", loaded.problems);
    let b = &loaded.bundle;
    let kinds: Vec<(&str, TaskKind)> = b.tasks.iter().map(|t| (t.name.as_str(), t.kind)).collect();
    assert_eq!(
        kinds,
        [
            (
                "get-current-resource-state-with-labels-labels",
                TaskKind::Diagnostic
            ),
            ("get-resource-logs-with-labels-labels", TaskKind::Diagnostic),
            (
                "restart-resource-with-labels-labels-in-context",
                TaskKind::Remediation
            ),
        ]
    );
    let restart = &b.tasks[2];
    assert_eq!(
        restart.robot.test.as_deref(),
        Some("Restart Resource with Labels `${LABELS}` in `${CONTEXT}`")
    );
    assert!(restart.tags.iter().any(|t| t == "access:read-write"));
    assert_eq!(restart.risk, Some(DEFAULT_REMEDIATION_RISK));
    assert_eq!(DEFAULT_REMEDIATION_RISK, Risk::High);
    assert_eq!(restart.rollback, None);
    assert!(
        restart
            .notes
            .iter()
            .any(|n| n.contains("rollback is undeclared"))
    );
    assert!(
        b.tasks[..2]
            .iter()
            .all(|t| t.risk.is_none() && t.notes.is_empty())
    );
    // The assumption is also a located warning (not a problem).
    assert!(loaded.warnings.iter().all(|w| w.line == Some(46)
        && w.field == "Tasks.Restart Resource with Labels `${LABELS}` in `${CONTEXT}`.[Tags]"));
    assert_eq!(loaded.warnings.len(), 2);
    assert!(b.task(SLI_TASK).is_none(), "no sli.robot, no health task");
    assert_eq!(b.param("NAMESPACE").unwrap().default.as_deref(), Some(""));
    assert_eq!(b.param("CONTEXT").unwrap().default, None);
    assert_eq!(b.secret("kubeconfig").unwrap().line, 65);
}

#[test]
fn k8s_restart_resource_snapshot() {
    let mut b = bundle("k8s-restart-resource");
    b.dir = PathBuf::from("codebundles/k8s-restart-resource");
    insta::assert_yaml_snapshot!(b);
}

/// A whole collection, when `SITREP_RUNWHEN_COLLECTION` names a checkout of
/// rw-cli-codecollection: `cargo test -p sitrep-runwhen --test it -- --ignored --nocapture`.
/// Prints every problem and warning; fails when any bundle has a problem.
#[test]
#[ignore = "needs SITREP_RUNWHEN_COLLECTION"]
fn a_whole_collection_from_the_environment() {
    let root = std::env::var("SITREP_RUNWHEN_COLLECTION").expect("SITREP_RUNWHEN_COLLECTION");
    let loaded = sitrep_runwhen::load_collection(std::path::Path::new(&root)).unwrap();
    let (mut tasks, mut remediations, mut invalid) = (0, 0, 0);
    for l in &loaded {
        tasks += l.bundle.tasks.len();
        remediations += l
            .bundle
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Remediation)
            .count();
        invalid += usize::from(!l.is_valid());
        for p in &l.problems {
            println!("problem: {p}");
        }
        for w in &l.warnings {
            println!("warning: {w}");
        }
    }
    println!(
        "{} bundles, {tasks} tasks ({remediations} remediations), {invalid} invalid",
        loaded.len()
    );
    assert_eq!(invalid, 0);
}
