//! Lambda `fallback`: the HTTP API's `$default` route, for requests no endpoint took (JSON 404/405).
//! It reads nothing and holds no secret.

use shared::http::{app, unmatched};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    lambda_http::run(app(unmatched(), ())).await
}
