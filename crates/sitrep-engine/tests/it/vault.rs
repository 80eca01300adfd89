//! The secrets vault through the engine: write-only, encrypted at rest, bound to its key,
//! re-keyed in one go, and handed to tasks as `secret:NAME` with their output redacted.

use sitrep_core::{RunStatus, Slx, Timestamp};
use sitrep_engine::vault::{VaultError, key_file};
use sitrep_engine::{EngineError, OpenOptions, Sitrep};
use sitrep_store::{SqlStore, Store};
use std::collections::BTreeMap;
use std::path::Path;

const CANARY: &str = "vault-canary-4Tq9ZrX2wLb7";

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A home with a collection `v` whose health task prints its TOKEN secret (redaction must
/// catch it) and its length (so the test knows the task got it), and an SLX `echo-vault`
/// that names the secret `secret:tok`.
async fn home() -> (tempfile::TempDir, Sitrep) {
    let dir = tempfile::tempdir().unwrap();
    let col = dir.path().join("col");
    write(&col.join("collection.yaml"), "name: v\n");
    write(
        &col.join("bundles/echo/bundle.yaml"),
        "name: echo\ndescription: prints its secret\nsecrets:\n  - name: TOKEN\ntasks:\n  - name: show\n    description: shows it\n    kind: health\n    type: bash\n    script: show.sh\n    interval: 1m\n",
    );
    write(
        &col.join("bundles/echo/show.sh"),
        "#!/bin/bash\necho \"token is $TOKEN\"\necho \"len=${#TOKEN}\"\necho \"to stderr: $TOKEN\" >&2\n",
    );
    write(
        &dir.path().join("sitrep.yaml"),
        &format!(
            "discovery:\n  host: {{enabled: false}}\ncollections:\n  - name: v\n    path: {}\n",
            col.display()
        ),
    );
    let mut opts = OpenOptions::new(dir.path());
    opts.sitrep_exe = None;
    let (sitrep, _) = Sitrep::init(opts).await.unwrap();
    let store = SqlStore::connect(&format!(
        "sqlite://{}",
        dir.path().join("sitrep.db").display()
    ))
    .await
    .unwrap();
    store
        .put_slx(
            &Slx {
                workspace: "default".into(),
                name: "echo-vault".into(),
                resource: "localhost".into(),
                bundle: "v/echo".into(),
                description: String::new(),
                tasks: vec![],
                config: BTreeMap::new(),
                secrets: BTreeMap::from([("TOKEN".to_string(), "secret:tok".to_string())]),
                stale: false,
                generated: None,
            },
            Timestamp(1),
        )
        .await
        .unwrap();
    store.close().await;
    (dir, sitrep)
}

/// Whether `needle` is in any file under `dir` (the database, its WAL, the key, run dirs).
fn anywhere(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(anywhere(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(p.display().to_string());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_secret_reaches_its_task_and_nothing_else() {
    let (dir, sitrep) = home().await;
    // Not set yet: the run is refused, saying where to put it.
    let e = sitrep.run_slx("echo-vault").await.unwrap_err().to_string();
    assert!(e.contains("\"tok\"") && e.contains("vault"), "{e}");

    let v = sitrep.set_secret("tok", CANARY).await.unwrap();
    assert_eq!(v.name, "tok");
    assert!(
        dir.path().join("vault.key").exists(),
        "the key is created on the first set"
    );
    let run = sitrep.run_slx("echo-vault").await.unwrap();
    assert!(run.problems.is_empty(), "{:?}", run.problems);
    let r = &run.runs[0].run;
    assert_eq!(r.status, RunStatus::Succeeded, "{r:?}");
    assert!(
        r.stdout.contains(&format!("len={}", CANARY.len())),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("[REDACTED:TOKEN]"), "{}", r.stdout);
    assert!(r.stderr.contains("[REDACTED:TOKEN]"), "{}", r.stderr);
    // Neither the answers nor any file of the home hold the value.
    let stored = sitrep.runs(10).await.unwrap();
    for text in [
        serde_json::to_string(&run).unwrap(),
        serde_json::to_string(&stored).unwrap(),
        serde_json::to_string(&sitrep.secrets().await.unwrap()).unwrap(),
    ] {
        assert!(!text.contains(CANARY), "{text}");
    }
    assert_eq!(anywhere(dir.path(), CANARY), Vec::<String>::new());

    // A reference in the settings wins over the vault.
    std::fs::write(dir.path().join("tok-file"), "from-the-settings").unwrap();
    let yaml = std::fs::read_to_string(dir.path().join("sitrep.yaml")).unwrap();
    std::fs::write(
        dir.path().join("sitrep.yaml"),
        format!(
            "{yaml}secrets:\n  tok: file:{}\n",
            dir.path().join("tok-file").display()
        ),
    )
    .unwrap();
    let mut opts = OpenOptions::new(dir.path());
    opts.sitrep_exe = None;
    let again = Sitrep::open(opts).unwrap();
    let run = again.run_slx("echo-vault").await.unwrap();
    let out = &run.runs[0].run.stdout;
    assert!(
        out.contains(&format!("len={}", "from-the-settings".len())),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_write_only_named_plainly_and_bound_to_their_key() {
    let (dir, sitrep) = home().await;
    for (name, value, says) in [
        ("a b", CANARY, "not a secret name"),
        ("tok", "abc", "at least"),
        ("tok", "abc\0defgh", "NUL"),
    ] {
        let e = sitrep.set_secret(name, value).await.unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, EngineError::Vault(VaultError::Invalid(_))),
            "{text}"
        );
        assert!(text.contains(says) && !text.contains(value), "{text}");
    }
    assert!(
        !dir.path().join("vault.key").exists(),
        "nothing set, no key made"
    );

    let first = sitrep.set_secret("tok", CANARY).await.unwrap();
    sitrep.set_secret("other", "second-value").await.unwrap();
    let again = sitrep.set_secret("tok", "third-value").await.unwrap();
    assert_eq!(again.created_at, first.created_at);
    let names: Vec<String> = sitrep
        .secrets()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["other", "tok"]);
    sitrep.delete_secret("other").await.unwrap();
    let e = sitrep.delete_secret("other").await.unwrap_err();
    assert!(matches!(e, EngineError::NotFound { .. }), "{e}");

    // Another key (say, a restored backup of the wrong file) is named as the problem.
    let key = dir.path().join("vault.key");
    let original = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let e = sitrep.run_slx("echo-vault").await.unwrap_err().to_string();
    assert!(e.contains("vault key is missing"), "{e}");
    let other = key_file(&key).await.unwrap();
    let e = sitrep.run_slx("echo-vault").await.unwrap_err().to_string();
    assert!(
        e.contains("stored with vault key") && e.contains(other.id()),
        "{e}"
    );
    assert!(!e.contains("third-value"), "{e}");
    std::fs::write(&key, &original).unwrap();
    assert!(sitrep.run_slx("echo-vault").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekey_moves_every_secret_to_the_new_key() {
    let (dir, sitrep) = home().await;
    sitrep.set_secret("tok", CANARY).await.unwrap();
    sitrep.set_secret("other", "second-value").await.unwrap();
    let new_path = dir.path().join("vault.key.new");
    let new = key_file(&new_path).await.unwrap();
    let r = sitrep.rekey_secrets(&new).await.unwrap();
    assert_eq!(
        (r.rekeyed, r.unchanged, r.key_id.as_str()),
        (2, 0, new.id())
    );
    // Until the new key is configured, the old one no longer opens them...
    let e = sitrep.run_slx("echo-vault").await.unwrap_err();
    assert!(
        matches!(e, EngineError::Vault(VaultError::WrongKey { .. })),
        "{e}"
    );
    // ...and once it is, they read as before.
    std::fs::rename(&new_path, dir.path().join("vault.key")).unwrap();
    let run = sitrep.run_slx("echo-vault").await.unwrap();
    let out = &run.runs[0].run.stdout;
    assert!(out.contains(&format!("len={}", CANARY.len())), "{out}");
    // Running it again changes nothing.
    let r = sitrep.rekey_secrets(&new).await.unwrap();
    assert_eq!((r.rekeyed, r.unchanged), (0, 2));
    assert_eq!(anywhere(dir.path(), CANARY), Vec::<String>::new());
}
