//! The pages a person opens: the web client at `/` (the files of `local/web/`, built into the
//! binary) and interactive API docs at [`DOCS`] (Swagger UI, vendored by `utoipa-swagger-ui`)
//! over the served OpenAPI document. Nothing on either page is fetched from another server.

use axum::Router;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shared::error::Error;
use shared::http::openapi::OPENAPI;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the API docs are served.
pub const DOCS: &str = "/api/v1/docs";

/// The web client's files, by their path under `local/web/`; each is served at `/<path>`, and
/// `index.html` at `/` too.
macro_rules! web_files {
    ($($path:literal),+ $(,)?) => {
        &[$(($path, include_bytes!(concat!("../web/", $path)))),+]
    };
}

const WEB_CLIENT: &[(&str, &[u8])] = web_files![
    "index.html",
    "style.css",
    "js/main.js",
    "js/settings.js",
    "js/session.js",
    "js/live.js",
    "js/tasks.js",
    "js/editor.js",
    "js/view.js",
];

/// Whether `path` is one of these pages or their files, which only the local server serves.
pub fn serves(path: &str) -> bool {
    path == "/"
        || path.starts_with(DOCS)
        || WEB_CLIENT
            .iter()
            .any(|(file, _)| path.strip_prefix('/') == Some(file))
}

/// The content type of a web client file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The web client and the API docs, for the local server to merge with the API.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let client = WEB_CLIENT
        .iter()
        .fold(Router::new(), |router, &(path, bytes)| {
            let file = get(move || async move { ([(CONTENT_TYPE, content_type(path))], bytes) });
            let router = router.route(&format!("/{path}"), file.clone());
            if path == "index.html" {
                router.route("/", file)
            } else {
                router
            }
        });
    // The UI reads the document the server already serves; "none" keeps Swagger UI from sending
    // it to an online validator.
    let docs = SwaggerUi::new(DOCS).config(Config::new([OPENAPI]).validator_url("none"));
    // Swagger UI answers a file it does not have with an empty 404; the API answers JSON.
    let docs = Router::from(docs).layer(axum::middleware::map_response(json_not_found));
    client
        .merge(docs)
        .layer(axum::middleware::map_response(page_headers))
}

/// Every page and its files: taken for the type they say, never sniffed, and framed by no other
/// site (clickjacking). `frame-ancestors` is honoured only in a header, not in a page's own CSP
/// meta tag; `X-Frame-Options` says the same to older browsers.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        (X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The API's JSON 404 in place of a bare one.
async fn json_not_found(response: Response) -> Response {
    if response.status() == StatusCode::NOT_FOUND {
        return Error::NotFound("Not found.").into_response();
    }
    response
}
