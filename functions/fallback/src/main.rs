//! Lambda `fallback`: the HTTP API's `$default` route, for requests no endpoint took (JSON 404/405).

use shared::http::{app, unmatched};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(app(unmatched(), state)).await
}
