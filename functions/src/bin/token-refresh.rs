//! Lambda `token-refresh`: `POST /api/v1/auth/token/refresh/`.

use shared::http::{app, auth};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let state = shared::AppState::from_env().await?;
    lambda_http::run(app(auth::token_refresh(), state)).await
}
