//! Conformance cases of the engine's aggregates (approvals, sessions and their audit, issue
//! data), written over `&dyn EngineStore` so they hold for any implementation.

use serde_json::json;
use sitrep_core::approval::{ApprovalRecord, ApprovalStatus};
use sitrep_core::investigation::{
    AuditEntry, AuditKind, AuditLine, BudgetUse, Session, SessionStatus, Trigger,
};
use sitrep_core::{IssueDraft, Risk, RunStatus, Severity, TaskKind, TaskRun, Timestamp};
use sitrep_store::{ApprovalFilter, EngineStore, IssueFilter, RunResults};
use std::collections::BTreeMap;

fn approval(ws: &str, id: &str, at: i64, status: ApprovalStatus) -> ApprovalRecord {
    ApprovalRecord {
        id: id.into(),
        workspace: ws.into(),
        session_id: Some("s1".into()),
        task: "core/postgres/terminate-backend".into(),
        resource: "pg-main".into(),
        slx: Some("pg-main-health".into()),
        params: BTreeMap::from([("PID".into(), "42".into())]),
        risk: Risk::Medium,
        rollback: "nothing to undo".into(),
        reason: "blocks everyone".into(),
        status,
        requested_by: "assistant:default".into(),
        requested_at: Timestamp(at),
        decided_by: None,
        decided_at: None,
        note: None,
        expires_at: Timestamp(at + 1000),
        run_id: None,
    }
}

