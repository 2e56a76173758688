//! Lambda `password-update`: `POST /api/v1/auth/profile/password/`.

use shared::http::{app, profile};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let state = shared::AppState::from_env().await?;
    lambda_http::run(app(profile::password(), state)).await
}
