//! Lambda `ws-default`: the WebSocket API's `$default` route.

use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let gateway = shared::realtime::Gateway::from_env().await?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let gateway = gateway.clone();
            async move {
                let response = gateway.message(event.payload);
                let response = shared::metrics::websocket_route(&event.context, response);
                Ok::<_, lambda_runtime::Error>(response.await)
            }
        },
    ))
    .await
}
