//! Lambda `fallback`: the HTTP API's `$default` route, for requests no endpoint took (JSON 404/405),
//! and `GET /api/v1/openapi.json`. It reads nothing and holds no secret.

use shared::http::{app, openapi};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    lambda_http::run(app(openapi::get(), ())).await
}
