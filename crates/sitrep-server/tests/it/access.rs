use crate::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sitrep_core::access::Role;

/// Every (method, path, role) of the document, path parameters filled with `id`.
async fn endpoints(s: &Server, id: &str) -> Vec<(Method, String, Role)> {
    let (st, doc) = s
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = vec![];
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (m, op) in ops.as_object().unwrap() {
            let Some(role) = op["x-sitrep-role"].as_str() else {
                assert_eq!(op["security"], json!([]), "{path}: public or with a role");
                continue;
            };
            let filled = regex_lite_fill(path, id);
            out.push((
                m.to_uppercase().parse().unwrap(),
                filled,
                role.parse().unwrap(),
            ));
        }
    }
    assert!(
        out.len() >= 20,
        "every endpoint is in the document: {out:?}"
    );
    out
}

fn regex_lite_fill(path: &str, id: &str) -> String {
    let mut s = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        let j = rest[i..].find('}').unwrap() + i;
        s.push_str(&rest[..i]);
        s.push_str(id);
        rest = &rest[j + 1..];
    }
    s.push_str(rest);
    s
}

fn body_for(m: &Method) -> Option<Value> {
    (m == Method::POST || m == Method::PUT).then(|| json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_a_wrong_one_or_a_revoked_one_is_refused_on_every_endpoint() {
    let s = Server::start("w").await;
    let revoked = s
        .sitrep
        .create_token("gone", Role::Admin, None)
        .await
        .unwrap();
    s.sitrep.revoke_token(&revoked.token.id).await.unwrap();
    let expired = s
        .sitrep
        .create_token(
            "old",
            Role::Admin,
            Some(std::time::Duration::from_millis(1)),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for (m, path, _) in endpoints(&s, "x").await {
        for (token, why) in [
            (None, "no token"),
            (Some("sitrep_not-a-token"), "unknown"),
            (Some(revoked.secret.as_str()), "revoked"),
            (Some(expired.secret.as_str()), "expired"),
        ] {
            let (st, body) = s.call(m.clone(), &path, token, body_for(&m)).await;
            assert_eq!(
                st,
                StatusCode::UNAUTHORIZED,
                "{m} {path} with {why}: {body}"
            );
            assert_error(&body, "unauthenticated");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_workspace_sees_and_changes_nothing() {
    // Two workspaces in one database: b's admin token against a's server.
    let a = Server::start("a").await;
    let b_home = tempfile::tempdir().unwrap();
    std::fs::write(b_home.path().join("sitrep.yaml"), crate::SETTINGS).unwrap();
    let mut opts = sitrep_engine::OpenOptions::new(b_home.path());
    opts.overrides.workspace = Some("b".into());
    opts.overrides.database_url = Some(a.sitrep.settings().database_url(a.sitrep.home()));
    let b = Sitrep::open(opts).unwrap();
    let foreign = b.create_token("intruder", Role::Admin, None).await.unwrap();

    // Something of a's to aim at: a session and a token id.
    let (st, session) = a
        .post(
            "/api/v1/sessions",
            Role::Operator,
            json!({"question": "is anything wrong?", "wait": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{session}");
    let target = session["id"].as_str().unwrap().to_string();
    let before = a.sitrep.tokens().await.unwrap();
    for id in [target.as_str(), before[0].id.as_str()] {
        for (m, path, _) in endpoints(&a, id).await {
            let (st, body) = a
                .call(m.clone(), &path, Some(&foreign.secret), body_for(&m))
                .await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{m} {path}: {body}");
            assert_error(&body, "forbidden");
            let text = body.to_string();
            assert!(!text.contains(&target), "{m} {path} leaked: {text}");
        }
    }
    // Nothing changed: a's tokens are as they were, and b cannot revoke them by id.
    assert_eq!(a.sitrep.tokens().await.unwrap(), before);
    assert!(b.revoke_token(&before[0].id).await.is_err());
    // And b sees none of a's sessions.
    assert!(b.sessions(100).await.unwrap().is_empty());
}

use sitrep_engine::Sitrep;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_takes_its_role_and_no_less() {
    let s = Server::start("w").await;
    for (m, path, needed) in endpoints(&s, "x").await {
        for role in Role::ALL {
            let (st, body) = s
                .call(m.clone(), &path, Some(s.token(role)), body_for(&m))
                .await;
            if role.allows(needed) {
                assert!(
                    st != StatusCode::FORBIDDEN && st != StatusCode::UNAUTHORIZED,
                    "{m} {path} as {role}: {st} {body}"
                );
                // Nothing a caller sends makes the server fail.
                assert!(!st.is_server_error(), "{m} {path} as {role}: {st} {body}");
            } else {
                assert_eq!(st, StatusCode::FORBIDDEN, "{m} {path} as {role}: {body}");
                assert_error(&body, "forbidden");
                assert!(
                    body["message"].as_str().unwrap().contains(needed.as_str()),
                    "{body}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_or_operator_cannot_approve_and_token_secrets_are_shown_once() {
    let s = Server::start("w").await;
    for role in [Role::Viewer, Role::Operator] {
        let (st, body) = s
            .post("/api/v1/approvals/anything/approve", role, json!({}))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        assert!(body["message"].as_str().unwrap().contains("approver"));
    }
    // An approver reaches the engine, which knows no such approval.
    let (st, body) = s
        .post(
            "/api/v1/approvals/anything/approve",
            Role::Approver,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_found");

    // An admin creates a token over the API: the secret is in that answer only.
    let (st, created) = s
        .post(
            "/api/v1/tokens",
            Role::Admin,
            json!({"name": "ci", "role": "operator"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(created.get("hash").is_none(), "{created}");
    let (st, who) = s
        .call(Method::GET, "/api/v1/workspace", Some(&secret), None)
        .await;
    assert_eq!(
        (st, who["role"].as_str()),
        (StatusCode::OK, Some("operator"))
    );
    let (_, list) = s.get("/api/v1/tokens", Role::Admin).await;
    let (_, metrics) = s.call(Method::GET, "/metrics", None, None).await;
    for text in [list.to_string(), metrics.to_string()] {
        assert!(!text.contains(&secret[7..]), "a secret leaked: {text}");
        for t in s.tokens.values() {
            assert!(!text.contains(&t[7..]), "a secret leaked: {text}");
        }
    }
    let id = created["id"].as_str().unwrap();
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(s.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = s
        .call(Method::GET, "/api/v1/workspace", Some(&secret), None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["message"].as_str().unwrap().contains("revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_serves_each_token_its_own_workspace_and_nothing_else() {
    // One home, two workspaces (`default` and `b`, whose folder `init` makes), one server.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("sitrep.yaml"), crate::SETTINGS).unwrap();
    let (a, _) = Sitrep::init(sitrep_engine::OpenOptions::new(home.path()))
        .await
        .unwrap();
    let mut opts = sitrep_engine::OpenOptions::new(home.path());
    opts.overrides.workspace = Some("b".into());
    let (b, _) = Sitrep::init(opts).await.unwrap();
    let names: Vec<String> = a
        .workspaces()
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["default", "b"]);
    let s = crate::Server::serve(
        home,
        a.clone(),
        sitrep_engine::Workspaces::open(a.clone()).unwrap(),
    )
    .await;
    let a_admin = s.token(Role::Admin).to_string();
    let b_admin = b
        .create_token("b-admin", Role::Admin, None)
        .await
        .unwrap()
        .secret;

    // Each token is answered in its own workspace.
    for (token, ws) in [(&a_admin, "default"), (&b_admin, "b")] {
        let (st, me) = s
            .call(Method::GET, "/api/v1/workspace", Some(token), None)
            .await;
        assert_eq!(
            (st, me["workspace"].as_str()),
            (StatusCode::OK, Some(ws)),
            "{me}"
        );
    }
    let mut sessions = vec![];
    for (token, question) in [
        (&a_admin, "is anything wrong?"),
        (&b_admin, "b-canary: is anything wrong?"),
    ] {
        let (st, session) = s
            .call(
                Method::POST,
                "/api/v1/sessions",
                Some(token),
                Some(json!({"question": question, "wait": true})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{session}");
        sessions.push(session["id"].as_str().unwrap().to_string());
    }
    let (b_session, a_session) = (sessions[1].clone(), sessions[0].clone());
    let (_, listed) = s
        .call(Method::GET, "/api/v1/sessions", Some(&b_admin), None)
        .await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(ids, [b_session.as_str()], "{listed}");

    // a's admin walks every endpoint aimed at b's session and token: nothing of b in any
    // answer, and b is as it was.
    let b_tokens = b.tokens().await.unwrap();
    for id in [b_session.as_str(), b_tokens[0].id.as_str()] {
        for (m, path, _) in endpoints(&s, id).await {
            let (st, body) = s.call(m.clone(), &path, Some(&a_admin), body_for(&m)).await;
            assert!(!st.is_server_error(), "{m} {path}: {st} {body}");
            // An error may echo the id asked for; nothing else of b's is in any answer.
            let text = body.to_string();
            assert!(
                !text.contains("b-canary"),
                "{m} {path} leaked b's session: {text}"
            );
            if st.is_success() {
                assert!(
                    !text.contains(&b_session),
                    "{m} {path} leaked b's session: {text}"
                );
            }
        }
    }
    assert_eq!(b.tokens().await.unwrap(), b_tokens);
    assert_eq!(b.sessions(100).await.unwrap().len(), 1);
    assert!(b.session(&a_session).await.is_err(), "b reads a's session");
    // Both are on /metrics.
    let (_, m) = s.call(Method::GET, "/metrics", None, None).await;
    let m = m.as_str().unwrap().to_string();
    for ws in ["default", "b"] {
        assert!(
            m.contains(&format!("sitrep_up{{workspace=\"{ws}\"}} 1")),
            "{m}"
        );
    }
    // A workspace created after the start is not served until the next one.
    let mut opts = sitrep_engine::OpenOptions::new(s.sitrep.home());
    opts.overrides.workspace = Some("late".into());
    let (late, _) = Sitrep::init(opts).await.unwrap();
    let t = late
        .create_token("late", Role::Viewer, None)
        .await
        .unwrap()
        .secret;
    let (st, body) = s.call(Method::GET, "/api/v1/issues", Some(&t), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "forbidden");
}
