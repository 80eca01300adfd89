//! Conformance cases of deliveries: stored with the event that led to them in one
//! transaction, found when due, per workspace.

use sitrep_core::Timestamp;
use sitrep_core::delivery::{Delivery, DeliveryStatus};
use sitrep_core::intake::InboundStatus;
use sitrep_core::workflow::Target;
use sitrep_store::EngineStore;

fn delivery(ws: &str, id: &str, session: &str, next_at: i64) -> Delivery {
    Delivery {
        id: id.into(),
        workspace: ws.into(),
        workflow: "page".into(),
        session_id: session.into(),
        target: Target::Slack {
            webhook_url: "secret:SLACK".into(),
        },
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_at: Timestamp(next_at),
        next_at: Timestamp(next_at),
        delivered_at: None,
        last_error: None,
        slack_ts: None,
        thread_ts: None,
    }
}

pub async fn deliveries_are_stored_with_their_event_and_found_when_due(s: &dyn EngineStore) {
    let mut event = crate::engine::inbound("w", "e1", 10, "g1", None);
    s.put_inbound(std::slice::from_ref(&event)).await.unwrap();
    event.status = InboundStatus::Investigating;
    event.session_id = Some("s1".into());
    let batch = [
        delivery("w", "d1", "s1", 100),
        delivery("w", "d2", "s1", 50),
    ];
    s.put_deliveries(&batch, Some(&event)).await.unwrap();
    assert_eq!(s.get_inbound("w", "e1").await.unwrap().unwrap(), event);
    s.put_deliveries(&[delivery("x", "d3", "s9", 10)], None)
        .await
        .unwrap();

    // A failed batch stores nothing, the event's update included.
    let mut later = event.clone();
    later.status = InboundStatus::Failed;
    assert!(
        s.put_deliveries(
            &[delivery("w", "d4", "s1", 1), delivery("w", "d1", "s1", 1)],
            Some(&later)
        )
        .await
        .is_err(),
        "d1 again"
    );
    assert_eq!(s.get_inbound("w", "e1").await.unwrap().unwrap(), event);
    assert_eq!(s.list_deliveries("w", None, 10).await.unwrap().len(), 2);

    let due = s.due_deliveries("w", Timestamp(60), 10).await.unwrap();
    assert_eq!(due, [batch[1].clone()], "d2 only, and not x's d3");
    let due = s.due_deliveries("w", Timestamp(100), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["d2", "d1"]
    );

    let mut d2 = due[0].clone();
    d2.failed(Timestamp(100), "503 from the receiver".into());
    s.update_delivery(&d2).await.unwrap();
    let mut d1 = due[1].clone();
    d1.delivered(Timestamp(100));
    s.update_delivery(&d1).await.unwrap();
    assert!(
        s.due_deliveries("w", Timestamp(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.due_deliveries("w", Timestamp(200_000), 10).await.unwrap(),
        [d2.clone()],
        "retried after its backoff; the delivered one never again"
    );
    let listed = s.list_deliveries("w", Some("s1"), 10).await.unwrap();
    assert_eq!(listed, [d1, d2], "newest first");
    assert!(
        s.list_deliveries("w", Some("s9"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.list_deliveries("x", None, 10).await.unwrap().len(), 1);
}
