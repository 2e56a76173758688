//! Lambda `ws-connect`: the WebSocket API's `$connect` route.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let gateway = shared::realtime::Gateway::from_env().await?;
    shared::realtime::run_route(gateway, |gateway, request| async move {
        gateway.connect(request).await
    })
    .await
}
