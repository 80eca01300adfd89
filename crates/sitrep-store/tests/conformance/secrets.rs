//! The secrets vault: encrypted records kept per workspace, replaced, deleted and re-keyed.

use sitrep_core::Timestamp;
use sitrep_core::secret::SecretRecord;
use sitrep_store::{EngineStore, StoreError};

fn secret(ws: &str, name: &str, nonce: &[u8], key: &str, at: i64) -> SecretRecord {
    SecretRecord {
        workspace: ws.into(),
        name: name.into(),
        nonce: nonce.to_vec(),
        // Bytes that are not UTF-8, so a text column would not round-trip them.
        ciphertext: vec![0, 0xff, 0xfe, nonce[0], 0x80],
        key_id: key.into(),
        created_at: Timestamp(at),
        updated_at: Timestamp(at),
    }
}

pub async fn secrets_round_trip_and_are_replaced_by_name(s: &dyn EngineStore) {
    s.put_secret(&secret("w", "pg", &[1; 24], "k1", 10))
        .await
        .unwrap();
    s.put_secret(&secret("w", "api", &[2; 24], "k1", 20))
        .await
        .unwrap();
    let list = s.list_secrets("w").await.unwrap();
    assert_eq!(
        list,
        vec![
            secret("w", "api", &[2; 24], "k1", 20),
            secret("w", "pg", &[1; 24], "k1", 10)
        ]
    );
    // Setting it again replaces the value and keeps its creation time.
    s.put_secret(&secret("w", "pg", &[3; 24], "k2", 30))
        .await
        .unwrap();
    let pg = s.get_secret("w", "pg").await.unwrap().unwrap();
    assert_eq!(
        (pg.nonce, pg.key_id.as_str(), pg.created_at, pg.updated_at),
        (vec![3; 24], "k2", Timestamp(10), Timestamp(30))
    );
    assert_eq!(s.list_secrets("w").await.unwrap().len(), 2);
    // Deleting returns what was deleted, once.
    let gone = s.delete_secret("w", "pg").await.unwrap().unwrap();
    assert_eq!(gone.name, "pg");
    assert!(s.delete_secret("w", "pg").await.unwrap().is_none());
    assert!(s.get_secret("w", "pg").await.unwrap().is_none());
}

pub async fn workspaces_never_see_each_others_secrets(s: &dyn EngineStore) {
    s.put_secret(&secret("a", "pg", &[1; 24], "k", 10))
        .await
        .unwrap();
    s.put_secret(&secret("b", "pg", &[2; 24], "k", 20))
        .await
        .unwrap();
    assert_eq!(
        s.get_secret("a", "pg").await.unwrap().unwrap().nonce,
        vec![1; 24]
    );
    assert_eq!(s.list_secrets("b").await.unwrap()[0].nonce, vec![2; 24]);
    assert!(s.list_secrets("c").await.unwrap().is_empty());
    assert!(s.get_secret("c", "pg").await.unwrap().is_none());
    // b deleting its own leaves a's.
    s.delete_secret("b", "pg").await.unwrap().unwrap();
    assert!(s.delete_secret("c", "pg").await.unwrap().is_none());
    assert!(s.get_secret("a", "pg").await.unwrap().is_some());
    // A rekey of b cannot touch a's secret of the same name.
    let a = s.get_secret("a", "pg").await.unwrap().unwrap();
    let moved = secret("b", "pg", &[9; 24], "k2", 10);
    assert!(s.rekey_secrets("b", &[(a.clone(), moved)]).await.is_err());
    assert_eq!(s.get_secret("a", "pg").await.unwrap().unwrap(), a);
}

pub async fn a_rekey_is_all_or_nothing(s: &dyn EngineStore) {
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        s.put_secret(&secret("w", name, &[i as u8 + 1; 24], "old", 10))
            .await
            .unwrap();
    }
    let before = s.list_secrets("w").await.unwrap();
    let rekeyed = |list: &[SecretRecord]| -> Vec<(SecretRecord, SecretRecord)> {
        list.iter()
            .map(|r| {
                let mut n = r.clone();
                n.nonce = vec![r.nonce[0] + 100; 24];
                n.key_id = "new".into();
                (r.clone(), n)
            })
            .collect()
    };
    // One of them changed since it was read: nothing is written.
    s.put_secret(&secret("w", "c", &[42; 24], "old", 20))
        .await
        .unwrap();
    let e = s.rekey_secrets("w", &rekeyed(&before)).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("run it again"), "{e}");
    let now = s.list_secrets("w").await.unwrap();
    assert!(now.iter().all(|r| r.key_id == "old"), "{now:?}");
    // Read again, it goes through, keeping names and times.
    s.rekey_secrets("w", &rekeyed(&now)).await.unwrap();
    let after = s.list_secrets("w").await.unwrap();
    assert!(after.iter().all(|r| r.key_id == "new"), "{after:?}");
    assert_eq!(after[2].nonce, vec![142; 24]);
    assert_eq!(after[2].updated_at, Timestamp(20));
}
