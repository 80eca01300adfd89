use crate::{Server, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sitrep_core::access::Role;

const VALUE: &str = "api-canary-Jx3Rm8Qw2Tz5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_for_admins_only_and_never_read_back() {
    let s = Server::start("w").await;
    let body = json!({ "value": VALUE });
    for role in [Role::Viewer, Role::Operator, Role::Approver] {
        for (m, b) in [
            (Method::GET, None),
            (Method::PUT, Some(body.clone())),
            (Method::DELETE, None),
        ] {
            let path = if m == Method::GET {
                "/api/v1/secrets"
            } else {
                "/api/v1/secrets/pg"
            };
            let (st, res) = s.call(m.clone(), path, Some(s.token(role)), b).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{m} {path} as {role}: {res}");
            assert_error(&res, "forbidden");
            assert!(res["message"].as_str().unwrap().contains("admin"), "{res}");
        }
    }
    assert!(s.sitrep.secrets().await.unwrap().is_empty());

    let admin = Some(s.token(Role::Admin));
    let (st, set) = s
        .call(Method::PUT, "/api/v1/secrets/pg", admin, Some(body.clone()))
        .await;
    assert_eq!(st, StatusCode::OK, "{set}");
    assert_eq!(set["name"], "pg");
    let (st, list) = s.get("/api/v1/secrets", Role::Admin).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list[0]["name"], "pg");
    // Bad names and values are refused with what to fix, never repeating the value.
    for (path, b, code) in [
        ("/api/v1/secrets/a%20b", body.clone(), "invalid"),
        ("/api/v1/secrets/pg", json!({"value": "abc"}), "invalid"),
        (
            "/api/v1/secrets/pg",
            json!({"value": VALUE, "extra": 1}),
            "invalid",
        ),
    ] {
        let (st, res) = s.call(Method::PUT, path, admin, Some(b)).await;
        assert!(st.is_client_error(), "{path}: {st} {res}");
        assert_error(&res, code);
        assert!(!res.to_string().contains(VALUE), "{res}");
    }
    let (_, metrics) = s.call(Method::GET, "/metrics", None, None).await;
    let (_, doc) = s
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(
        doc["paths"]["/api/v1/secrets/{name}"]["put"]["x-sitrep-role"],
        "admin"
    );
    for text in [set.to_string(), list.to_string(), metrics.to_string()] {
        assert!(!text.contains(VALUE), "the value leaked: {text}");
    }
    let (st, gone) = s
        .call(Method::DELETE, "/api/v1/secrets/pg", admin, None)
        .await;
    assert_eq!((st, gone["name"].as_str()), (StatusCode::OK, Some("pg")));
    let (st, res) = s
        .call(Method::DELETE, "/api/v1/secrets/pg", admin, None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{res}");
    assert_error(&res, "not_found");
}
