//! Conclusions and replay over a hand-built session.

use super::*;
use crate::Timestamp;
use serde_json::json;

fn hyp(id: &str, parent: Option<&str>, resource: &str, status: HypothesisStatus) -> Hypothesis {
    Hypothesis {
        id: id.into(),
        parent: parent.map(str::to_string),
        depth: parent.map_or(0, |_| 1),
        statement: format!("{resource} is broken"),
        resource: resource.into(),
        category: format!("{resource}:broken"),
        source: Source::Bundle {
            bundle: "core/x".into(),
            id: "broken".into(),
        },
        confirm_if: String::new(),
        refute_if: String::new(),
        tests: vec![TestPlan {
            task: "core/x/check".into(),
            resource: resource.into(),
            slx: format!("{resource}-health"),
        }],
        status,
        prior: 0.5,
        remedy: Remedy {
            task: Some("core/x/fix".into()),
            params: [("APPLICATION".to_string(), "{app}".to_string())].into(),
            culprit: Some("{app}".into()),
        },
        signal: false,
        change: false,
        symptoms: vec![],
    }
}

fn ev(id: &str, h: &str, resource: &str, task: &str, strength: Strength, sev: u8) -> Evidence {
    Evidence {
        id: id.into(),
        hypothesis: h.into(),
        task: task.into(),
        resource: resource.into(),
        run_id: format!("run-{id}"),
        strength,
        summary: format!("{resource} check {strength}"),
        severity: crate::Severity::new(sev).ok(),
        issue_id: None,
        output_hash: "00".into(),
        facts: json!({"app": "batch"}).as_object().unwrap().clone(),
        last_event_at: None,
        since: None,
        at: Timestamp(1),
    }
}

fn session() -> Session {
    Session {
        id: "s1".into(),
        workspace: "w".into(),
        assistant: "default".into(),
        trigger: Trigger::Question {
            text: "checkout fails".into(),
        },
        status: SessionStatus::Running,
        started_at: Timestamp(0),
        finished_at: None,
        focus: vec!["shop".into()],
        hypotheses: vec![
            hyp("h1", None, "shop", HypothesisStatus::Confirmed),
            hyp("h2", Some("h1"), "pg", HypothesisStatus::Confirmed),
            hyp("h3", Some("h1"), "redis", HypothesisStatus::Pruned),
        ],
        evidence: vec![
            ev("e1", "h1", "shop", "core/x/status", Strength::Strong, 2),
            ev("e2", "h2", "pg", "core/x/conns", Strength::Strong, 1),
            ev("e3", "h2", "pg", "core/x/idle", Strength::Strong, 2),
            ev("e4", "h3", "redis", "core/x/ping", Strength::None, 4),
        ],
        conclusion: None,
        proposals: vec![],
        budget: BudgetUse::default(),
        knowledge: vec![],
        rules: vec![],
        follow_ups: vec![],
    }
}

#[test]
fn the_deepest_confirmed_cause_is_the_root_and_the_rule_explains_its_confidence() {
    let s = session();
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &Dependencies::default(),
    });
    let root = c.root_cause.as_ref().unwrap();
    assert_eq!(
        (root.hypothesis.as_str(), root.resource.as_str()),
        ("h2", "pg")
    );
    assert_eq!(root.culprit.as_deref(), Some("batch"));
    // 0.50 strong + 0.15 two checks + 0.10 chain + 0.10 culprit + 0.05 known failure mode
    assert_eq!(c.confidence, 0.9);
    assert_eq!(c.verdict, Verdict::RootCause);
    let chain: Vec<&str> = c.chain.iter().map(|l| l.hypothesis.as_str()).collect();
    assert_eq!(chain, ["h1", "h2"]);
    assert_eq!(c.chain[1].evidence, ["e2", "e3"]);
}

#[test]
fn a_confirmed_signal_is_followed_but_never_the_root_cause_nor_a_rival() {
    let mut s = session();
    // an alert firing, confirmed strongly on its own resource, more likely than anything
    let mut alert = hyp("h4", None, "prometheus", HypothesisStatus::Confirmed);
    alert.signal = true;
    alert.prior = 0.99;
    s.hypotheses.push(alert);
    s.evidence.push(ev(
        "e5",
        "h4",
        "prometheus",
        "core/p/alerts",
        Strength::Strong,
        1,
    ));
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &Dependencies::default(),
    });
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "pg");
    assert_eq!(c.confidence, 0.9, "no rival: {:?}", c.reasons);
}

