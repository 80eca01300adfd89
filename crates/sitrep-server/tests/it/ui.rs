//! The web UI's files: served at `/` and `/ui/...` without a token, with their content types
//! and a self-only Content-Security-Policy, and nothing in them loaded from the internet.

use crate::Server;
use reqwest::StatusCode;

async fn fetch(s: &Server, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let res = s
        .http
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn index_is_html_with_a_self_only_csp() {
    let s = Server::start("default").await;
    let (status, h, body) = fetch(&s, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&h, "content-type").starts_with("text/html"), "{h:?}");
    let csp = header(&h, "content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    assert!(
        body.contains("<script type=\"module\" src=\"/ui/app.js\">"),
        "{body}"
    );
}

#[tokio::test]
async fn every_asset_has_its_content_type_and_nothing_comes_from_the_internet() {
    let s = Server::start("default").await;
    let (_, _, index) = fetch(&s, "/").await;
    let mut files: Vec<(String, String)> = vec![("/".into(), index)];
    for (name, ty, _) in sitrep_server::ui::ASSETS {
        let path = format!("/ui/{name}");
        let (status, h, body) = fetch(&s, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&h, "content-type"), *ty, "{path}");
        let want = match name.rsplit('.').next().unwrap() {
            "js" => "text/javascript",
            "css" => "text/css",
            "svg" => "image/svg+xml",
            other => panic!("a UI file of an unexpected type: {other}"),
        };
        assert!(ty.starts_with(want), "{path}: {ty}");
        assert!(header(&h, "content-security-policy").contains("default-src 'self'"));
        files.push((path, body));
    }
    for (path, body) in &files {
        // The SVG namespace is a name, not something fetched.
        let text = body.replace("http://www.w3.org/2000/svg", "");
        for scheme in ["http://", "https://", "//fonts.", "@import"] {
            assert!(
                !text.contains(scheme),
                "{path} refers to {scheme}: nothing may load from elsewhere"
            );
        }
    }
    // Every file the page and its modules name is served.
    for (path, body) in &files {
        for cap in body
            .split("/ui/")
            .skip(1)
            .chain(body.split("from './").skip(1))
        {
            let name: String = cap
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            assert!(
                sitrep_server::ui::ASSETS.iter().any(|(n, _, _)| *n == name),
                "{path} names {name:?}, which is not served"
            );
        }
    }
}

#[tokio::test]
async fn an_unknown_ui_file_is_404_and_the_api_still_wants_a_token() {
    let s = Server::start("default").await;
    let (status, _, body) = fetch(&s, "/ui/x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    crate::assert_error(&v, "not_found");
    let (status, _, _) = fetch(&s, "/ui/../api/v1/issues").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = fetch(&s, "/api/v1/workspace").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
