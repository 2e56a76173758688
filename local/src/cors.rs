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
/// holds each entry to (its `AllowedPattern`): `*`, or an origin exactly as a browser sends it in
/// `Origin`, `http` or `https` and a lowercase host with an optional port, no path and no trailing
/// slash. Spaces around an entry are dropped. Anything else would never match a request, so it is
/// refused at start rather than leaving a page's calls silently without CORS headers.
pub fn parse_origin(entry: &str) -> Result<String, String> {
    let entry = entry.trim();
    let authority = entry
        .strip_prefix("https://")
        .or_else(|| entry.strip_prefix("http://"));
    let host_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.:[]".contains(c);
    match authority {
        _ if entry == "*" => Ok(entry.to_owned()),
        Some(authority) if !authority.is_empty() && authority.chars().all(host_char) => {
            Ok(entry.to_owned())
        }
        _ => Err(format!(
            "{entry:?} is not an origin: `*`, or http(s)://host[:port] as a browser sends it \
             (lowercase, no path, no trailing slash)"
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries and whether they are origins, for the local option and the stack's parameter alike.
    const ENTRIES: [(&str, bool); 12] = [
        ("*", true),
        ("https://app.example.com", true),
        ("http://localhost:8000", true),
        ("http://[::1]:8000", true),
        ("https://app.example.com/", false),
        ("https://app.example.com/path", false),
        ("https://App.Example.com", false),
        ("app.example.com", false),
        ("ftp://app.example.com", false),
        ("https://", false),
        ("https://*.example.com", false),
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