#[test]
fn a_confirmed_change_explains_what_was_found_through_its_resource() {
    let mut s = session();
    // shop's configuration changed (a sibling of its symptom); pg's finding was reached
    // through shop's symptom
    let mut change = hyp("h4", None, "shop", HypothesisStatus::Confirmed);
    change.change = true;
    change.prior = 0.3;
    s.hypotheses.push(change);
    s.evidence
        .push(ev("e5", "h4", "shop", "core/p/config", Strength::Strong, 2));
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &Dependencies::default(),
    });
    let root = c.root_cause.as_ref().unwrap();
    assert_eq!(
        (root.hypothesis.as_str(), root.resource.as_str()),
        ("h4", "shop")
    );
    assert!(
        c.reasons
            .iter()
            .any(|r| r.why.contains("the change explains 2")),
        "{:?}",
        c.reasons
    );
    // unconfirmed, the change explains nothing
    s.hypotheses[3].status = HypothesisStatus::Pruned;
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &Dependencies::default(),
    });
    assert_eq!(c.root_cause.unwrap().resource, "pg");
}

#[test]
fn a_finding_on_a_dependent_is_a_symptom_of_the_dependency_not_a_rival() {
    let mut s = session();
    // A vague question: any supported cause may explain it.
    s.focus.clear();
    // a second, unrelated-looking finding on the proxy in front of shop
    s.hypotheses
        .push(hyp("h4", None, "proxy", HypothesisStatus::Confirmed));
    s.evidence.push(ev(
        "e5",
        "h4",
        "proxy",
        "core/n/errors",
        Strength::Strong,
        2,
    ));
    // Were shop to depend on the proxy, the proxy's finding could explain shop's: a rival.
    let alone = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &shop_depends_on(&["pg", "proxy"]),
    });
    assert!(
        alone.reasons.iter().any(|r| r.why.contains("proxy")),
        "the proxy is a rival: {:?}",
        alone.reasons
    );
    let mut deps = Dependencies::default();
    deps.insert("proxy", "pg");
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &deps,
    });
    assert_eq!(c.root_cause.as_ref().unwrap().resource, "pg");
    assert!(c.confidence > alone.confidence, "{:?}", c.reasons);
    assert!(
        !c.reasons.iter().any(|r| r.why.contains("proxy")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn a_rival_cause_lowers_confidence_below_the_threshold() {
    let mut s = session();
    s.focus.clear();
    s.hypotheses
        .push(hyp("h4", None, "disk", HypothesisStatus::Confirmed));
    s.evidence
        .push(ev("e5", "h4", "disk", "core/x/df", Strength::Strong, 1));
    s.hypotheses[1].remedy.culprit = None;
    s.evidence.retain(|e| e.id != "e3");
    // shop, the symptom pg explains, depends on disk too
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: true,
        dependencies: &shop_depends_on(&["pg", "disk"]),
    });
    // 0.50 + 0.10 chain + 0.05 known − 0.15 rival
    assert_eq!(c.confidence, 0.5);
    assert_eq!(c.verdict, Verdict::Suggestion);
    assert!(!c.next_checks.is_empty());
    assert!(c.alternatives.iter().any(|a| a.contains("disk")));
}

