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

/// One entry of `--cors-allow-origins`, held to the rule the stack's `CorsAllowOrigins` parameter
/// holds each entry to (its `AllowedPattern`): `*`; `https://*` or `http://*` (every origin of
/// that scheme, as API Gateway reads them); or an origin exactly as a browser or a webview sends
/// it in `Origin`: a lowercase scheme (`https`, `capacitor`, `chrome-extension`…) and host with
/// an optional port, no path and no trailing slash. Spaces around an entry are dropped. Anything
/// else would never match a request, so it is refused at start rather than leaving a page's
/// calls silently without CORS headers.
pub fn parse_origin(entry: &str) -> Result<String, String> {
    let entry = entry.trim();
    let scheme_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c);
    let host_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.:[]".contains(c);
    let origin = entry.split_once("://").is_some_and(|(scheme, host)| {
        scheme.starts_with(|c: char| c.is_ascii_lowercase())
            && scheme.chars().all(scheme_char)
            && !host.is_empty()
            && (host.chars().all(host_char) || (host == "*" && matches!(scheme, "http" | "https")))
    });
    if entry == "*" || origin {
        Ok(entry.to_owned())
    } else {
        Err(format!(
            "{entry:?} is not an origin: `*`, `https://*`, `http://*`, or scheme://host[:port] as a browser \
             sends it (lowercase, no path, no trailing slash)"
        ))
    }
}

/// Whether `origin` is one of `allowed`, or of a scheme `allowed` names whole (`https://*`).
fn allows(allowed: &[String], origin: &[u8]) -> bool {
    allowed.iter().any(|entry| match entry.strip_suffix('*') {
        Some(scheme) => origin.starts_with(scheme.as_bytes()),
        None => origin == entry.as_bytes(),
    })
}

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
        let allowed = settings.allow_origins.clone();
        AllowOrigin::predicate(move |origin: &HeaderValue, _| allows(&allowed, origin.as_bytes()))
    };
    Ok(CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(methods)
        .allow_headers(headers(&settings.allow_headers)?)
        .expose_headers(headers(&settings.expose_headers)?)
        .max_age(std::time::Duration::from_secs(settings.max_age_seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries and whether they are origins, for the local option and the stack's parameter alike.
    const ENTRIES: [(&str, bool); 19] = [
        ("*", true),
        ("https://*", true),
        ("http://*", true),
        ("https://app.example.com", true),
        ("http://localhost:8000", true),
        ("http://[::1]:8000", true),
        ("capacitor://localhost", true),
        ("chrome-extension://abcdefghijklmnop", true),
        ("https://app.example.com/", false),
        ("https://app.example.com/path", false),
        ("https://App.Example.com", false),
        ("HTTPS://app.example.com", false),
        ("app.example.com", false),
        ("https://", false),
        ("https://*.example.com", false),
        ("capacitor://*", false),
        ("httpx://*", false),
        ("1http://app.example.com", false),
        ("", false),
    ];

    #[test]
    fn an_entry_is_an_origin_as_a_browser_sends_it_and_spaces_around_it_go() {
        for (entry, origin) in ENTRIES {
            assert_eq!(parse_origin(entry).is_ok(), origin, "{entry:?}");
            if origin {
                assert_eq!(parse_origin(&format!(" {entry} ")).as_deref(), Ok(entry));
            }
        }
    }

    #[test]
    fn an_origin_is_allowed_when_listed_or_of_a_scheme_listed_whole() {
        let allowed = ["https://*".to_owned(), "capacitor://localhost".to_owned()];
        for (origin, allowed_here) in [
            ("https://app.example.com", true),
            ("capacitor://localhost", true),
            ("http://app.example.com", false),
            ("capacitor://localhost:1", false),
            ("null", false),
        ] {
            assert_eq!(
                allows(&allowed, origin.as_bytes()),
                allowed_here,
                "{origin}"
            );
        }
    }

    #[test]
    fn the_stacks_parameter_takes_the_same_entries() {
        let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).unwrap();
        let parameter = &doc["Parameters"]["CorsAllowOrigins"];
        let pattern = parameter["AllowedPattern"]
            .as_str()
            .expect("an AllowedPattern");
        let pattern = regex::Regex::new(pattern).unwrap();
        for (entry, origin) in ENTRIES {
            assert_eq!(pattern.is_match(entry), origin, "{entry:?}");
        }
    }
}
