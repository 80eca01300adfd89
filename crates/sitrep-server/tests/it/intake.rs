use crate::{Server, alertmanager_alert, assert_error, concluded};
use serde_json::{Value, json};
use sitrep_core::access::Role;
use sitrep_core::intake::InboundStatus;
use std::time::Duration;

async fn inbound(s: &Server) -> Vec<Value> {
    let (_, page) = s.get("/api/v1/inbound", Role::Viewer).await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_group_starts_one_investigation_and_its_resolution_is_recorded() {
    let s = Server::start("w").await;
    let hook = "/api/v1/hooks/alertmanager";
    let (st, first) = s
        .post(hook, Role::Operator, alertmanager_alert("g1", "firing"))
        .await;
    assert_eq!(st, reqwest::StatusCode::ACCEPTED, "{first}");
    assert_eq!(
        (first["status"].as_str(), first["dedup_key"].as_str()),
        (Some("pending"), Some("g1"))
    );
    let (st, _) = s
        .post(hook, Role::Operator, alertmanager_alert("g1", "firing"))
        .await;
    assert_eq!(st, reqwest::StatusCode::ACCEPTED);
    // A malformed payload is refused with the reason and kept for inspection.
    let (st, bad) = s
        .post(hook, Role::Operator, json!({"version": "4", "alerts": []}))
        .await;
    assert_eq!(st, reqwest::StatusCode::BAD_REQUEST, "{bad}");
    assert_error(&bad, "invalid");
    assert!(
        bad["message"].as_str().unwrap().contains("no alerts"),
        "{bad}"
    );

    // Nothing is handled until the worker runs (here: by hand).
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 2);
    let events = inbound(&s).await;
    assert_eq!(events.len(), 3, "{events:?}");
    // Requests may land in one millisecond: find the events by what became of them.
    let by = |f: &dyn Fn(&str) -> bool| {
        events
            .iter()
            .find(|e| f(e["status"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{events:?}"))
    };
    let rejected = by(&|st| st == "rejected");
    assert!(rejected["note"].as_str().unwrap().contains("no alerts"));
    let dup = by(&|st| st == "duplicate");
    let started = by(&|st| st == "investigating" || st == "investigated");
    let session = started["session_id"]
        .as_str()
        .expect("an investigation")
        .to_string();
    assert!(["investigating", "investigated"].contains(&started["status"].as_str().unwrap()));
    assert_eq!(dup["status"], "duplicate", "{dup}");
    assert_eq!(dup["session_id"], session.as_str());
    let done = concluded(&s, &session).await;
    let (_, sessions) = s.get("/api/v1/sessions", Role::Viewer).await;
    assert_eq!(
        sessions["total"], 1,
        "one investigation for the group: {sessions}"
    );
    assert_eq!(done["trigger"]["type"], "alert", "{done}");

    // The resolution is recorded against it, in the event and in the session's audit.
    let (st, _) = s
        .post(hook, Role::Operator, alertmanager_alert("g1", "resolved"))
        .await;
    assert_eq!(st, reqwest::StatusCode::ACCEPTED);
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 1);
    let resolved = &inbound(&s).await[0];
    assert_eq!(
        (resolved["status"].as_str(), resolved["session_id"].as_str()),
        (Some("recorded"), Some(session.as_str()))
    );
    let (_, audit) = s
        .get(&format!("/api/v1/sessions/{session}/audit"), Role::Viewer)
        .await;
    let last = audit.as_array().unwrap().last().unwrap();
    assert_eq!(last["kind"], "note", "{last}");
    assert_eq!(last["data"]["inbound_event"], resolved["id"]);
    // Another group is another investigation.
    s.post(hook, Role::Operator, alertmanager_alert("g2", "firing"))
        .await;
    s.sitrep.process_inbound().await.unwrap();
    let other = inbound(&s).await[0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(other, session);
    concluded(&s, &other).await;
    let (_, sessions) = s.get("/api/v1/sessions", Role::Viewer).await;
    assert_eq!(sessions["total"], 2, "{sessions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stored_while_no_worker_ran_are_handled_when_it_starts() {
    let s = Server::start("w").await;
    for g in ["a", "b", "a"] {
        let (st, _) = s
            .post(
                "/api/v1/hooks/alertmanager",
                Role::Operator,
                alertmanager_alert(g, "firing"),
            )
            .await;
        assert_eq!(st, reqwest::StatusCode::ACCEPTED);
    }
    assert!(inbound(&s).await.iter().all(|e| e["status"] == "pending"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let me = s.sitrep.clone();
    let worker = tokio::spawn(async move {
        me.intake_worker(async move {
            let _ = rx.await;
        })
        .await
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while inbound(&s).await.iter().any(|e| e["status"] == "pending") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            inbound(&s).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let statuses: Vec<String> = inbound(&s)
        .await
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        statuses.iter().filter(|x| *x == "duplicate").count(),
        1,
        "{statuses:?}"
    );
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .unwrap()
        .unwrap();
}

fn opsgenie(action: &str, alias: &str) -> Value {
    json!({
        "action": action, "integrationName": "sitrep", "integrationId": "i1",
        "source": {"name": "", "type": "web"},
        "alert": {"alertId": format!("id-{alias}"), "message": "Disk almost full on localhost",
                  "tags": ["instance:localhost", "disk"], "tinyId": "3", "entity": "localhost",
                  "alias": alias, "createdAt": 1796200000000i64, "username": "System",
                  "description": "/ is 97% full", "priority": "P2", "details": {}},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opsgenie_alias_starts_one_investigation_and_later_actions_are_recorded() {
    let s = Server::start("w").await;
    let hook = "/api/v1/hooks/opsgenie";
    for action in ["Create", "Create"] {
        let (st, r) = s
            .post(hook, Role::Operator, opsgenie(action, "disk-1"))
            .await;
        assert_eq!(st, reqwest::StatusCode::ACCEPTED, "{r}");
        assert_eq!(r["dedup_key"], "disk-1");
    }
    // An Alertmanager payload on the Opsgenie hook says which hook takes it.
    let (st, bad) = s
        .post(hook, Role::Operator, alertmanager_alert("g", "firing"))
        .await;
    assert_eq!(st, reqwest::StatusCode::BAD_REQUEST, "{bad}");
    assert!(
        bad["message"].as_str().unwrap().contains("takes opsgenie"),
        "{bad}"
    );
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 2);
    // Two requests may land in one millisecond: find them by what became of them.
    let events = inbound(&s).await;
    let with = |st: &str| events.iter().filter(|e| e["status"] == st).count();
    assert_eq!((with("duplicate"), with("rejected")), (1, 1), "{events:?}");
    let session = events
        .iter()
        .find(|e| e["status"] == "investigating" || e["status"] == "investigated")
        .and_then(|e| e["session_id"].as_str())
        .expect("an investigation")
        .to_string();
    let done = concluded(&s, &session).await;
    assert_eq!(done["trigger"]["source"], "opsgenie", "{done}");
    assert_eq!(done["trigger"]["labels"]["instance"], "localhost", "{done}");
    // An acknowledgement and the close are recorded against it, not investigated.
    for action in ["Acknowledge", "Close"] {
        let (st, _) = s
            .post(hook, Role::Operator, opsgenie(action, "disk-1"))
            .await;
        assert_eq!(st, reqwest::StatusCode::ACCEPTED);
    }
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 2);
    let events = inbound(&s).await;
    // Received within the same millisecond, their order is not defined: compare sorted.
    let mut notes: Vec<(&str, &str)> = events[..2]
        .iter()
        .map(|e| (e["status"].as_str().unwrap(), e["note"].as_str().unwrap()))
        .collect();
    notes.sort();
    assert_eq!(
        notes,
        [
            ("recorded", "opsgenie: Acknowledge"),
            ("recorded", "resolved")
        ]
    );
    assert!(
        events[..2]
            .iter()
            .all(|e| e["session_id"] == session.as_str())
    );
    let (_, sessions) = s.get("/api/v1/sessions", Role::Viewer).await;
    assert_eq!(sessions["total"], 1, "{sessions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_two_groups_across_batches_is_two_investigations() {
    let s = Server::start("w").await;
    let hook = "/api/v1/hooks/alertmanager";
    // 250 events (the worker reads 100 at a time): every fifth of group b, the rest of a,
    // then b resolves.
    for i in 0..250 {
        let g = if i % 5 == 4 { "b" } else { "a" };
        let (st, _) = s
            .post(hook, Role::Operator, alertmanager_alert(g, "firing"))
            .await;
        assert_eq!(st, reqwest::StatusCode::ACCEPTED);
    }
    s.post(hook, Role::Operator, alertmanager_alert("b", "resolved"))
        .await;
    assert_eq!(s.sitrep.process_inbound().await.unwrap(), 251);
    let events = s.sitrep.inbound(1000).await.unwrap();
    assert_eq!(events.len(), 251);
    let mut sessions = std::collections::BTreeMap::new();
    for e in events.iter().filter(|e| {
        e.status == InboundStatus::Investigating || e.status == InboundStatus::Investigated
    }) {
        assert!(
            sessions
                .insert(e.dedup_key.clone(), e.session_id.clone().unwrap())
                .is_none(),
            "a second investigation of {}",
            e.dedup_key
        );
    }
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let of = |st: InboundStatus| events.iter().filter(|e| e.status == st).count();
    assert_eq!(
        (of(InboundStatus::Duplicate), of(InboundStatus::Recorded)),
        (248, 1)
    );
    for e in &events {
        assert_eq!(
            e.session_id.as_ref(),
            Some(&sessions[&e.dedup_key]),
            "{e:?}"
        );
        assert!(e.processed_at.is_some());
    }
    for session in sessions.values() {
        concluded(&s, session).await;
    }
    let (_, listed) = s.get("/api/v1/sessions", Role::Viewer).await;
    assert_eq!(listed["total"], 2, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_alert_group_continues_its_investigation_and_a_repeat_does_not() {
    let s = Server::start("w").await;
    let hook = "/api/v1/hooks/alertmanager";
    s.post(hook, Role::Operator, alertmanager_alert("g1", "firing"))
        .await;
    s.sitrep.process_inbound().await.unwrap();
    let session = inbound(&s).await[0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    concluded(&s, &session).await;

    // The same alerts again, their annotations' values moved: a repeat.
    let mut repeat = alertmanager_alert("g1", "firing");
    repeat["alerts"][0]["annotations"]["summary"] = json!("disk almost full (97%)");
    s.post(hook, Role::Operator, repeat).await;
    s.sitrep.process_inbound().await.unwrap();
    let dup = &inbound(&s).await[0];
    assert_eq!(dup["status"], "duplicate", "{dup}");

    // Another alert joins the group: the session continues with it.
    let mut grown = alertmanager_alert("g1", "firing");
    grown["alerts"].as_array_mut().unwrap().push(json!({
        "status": "firing", "labels": {"alertname": "MemoryPressure", "instance": "localhost"},
        "annotations": {"summary": "memory pressure"}, "startsAt": "2026-12-02T10:05:00Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "f2"}));
    s.post(hook, Role::Operator, grown).await;
    s.sitrep.process_inbound().await.unwrap();
    let updated = inbound(&s).await[0].clone();
    assert_eq!(updated["status"], "updated", "{updated}");
    assert_eq!(updated["session_id"], session.as_str());
    // Its follow-up ends (a concluded session is claimed before the event is stored, so
    // waiting for "not running" cannot see the old conclusion).
    let done = concluded(&s, &session).await;
    let follow_ups = done["follow_ups"].as_array().unwrap();
    assert_eq!(follow_ups.len(), 1, "{done}");
    assert!(
        follow_ups[0]["text"]
            .as_str()
            .unwrap()
            .contains("MemoryPressure"),
        "{follow_ups:?}"
    );
    assert!(
        follow_ups[0]["by"]
            .as_str()
            .unwrap()
            .contains(updated["id"].as_str().unwrap()),
        "{follow_ups:?}"
    );
    let (_, sessions) = s.get("/api/v1/sessions", Role::Viewer).await;
    assert_eq!(sessions["total"], 1, "still one investigation: {sessions}");
    let (_, audit) = s
        .get(&format!("/api/v1/sessions/{session}/audit"), Role::Viewer)
        .await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "follow-up"),
        "{audit}"
    );
}