#[test]
fn a_rival_whose_events_ended_before_the_alert_began_counts_little() {
    let mut s = session();
    s.focus.clear();
    s.trigger = Trigger::Alert {
        source: "alertmanager".into(),
        name: "ReplicaLag".into(),
        labels: Default::default(),
        summary: String::new(),
        fingerprint: None,
        started_at: Some(Timestamp(1_000_000)),
    };
    s.hypotheses
        .push(hyp("h4", None, "proxy", HypothesisStatus::Confirmed));
    let rival = ev("e5", "h4", "proxy", "core/x/errors", Strength::Strong, 1);
    s.hypotheses[1].remedy.culprit = None;
    s.evidence.retain(|e| e.id != "e3");
    let conclude_with = |last_event: Option<i64>| {
        let mut s = s.clone();
        let mut rival = rival.clone();
        rival.last_event_at = last_event.map(Timestamp);
        s.evidence.push(rival);
        conclude(&ConclusionInput {
            session: &s,
            threshold: 0.6,
            budget_exhausted: true,
            dependencies: &shop_depends_on(&["pg", "proxy"]),
        })
    };
    // Errors that stopped well before the alert began: a quarter of the rival's 0.15.
    let c = conclude_with(Some(1_000_000 - 61_000));
    assert_eq!(c.confidence, 0.61, "{:?}", c.reasons);
    assert_eq!(c.verdict, Verdict::RootCause);
    assert!(
        c.reasons
            .iter()
            .any(|r| r.why.contains("proxy (over before the problem began)")),
        "{:?}",
        c.reasons
    );
    // Still happening when it began, ended just before it (a one-off cause such as a kill),
    // or not an event at all: the full rival.
    for still in [Some(1_000_000), Some(1_000_000 - 30_000), None] {
        let c = conclude_with(still);
        assert_eq!(c.confidence, 0.5, "{still:?}: {:?}", c.reasons);
        assert_eq!(c.verdict, Verdict::Suggestion);
    }
}

#[test]
fn a_finding_over_before_the_alert_began_is_not_its_root_cause_nor_a_symptom_it_explains() {
    // An alert about the host; the strong finding on the proxy is errors that stopped minutes
    // before it began, the host's own check supports it only weakly (a milder issue).
    let mut s = session();
    s.trigger = Trigger::Alert {
        source: "alertmanager".into(),
        name: "HostBusy".into(),
        labels: Default::default(),
        summary: String::new(),
        fingerprint: None,
        started_at: Some(Timestamp(1_000_000)),
    };
    s.hypotheses = vec![
        hyp("h1", None, "proxy", HypothesisStatus::Confirmed),
        hyp("h2", Some("h1"), "host", HypothesisStatus::Active),
    ];
    let mut stale = ev("e1", "h1", "proxy", "core/x/errors", Strength::Strong, 2);
    stale.last_event_at = Some(Timestamp(1_000_000 - 300_000));
    s.evidence = vec![
        stale.clone(),
        ev("e2", "h2", "host", "core/x/cpu", Strength::Weak, 3),
    ];
    let input = |s: &Session| {
        conclude(&ConclusionInput {
            session: s,
            threshold: 0.6,
            budget_exhausted: false,
            dependencies: &Dependencies::default(),
        })
    };
    let c = input(&s);
    assert_eq!(
        c.root_cause.as_ref().unwrap().resource,
        "host",
        "{:?}",
        c.reasons
    );
    // 0.30 weak + 0.10 culprit + 0.05 known; the stale errors are no symptom it explains.
    assert_eq!(c.confidence, 0.45, "{:?}", c.reasons);
    assert!(
        !c.reasons.iter().any(|r| r.why.contains("symptom")),
        "{:?}",
        c.reasons
    );
    // Still going when the alert began: the proxy's errors are the root, as before.
    let mut current = s.clone();
    current.evidence[0].last_event_at = Some(Timestamp(1_000_000));
    assert_eq!(input(&current).root_cause.unwrap().resource, "proxy");
    // Nothing else supported: the stale finding is still the best there is.
    let mut alone = s.clone();
    alone.evidence.truncate(1);
    assert_eq!(input(&alone).root_cause.unwrap().resource, "proxy");
}

