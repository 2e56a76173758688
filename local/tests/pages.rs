//! The pages the running server serves a person: the web client at `/` (every file of
//! `local/web/`, built into the binary) and the API docs at `/api/v1/docs/`, with their content
//! types, and nothing in them that would load from another server. And `HEAD`, which the pages
//! answer and the HTTP API's routes, on AWS, do not.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use support::Server;

/// The web client's sources.
fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Every file under `dir`, as paths relative to it with `/` separators.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                found.push(relative.to_str().unwrap().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

fn expected_type(file: &str) -> &'static str {
    match file.rsplit_once('.').unwrap().1 {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        other => panic!("a web client file of an unexpected kind: {file} ({other})"),
    }
}

/// The server's root URL (its API base without `/api/v1`).
fn root(server: &Server) -> String {
    server.base.strip_suffix("/api/v1").unwrap().to_owned()
}

/// GET `path` without following redirects: status, content type, body.
async fn get(server: &Server, path: &str) -> (StatusCode, String, Vec<u8>, Option<String>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!("{}{path}", root(server)))
        .send()
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let (content_type, location) = (header(CONTENT_TYPE).unwrap_or_default(), header(LOCATION));
    let status = response.status();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
        location,
    )
}

#[tokio::test]
async fn every_web_client_file_is_served_as_built_with_its_content_type_and_the_root_is_index_html()
{
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let files = files(&web_dir());
    assert!(files.contains(&"index.html".to_owned()), "{files:?}");
    let paths = files
        .iter()
        .map(|file| (format!("/{file}"), file.as_str()))
        .chain([("/".to_owned(), "index.html")]);

    for (path, file) in paths {
        let (status, content_type, body, _) = get(&server, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(content_type, expected_type(file), "{path}");
        assert_eq!(body, std::fs::read(web_dir().join(file)).unwrap(), "{path}");
    }
}

/// `HEAD` on an endpoint's path is what the `fallback` function answers it on AWS (no route of
/// the HTTP API takes it): 405 with the path's `Allow`, token or not; on the OpenAPI document, as
/// its `GET`. The local server's pages answer it as their `GET`.
#[tokio::test]
async fn head_is_answered_as_api_gateway_routes_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (access, _) = support::sockets::user(&support::Api::new(&server)).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let head = |path: String| client.head(path).bearer_auth(&access).send();
    for path in ["/tasks/", "/tasks", "/auth/profile/"] {
        let answer = head(format!("{}{path}", server.base)).await.unwrap();
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let allow = answer.headers()["allow"].to_str().unwrap();
        assert!(
            allow.contains("GET") && !allow.contains("HEAD"),
            "{path}: {allow}"
        );
    }
    let document = head(format!("{}/openapi.json", server.base)).await.unwrap();
    assert_eq!(document.status(), StatusCode::OK);
    let page = head(format!("{}/", root(&server))).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_api_docs_are_swagger_ui_over_the_served_document() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());

    let (status, _, _, location) = get(&server, "/api/v1/docs").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(location.as_deref(), Some("/api/v1/docs/"));

    let (status, content_type, body, _) = get(&server, "/api/v1/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("swagger-ui-bundle.js"), "{page}");

    let (status, content_type, body, _) = get(&server, "/api/v1/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/javascript"),
        "{content_type}"
    );
    let config = String::from_utf8(body).unwrap();
    assert!(
        config.contains(r#""url": "/api/v1/openapi.json""#),
        "{config}"
    );
    assert!(config.contains(r#""validatorUrl": "none""#), "{config}");

    for (asset, kind) in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
    ] {
        let (status, content_type, body, _) = get(&server, &format!("/api/v1/docs/{asset}")).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(content_type.starts_with(kind), "{asset}: {content_type}");
        assert!(body.len() > 10_000, "{asset} is the real file");
    }
    let (status, _, _, _) = get(&server, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "the document the docs read");
    // A file the docs do not have is the API's JSON 404, as any unknown path is.
    let (status, content_type, body, _) = get(&server, "/api/v1/docs/nope.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, br#"{"detail":"Not found."}"#);
}

/// Every `src=`, `href=`, `url(`, `from ` and `import(` in the web client, quoted with `"`, `'` or
/// a backtick or not quoted at all, names one of its own files (or an empty `data:` icon): the
/// page loads nothing from another server.
#[test]
fn the_web_client_loads_nothing_from_another_server() {
    let mut seen = 0;
    for file in files(&web_dir()) {
        let text = std::fs::read_to_string(web_dir().join(&file)).unwrap();
        for opener in ["src=", "href=", "url(", "from ", "import("] {
            for (at, _) in text.match_indices(opener) {
                let rest = text[at + opener.len()..].trim_start();
                let quote = rest
                    .chars()
                    .next()
                    .filter(|c| matches!(c, '"' | '\'' | '`'));
                let rest = quote.map_or(rest, |q| &rest[q.len_utf8()..]);
                let end = match quote {
                    Some(q) => rest.find(q),
                    None => rest.find([')', '>', ';', ',', ' ', '\n']),
                };
                let target = &rest[..end.unwrap_or(rest.len())];
                let own = !target.contains("//") && !target.contains(':');
                assert!(
                    own || target == "data:,",
                    "{file} loads {target:?} from elsewhere"
                );
                seen += 1;
            }
        }
    }
    assert!(
        seen > 10,
        "only {seen} references found: the scan is not reading the files"
    );
}

/// No other site may frame the web client or the API docs (clickjacking), and no browser may
/// sniff their files into another type: `frame-ancestors` works only in a header, not in the
/// page's own CSP meta tag.
#[tokio::test]
async fn no_other_site_may_frame_the_pages_and_no_browser_sniffs_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    for path in [
        "/",
        "/js/main.js",
        "/api/v1/docs/",
        "/api/v1/docs/swagger-ui.css",
    ] {
        let response = reqwest::get(format!("{}{path}", root(&server)))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            header("content-security-policy").as_deref(),
            Some("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
}
