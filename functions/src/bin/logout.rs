//! Lambda `logout`: `POST /api/v1/auth/logout/`.

use shared::http::auth;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(env!("CARGO_BIN_NAME"));
    shared::cold_start::serve(auth::logout).await
}
