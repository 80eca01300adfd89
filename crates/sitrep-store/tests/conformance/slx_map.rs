//! SLXs and the map: what is written is read back.

use super::*;

pub async fn slxs_round_trip(s: &SqlStore) {
    let mut slx = Slx {
        workspace: "w".into(),
        name: "pg-main".into(),
        resource: "pg-main".into(),
        bundle: "core/postgres".into(),
        description: String::new(),
        tasks: vec![SlxTask {
            task: "idle".into(),
            interval: Some("30s".into()),
        }],
        config: BTreeMap::from([("PG_DSN".to_string(), "postgres://x".to_string())]),
        secrets: BTreeMap::from([("PGPASSWORD".to_string(), "env:PGPASS".to_string())]),
        stale: false,
        generated: None,
    };
    s.put_slx(&slx, Timestamp(1)).await.unwrap();
    slx.stale = true;
    s.put_slx(&slx, Timestamp(2)).await.unwrap();
    let got = s.list_slxs("w").await.unwrap();
    assert_eq!(got, vec![slx.clone()]);
    assert_eq!(s.get_slx("w", "pg-main").await.unwrap(), Some(slx));
    assert_eq!(s.get_slx("other", "pg-main").await.unwrap(), None);
    assert!(s.list_slxs("other").await.unwrap().is_empty());
    assert!(s.delete_slx("w", "pg-main").await.unwrap());
    assert!(!s.delete_slx("w", "pg-main").await.unwrap());
}

pub async fn map_round_trip(s: &SqlStore) {
    use sitrep_core::map::{Edge, EdgeKind, Resource, StoredEdge, StoredMap, StoredResource};
    // More than one insert chunk, so batching is exercised.
    let resources: Vec<StoredResource> = (0..1203)
        .map(|i| {
            let mut r = Resource::new(
                format!("k8s:c/pod/ns/p{i:05}"),
                "k8s-pod",
                format!("ns/p{i}"),
            )
            .with_prop("namespace", "ns");
            r.labels.insert("app".into(), format!("a{}", i % 7));
            r.sources.push("kubernetes".into());
            StoredResource {
                resource: r,
                stale: i % 100 == 0,
                first_seen: Timestamp(i),
                last_seen: Timestamp(5000 + i),
            }
        })
        .collect();
    let edges: Vec<StoredEdge> = (1..1203)
        .map(|i| StoredEdge {
            edge: Edge::new(
                format!("k8s:c/pod/ns/p{:05}", i - 1),
                format!("k8s:c/pod/ns/p{i:05}"),
                if i % 2 == 0 {
                    EdgeKind::DependsOn
                } else {
                    EdgeKind::Owns
                },
            ),
            last_seen: Timestamp(i),
        })
        .collect();
    let map = StoredMap { resources, edges };
    s.replace_map("w", &map).await.unwrap();
    assert_eq!(s.load_map("w").await.unwrap(), map);
    assert_eq!(s.load_map("other").await.unwrap(), StoredMap::default());
    // Replacing drops what is no longer there and touches no other workspace.
    s.replace_map(
        "other",
        &StoredMap {
            resources: map.resources[..1].to_vec(),
            edges: vec![],
        },
    )
    .await
    .unwrap();
    let small = StoredMap {
        resources: map.resources[..2].to_vec(),
        edges: map.edges[..1].to_vec(),
    };
    s.replace_map("w", &small).await.unwrap();
    assert_eq!(s.load_map("w").await.unwrap(), small);
    assert_eq!(s.load_map("other").await.unwrap().resources.len(), 1);

    // Many SLXs in one call.
    let slxs: Vec<Slx> = (0..3)
        .map(|i| Slx {
            workspace: "w".into(),
            name: format!("s{i}"),
            resource: format!("r{i}"),
            bundle: "core/redis".into(),
            description: String::new(),
            tasks: vec![],
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            stale: false,
            generated: None,
        })
        .collect();
    s.put_slxs(&slxs, Timestamp(1)).await.unwrap();
    assert_eq!(s.list_slxs("w").await.unwrap(), slxs);
}
