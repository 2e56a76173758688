//! The WebSocket routes (`$connect`, `$disconnect`, `$default`) on their recorded API Gateway
//! events, on the embedded store (in memory). `websocket_gateway_dynamo.rs` runs the very same
//! tests on DynamoDB Local.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

use support::backends::embedded as backend;

mod websocket_gateway {
    mod routes;
}
