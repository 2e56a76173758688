//! The Lambda of a WebSocket route: `ws-connect`, `ws-default` and `ws-disconnect` differ only in
//! what they call.

use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

/// Answers each event of the route with `route`, given a clone of `state` (what the cold start
/// built), each invocation counted in the metrics ([`crate::metrics::websocket_route`]).
///
/// # Errors
/// When the Lambda Runtime API fails, as [`lambda_runtime::run`].
pub async fn run_route<S, R, F>(state: S, route: R) -> Result<(), lambda_runtime::Error>
where
    S: Clone,
    R: Fn(S, ApiGatewayWebsocketProxyRequest) -> F,
    F: Future<Output = ApiGatewayProxyResponse>,
{
    lambda_runtime::run(service_fn(
        |LambdaEvent { payload, context }: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let answer = route(state.clone(), payload);
            async move {
                let answer = crate::metrics::websocket_route(&context, answer).await;
                Ok::<_, lambda_runtime::Error>(answer)
            }
        },
    ))
    .await
}
