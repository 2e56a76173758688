//! Lambda `profile-update`: `PUT` and `PATCH /api/v1/auth/profile/`.

use shared::http::{app, profile};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    let state = shared::AppState::from_env().await?;
    lambda_http::run(app(profile::update(), state)).await
}