#[test]
fn a_milder_finding_on_the_resource_an_alert_reports_counts_as_strong() {
    let mut s = session();
    s.focus = vec!["host".into()];
    s.hypotheses = vec![hyp("h1", None, "host", HypothesisStatus::Active)];
    s.evidence = vec![ev("e1", "h1", "host", "core/x/cpu", Strength::Weak, 3)];
    let conclude_on = |trigger: Trigger| {
        let mut s = s.clone();
        s.trigger = trigger;
        conclude(&ConclusionInput {
            session: &s,
            threshold: 0.6,
            budget_exhausted: false,
            dependencies: &Dependencies::default(),
        })
    };
    let alert = |severity: &str| Trigger::Alert {
        source: "alertmanager".into(),
        name: "HostBusy".into(),
        labels: [("severity".to_string(), severity.to_string())].into(),
        summary: String::new(),
        fingerprint: None,
        started_at: None,
    };
    // 0.50 graded by the alert + 0.10 culprit + 0.05 known
    let c = conclude_on(alert("warning"));
    assert_eq!(c.confidence, 0.65, "{:?}", c.reasons);
    assert!(
        c.reasons[0]
            .why
            .contains("the alert reports a problem on (it grades it)"),
        "{:?}",
        c.reasons
    );
    // An informational alert grades nothing: 0.30 weak + 0.15.
    assert_eq!(conclude_on(alert("info")).confidence, 0.45);
    // A question about the resource reports a problem on it, as the alert does; one about
    // something else does not.
    let q = conclude_on(Trigger::Question {
        text: "why is the host slow".into(),
    });
    assert_eq!(q.confidence, 0.65, "{:?}", q.reasons);
    assert!(
        q.reasons[0].why.contains("the question reports"),
        "{:?}",
        q.reasons
    );
    let mut other = s.clone();
    other.focus = vec!["shop".into()];
    other.trigger = Trigger::Question {
        text: "why is the shop slow".into(),
    };
    let elsewhere = conclude(&ConclusionInput {
        session: &other,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &Dependencies::default(),
    });
    assert_eq!(elsewhere.confidence, 0.45, "{:?}", elsewhere.reasons);
}

/// The session of a question about `shop`, whose root cause is on `pg`, with a rival finding
/// on `disk` from `task` whose last event was at `last_event` (none: a state).
fn question_with_rival(task: &str, last_event: Option<i64>) -> Session {
    let mut s = session();
    s.hypotheses[1].remedy.culprit = None;
    s.evidence.retain(|e| e.id != "e3");
    for e in &mut s.evidence {
        e.since = Some(Timestamp(1_000_000));
    }
    s.hypotheses
        .push(hyp("h4", None, "disk", HypothesisStatus::Confirmed));
    let mut rival = ev("e5", "h4", "disk", task, Strength::Strong, 1);
    rival.last_event_at = last_event.map(Timestamp);
    s.evidence.push(rival);
    s
}

fn shop_depends_on(names: &[&str]) -> Dependencies {
    let mut deps = Dependencies::default();
    for n in names {
        deps.insert("shop", *n);
    }
    deps
}

#[test]
fn a_rival_must_be_something_the_question_s_resources_depend_on() {
    let s = question_with_rival("core/x/df", None);
    let conclude_with = |deps: &Dependencies| {
        conclude(&ConclusionInput {
            session: &s,
            threshold: 0.6,
            budget_exhausted: false,
            dependencies: deps,
        })
    };
    // shop does not depend on disk: a finding there cannot explain what the question is about.
    let unrelated = conclude_with(&shop_depends_on(&["pg"]));
    assert_eq!(unrelated.confidence, 0.65, "{:?}", unrelated.reasons);
    assert!(
        unrelated.alternatives.is_empty(),
        "{:?}",
        unrelated.alternatives
    );
    // It does: a full rival.
    let related = conclude_with(&shop_depends_on(&["pg", "disk"]));
    assert_eq!(related.confidence, 0.5, "{:?}", related.reasons);
    assert!(related.alternatives.iter().any(|a| a.contains("disk")));
}

#[test]
fn for_a_question_naming_nothing_a_rival_must_be_something_the_explained_symptoms_depend_on() {
    let mut s = question_with_rival("core/x/df", None);
    s.focus.clear();
    let conclude_with = |s: &Session, deps: &Dependencies| {
        conclude(&ConclusionInput {
            session: s,
            threshold: 0.6,
            budget_exhausted: false,
            dependencies: deps,
        })
    };
    // pg explains the symptom on shop, which does not depend on disk: no rival.
    let unrelated = conclude_with(&s, &shop_depends_on(&["pg"]));
    assert_eq!(unrelated.confidence, 0.65, "{:?}", unrelated.reasons);
    // shop depends on disk too: a full rival.
    let related = conclude_with(&s, &shop_depends_on(&["pg", "disk"]));
    assert_eq!(related.confidence, 0.5, "{:?}", related.reasons);
    // No confirmed symptom: nothing says what the question is about, so anything can rival.
    s.hypotheses[0].status = HypothesisStatus::Pruned;
    s.hypotheses[1].parent = None;
    let unanchored = conclude_with(&s, &shop_depends_on(&["pg"]));
    assert!(
        unanchored.reasons.iter().any(|r| r.why.contains("disk")),
        "{:?}",
        unanchored.reasons
    );
}

