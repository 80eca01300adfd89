//! A secret's derived forms (hex in both cases, percent-encoded, JSON-escaped, split across
//! lines, base64 inside a longer stream) never reach what the runner returns or the store
//! keeps, database files included.

use super::Home;
use sitrep_core::TaskRef;
use sitrep_runner::RunRequest;
use sitrep_store::{IssueFilter, Store};
use std::collections::BTreeMap;

const BUNDLE: &str = "name: leak
secrets:
  - name: TOKEN
tasks:
  - name: leak
    kind: diagnostic
    type: bash
    script: leak.sh
";

/// Prints the token in every form, to stdout, stderr and each kind of result.
const LEAK: &str = r#"set -eu
hex=$(printf %s "$TOKEN" | od -An -tx1 | tr -d ' \n')
HEX=$(printf %s "$hex" | tr a-f A-F)
url=$(printf %s "$TOKEN" | od -An -tx1 | tr -d '\n' | sed 's/ /%/g')
json=$(printf %s "$TOKEN" | sed 's/"/\\"/g')
half=${#TOKEN}; half=$((half / 2))
stream=$(printf 'user=alice;token=%s;end' "$TOKEN" | base64 -w0)
echo "hex $hex HEX $HEX url $url"
printf 'split %s\n%s\n' "${TOKEN:0:$half}" "${TOKEN:$half}"
echo "stream $stream"
echo "err $HEX $url" >&2
printf '{"type":"issue","severity":2,"title":"leaky %s","details":"%s","next_steps":"%s"}\n' "$hex" "$json" "$url" >> "$SITREP_RESULTS"
printf '{"type":"insight","text":"insight %s","data":{"k":"%s"}}\n' "$HEX" "$url" >> "$SITREP_RESULTS"
printf '{"type":"metric","name":"m","value":1,"labels":{"l":"%s"}}\n' "$hex" >> "$SITREP_RESULTS"
printf '{"type":"report","text":"report %s %s"}\n' "$url" "$stream" >> "$SITREP_RESULTS"
exit 7
"#;

fn forms(secret: &str) -> Vec<String> {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let url: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
    let half = secret.len() / 2;
    vec![
        secret.to_string(),
        hex.to_uppercase(),
        hex,
        url,
        secret[..half].to_string() + "\n" + &secret[half..],
        // the part of the stream's base64 that only the token's bytes determine
        {
            use base64::Engine;
            let stream = base64::engine::general_purpose::STANDARD
                .encode(format!("user=alice;token={secret};end"));
            stream[24..24 + 4 * (secret.len() / 3) - 4].to_string()
        },
    ]
}

#[tokio::test]
async fn no_form_of_a_secret_reaches_the_run_the_results_or_the_database() {
    let secret = "tok-\"q9/Zx7 wP3mL8vR2\"";
    let home = Home::new(&[("leak", BUNDLE, &[("leak.sh", LEAK)])]).await;
    let runner = home.runner(home.config());
    let out = runner
        .run(RunRequest {
            task: TaskRef::new("t", "leak", "leak"),
            resource: "api".into(),
            slx: None,
            config: BTreeMap::new(),
            secrets: BTreeMap::from([("TOKEN".to_string(), secret.to_string())]),
            approval: None,
        })
        .await
        .unwrap();
    assert!(
        out.run
            .stdout
            .contains("hex [REDACTED:TOKEN] HEX [REDACTED:TOKEN]"),
        "the task did print them: {}",
        out.run.stdout
    );
    let stored = home.store.get_run("w", &out.run.id).await.unwrap().unwrap();
    let issues = home
        .store
        .list_issues("w", &IssueFilter::default())
        .await
        .unwrap();
    let insights = home.store.current_insights("w").await.unwrap();
    let mut seen = vec![
        ("run".to_string(), serde_json::to_string(&out.run).unwrap()),
        ("stored run".into(), serde_json::to_string(&stored).unwrap()),
        ("issues".into(), serde_json::to_string(&issues).unwrap()),
        ("insights".into(), serde_json::to_string(&insights).unwrap()),
        ("results".into(), format!("{:?}", out.results)),
    ];
    drop(runner);
    home.store.close().await;
    for f in ["sitrep.db", "sitrep.db-wal"] {
        if let Ok(bytes) = std::fs::read(home.dir.path().join(f)) {
            seen.push((f.into(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    // also as JSON would show them: the split form's newline escaped
    for form in forms(secret) {
        let escaped = serde_json::to_string(&form).unwrap();
        let escaped = &escaped[1..escaped.len() - 1];
        for (what, text) in &seen {
            assert!(!text.contains(&form), "{form:?} found in {what}");
            assert!(!text.contains(escaped), "{escaped:?} found in {what}");
        }
    }
}

#[tokio::test]
async fn a_secret_given_as_a_file_is_a_private_file_in_the_run_directory_on_a_path_without_colons()
{
    const FILE_BUNDLE: &str = "name: f
secrets:
  - name: KUBECONFIG
    as: file
tasks:
  - name: f
    kind: diagnostic
    type: bash
    script: f.sh
";
    // KUBECONFIG is a colon-separated list: the path must hold no colon
    const SCRIPT: &str = r#"case "$KUBECONFIG" in *:*) echo "a colon: $KUBECONFIG";; esac
case "$KUBECONFIG" in "$SITREP_RUN_DIR"/*) echo inside;; *) echo "outside: $KUBECONFIG";; esac
stat -c %a "$KUBECONFIG"
wc -c < "$KUBECONFIG"
"#;
    let home = Home::new(&[("f", FILE_BUNDLE, &[("f.sh", SCRIPT)])]).await;
    let runner = home.runner(home.config());
    let out = runner
        .run(RunRequest {
            task: TaskRef::new("t", "f", "f"),
            resource: "k8s".into(),
            slx: None,
            config: BTreeMap::new(),
            secrets: BTreeMap::from([("KUBECONFIG".to_string(), "apiVersion: v1\n".to_string())]),
            approval: None,
        })
        .await
        .unwrap();
    assert_eq!(out.run.stdout, "inside\n600\n15\n", "{:?}", out.run);
}
