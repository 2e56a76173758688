//! The WebSocket route tests of `websocket_gateway.rs`, the very same file, on DynamoDB Local
//! (started by this test process; it fails loudly without it, never skips), each route's calls
//! checked against its function's IAM grants.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

use support::backends::dynamo as backend;

#[path = "websocket_gateway"]
mod websocket_gateway {
    mod routes;
}