#[test]
fn for_a_question_a_rival_over_well_before_the_checks_first_saw_its_problem_counts_little() {
    let deps = shop_depends_on(&["pg", "disk"]);
    let conclude_with = |s: &Session| {
        conclude(&ConclusionInput {
            session: s,
            threshold: 0.6,
            budget_exhausted: false,
            dependencies: &deps,
        })
    };
    // The checks first saw shop fail at 1,000,000: errors that ended more than five minutes
    // before are over before its problem began (a quarter of 0.15).
    let stale = conclude_with(&question_with_rival(
        "core/x/errors",
        Some(1_000_000 - 301_000),
    ));
    assert_eq!(stale.confidence, 0.61, "{:?}", stale.reasons);
    assert!(
        stale
            .reasons
            .iter()
            .any(|r| r.why.contains("disk (over before the problem began)")),
        "{:?}",
        stale.reasons
    );
    // Within the checks' lag, or with no first sight of a finding on the question's
    // resources, it is a full rival.
    let recent = conclude_with(&question_with_rival(
        "core/x/errors",
        Some(1_000_000 - 120_000),
    ));
    assert_eq!(recent.confidence, 0.5, "{:?}", recent.reasons);
    let mut unseen = question_with_rival("core/x/errors", Some(1_000_000 - 301_000));
    for e in &mut unseen.evidence {
        e.since = None;
    }
    assert_eq!(conclude_with(&unseen).confidence, 0.5);
    // A question that names nothing: the first sight of any current finding tells. Here the
    // finding on the named resource was seen later than the one on pg: the named one counts.
    let mut vague = question_with_rival("core/x/errors", Some(1_000_000 - 301_000));
    vague.focus.clear();
    assert_eq!(
        conclude_with(&vague).confidence,
        0.61,
        "{:?}",
        conclude_with(&vague).reasons
    );
    let mut named = question_with_rival("core/x/errors", Some(1_000_000 - 301_000));
    named.evidence[1].since = Some(Timestamp(1_000_000 - 200_000));
    assert_eq!(
        conclude_with(&named).confidence,
        0.61,
        "shop's finding, seen at 1,000,000"
    );
    named.focus.clear();
    assert_eq!(
        conclude_with(&named).confidence,
        0.5,
        "pg's, seen 200 s before"
    );
}

#[test]
fn two_findings_on_one_rival_resource_are_one_alternative() {
    let mut s = question_with_rival("core/x/df", None);
    s.hypotheses
        .push(hyp("h5", None, "disk", HypothesisStatus::Confirmed));
    s.evidence
        .push(ev("e6", "h5", "disk", "core/x/inodes", Strength::Strong, 1));
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &shop_depends_on(&["pg", "disk"]),
    });
    assert_eq!(c.confidence, 0.5, "{:?}", c.reasons);
    assert!(
        c.reasons.iter().any(|r| r
            .why
            .contains("1 other supported cause(s) it does not explain: disk")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn nothing_supported_concludes_nothing_found() {
    let mut s = session();
    s.evidence.retain(|e| e.strength == Strength::None);
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &Dependencies::default(),
    });
    assert_eq!(c.verdict, Verdict::NothingFound);
    assert!(c.root_cause.is_none());
}

