//! The Workspace Studio through the `sitrep` binary: knowledge add/search/list/show/rm that
//! survives restarts, `issues` read through a suppressing rule (marked with `--all`), rule
//! files validated with file:line:field, and a command whose bad arguments are refused.

use crate::harness::{Home, write};

/// A home whose collection `t` has a bundle `b` with a check raising one issue.
fn studio_home() -> Home {
    Home::with_collection(&[
        (
            "bundles/b/bundle.yaml",
            "name: b\nresource_type: http-service\ntasks:\n  - name: noisy\n    kind: health\n    type: bash\n    script: noisy.sh\n",
        ),
        (
            "bundles/b/noisy.sh",
            "#!/bin/bash\nsitrep emit issue --severity 3 --title 'queue depth above 10 on web'\n",
        ),
    ])
}

#[test]
fn knowledge_is_added_searched_listed_shown_and_removed_across_restarts() {
    let home = studio_home();
    let notes = home.dir.path().join("incoming");
    write(
        &notes.join("pool.md"),
        "---\ntype: post-mortem\nservices: [postgres]\nsymptoms: [too many clients]\nroot_cause: {resource: postgres, statement: a batch job held every connection}\n---\n# Checkout down\n## Timeline\nbatch started at 02:10\n",
    );
    write(
        &notes.join("dns.md"),
        "---\ntype: runbook\nservices: [dns]\n---\n# DNS\nresolvers time out\n",
    );
    // The workspace folder's notes count too.
    write(
        &home.dir.path().join("knowledge/teams/db.md"),
        "---\ntype: ownership\nservices: [postgres]\nowner: team-data\n---\nPage the data on-call.\n",
    );
    assert!(
        home.ok(&["knowledge", "add", notes.to_str().unwrap()])
            .contains("added pool (post-mortem)")
    );
    let hits = home.json(&["knowledge", "search", "db says too many clients", "--json"]);
    assert_eq!(hits[0]["id"], "pool", "{hits:#}");
    assert!(hits.as_array().unwrap().iter().all(|h| h["id"] != "dns"));
    // A new process finds the same index and notes.
    let list = home.json(&["knowledge", "list", "--json"]);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dns", "pool", "teams/db"]);
    assert!(
        home.ok(&["knowledge", "show", "teams/db"])
            .contains("owner: team-data")
    );
    // A folder note is removed by removing its file; an added one by `rm`.
    let out = home.sitrep(&["knowledge", "rm", "teams/db"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("delete or move that file"));
    home.ok(&["knowledge", "rm", "dns"]);
    std::fs::remove_file(home.dir.path().join("knowledge/teams/db.md")).unwrap();
    let list = home.json(&["knowledge", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        home.json(&["knowledge", "search", "page the data on-call", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A bad note is refused with its file, line and field; nothing is stored.
    write(
        &notes.join("bad.md"),
        "---\ntype: post-mortem\nservices: [x]\nsymptom: [y]\n---\n",
    );
    let out = home.sitrep(&["knowledge", "add", notes.join("bad.md").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.md:4: symptom: unknown field"), "{err}");
}

#[test]
fn a_suppressed_issue_leaves_the_listing_unless_all_and_rules_are_validated() {
    let home = studio_home();
    home.ok(&["run", "t/b/noisy", "--resource", "web"]);
    assert_eq!(
        home.json(&["issues", "--json"]).as_array().unwrap().len(),
        1
    );
    write(
        &home.dir.path().join("rules/queue-noise.yaml"),
        "description: queue depth alerts are noise during the nightly import\nmatch:\n  task: b/noisy\n  title: queue depth\neffect:\n  suppress: true\n",
    );
    assert_eq!(
        home.json(&["issues", "--json"]).as_array().unwrap().len(),
        0
    );
    assert!(home.ok(&["issues"]).contains("no open issues"));
    let all = home.json(&["issues", "--all", "--json"]);
    assert_eq!(all[0]["ruling"]["suppressed_by"], "queue-noise", "{all:#}");
    assert!(
        home.ok(&["issues", "--all"])
            .contains("[suppressed by queue-noise]")
    );
    let t = home.json(&["rules", "test", "queue-noise", "--json"]);
    assert_eq!(t["changes"][0]["effects"][0], "suppressed");
    assert!(home.ok(&["rules", "list"]).contains("queue-noise"));

    write(
        &home.dir.path().join("rules/broken.yaml"),
        "match:\n  severity: 7\neffect:\n  suppress: true\n",
    );
    let out = home.sitrep(&["rules", "validate"]);
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "broken.yaml:2: match.severity: severity must be 1 (critical) to 4 (info), got 7"
        ),
        "{text}"
    );
}

#[test]
fn a_command_with_bad_arguments_says_what_it_takes_and_runs_nothing() {
    let home = studio_home();
    write(
        &home.dir.path().join("commands/triage.yaml"),
        "params:\n  - name: window\n    type: duration\n    default: 15m\nsteps:\n  - task: t/b/noisy\n    resource: web\nquestion: what changed on web in the last {window}?\n",
    );
    assert!(home.ok(&["command", "list"]).contains("triage"));
    let out = home.sitrep(&["command", "run", "triage", "window=soon"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("command triage: window=\"soon\": not a duration (like 30s, 5m or 1h); it takes window=15m (duration, default)"), "{err}");
    let out = home.sitrep(&["investigate", "/triage", "when=now"]);
    assert_eq!(out.status.code(), Some(2), "a question is one argument");
    let out = home.sitrep(&["investigate", "/triage when=now"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no parameter \"when\""));
    assert_eq!(
        home.json(&["issues", "--json"]).as_array().unwrap().len(),
        0,
        "nothing ran"
    );
}

#[test]
fn a_follow_up_continues_the_session_it_names() {
    let home = studio_home();
    let first = home.json(&["investigate", "why is web failing?", "--json"]);
    let id = first["session"]["id"].as_str().unwrap().to_string();
    let again = home.json(&[
        "investigate",
        "--follow-up",
        &id[..8],
        "and web's checks?",
        "--json",
    ]);
    assert_eq!(again["session"]["id"], id.as_str(), "{again}");
    assert_eq!(
        again["session"]["follow_ups"][0]["text"], "and web's checks?",
        "{again}"
    );
    let shown = home.ok(&["sessions", &id[..8]]);
    assert!(shown.contains("Follow-up ("), "{shown}");
    // A follow-up is a question about a session, not an alert.
    let out = home.sitrep(&["investigate", "--follow-up", &id[..8], "--alert", "a.json"]);
    assert_eq!(out.status.code(), Some(2));
    let out = home.sitrep(&["investigate", "--follow-up", "nope", "why?"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no session \"nope\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
