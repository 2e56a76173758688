//! Lambda `ws-disconnect`: the WebSocket API's `$disconnect` route.

use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let connections = shared::store::Stores::from_env().await?.connections;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let connections = connections.clone();
            async move {
                let response = shared::realtime::disconnect(connections.as_ref(), event.payload);
                let response = shared::metrics::websocket_route(&event.context, response);
                Ok::<_, lambda_runtime::Error>(response.await)
            }
        },
    ))
    .await
}
