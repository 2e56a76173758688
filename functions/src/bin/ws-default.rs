//! Lambda `ws-default`: the WebSocket API's `$default` route.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let gateway = shared::realtime::Gateway::from_env().await?;
    shared::realtime::run_route(gateway, |gateway, request| async move {
        gateway.message(request).await
    })
    .await
}
