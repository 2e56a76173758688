//! The caller's network address, as the limits count it.
//!
//! Every host puts it in one place, the API Gateway request context that `lambda_http` adds to a
//! request as an extension: on AWS the HTTP API's `requestContext.http.sourceIp`; locally the
//! server writes the TCP peer's address there ([`with_source_ip`]). No handler knows its host.

use std::convert::Infallible;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;

/// The client's address, when the host gave one (requests built in tests may have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let source_ip = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
            _ => None,
        };
        Ok(Self(source_ip.and_then(|ip| ip.trim().parse().ok())))
    }
}

/// An HTTP API request context holding only `source_ip`: what the local server adds to each
/// request for its TCP peer, as API Gateway does.
pub fn with_source_ip(ip: IpAddr) -> RequestContext {
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(ip.to_string());
    RequestContext::ApiGatewayV2(context)
}
