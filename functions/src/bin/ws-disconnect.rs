//! Lambda `ws-disconnect`: the WebSocket API's `$disconnect` route.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let connections = shared::store::Stores::from_env().await?.connections;
    shared::realtime::run_route(connections, |connections, request| async move {
        shared::realtime::disconnect(connections.as_ref(), request).await
    })
    .await
}