pub async fn approvals_round_trip(s: &dyn EngineStore) {
    let a = approval("w", "ap-1111", 10, ApprovalStatus::Pending);
    s.put_approval(&a).await.unwrap();
    s.put_approval(&approval("w", "ap-2222", 20, ApprovalStatus::Denied))
        .await
        .unwrap();
    s.put_approval(&approval("other", "ap-3333", 30, ApprovalStatus::Pending))
        .await
        .unwrap();
    assert_eq!(s.get_approval("w", "ap-1111").await.unwrap().unwrap(), a);
    assert_eq!(
        s.get_approval("w", "ap-1").await.unwrap().unwrap().id,
        "ap-1111"
    );
    // An ambiguous prefix and another workspace's id find nothing.
    assert!(s.get_approval("w", "ap-").await.unwrap().is_none());
    assert!(s.get_approval("w", "ap-3333").await.unwrap().is_none());

    let mut granted = a.clone();
    granted.status = ApprovalStatus::Granted;
    granted.decided_by = Some("user:ann".into());
    granted.decided_at = Some(Timestamp(15));
    s.put_approval(&granted).await.unwrap();
    assert_eq!(
        s.get_approval("w", "ap-1111").await.unwrap().unwrap(),
        granted
    );

    let all = s
        .list_approvals("w", &ApprovalFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["ap-2222", "ap-1111"]
    );
    let pending = s
        .list_approvals(
            "other",
            &ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    let on = s
        .list_approvals(
            "w",
            &ApprovalFilter {
                task_on: Some(("core/postgres/terminate-backend".into(), "pg-main".into())),
                status: Some(ApprovalStatus::Granted),
                session_id: Some("s1".into()),
                limit: Some(5),
            },
        )
        .await
        .unwrap();
    assert_eq!(on.len(), 1);
    // A record of one workspace cannot be overwritten through another's id.
    let mut hijack = approval("other", "ap-1111", 99, ApprovalStatus::Granted);
    hijack.reason = "hijack".into();
    let _ = s.put_approval(&hijack).await;
    assert_eq!(
        s.get_approval("w", "ap-1111").await.unwrap().unwrap(),
        granted
    );
}

fn session(ws: &str, id: &str, at: i64) -> Session {
    Session {
        id: id.into(),
        workspace: ws.into(),
        assistant: "default".into(),
        trigger: Trigger::Question {
            text: "why is checkout failing?".into(),
        },
        status: SessionStatus::Running,
        started_at: Timestamp(at),
        finished_at: None,
        focus: vec!["checkout".into()],
        hypotheses: vec![],
        evidence: vec![],
        conclusion: None,
        proposals: vec![],
        budget: BudgetUse::default(),
        knowledge: vec![],
        rules: vec![],
        follow_ups: vec![],
    }
}

pub async fn sessions_and_audit(s: &dyn EngineStore) {
    s.put_session(&session("w", "se-aaaa", 10)).await.unwrap();
    s.put_session(&session("w", "se-bbbb", 20)).await.unwrap();
    s.put_session(&session("other", "se-cccc", 30))
        .await
        .unwrap();
    let mut done = session("w", "se-aaaa", 10);
    done.status = SessionStatus::Concluded;
    done.finished_at = Some(Timestamp(15));
    s.put_session(&done).await.unwrap();
    assert_eq!(s.get_session("w", "se-a").await.unwrap().unwrap(), done);
    assert!(s.get_session("w", "se-cccc").await.unwrap().is_none());
    let list = s.list_sessions("w", 10).await.unwrap();
    assert_eq!(
        list.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["se-bbbb", "se-aaaa"]
    );

    let entry = |seq: u64, kind: AuditKind| AuditEntry {
        session_id: "se-bbbb".into(),
        seq,
        at: Timestamp(20 + seq as i64),
        kind,
        data: json!({"seq": seq, "text": "ünïcode ✓"}),
    };
    let line = |kind: AuditKind, n: u64| AuditLine {
        session_id: "se-bbbb".into(),
        at: Timestamp(20 + n as i64),
        kind,
        data: json!({"seq": n, "text": "ünïcode ✓"}),
    };
    for (n, kind) in [
        (1, AuditKind::SessionStarted),
        (2, AuditKind::Context),
        (3, AuditKind::Conclusion),
    ] {
        let stored = s.append_audit("w", line(kind, n)).await.unwrap();
        assert_eq!(stored, entry(n, kind), "numbered after the last line");
    }
    let trail = s.audit("w", "se-bbbb").await.unwrap();
    assert_eq!(
        trail,
        vec![
            entry(1, AuditKind::SessionStarted),
            entry(2, AuditKind::Context),
            entry(3, AuditKind::Conclusion)
        ]
    );
    assert!(s.audit("other", "se-bbbb").await.unwrap().is_empty());

    let interrupted = s.interrupt_sessions("w", Timestamp(99)).await.unwrap();
    assert_eq!(interrupted, ["se-bbbb"]);
    let b = s.get_session("w", "se-bbbb").await.unwrap().unwrap();
    assert_eq!(
        (b.status, b.finished_at),
        (SessionStatus::Interrupted, Some(Timestamp(99)))
    );
    assert_eq!(
        s.get_session("other", "se-cccc")
            .await
            .unwrap()
            .unwrap()
            .status,
        SessionStatus::Running
    );
}

pub async fn issue_data_round_trips(s: &dyn EngineStore) {
    let run = TaskRun::started(
        "r-data".into(),
        "w".into(),
        "core/postgres/x".into(),
        TaskKind::Health,
        "pg".into(),
        Timestamp(1),
    );
    s.start_run(&run, "test-host:boot:1:1").await.unwrap();
    let mut d = IssueDraft::new(Severity::MAJOR, "app leaks sessions");
    d.data = json!({"app": "batch", "conns": 27})
        .as_object()
        .unwrap()
        .clone();
    let mut fin = run.clone();
    fin.status = RunStatus::Succeeded;
    fin.finished_at = Some(Timestamp(2));
    s.finish_run(
        &fin,
        &RunResults {
            issues: vec![d.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let open = s.list_issues("w", &IssueFilter::default()).await.unwrap();
    assert_eq!(open[0].data, d.data);
}

fn note(id: &str, hash: &str) -> sitrep_core::knowledge::Note {
    use sitrep_core::knowledge::{Note, NoteCause, NoteKind, NoteOrigin};
    Note {
        workspace: "ignored".into(),
        id: id.into(),
        title: format!("note {id} ✓"),
        kind: NoteKind::PostMortem,
        services: vec!["pg-main".into()],
        symptoms: vec!["too many clients".into()],
        tags: vec!["postgres".into()],
        root_cause: Some(NoteCause {
            resource: "postgres".into(),
            statement: "the batch job held every connection".into(),
            checks: vec!["connections".into()],
        }),
        owner: None,
        body: "# Timeline\n\nünïcode body".into(),
        origin: NoteOrigin::Folder,
        path: format!("knowledge/{id}.md"),
        hash: hash.into(),
        updated_at: Timestamp(5),
    }
}

pub async fn knowledge_notes_are_kept_per_workspace(s: &dyn EngineStore) {
    s.put_notes(
        "w",
        &[
            note("pm/pool_2024", "h1"),
            note("pm/pool-2025", "h2"),
            note("rb-redis", "h3"),
        ],
    )
    .await
    .unwrap();
    s.put_notes("other", &[note("secret-note", "h9")])
        .await
        .unwrap();
    let list = s.list_notes("w").await.unwrap();
    assert_eq!(
        list.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["pm/pool-2025", "pm/pool_2024", "rb-redis"]
    );
    let mut expected = note("rb-redis", "h3");
    expected.workspace = "w".into();
    assert_eq!(list[2], expected);
    // Exact ids, unique prefixes (with the LIKE wildcards taken literally), and nothing else.
    assert_eq!(
        s.get_note("w", "pm/pool_").await.unwrap().unwrap().id,
        "pm/pool_2024"
    );
    assert_eq!(s.get_note("w", "rb").await.unwrap().unwrap().id, "rb-redis");
    assert!(s.get_note("w", "pm/").await.unwrap().is_none(), "ambiguous");
    assert!(s.get_note("w", "pm%").await.unwrap().is_none());
    assert!(s.get_note("w", "secret-note").await.unwrap().is_none());
    assert!(
        s.list_notes("other")
            .await
            .unwrap()
            .iter()
            .all(|n| n.workspace == "other")
    );
    // Replacing keeps one row with the new content.
    let mut changed = note("rb-redis", "h4");
    changed.body = "new".into();
    s.put_notes("w", &[changed]).await.unwrap();
    let got = s.get_note("w", "rb-redis").await.unwrap().unwrap();
    assert_eq!((got.hash.as_str(), got.body.as_str()), ("h4", "new"));
    assert_eq!(s.list_notes("w").await.unwrap().len(), 3);
    // Deleting another workspace's id deletes nothing.
    assert_eq!(
        s.delete_notes("w", &["secret-note".into()]).await.unwrap(),
        0
    );
    assert_eq!(
        s.delete_notes("w", &["rb-redis".into(), "pm/pool-2025".into()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.list_notes("w").await.unwrap().len(), 1);
    assert_eq!(s.list_notes("other").await.unwrap().len(), 1);
}

fn token(ws: &str, id: &str, hash: &str, at: i64) -> sitrep_core::access::TokenRecord {
    sitrep_core::access::TokenRecord {
        id: id.into(),
        workspace: ws.into(),
        name: format!("{id}-name"),
        role: sitrep_core::access::Role::Operator,
        hash: hash.into(),
        created_at: Timestamp(at),
        expires_at: Some(Timestamp(at + 1000)),
        revoked_at: None,
    }
}

pub async fn tokens_are_found_by_hash_and_revoked_per_workspace(s: &dyn EngineStore) {
    s.put_token(&token("a", "t1", "h1", 10)).await.unwrap();
    s.put_token(&token("a", "t2", "h2", 20)).await.unwrap();
    s.put_token(&token("b", "t3", "h3", 5)).await.unwrap();
    // The same secret twice is refused (the hash is unique).
    assert!(s.put_token(&token("b", "t4", "h1", 30)).await.is_err());

    let a = s.list_tokens("a").await.unwrap();
    assert_eq!(
        a.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t1", "t2"]
    );
    assert_eq!(
        a[0],
        token("a", "t1", "h1", 10),
        "round trip, hash included"
    );

    let found = s.token_by_hash("h3").await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), found.workspace.as_str()), ("t3", "b"));
    assert!(s.token_by_hash("nope").await.unwrap().is_none());

    // Workspace b cannot revoke a's token.
    assert!(
        s.revoke_token("b", "t1", Timestamp(50))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.token_by_hash("h1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let r = s
        .revoke_token("a", "t1", Timestamp(50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.revoked_at, Some(Timestamp(50)));
    // Revoking again keeps the first time.
    let again = s
        .revoke_token("a", "t1", Timestamp(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(Timestamp(50)));
    assert_eq!(
        s.token_by_hash("h1").await.unwrap().unwrap().revoked_at,
        Some(Timestamp(50))
    );
}

pub fn inbound(
    ws: &str,
    id: &str,
    at: i64,
    key: &str,
    session: Option<&str>,
) -> sitrep_core::intake::InboundEvent {
    use sitrep_core::intake::{InboundEvent, InboundStatus, Source};
    InboundEvent {
        id: id.into(),
        workspace: ws.into(),
        source: Source::Alertmanager,
        received_at: Timestamp(at),
        dedup_key: key.into(),
        firing: true,
        status: if session.is_some() {
            InboundStatus::Investigating
        } else {
            InboundStatus::Pending
        },
        session_id: session.map(Into::into),
        note: None,
        processed_at: None,
        payload: format!("{{\"id\": \"{id}\"}}"),
    }
}

pub async fn inbound_events_are_kept_found_by_key_and_per_workspace(s: &dyn EngineStore) {
    use sitrep_core::intake::InboundStatus;
    s.put_inbound(&[inbound("w", "e1", 10, "g1", Some("s1"))])
        .await
        .unwrap();
    // Several at once (a group commit), of any workspace.
    s.put_inbound(&[
        inbound("w", "e2", 20, "g1", None),
        inbound("w", "e3", 15, "g2", None),
        inbound("x", "e4", 30, "g1", Some("s9")),
    ])
    .await
    .unwrap();
    // The same id twice is refused: an event is stored once. A group with one refused event
    // stores none of it.
    assert!(
        s.put_inbound(&[inbound("w", "e1", 10, "g1", None)])
            .await
            .is_err()
    );
    assert!(
        s.put_inbound(&[
            inbound("w", "e5", 40, "g3", None),
            inbound("w", "e1", 10, "g1", None),
        ])
        .await
        .is_err()
    );
    assert!(
        s.get_inbound("w", "e5").await.unwrap().is_none(),
        "all or none"
    );

    let pending = s.inbound_in("w", InboundStatus::Pending, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["e3", "e2"]
    );
    assert_eq!(pending[1], inbound("w", "e2", 20, "g1", None), "round trip");

    let prior = s
        .latest_with_session("w", "g1", Timestamp(25))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prior.session_id.as_deref(), Some("s1"), "not x's s9");
    assert!(
        s.latest_with_session("w", "g1", Timestamp(5))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.latest_with_session("w", "g2", Timestamp(25))
            .await
            .unwrap()
            .is_none()
    );

    let mut e2 = pending[1].clone();
    e2.status = InboundStatus::Duplicate;
    e2.session_id = Some("s1".into());
    e2.note = Some("joined".into());
    s.update_inbound(std::slice::from_ref(&e2)).await.unwrap();
    assert_eq!(s.get_inbound("w", "e2").await.unwrap().unwrap(), e2);
    assert!(s.get_inbound("x", "e2").await.unwrap().is_none());
    assert_eq!(
        s.inbound_in("w", InboundStatus::Pending, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Several at once (the intake worker's batch), of any workspace.
    let mut e3 = pending[0].clone();
    e3.status = InboundStatus::Recorded;
    e3.note = Some("resolved".into());
    let mut e4 = s.get_inbound("x", "e4").await.unwrap().unwrap();
    e4.status = InboundStatus::Duplicate;
    s.update_inbound(&[e3.clone(), e4.clone()]).await.unwrap();
    assert_eq!(s.get_inbound("w", "e3").await.unwrap().unwrap(), e3);
    assert_eq!(s.get_inbound("x", "e4").await.unwrap().unwrap(), e4);
    assert!(
        s.inbound_in("w", InboundStatus::Pending, 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.update_inbound(&[]).await.unwrap();
    let all = s.list_inbound("w", 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["e2", "e3", "e1"]
    );
}

/// Writers that append to one session at once (a follow-up's steps, a delivery's note) each
/// get their own number, with no gap; a session is claimed for a follow-up by one of them.
pub async fn concurrent_audit_lines_are_numbered_apart(s: &dyn EngineStore) {
    s.put_session(&session("w", "se-race", 10)).await.unwrap();
    let line = |n: i64| AuditLine {
        session_id: "se-race".into(),
        at: Timestamp(n),
        kind: AuditKind::Note,
        data: json!({"n": n}),
    };
    let (a, b, c, d, e, f) = tokio::join!(
        s.append_audit("w", line(1)),
        s.append_audit("w", line(2)),
        s.append_audit("w", line(3)),
        s.append_audit("w", line(4)),
        s.append_audit("w", line(5)),
        s.append_audit("w", line(6)),
    );
    let mut seqs: Vec<u64> = [a, b, c, d, e, f]
        .into_iter()
        .map(|r| r.unwrap().seq)
        .collect();
    seqs.sort();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(s.audit("w", "se-race").await.unwrap().len(), 6);

    // A running session cannot be claimed; a concluded one can, once.
    assert!(!s.claim_session("w", "se-race").await.unwrap());
    let mut done = session("w", "se-race", 10);
    done.status = SessionStatus::Concluded;
    s.put_session(&done).await.unwrap();
    assert!(!s.claim_session("other", "se-race").await.unwrap());
    let (first, second) = tokio::join!(
        s.claim_session("w", "se-race"),
        s.claim_session("w", "se-race")
    );
    assert_eq!(
        [first.unwrap(), second.unwrap()]
            .iter()
            .filter(|c| **c)
            .count(),
        1
    );
    // Every reader sees the claim.
    let claimed = s.get_session("w", "se-race").await.unwrap().unwrap();
    assert_eq!(claimed.status, SessionStatus::Running);
    assert_eq!(
        s.list_sessions("w", 10).await.unwrap()[0].status,
        SessionStatus::Running
    );
}