#[test]
fn the_audit_alone_rebuilds_the_evidence_chain() {
    let s = session();
    let c = conclude(&ConclusionInput {
        session: &s,
        threshold: 0.6,
        budget_exhausted: false,
        dependencies: &Dependencies::default(),
    });
    let mut started = s.clone();
    started.hypotheses.clear();
    started.evidence.clear();
    let mut entries = vec![(
        AuditKind::SessionStarted,
        serde_json::to_value(&started).unwrap(),
    )];
    for h in &s.hypotheses {
        let mut formed = h.clone();
        formed.status = HypothesisStatus::Active;
        entries.push((
            AuditKind::HypothesisFormed,
            serde_json::to_value(&formed).unwrap(),
        ));
    }
    for e in &s.evidence {
        entries.push((AuditKind::Evidence, serde_json::to_value(e).unwrap()));
    }
    for h in &s.hypotheses {
        let kind = match h.status {
            HypothesisStatus::Confirmed => AuditKind::HypothesisConfirmed,
            HypothesisStatus::Pruned => AuditKind::HypothesisPruned,
            HypothesisStatus::Active => continue,
        };
        entries.push((kind, json!({"id": h.id})));
    }
    entries.push((AuditKind::Conclusion, serde_json::to_value(&c).unwrap()));
    let entries: Vec<AuditEntry> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (kind, data))| AuditEntry {
            session_id: "s1".into(),
            seq: i as u64 + 1,
            at: Timestamp(i as i64),
            kind,
            data,
        })
        .collect();
    // Through the JSONL text, as an export would be read.
    let jsonl: String = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    let read: Vec<AuditEntry> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let r = replay(&read).unwrap().session;
    let concl = r.conclusion.clone().unwrap();
    let root = concl.root_cause.as_ref().unwrap();
    assert_eq!(chain(&r, &root.hypothesis), c.chain);
    for link in &concl.chain {
        for e in &link.evidence {
            assert!(
                r.evidence
                    .iter()
                    .any(|x| &x.id == e && x.hypothesis == link.hypothesis)
            );
        }
    }
    assert!(replay(&read[1..]).is_err());
}

#[test]
fn attaching_a_hypothesis_under_its_own_descendant_is_seen_as_a_cycle() {
    let s = session();
    assert!(s.is_at_or_above("h1", "h2"));
    assert!(s.is_at_or_above("h2", "h2"));
    assert!(!s.is_at_or_above("h2", "h1"));
    assert!(!s.is_at_or_above("h3", "h2"));
    let mut cyclic = session();
    cyclic.hypotheses[0].parent = Some("h2".into());
    assert!(
        cyclic.is_at_or_above("nowhere", "h1"),
        "a corrupt tree counts as a cycle"
    );
}

#[test]
fn a_root_cause_without_a_fix_borrows_the_fix_of_another_failure_mode_confirmed_on_it() {
    let mut s = session();
    let mut down = hyp("h1", None, "pg", HypothesisStatus::Confirmed);
    down.remedy = Remedy::default();
    let mut stopped = hyp("h2", None, "pg", HypothesisStatus::Confirmed);
    stopped.remedy.task = Some("core/host/restart-service".into());
    let elsewhere = hyp("h3", None, "redis", HypothesisStatus::Confirmed);
    let unconfirmed = hyp("h4", None, "pg", HypothesisStatus::Active);
    s.hypotheses = vec![down.clone(), stopped, elsewhere, unconfirmed];
    s.evidence = vec![
        ev("e1", "h1", "pg", "core/x/up", Strength::Strong, 1),
        ev("e3", "h3", "redis", "core/x/ping", Strength::Strong, 1),
        ev("e4", "h4", "pg", "core/x/other", Strength::Strong, 1),
    ];
    // supported only weakly: not enough to borrow its fix
    s.evidence
        .push(ev("e2", "h2", "pg", "core/x/restarts", Strength::Weak, 3));
    assert_eq!(s.fix_on_same_resource(&down), None);
    s.evidence
        .push(ev("e5", "h2", "pg", "core/x/restarts", Strength::Strong, 2));
    let fix = s.fix_on_same_resource(&down).map(|h| h.id.as_str());
    assert_eq!(
        fix,
        Some("h2"),
        "the confirmed failure mode of pg, not redis's"
    );
}

