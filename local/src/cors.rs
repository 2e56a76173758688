//! CORS as API Gateway applies it on AWS: the settings `template.yaml` gives the HTTP API, read
//! once at start, on preflights and on real responses, so a page on another origin behaves locally
//! as it will against the deployed stack.

use anyhow::Context;
use axum::http::{HeaderName, HeaderValue, Method};
use testkit::cors::{CorsSettings, cors_settings};
use testkit::schema::TEMPLATE;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The template's CORS settings, with `origins` in place of the `CorsAllowOrigins` parameter's
/// default when given (as a deploy may override that parameter).
pub fn layer(origins: Option<&[String]>) -> anyhow::Result<CorsLayer> {
    let mut settings = cors_settings(TEMPLATE)?;
    if let Some(origins) = origins {
        settings.allow_origins = origins.to_vec();
    }
    build(&settings)
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
