use crate::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sitrep_core::access::Role;
use sitrep_engine::Sitrep;

const GOOD_RULE: &str =
    "description: the nightly import\nmatch:\n  resource: pg-*\neffect:\n  known: true\n";
/// A regular expression that does not compile, on line 3.
const BAD_RULE: &str =
    "description: the nightly import\nmatch:\n  title: \"long(\"\neffect:\n  known: true\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_rule_is_saved_listed_and_read_back() {
    let s = Server::start("w").await;
    let (st, saved) = s
        .call(
            Method::PUT,
            "/api/v1/studio/rules/batch.yaml",
            Some(s.token(Role::Admin)),
            Some(json!({"text": GOOD_RULE})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{saved}");
    assert_eq!(
        (saved["file"].as_str(), saved["created"].as_bool()),
        (Some("rules/batch.yaml"), Some(true))
    );
    let on_disk = s.sitrep.workspace_dir().join("rules/batch.yaml");
    assert_eq!(std::fs::read_to_string(&on_disk).unwrap(), GOOD_RULE);
    // The engine reads it as every other edge does.
    assert_eq!(s.sitrep.rule("batch").await.unwrap().name, "batch");

    let (st, read) = s.get("/api/v1/studio/rules/batch.yaml", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK, "{read}");
    assert_eq!(read["text"], GOOD_RULE);
    assert_eq!(read["problems"], json!([]));
    let (st, list) = s.get("/api/v1/studio/rules", Role::Viewer).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["workspace"], "w");
    assert_eq!(list["files"][0]["name"], "batch.yaml");
    assert_eq!(list["files"][0]["problems"], 0);
    assert_eq!(list["files"][0]["size"], GOOD_RULE.len());

    // Saved again: a replacement, not a new file.
    let (st, saved) = s
        .call(
            Method::PUT,
            "/api/v1/studio/rules/batch.yaml",
            Some(s.token(Role::Admin)),
            Some(json!({"text": GOOD_RULE})),
        )
        .await;
    assert_eq!(
        (st, saved["created"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    // Deleted: gone from the folder and the listing.
    let (st, body) = s
        .call(
            Method::DELETE,
            "/api/v1/studio/rules/batch.yaml",
            Some(s.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(!on_disk.exists());
    let (st, body) = s.get("/api/v1/studio/rules/batch.yaml", Role::Viewer).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_rule_is_refused_with_its_line_and_field_and_nothing_is_written() {
    let s = Server::start("w").await;
    // Checking takes any role and names the line and field, and the file as the user knows it.
    let (st, check) = s
        .post(
            "/api/v1/studio/rules/batch.yaml/validate",
            Role::Viewer,
            json!({"text": BAD_RULE}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{check}");
    let p = &check["problems"][0];
    assert_eq!(
        (p["file"].as_str(), p["line"].as_u64(), p["field"].as_str()),
        (Some("rules/batch.yaml"), Some(3), Some("match.title")),
        "{check}"
    );
    assert!(!check.to_string().contains("sitrep-studio-"), "{check}");

    let (st, body) = s
        .call(
            Method::PUT,
            "/api/v1/studio/rules/batch.yaml",
            Some(s.token(Role::Admin)),
            Some(json!({"text": BAD_RULE})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "problems");
    assert_eq!(body["problems"][0]["line"], 3, "{body}");
    assert_eq!(body["problems"][0]["field"], "match.title", "{body}");
    assert_eq!(body["problems"][0]["file"], "rules/batch.yaml", "{body}");
    let rules = s.sitrep.workspace_dir().join("rules");
    let left: Vec<_> = std::fs::read_dir(&rules)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing written: {left:?}");

    // A YAML syntax error is located too; an unknown kind lists the kinds.
    let (_, check) = s
        .post(
            "/api/v1/studio/workflows/w.yaml/validate",
            Role::Viewer,
            json!({"text": "on: [\n"}),
        )
        .await;
    assert!(check["problems"][0]["line"].as_u64().is_some(), "{check}");
    let (st, body) = s.get("/api/v1/studio/slxs", Role::Viewer).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("rules, commands, workflows and knowledge"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_saves_and_names_cannot_leave_the_folder() {
    let s = Server::start("w").await;
    for role in [Role::Viewer, Role::Operator, Role::Approver] {
        let (st, body) = s
            .call(
                Method::PUT,
                "/api/v1/studio/rules/batch.yaml",
                Some(s.token(role)),
                Some(json!({"text": GOOD_RULE})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{role}: {body}");
        assert_error(&body, "forbidden");
    }
    assert!(!s.sitrep.workspace_dir().join("rules/batch.yaml").exists());
    for name in [
        "..%2Fx.yaml",
        "..%2F..%2Fsitrep.yaml",
        ".hidden.yaml",
        "batch",
    ] {
        let (st, body) = s
            .call(
                Method::PUT,
                &format!("/api/v1/studio/rules/{name}"),
                Some(s.token(Role::Admin)),
                Some(json!({"text": GOOD_RULE})),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_error(&body, "invalid");
    }
    let home = s.sitrep.home();
    assert!(!home.join("x.yaml").exists());
    assert_eq!(
        std::fs::read_to_string(home.join("sitrep.yaml")).unwrap(),
        crate::SETTINGS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_saved_in_the_studio_is_in_the_knowledge_at_once() {
    let s = Server::start("w").await;
    let note =
        "---\ntype: runbook\nservices: [checkout]\n---\n# Checkout restarts\n\nRestart it.\n";
    let (st, body) = s
        .call(
            Method::PUT,
            "/api/v1/studio/knowledge/checkout.md",
            Some(s.token(Role::Admin)),
            Some(json!({"text": note})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let notes = s.sitrep.knowledge_list().await.unwrap();
    assert_eq!(
        notes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["checkout"]
    );
    let (st, body) = s
        .post(
            "/api/v1/studio/knowledge/checkout.md/validate",
            Role::Viewer,
            json!({"text": "---\ntype: novel\n---\n# x\n"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["problems"][0]["field"], "type", "{body}");
    assert_eq!(body["problems"][0]["line"], 2, "{body}");
    let (st, _) = s
        .call(
            Method::DELETE,
            "/api/v1/studio/knowledge/checkout.md",
            Some(s.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(s.sitrep.knowledge_list().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_never_sees_another_workspaces_files() {
    // One home, two workspaces served by one server: each token edits its own folder.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("sitrep.yaml"), crate::SETTINGS).unwrap();
    let (a, _) = Sitrep::init(sitrep_engine::OpenOptions::new(home.path()))
        .await
        .unwrap();
    let mut opts = sitrep_engine::OpenOptions::new(home.path());
    opts.overrides.workspace = Some("b".into());
    let (b, _) = Sitrep::init(opts).await.unwrap();
    let s = Server::serve(
        home,
        a.clone(),
        sitrep_engine::Workspaces::open(a.clone()).unwrap(),
    )
    .await;
    let b_admin = b
        .create_token("b-admin", Role::Admin, None)
        .await
        .unwrap()
        .secret;
    let (st, body) = s
        .call(
            Method::PUT,
            "/api/v1/studio/rules/a-only.yaml",
            Some(s.token(Role::Admin)),
            Some(json!({"text": GOOD_RULE})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = s
        .call(
            Method::GET,
            "/api/v1/studio/rules/a-only.yaml",
            Some(&b_admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    assert!(!body.to_string().contains("nightly import"), "{body}");
    let (st, list) = s
        .call(Method::GET, "/api/v1/studio/rules", Some(&b_admin), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(
        (list["workspace"].as_str(), list["files"].clone()),
        (Some("b"), json!([]))
    );
    // b's delete of that name finds nothing to delete, and a's file stays.
    let (st, _) = s
        .call(
            Method::DELETE,
            "/api/v1/studio/rules/a-only.yaml",
            Some(&b_admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(a.workspace_dir().join("rules/a-only.yaml").exists());
    assert!(!b.workspace_dir().join("rules/a-only.yaml").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_another_file_has_is_a_problem_of_the_text_checked() {
    let s = Server::start("w").await;
    let named = |n: &str| format!("name: shared\n{}", GOOD_RULE.replace("nightly", n));
    let (st, body) = s
        .call(
            Method::PUT,
            "/api/v1/studio/rules/b.yaml",
            Some(s.token(Role::Admin)),
            Some(json!({"text": named("first")})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // a.yaml sorts before b.yaml, so the validator finds the name twice in b.yaml: the check
    // of a.yaml still says so, at a.yaml's own `name:` line.
    let (st, body) = s
        .call(
            Method::PUT,
            "/api/v1/studio/rules/a.yaml",
            Some(s.token(Role::Admin)),
            Some(json!({"text": named("second")})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let p = &body["problems"][0];
    assert_eq!(
        (p["file"].as_str(), p["line"].as_u64(), p["field"].as_str()),
        (Some("rules/a.yaml"), Some(1), Some("name")),
        "{body}"
    );
    assert!(
        p["message"].as_str().unwrap().contains("rules/b.yaml"),
        "{body}"
    );
    assert!(!body.to_string().contains("sitrep-studio-"), "{body}");
    assert!(!s.sitrep.workspace_dir().join("rules/a.yaml").exists());
    // Saving b.yaml again is not a clash with itself.
    let (st, body) = s
        .call(
            Method::PUT,
            "/api/v1/studio/rules/b.yaml",
            Some(s.token(Role::Admin)),
            Some(json!({"text": named("third")})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
}