#[test]
fn a_failure_whose_culprit_is_the_changed_resource_is_the_root_and_the_change_its_reason() {
    // shop-batch's configuration changed; following the Map through it, pg's connections are
    // exhausted and its evidence names the holder: batch, the changed application.
    let mut s = session();
    s.hypotheses.truncate(1);
    s.evidence.truncate(1);
    let mut change = hyp("h4", None, "shop-batch", HypothesisStatus::Confirmed);
    change.change = true;
    change.prior = 0.6;
    change.remedy.task = Some("core/p/rollback".into());
    change.remedy.culprit = Some("the change to {file}".into());
    s.hypotheses.push(change);
    s.hypotheses
        .push(hyp("h5", Some("h4"), "pg", HypothesisStatus::Confirmed));
    s.evidence.push(ev(
        "e5",
        "h4",
        "shop-batch",
        "core/p/config",
        Strength::Strong,
        2,
    ));
    s.evidence
        .push(ev("e6", "h5", "pg", "core/x/conns", Strength::Strong, 1));
    let mut deps = Dependencies::default();
    deps.insert("shop", "pg");
    deps.insert("shop-batch", "pg");
    let input = |s: &Session| {
        conclude(&ConclusionInput {
            session: s,
            threshold: 0.6,
            budget_exhausted: false,
            dependencies: &deps,
        })
    };
    let c = input(&s);
    let root = c.root_cause.as_ref().unwrap();
    assert_eq!(
        (root.hypothesis.as_str(), root.culprit.as_deref()),
        ("h5", Some("batch")),
        "{c:?}"
    );
    assert!(
        c.reasons
            .iter()
            .any(|r| r.why.starts_with("its culprit (batch) changed before it")),
        "{:?}",
        c.reasons
    );
    assert!(
        !c.reasons.iter().any(|r| r.why.contains("other supported")),
        "the change is no rival: {:?}",
        c.reasons
    );
    assert!(
        c.summary
            .contains("undo the culprit's change on shop-batch (core/p/rollback)"),
        "{}",
        c.summary
    );
    assert!(c.next_checks.iter().any(|n| n.contains("shop-batch")));
    let chain: Vec<&str> = c.chain.iter().map(|l| l.resource.as_str()).collect();
    assert_eq!(chain, ["shop-batch", "pg"]);

    // When the evidence names another application, the change explains the finding.
    for e in &mut s.evidence {
        e.facts.insert("app".into(), json!("reports"));
    }
    let c = input(&s);
    assert_eq!(
        c.root_cause.unwrap().resource,
        "shop-batch",
        "{:?}",
        c.reasons
    );
}

#[test]
fn a_question_stating_a_symptom_of_the_root_s_failure_mode_is_what_it_explains() {
    // One confirmed cause, nothing above it confirmed: 0.50 strong + 0.05 known failure mode.
    let lone = |text: &str, trigger: Option<Trigger>| {
        let mut s = session();
        s.trigger = trigger.unwrap_or(Trigger::Question { text: text.into() });
        let mut h = hyp("h1", None, "redis", HypothesisStatus::Confirmed);
        h.remedy = Remedy::default();
        h.symptoms = vec!["writes time out".into(), "hangs".into()];
        s.hypotheses = vec![h];
        s.evidence = vec![ev(
            "e1",
            "h1",
            "redis",
            "core/x/paused",
            Strength::Strong,
            2,
        )];
        conclude(&ConclusionInput {
            session: &s,
            threshold: 0.6,
            budget_exhausted: false,
            dependencies: &Dependencies::default(),
        })
    };
    let asked = lone("Checkout hangs for seconds and then fails, why?", None);
    assert_eq!(asked.confidence, 0.65, "{:?}", asked.reasons);
    assert!(
        asked.reasons.iter().any(|r| r.why.contains("\"hangs\"")),
        "{:?}",
        asked.reasons
    );
    // A question that states none of its symptoms, and an alert whose text does: no more.
    assert_eq!(lone("Checkout fails, why?", None).confidence, 0.55);
    let alert = Trigger::Alert {
        source: "alertmanager".into(),
        name: "CheckoutHangs".into(),
        labels: Default::default(),
        summary: "checkout hangs".into(),
        fingerprint: None,
        started_at: None,
    };
    assert_eq!(lone("", Some(alert)).confidence, 0.55);
}
