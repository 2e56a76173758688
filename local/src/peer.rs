//! The client's address, where API Gateway puts it: each request gets an HTTP API request context
//! whose `http.sourceIp` is the TCP peer, so the handlers read it as they do on AWS
//! ([`shared::http::client::ClientIp`]). No forwarding header is trusted, as API Gateway trusts none.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use shared::http::client::with_source_ip;

/// Middleware: adds the source-IP request context of the connection's peer.
pub async fn source_ip(mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let context = with_source_ip(peer.ip());
        request.extensions_mut().insert(context);
    }
    next.run(request).await
}
