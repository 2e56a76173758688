//! Lambda `register`: `POST /api/v1/auth/register/`.

use shared::http::{app, auth};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(app(auth::register(), state)).await
}
