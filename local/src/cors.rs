//! CORS as API Gateway applies it on AWS: the settings `template.yaml` gives the HTTP API, read
//! once at start, on preflights and on real responses, so a page on another origin behaves locally
//! as it will against the deployed stack (where API Gateway answers preflights itself); and any
//! other `OPTIONS` answered 204 with no body, as the stack's `fallback` function answers it.

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use testkit::cors::{CorsSettings, cors_settings};
use testkit::schema::TEMPLATE;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `app` with the template's CORS settings, with `origins` in place of the `CorsAllowOrigins`
/// parameter's default when given (as a deploy may override that parameter).
pub fn wrap(app: Router, origins: Option<&[String]>) -> anyhow::Result<Router> {
    let mut settings = cors_settings(TEMPLATE)?;
    if let Some(origins) = origins {
        settings.allow_origins = origins.to_vec();
    }
    Ok(app
        .layer(build(&settings)?)
        .layer(axum::middleware::from_fn(no_content_preflight)))
}

/// Makes the CORS layer's answer to `OPTIONS` (a 200, preflight or not: it answers every
/// `OPTIONS` itself) the 204 the stack answers, keeping its headers. Its body is already empty.
async fn no_content_preflight(request: Request, next: Next) -> Response {
    let options = request.method() == Method::OPTIONS;
    let mut response = next.run(request).await;
    if options && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

fn build(settings: &CorsSettings) -> anyhow::Result<CorsLayer> {
    let headers = |names: &[String]| -> anyhow::Result<Vec<HeaderName>> {
        names
            .iter()
            .map(|name| HeaderName::try_from(name.as_str()).context("a CORS header name"))
            .collect()
    };
    let methods = settings
        .allow_methods
        .iter()
        .map(|m| Method::try_from(m.as_str()).context("a CORS method"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let origin = if settings.allow_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let origins = settings
            .allow_origins
            .iter()
            .map(|o| HeaderValue::try_from(o.as_str()).context("a CORS origin"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(origins)
    };
    Ok(CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(methods)
        .allow_headers(headers(&settings.allow_headers)?)
        .expose_headers(headers(&settings.expose_headers)?)
        .max_age(std::time::Duration::from_secs(settings.max_age_seconds)))
}
